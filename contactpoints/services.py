"""The only writer of notifications and deliveries, and the enqueue that follows commit."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from contactpoints import metrics
from contactpoints.intake import ParsedIntake
from contactpoints.models import ContactPoint, Delivery, DeliveryStatus, IdempotencyKey, Notification

logger = logging.getLogger(__name__)

IDEMPOTENCY_WINDOW = timedelta(hours=24)


def format_label_set(labels: dict[str, str]) -> str:
    """Alertmanager's LabelSet.String(): `{a="1", b="2"}`, names sorted."""
    return "{" + ", ".join(f'{name}="{labels[name]}"' for name in sorted(labels)) + "}"


def default_group_labels(alerts: list[dict[str, Any]]) -> dict[str, str]:
    """`alertname` when every alert shares one, else nothing (contract §4)."""
    names = {alert["labels"].get("alertname") for alert in alerts}
    if len(names) == 1 and None not in names:
        return {"alertname": names.pop()}
    return {}


def derive_group_key(contact_point: ContactPoint, group_labels: dict[str, str]) -> str:
    """Grafana's `<route key>:<group labels>` shape, the route being the contact point."""
    return f'{{}}/{{contact_point="{contact_point.uid}"}}:{format_label_set(group_labels)}'


def accept_notification(
    contact_point: ContactPoint, parsed: ParsedIntake, *, idempotency_key: str = ""
) -> dict[str, Any]:
    """Store the notification and one delivery per enabled integration; enqueue after commit.

    Returns the 202 answer. A repeated Idempotency-Key returns the first answer unchanged.
    """
    if idempotency_key:
        replay = _replayed_answer(contact_point, idempotency_key)
        if replay is not None:
            return replay
    try:
        with transaction.atomic():
            answer = _store(contact_point, parsed, idempotency_key)
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key committed first.
        replay = _replayed_answer(contact_point, idempotency_key) if idempotency_key else None
        if replay is None:
            raise
        return replay
    metrics.count_notification(len(parsed.alerts))
    return answer


def _replayed_answer(contact_point: ContactPoint, key: str) -> dict[str, Any] | None:
    cutoff = timezone.now() - IDEMPOTENCY_WINDOW
    record = IdempotencyKey.objects.filter(contact_point=contact_point, key=key, created_at__gte=cutoff).first()
    return record.response if record else None


def _store(contact_point: ContactPoint, parsed: ParsedIntake, idempotency_key: str) -> dict[str, Any]:
    group_labels = parsed.group_labels if parsed.group_labels is not None else default_group_labels(parsed.alerts)
    notification = Notification.objects.create(
        contact_point=contact_point,
        status=parsed.status,
        alerts=parsed.alerts,
        receiver=contact_point.name,
        group_key=parsed.group_key or derive_group_key(contact_point, group_labels),
        group_labels=group_labels,
        external_url=parsed.external_url or settings.PUBLIC_URL,
        truncated_alerts=parsed.truncated_alerts,
        source=parsed.source,
    )
    deliveries = create_deliveries(notification, contact_point.integrations.filter(enabled=True))
    answer = {"id": str(notification.id), "alerts": len(parsed.alerts), "deliveries": len(deliveries)}
    if idempotency_key:
        cutoff = timezone.now() - IDEMPOTENCY_WINDOW
        IdempotencyKey.objects.filter(contact_point=contact_point, key=idempotency_key, created_at__lt=cutoff).delete()
        IdempotencyKey.objects.create(contact_point=contact_point, key=idempotency_key, response=answer)
    return answer


def create_deliveries(notification: Notification, integrations) -> list[Delivery]:
    """One delivery per integration; disableResolveMessage ones only while something fires.
    Paused integrations get their delivery recorded as paused, and nothing is enqueued."""
    firing = notification.status == "firing"
    paused = notification.contact_point.paused
    deliveries = [
        Delivery(
            notification=notification,
            integration=integration,
            firing_only=integration.disable_resolve_message,
            status=DeliveryStatus.PAUSED if paused or integration.paused else DeliveryStatus.PENDING,
        )
        for integration in integrations
        if firing or not integration.disable_resolve_message
    ]
    Delivery.objects.bulk_create(deliveries)
    ids = [d.id for d in deliveries if d.status == DeliveryStatus.PENDING]
    if ids:
        transaction.on_commit(lambda: enqueue_deliveries(ids))
    return deliveries


def enqueue_deliveries(delivery_ids: list, countdown_seconds: float = 0) -> bool:
    """Publish one task per delivery. The broker is only a fast path: when it is down, the
    rows stay pending and beat's sweeper enqueues them later. Returns whether all went out."""
    from contactpoints.tasks import deliver

    try:
        with deliver.app.producer_or_acquire() as producer:
            for delivery_id in delivery_ids:
                deliver.apply_async(
                    args=[str(delivery_id)],
                    countdown=countdown_seconds or None,
                    producer=producer,
                    retry=False,
                )
    except Exception as exc:  # noqa: BLE001 - any broker failure means "the sweeper will do it"
        logger.warning(
            "broker unavailable (%s); %d deliveries wait for the sweeper", type(exc).__name__, len(delivery_ids)
        )
        return False
    return True


def send_test_notification(
    contact_point: ContactPoint,
    *,
    integrations=None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Send spec §3.8's test alert to each integration now, in parallel; one result per integration.

    Nothing is stored: a test is an answer on the page, not a delivery in the history.
    """
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from contactpoints.delivery import send_notification, user_templates
    from integrations.alertdata import test_alert

    alert = test_alert(labels, annotations)
    group_labels = {"alertname": alert["labels"]["alertname"]}
    notification = Notification(
        contact_point=contact_point,
        status="firing",
        alerts=[alert],
        receiver=contact_point.name,
        group_key=derive_group_key(contact_point, group_labels),
        group_labels=group_labels,
        external_url=settings.PUBLIC_URL,
        source="test",
    )
    targets = list(integrations if integrations is not None else contact_point.integrations.all())
    user_templates()  # load once here, not once per thread

    def send_one(integration) -> dict[str, Any]:
        try:
            result = send_notification(
                integration, notification, firing_only=False, idempotency_key=f"test-{uuid.uuid4()}"
            )
        finally:
            connections.close_all()  # this thread's own connections, if it opened any
        return {
            "uid": integration.uid,
            "type": integration.type,
            "status": "ok" if result.outcome.ok else "failed",
            "error": result.outcome.error,
            "durationMs": round(result.duration_seconds * 1000),
        }

    with ThreadPoolExecutor(max_workers=min(8, len(targets) or 1)) as pool:
        return list(pool.map(send_one, targets))
