"""Deliveries: claim the row, send through the integration, record the attempt, decide what next.

The database is the source of truth; the broker is only a fast path (design.md). A claim is a
conditional UPDATE, so a message delivered twice by the broker sends once. Long waits live in
`next_attempt_at`, which the sweeper watches, never in broker countdowns.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from contactpoints import metrics
from contactpoints.models import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Integration,
    Notification,
    NotificationTemplate,
)
from integrations.base import Outcome, Result, SendContext, SettingsError
from integrations.http import HttpTransport, OutboundPolicy
from integrations.registry import UnknownIntegrationType
from integrations.templating import TemplateRenderer, build_template_data
from integrations.values import scrub

logger = logging.getLogger(__name__)

# A claimed delivery belongs to its worker this long past the request timeout; after that the
# sweeper assumes the worker died (redirects, SMTP and rendering fit well inside the margin).
LEASE_MARGIN_SECONDS = 60
# A broker message may arrive slightly before next_attempt_at (clocks, rounding).
CLAIM_EARLY_SECONDS = 1.0


@cache
def transport() -> HttpTransport:
    """The process's one HTTP seam, configured from settings."""
    policy = OutboundPolicy.from_cidrs(settings.OUTBOUND_DENY_NETWORKS, settings.OUTBOUND_ALLOW_NETWORKS)
    return HttpTransport(
        policy,
        user_agent=f"{settings.PRODUCT_NAME}/{settings.VERSION}",
        timeout_seconds=settings.DELIVERY_TIMEOUT_SECONDS,
    )


# User templates change rarely and are read by every delivery: keep them briefly per process.
# Saving a template clears this process's copy at once (contactpoints.signals); other processes
# see the change within USER_TEMPLATES_TTL_SECONDS.
USER_TEMPLATES_TTL_SECONDS = 5.0
_user_templates_cache: dict[str, Any] = {"loaded_at": -USER_TEMPLATES_TTL_SECONDS, "templates": {}}


def user_templates() -> dict[str, str]:
    now = time.monotonic()
    if now - _user_templates_cache["loaded_at"] >= USER_TEMPLATES_TTL_SECONDS:
        _user_templates_cache["templates"] = dict(NotificationTemplate.objects.values_list("name", "content"))
        _user_templates_cache["loaded_at"] = now
    return _user_templates_cache["templates"]


def forget_user_templates() -> None:
    _user_templates_cache["loaded_at"] = -USER_TEMPLATES_TTL_SECONDS


@dataclass
class SendResult:
    outcome: Outcome
    duration_seconds: float
    started_at: Any


def send_notification(
    integration: Integration, notification: Notification, *, firing_only: bool, idempotency_key: str
) -> SendResult:
    """Render and send one notification to one integration now. Never raises for bad settings."""
    started_at = timezone.now()
    clock = time.monotonic()
    outcome = _send(integration, notification, firing_only=firing_only, idempotency_key=idempotency_key)
    outcome.error = scrub(outcome.error, integration.secret_values())
    return SendResult(outcome, time.monotonic() - clock, started_at)


def _send(integration: Integration, notification: Notification, *, firing_only: bool, idempotency_key: str) -> Outcome:
    try:
        integration_type = integration.integration_type
        config = integration.validated_config()
    except (SettingsError, UnknownIntegrationType) as exc:
        return Outcome(Result.FAILED, error=f"settings no longer validate: {exc}")
    alerts = notification.alerts
    if firing_only:
        alerts = [alert for alert in alerts if alert["status"] == "firing"]
    if not alerts:
        return Outcome.success()  # disableResolveMessage and nothing fires: nothing to send
    data = build_template_data(
        alerts,
        receiver=notification.receiver,
        group_key=notification.group_key,
        group_labels=notification.group_labels,
        external_url=notification.external_url,
        truncated_alerts=notification.truncated_alerts,
        app_version=settings.VERSION,
    )
    renderer = TemplateRenderer(user_templates(), product_name=settings.PRODUCT_NAME, version=settings.VERSION)
    context = SendContext(
        config=config,
        data=data,
        render_template=lambda source: renderer.render(source, data),
        idempotency_key=idempotency_key,
        timeout_seconds=settings.DELIVERY_TIMEOUT_SECONDS,
        product_name=settings.PRODUCT_NAME,
        version=settings.VERSION,
        renderer=renderer,
        raw_alerts=alerts,
    )
    try:
        outcome = integration_type().send(context, transport())
    except Exception as exc:  # noqa: BLE001 - any integration bug, recorded below
        # A bug in one integration must not lose the delivery: record it and keep the row moving.
        # The traceback is logged scrubbed: an exception's text may quote a URL or a secret.
        trace = scrub("".join(traceback.format_exception(exc)), integration.secret_values())
        logger.error("integration %s raised:\n%s", integration.type, trace)
        return Outcome(
            Result.RETRY, error=f"internal error in the {integration.type} integration: {type(exc).__name__}"
        )
    if context.template_errors and outcome.ok:
        errors = scrub("; ".join(context.template_errors), integration.secret_values())
        logger.warning("template errors in %s %s: %s", integration.type, integration.uid, errors)
    return outcome


# -- the delivery task's body -------------------------------------------------------------


def claim(delivery_id: str) -> bool:
    """Move a due delivery to `sending` unless another worker has it. One conditional UPDATE."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.DELIVERY_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)
    return bool(
        Delivery.objects.filter(
            pk=delivery_id,
            status__in=(DeliveryStatus.PENDING, DeliveryStatus.RETRYING),
            next_attempt_at__lte=now + timedelta(seconds=CLAIM_EARLY_SECONDS),
        ).update(status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, lease_expires_at=lease, updated_at=now)
    )


def run_delivery(delivery_id: str) -> str | None:
    """Claim, send, record. Returns the new status, or None when there was nothing to claim."""
    if not claim(delivery_id):
        return None
    delivery = Delivery.objects.select_related("notification", "integration__contact_point").get(pk=delivery_id)
    if delivery.integration.is_paused:
        # Paused after this delivery was queued: keep it, unsent, without counting an attempt.
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.PAUSED, attempts=F("attempts") - 1, lease_expires_at=None
        )
        return DeliveryStatus.PAUSED
    result = send_notification(
        delivery.integration,
        delivery.notification,
        firing_only=delivery.firing_only,
        idempotency_key=str(delivery.id),
    )
    return record_attempt(delivery, result)


def retry_delay_seconds(attempt_number: int, retry_after_seconds: float | None) -> float:
    """Exponential backoff with jitter, capped; a longer Retry-After wins."""
    base = settings.DELIVERY_RETRY_BASE_SECONDS * (2 ** (attempt_number - 1))
    delay = min(settings.DELIVERY_RETRY_MAX_SECONDS, base) * random.uniform(0.8, 1.2)
    if retry_after_seconds is not None:
        delay = max(delay, min(retry_after_seconds, settings.DELIVERY_RETRY_MAX_SECONDS))
    return delay


def record_attempt(delivery: Delivery, result: SendResult) -> str:
    """Store the attempt, move the delivery on, and schedule the next try when there is one."""
    outcome = result.outcome
    now = timezone.now()
    update: dict[str, Any] = {
        "last_error": outcome.error,
        "last_http_status": outcome.http_status,
        "lease_expires_at": None,
        "updated_at": now,
    }
    delay = None
    if outcome.ok:
        update.update(status=DeliveryStatus.DELIVERED, delivered_at=now, last_error="")
    elif outcome.result is Result.RETRY and not delivery.attempts_used_up:
        delay = retry_delay_seconds(delivery.attempts - delivery.attempt_offset, outcome.retry_after_seconds)
        update.update(status=DeliveryStatus.RETRYING, next_attempt_at=now + timedelta(seconds=delay))
    else:
        update.update(status=DeliveryStatus.FAILED)
    duration_ms = round(result.duration_seconds * 1000)
    with transaction.atomic():
        Attempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            started_at=result.started_at,
            duration_ms=duration_ms,
            outcome=str(outcome.result),
            http_status=outcome.http_status,
            error=outcome.error,
        )
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(**update)
        Integration.objects.filter(pk=delivery.integration_id).update(
            last_attempt_at=result.started_at, last_attempt_duration_ms=duration_ms, last_attempt_error=outcome.error
        )
        if delay is not None and delay <= settings.MAX_BROKER_COUNTDOWN_SECONDS:
            from contactpoints.services import enqueue_deliveries

            transaction.on_commit(lambda: enqueue_deliveries([delivery.pk], countdown_seconds=delay))
    metrics.count_attempt(delivery.integration.type, str(outcome.result), result.duration_seconds)
    return update["status"]


# -- the sweeper --------------------------------------------------------------------------

SWEEP_BATCH = 500


def sweep() -> dict[str, int]:
    """Re-enqueue deliveries that should be moving and are not; reclaim lost leases."""
    now = timezone.now()
    reclaimed = _reclaim_lost_leases(now)
    stale_before = now - timedelta(seconds=settings.DELIVERY_SWEEP_GRACE_SECONDS)
    with transaction.atomic():
        stuck = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status__in=(DeliveryStatus.PENDING, DeliveryStatus.RETRYING), next_attempt_at__lte=stale_before)
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        # Long waits come due here too (they were never given a broker countdown).
        due = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.RETRYING, next_attempt_at__gt=stale_before, next_attempt_at__lte=now)
            .exclude(pk__in=stuck)
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        ids = stuck + due
        if stuck:
            # Not again until another grace period has passed, even if the broker is slow.
            Delivery.objects.filter(pk__in=stuck).update(next_attempt_at=now)
    if ids:
        from contactpoints.services import enqueue_deliveries

        enqueue_deliveries(ids)
    if ids or reclaimed:
        logger.info("sweeper: %d re-enqueued, %d lost leases reclaimed", len(ids), reclaimed)
    return {"enqueued": len(ids), "reclaimed": reclaimed}


def _reclaim_lost_leases(now) -> int:
    """A delivery still `sending` after its lease lapsed lost its worker mid-attempt.

    Its outcome is unknown: it may have been sent. It is tried again (the dedup keys let the
    receiver drop a duplicate) unless its attempts are used up.
    """
    reclaimed = 0
    with transaction.atomic():
        lost = list(
            Delivery.objects.select_for_update(skip_locked=True).filter(
                status=DeliveryStatus.SENDING, lease_expires_at__lt=now
            )[:SWEEP_BATCH]
        )
        for delivery in lost:
            error = "the worker stopped during this attempt; its outcome is unknown"
            Attempt.objects.create(
                delivery=delivery,
                number=delivery.attempts,
                started_at=delivery.updated_at,
                duration_ms=0,
                outcome=str(Result.RETRY),
                error=error,
            )
            exhausted = delivery.attempts_used_up
            Delivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.FAILED if exhausted else DeliveryStatus.RETRYING,
                next_attempt_at=now,
                lease_expires_at=None,
                last_error=error,
            )
            reclaimed += 1
    return reclaimed


RETRYABLE_BY_HAND = (DeliveryStatus.FAILED, DeliveryStatus.PAUSED)


def retry_many(deliveries) -> int:
    """Send failed (or paused) deliveries again with a fresh budget of attempts, in one update;
    the enqueue follows the commit. Returns how many were queued."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            deliveries.filter(status__in=RETRYABLE_BY_HAND)
            .select_for_update(skip_locked=True)
            .order_by()
            .values_list("pk", flat=True)
        )
        moved = Delivery.objects.filter(pk__in=ids, status__in=RETRYABLE_BY_HAND).update(
            status=DeliveryStatus.PENDING, attempt_offset=F("attempts"), next_attempt_at=now, updated_at=now
        )
        if ids:
            from contactpoints.services import enqueue_deliveries

            transaction.on_commit(lambda: enqueue_deliveries(ids))
    return moved


def retry_failed(delivery: Delivery) -> bool:
    """Send one failed (or paused) delivery again (API and admin)."""
    return retry_many(Delivery.objects.filter(pk=delivery.pk)) == 1
