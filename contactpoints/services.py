"""The only writer of notifications and deliveries; a wake for the workers follows the commit."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contactpoints import broker, metrics, rows
from contactpoints.intake import ParsedIntake
from contactpoints.models import ContactPoint, Delivery, DeliveryStatus, IdempotencyKey, Integration, Notification
from contactpoints.sending import derive_group_key

logger = logging.getLogger(__name__)

IDEMPOTENCY_WINDOW = timedelta(hours=24)


def default_group_labels(alerts: list[dict[str, Any]]) -> dict[str, str]:
    """`alertname` when every alert shares one, else nothing (contract §4)."""
    names = {alert["labels"].get("alertname") for alert in alerts}
    if len(names) == 1 and None not in names:
        return {"alertname": names.pop()}
    return {}


def accept_notification(
    contact_point: ContactPoint, parsed: ParsedIntake, *, idempotency_key: str = ""
) -> dict[str, Any]:
    """Store the notification and one delivery per enabled integration; wake a worker after commit.

    Returns the 202 answer. A repeated Idempotency-Key returns the first answer unchanged.
    """
    if idempotency_key:
        replay = _replayed_answer(contact_point, idempotency_key)
        if replay is not None:
            return replay
    try:
        # One statement is atomic on its own; the Idempotency-Key row must commit with it.
        with transaction.atomic() if idempotency_key or not _stores_in_one_statement() else nullcontext():
            answer = _store(contact_point, parsed, idempotency_key)
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key committed first.
        replay = _replayed_answer(contact_point, idempotency_key) if idempotency_key else None
        if replay is None:
            raise
        return replay
    return answer


def notify(
    contact_point: ContactPoint,
    alerts: list[dict[str, Any]],
    *,
    source: str,
    group_labels: dict[str, str] | None = None,
    external_url: str = "",
    truncated_alerts: int = 0,
) -> dict[str, Any]:
    """A notification this service raises itself (a fallback, a self-alert), stored like an intake's.

    Atomic on its own; inside the caller's transaction, the worker's wake follows that commit.
    """
    parsed = ParsedIntake(
        alerts=alerts,
        source=source,
        group_labels=group_labels,
        external_url=external_url,
        truncated_alerts=truncated_alerts,
    )
    with transaction.atomic():
        return _store(contact_point, parsed, idempotency_key="", counted=False)  # not an intake request


def _replayed_answer(contact_point: ContactPoint, key: str) -> dict[str, Any] | None:
    cutoff = timezone.now() - IDEMPOTENCY_WINDOW
    record = IdempotencyKey.objects.filter(contact_point=contact_point, key=key, created_at__gte=cutoff).first()
    return record.response if record else None


def _store(
    contact_point: ContactPoint, parsed: ParsedIntake, idempotency_key: str, *, counted: bool = True
) -> dict[str, Any]:
    """Store it with its deliveries and return the 202 answer. After the commit, a wake for the
    workers when a delivery is pending, and (when `counted`) the notification counted in /metrics,
    in the wake's round trip to Redis when there is one."""
    group_labels = parsed.group_labels if parsed.group_labels is not None else default_group_labels(parsed.alerts)
    notification = Notification(
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
    statuses = store_with_deliveries(notification)
    answer = {"id": str(notification.id), "alerts": len(parsed.alerts), "deliveries": len(statuses)}
    if idempotency_key:
        cutoff = timezone.now() - IDEMPOTENCY_WINDOW
        IdempotencyKey.objects.filter(contact_point=contact_point, key=idempotency_key, created_at__lt=cutoff).delete()
        IdempotencyKey.objects.create(contact_point=contact_point, key=idempotency_key, response=answer)
    alert_count = len(parsed.alerts)
    if DeliveryStatus.PENDING in statuses and counted:
        transaction.on_commit(lambda: broker.wake(also=lambda pipe: metrics.add_notification(pipe, alert_count)))
    elif DeliveryStatus.PENDING in statuses:
        transaction.on_commit(broker.wake)
    elif counted:
        transaction.on_commit(lambda: metrics.count_notification(alert_count))
    return answer


def store_with_deliveries(notification: Notification, *, one_statement: bool | None = None) -> list[str]:
    """Insert the notification and one delivery per enabled integration; returns the deliveries' statuses.

    Rules: disableResolveMessage integrations get a delivery only while something fires; a paused
    integration or contact point gets its delivery recorded as paused. On PostgreSQL this is one
    statement (one round trip, atomic on its own); elsewhere the ORM does it in three.
    """
    if one_statement is None:
        one_statement = _stores_in_one_statement()
    if one_statement:
        return _store_in_one_statement(notification)
    notification.save(force_insert=True)
    integrations = notification.contact_point.integrations.filter(enabled=True)
    if notification.status != "firing":
        integrations = integrations.filter(disable_resolve_message=False)
    deliveries = Delivery.objects.bulk_create(
        Delivery(
            notification=notification,
            integration=integration,
            firing_only=integration.disable_resolve_message,
            status=_initial_status(notification.contact_point.paused or integration.paused),
            created_at=notification.received_at,
            next_attempt_at=notification.received_at,
        )
        for integration in integrations.order_by()
    )
    return [delivery.status for delivery in deliveries]


def _stores_in_one_statement() -> bool:
    return connection.vendor == "postgresql"  # a data-modifying WITH: PostgreSQL's


def _initial_status(paused: bool) -> str:
    return DeliveryStatus.PAUSED if paused else DeliveryStatus.PENDING


def _store_in_one_statement(notification: Notification) -> list[str]:
    now = notification.received_at
    columns = ["id", "contact_point_id", "status", "alerts", "receiver", "group_key", "group_labels"]
    columns += ["external_url", "truncated_alerts", "source", "received_at"]
    values = [rows.prep(Notification, column, getattr(notification, column)) for column in columns]
    sql = f"""
        WITH notification AS (
            INSERT INTO {Notification._meta.db_table} ({", ".join(columns)})
            VALUES (%s, %s, %s, %s::jsonb, %s, %s, %s::jsonb, %s, %s, %s, %s)
            RETURNING id
        )
        INSERT INTO {Delivery._meta.db_table} (id, notification_id, integration_id, firing_only, status,
            attempts, attempt_offset, next_attempt_at, last_error, created_at, updated_at)
        SELECT gen_random_uuid(), notification.id, integration.id, integration.disable_resolve_message,
            CASE WHEN %s OR integration.paused THEN %s ELSE %s END, 0, 0, %s, '', %s, %s
        FROM notification, {Integration._meta.db_table} integration
        WHERE integration.contact_point_id = %s AND integration.enabled
            AND (%s OR NOT integration.disable_resolve_message)
        RETURNING status
    """  # noqa: S608 - table and column names are ours; every value is a parameter
    parameters = [
        *values,
        notification.contact_point.paused,
        _initial_status(True),
        _initial_status(False),
        now,
        now,
        now,
        notification.contact_point_id,
        notification.status == "firing",
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        return [status for (status,) in cursor.fetchall()]
