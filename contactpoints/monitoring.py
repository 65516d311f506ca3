"""What happens when deliveries end: fallback contact points and self-monitoring (issue 11).

The delivery state machine calls `after_outcomes` inside the transaction that records a batch,
so whatever is raised here commits (and wakes a worker) with the outcomes that caused it.

- Fallback: when a delivery fails for good and its contact point names a fallback, the
  notification's alerts go to the fallback too, each with a `delivery_failure` annotation saying
  which integration failed and why (every default template lists annotations).
- Self-monitoring: permanent failures are counted per integration in Redis (one sorted set each,
  pruned to the window, so every worker on every machine adds to the same count). The batch that
  takes an integration to INTEGRATION_FAILURE_THRESHOLD within INTEGRATION_FAILURE_WINDOW_SECONDS
  marks it unhealthy with a conditional UPDATE (one worker wins) and raises one notification to
  OPERATIONS_CONTACT_POINT. A delivery to it clears the mark, resolves that alert and starts a
  fresh count.

No loops: a notification raised here (source "fallback" or "self-monitoring") never falls back,
a contact point never falls back to itself, and the operations contact point's own integrations
(or the delivery of a self-alert) never raise a self-alert: they are logged instead.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from contactpoints import rows, services
from contactpoints.intake import parse_alert
from contactpoints.models import ContactPoint, Delivery, Integration
from contactpoints.redis_client import REDIS_ERRORS, get_redis
from integrations.base import Outcome

logger = logging.getLogger(__name__)

FALLBACK_SOURCE = "fallback"
SELF_MONITORING_SOURCE = "self-monitoring"
# Notifications raised here: they never fall back again, so none travels in a loop.
RAISED_HERE = (FALLBACK_SOURCE, SELF_MONITORING_SOURCE)
FAILURE_ANNOTATION = "delivery_failure"
# An error quoted in a fallback's annotation (a webhook's answer body can run to a kilobyte).
QUOTED_ERROR_CHARS = 500
SELF_ALERT_NAME = "IntegrationFailing"
FAILURES_KEY_PREFIX = "contactpoints:integration-failures:"


def after_outcomes(delivered: list[Delivery], failed: list[tuple[Delivery, Outcome]]) -> None:
    """Called inside the transaction that records a batch's outcomes.

    delivered: deliveries delivered now. failed: deliveries that failed for good now, each with the
    outcome of its last attempt (its error already scrubbed of secrets); the deliveries of one
    digest pass its one Outcome object, and count as one failed attempt of their integration. Each
    delivery has its notification and its integration (with the integration's contact point) loaded.
    """
    # Only integrations loaded as unhealthy can recover: most batches cost no statement here (one
    # marked after its batch was claimed is cleared by its next delivery).
    recovering = [delivery for delivery in delivered if delivery.integration.unhealthy_since is not None]
    if not (recovering or failed):
        return
    try:
        with transaction.atomic():  # a savepoint: a fault here must not undo the outcomes it follows
            if recovering:
                _clear_recovered(recovering)
            if failed:
                _fall_back(failed)
                _count_failures(failed)
    except Exception:  # logged; the batch's outcomes are recorded all the same
        logger.exception("fallback or self-monitoring failed after %d deliveries ended", len(delivered) + len(failed))


# -- fallback -----------------------------------------------------------------------------------


def _fall_back(failed: list[tuple[Delivery, Outcome]]) -> None:
    """One notification to the fallback per failed notification, whichever of its integrations failed."""
    groups: dict[tuple[Any, int], list[tuple[Delivery, Outcome]]] = defaultdict(list)
    for delivery, outcome in failed:
        contact_point = delivery.integration.contact_point
        if delivery.notification.source in RAISED_HERE or contact_point.fallback_id in (None, contact_point.pk):
            continue
        groups[(delivery.notification_id, contact_point.fallback_id)].append((delivery, outcome))
    if not groups:
        return
    fallbacks = ContactPoint.objects.in_bulk({fallback_id for _, fallback_id in groups})
    for (_, fallback_id), group in groups.items():
        fallback = fallbacks.get(fallback_id)
        if fallback is None:
            continue  # deleted since the batch was claimed (the foreign key is SET NULL)
        notification = group[0][0].notification
        failure = "\n".join(_failure_line(delivery, outcome) for delivery, outcome in group)
        # A firing-only integration was sent only the firing alerts: the fallback gets what failed.
        firing_only = all(delivery.firing_only for delivery, _ in group)
        alerts = [
            {**alert, "annotations": {**alert.get("annotations", {}), FAILURE_ANNOTATION: failure}}
            for alert in notification.alerts
            if not firing_only or alert["status"] == "firing"
        ]
        services.notify(
            fallback,
            alerts,
            source=FALLBACK_SOURCE,
            group_labels=notification.group_labels,
            external_url=notification.external_url,
            truncated_alerts=notification.truncated_alerts,
        )
        logger.info(
            "notification %s failed at %s; handed to its fallback %s", notification.id, notification.receiver, fallback
        )


def _failure_line(delivery: Delivery, outcome: Outcome) -> str:
    error = Truncator(outcome.error or "no error text").chars(QUOTED_ERROR_CHARS)
    return f"{delivery.integration} failed: {error}"


# -- self-monitoring: counting, marking unhealthy, raising ------------------------------------------


def _count_failures(failed: list[tuple[Delivery, Outcome]]) -> None:
    """Add the failures to each integration's count; the batch that reaches the threshold marks it."""
    by_integration: dict[int, list[tuple[Delivery, Outcome]]] = defaultdict(list)
    for delivery, outcome in failed:
        by_integration[delivery.integration_id].append((delivery, outcome))
    counts = _add_to_window(by_integration)
    if counts is None:
        return
    now = timezone.now()
    for integration_id, count in sorted(counts.items()):  # in id order: concurrent batches lock alike
        if count < settings.INTEGRATION_FAILURE_THRESHOLD:
            continue
        # Only one worker finds it healthy: the others wait on the row lock, then see the mark.
        if not Integration.objects.filter(pk=integration_id, unhealthy_since__isnull=True).update(unhealthy_since=now):
            continue
        group = by_integration[integration_id]
        delivery, outcome = group[-1]
        delivery.integration.unhealthy_since = now
        self_alerts_only = all(d.notification.source == SELF_MONITORING_SOURCE for d, _ in group)
        _raise(delivery.integration, count, outcome.error, self_alerts_only)


def _add_to_window(by_integration: dict[int, list[tuple[Delivery, Outcome]]]) -> dict[int, int] | None:
    """Record the failed attempts and prune each integration's window in one atomic round trip; the
    counts within the window, or None when Redis is down (nothing is marked then)."""
    now = time.time()
    window = settings.INTEGRATION_FAILURE_WINDOW_SECONDS
    try:
        pipe = get_redis().pipeline(transaction=True)
        for group in by_integration.values():
            # A digest's deliveries share its one attempt (one Outcome): a failed digest is one failure.
            # Its first delivery names it, with its attempt number: retried by hand, it counts again.
            attempts = {id(outcome): delivery for delivery, outcome in reversed(group)}
            key = _failures_key(group[0][0].integration)
            pipe.zadd(key, {f"{delivery.pk}:{delivery.attempts}": now for delivery in attempts.values()})
            pipe.zremrangebyscore(key, "-inf", now - window)
            pipe.zcard(key)
            pipe.expire(key, math.ceil(window))
        results = pipe.execute()
    except REDIS_ERRORS as exc:
        logger.warning("integration failures not counted (Redis: %s); no integration is marked unhealthy", exc)
        return None
    return dict(zip(by_integration, results[2::4], strict=True))


def _failures_key(integration: Integration) -> str:
    # By uid, not id: ids start again with a new database, Redis may still hold the old counts.
    return FAILURES_KEY_PREFIX + integration.uid


def _raise(integration: Integration, count: int, last_error: str, self_alerts_only: bool) -> None:
    window = _window_text(settings.INTEGRATION_FAILURE_WINDOW_SECONDS)
    logger.warning("%s (%s) failed %d times within %s: unhealthy", integration, integration.uid, count, window)
    if self_alerts_only or integration.contact_point.uid == settings.OPERATIONS_CONTACT_POINT:
        logger.warning("no self-alert for %s: it is how self-alerts are sent (never to itself)", integration)
        return
    operations = _operations_contact_point()
    if operations is None:
        return
    summary = f"{integration} failed {count} times within {window}"
    description = (
        f"The {integration.type_label} integration {integration.uid} of contact point {integration.contact_point} "
        f"failed for good {count} times within {window}, and is marked unhealthy until a delivery to it "
        f"succeeds. The last error: {Truncator(last_error or 'no error text').chars(QUOTED_ERROR_CHARS)}"
    )
    _notify_operations(operations, integration, "firing", {"summary": summary, "description": description})


def _operations_contact_point() -> ContactPoint | None:
    uid = settings.OPERATIONS_CONTACT_POINT
    if not uid:
        logger.warning("no self-alert raised: OPERATIONS_CONTACT_POINT is not set")
        return None
    found = ContactPoint.objects.filter(uid=uid).first()
    if found is None:
        logger.warning("no self-alert raised: OPERATIONS_CONTACT_POINT %r names no contact point", uid)
    return found


def _notify_operations(
    operations: ContactPoint, integration: Integration, status: str, annotations: dict[str, str]
) -> None:
    """The self-alert about one integration, firing or resolved. Grouped by the integration, so a
    receiver that keys incidents on the group (PagerDuty, Opsgenie) resolves the one it opened."""
    now = timezone.now()
    raw = {
        "status": status,
        "labels": {
            "alertname": SELF_ALERT_NAME,
            "integration": integration.uid,
            "integration_type": integration.type,
            "contact_point": integration.contact_point.name,
        },
        "annotations": annotations,
        "endsAt": now.isoformat() if status == "resolved" else None,
        "generatorURL": settings.PUBLIC_URL + reverse("admin:contactpoints_integration_change", args=[integration.pk]),
    }
    alert = parse_alert(raw, "alert", {}, now)  # the stored alert shape, as the intake makes it
    group_labels = {"alertname": SELF_ALERT_NAME, "integration": integration.uid}
    services.notify(operations, [alert], source=SELF_MONITORING_SOURCE, group_labels=group_labels)


def _window_text(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    if rest or not minutes:
        return f"{seconds:g} seconds"
    return f"{minutes:g} minute{'s' if minutes != 1 else ''}"


# -- recovery ----------------------------------------------------------------------------------------


def _clear_recovered(delivered: list[Delivery]) -> None:
    """A delivery clears its integration's unhealthy mark, resolves its self-alert and starts a fresh
    count, in one statement that changes a row only when its integration is still unhealthy."""
    integrations = {delivery.integration_id: delivery.integration for delivery in delivered}
    ids = [rows.prep(Integration, "id", integration_id) for integration_id in sorted(integrations)]
    sql = f"""
        UPDATE {Integration._meta.db_table} SET unhealthy_since = NULL
        WHERE unhealthy_since IS NOT NULL AND id IN ({rows.placeholders(len(ids))})
        RETURNING id
    """  # noqa: S608 - the table name is the model's; every value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        recovered = [integrations[integration_id] for (integration_id,) in cursor.fetchall()]
    if not recovered:
        return
    _forget_failures(recovered)
    for integration in recovered:
        integration.unhealthy_since = None
        logger.info("integration %s (%s) delivered again; no longer unhealthy", integration.uid, integration)
    resolvable = [i for i in recovered if i.contact_point.uid != settings.OPERATIONS_CONTACT_POINT]
    operations = _operations_contact_point() if resolvable else None
    for integration in resolvable if operations is not None else ():
        _notify_operations(operations, integration, "resolved", {"summary": f"{integration} delivers again"})


def _forget_failures(integrations: list[Integration]) -> None:
    try:
        get_redis().delete(*(_failures_key(integration) for integration in integrations))
    except REDIS_ERRORS as exc:
        logger.warning("failure counts not reset (Redis: %s)", exc)
