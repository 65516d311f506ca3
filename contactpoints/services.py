"""The only writer of notifications and deliveries; a wake for the workers follows the commit."""

from __future__ import annotations

import logging
import uuid
from contextlib import nullcontext
from datetime import timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contactpoints import broker, metrics, rows
from contactpoints.intake import ParsedIntake
from contactpoints.models import (
    ApiToken,
    ContactPoint,
    Delivery,
    DeliveryStatus,
    IdempotencyKey,
    Integration,
    Notification,
    TokenScope,
)
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
        with transaction.atomic() if idempotency_key or not stores_in_one_statement() else nullcontext():
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


def _notification_values(contact_point_uid: str, parsed: ParsedIntake) -> dict[str, Any]:
    """The notification's NOTIFICATION_COLUMNS; its contact point's id and name (the receiver) come from that row."""
    group_labels = parsed.group_labels if parsed.group_labels is not None else default_group_labels(parsed.alerts)
    return {
        "id": uuid.uuid4(),
        "status": parsed.status,
        "alerts": parsed.alerts,
        "group_key": parsed.group_key or derive_group_key(contact_point_uid, group_labels),
        "group_labels": group_labels,
        "external_url": parsed.external_url or settings.PUBLIC_URL,
        "truncated_alerts": parsed.truncated_alerts,
        "source": parsed.source,
        "received_at": timezone.now(),
    }


def _new_notification(contact_point: ContactPoint, parsed: ParsedIntake) -> Notification:
    values = _notification_values(contact_point.uid, parsed)
    return Notification(contact_point=contact_point, receiver=contact_point.name, **values)


def _store(
    contact_point: ContactPoint, parsed: ParsedIntake, idempotency_key: str, *, counted: bool = True
) -> dict[str, Any]:
    """Store it with its deliveries and return the 202 answer; the wake and the count follow the commit."""
    notification = _new_notification(contact_point, parsed)
    statuses = store_with_deliveries(notification)
    answer = {"id": str(notification.id), "alerts": len(parsed.alerts), "deliveries": len(statuses)}
    if idempotency_key:
        cutoff = timezone.now() - IDEMPOTENCY_WINDOW
        IdempotencyKey.objects.filter(contact_point=contact_point, key=idempotency_key, created_at__lt=cutoff).delete()
        IdempotencyKey.objects.create(contact_point=contact_point, key=idempotency_key, response=answer)
    _after_commit(statuses, len(parsed.alerts) if counted else None)
    return answer


def _after_commit(statuses: list[str], counted_alerts: int | None) -> None:
    """A wake for the workers when a delivery is pending, and (unless `counted_alerts` is None) the
    notification counted in /metrics, in the wake's round trip to Redis when there is one."""
    if DeliveryStatus.PENDING in statuses and counted_alerts is not None:
        transaction.on_commit(lambda: broker.wake(also=lambda pipe: metrics.add_notification(pipe, counted_alerts)))
    elif DeliveryStatus.PENDING in statuses:
        transaction.on_commit(broker.wake)
    elif counted_alerts is not None:
        transaction.on_commit(lambda: metrics.count_notification(counted_alerts))


class UnknownToken(Exception):
    """No active token with intake rights has this hash; the API's own authentication answers."""


def accept_with_token(token_hash: str, contact_point_uid: str, parsed: ParsedIntake) -> dict[str, Any]:
    """The intake's hot path (PostgreSQL, a Bearer token, no Idempotency-Key): the token's check,
    the contact point's lookup and the store are one statement, one round trip.

    Raises UnknownToken, or ContactPoint.DoesNotExist when the token is good but the uid is not.
    """
    # No model instance: the contact point's id and name come from the row the statement finds by this uid.
    values = _notification_values(contact_point_uid, parsed)
    caller_found, target_found, statuses = _run_one_statement(
        values,
        by_token=True,
        token_hash=token_hash,
        used_before=values["received_at"] - ApiToken.LAST_USED_RESOLUTION,
        contact_point_uid=contact_point_uid,
    )
    if not caller_found:
        raise UnknownToken
    if not target_found:
        raise ContactPoint.DoesNotExist
    _after_commit(statuses, len(parsed.alerts))
    return {"id": str(values["id"]), "alerts": len(parsed.alerts), "deliveries": len(statuses)}


def store_with_deliveries(notification: Notification, *, one_statement: bool | None = None) -> list[str]:
    """Insert the notification and one delivery per enabled integration; returns the deliveries' statuses.

    Rules: disableResolveMessage integrations get a delivery only while something fires; a paused
    integration or contact point gets its delivery recorded as paused. On PostgreSQL this is one
    statement (one round trip, atomic on its own); elsewhere the ORM does it in three.
    """
    if one_statement is None:
        one_statement = stores_in_one_statement()
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


def stores_in_one_statement() -> bool:
    return connection.vendor == "postgresql"  # a data-modifying WITH: PostgreSQL's


def _initial_status(paused: bool) -> str:
    return DeliveryStatus.PAUSED if paused else DeliveryStatus.PENDING


# What the one statement writes from the notification itself, with each column's SQL type; the
# contact point's id and name (the receiver) come from the row it finds.
NOTIFICATION_COLUMNS = {
    "id": "uuid",
    "status": "text",
    "alerts": "jsonb",
    "group_key": "text",
    "group_labels": "jsonb",
    "external_url": "text",
    "truncated_alerts": "integer",
    "source": "text",
    "received_at": "timestamptz",
}


def _input_value(sql_type: str, name: str) -> str:
    """Column `name` of the statement's one JSON parameter, as `sql_type`."""
    return f"input.value -> '{name}'" if sql_type == "jsonb" else f"(input.value ->> '{name}')::{sql_type}"


@cache
def _one_statement_sql(*, by_token: bool) -> str:
    """INSERT the notification and its deliveries in one statement (a data-modifying WITH).

    Its one parameter is a JSON object of every value (`input`): on the busiest path, psycopg
    adapting a dozen parameters one by one cost more CPU than PostgreSQL spends reading them from
    one document. `target` is the contact point: found by id, or (`by_token`) by uid once `caller`,
    an active token with intake rights, is found by its hash; that variant also marks the token
    used, at most once a LAST_USED_RESOLUTION. The answer's row says whether the caller and the
    target were found, and the stored deliveries' statuses.
    """
    tables = {model.__name__: model._meta.db_table for model in (ApiToken, ContactPoint, Notification, Integration)}
    scopes = ", ".join(f"'{scope}'" for scope in (TokenScope.INTAKE, TokenScope.ADMIN))
    received_at = _input_value("timestamptz", "received_at")
    if by_token:
        target = f"""
            caller AS (
                SELECT token.id FROM {tables["ApiToken"]} token, input
                WHERE token.token_hash = input.value ->> 'token_hash' AND token.revoked_at IS NULL
                    AND token.scope IN ({scopes})
            ),
            touched AS (
                UPDATE {tables["ApiToken"]} SET last_used_at = {received_at} FROM input
                WHERE id IN (SELECT id FROM caller)
                    AND (last_used_at IS NULL OR last_used_at < {_input_value("timestamptz", "used_before")})
            ),
            target AS (
                SELECT point.id, point.name, point.paused FROM {tables["ContactPoint"]} point, input
                WHERE point.uid = input.value ->> 'contact_point_uid' AND EXISTS (SELECT 1 FROM caller)
            )"""  # noqa: S608 - table names and scopes are ours; every value is in the parameter
        found_caller = "EXISTS (SELECT 1 FROM caller)"
    else:
        target = f"""target AS (
            SELECT point.id, point.name, point.paused FROM {tables["ContactPoint"]} point, input
            WHERE point.id = {_input_value("bigint", "contact_point_id")}
        )"""  # noqa: S608
        found_caller = "TRUE"
    values = ", ".join(_input_value(sql_type, name) for name, sql_type in NOTIFICATION_COLUMNS.items())
    return f"""
        WITH input AS (SELECT %s::jsonb AS value),
        {target},
        notification AS (
            INSERT INTO {tables["Notification"]} (contact_point_id, receiver, {", ".join(NOTIFICATION_COLUMNS)})
            SELECT target.id, target.name, {values} FROM target, input
            RETURNING id
        ),
        delivery AS (
            INSERT INTO {Delivery._meta.db_table} (id, notification_id, integration_id, firing_only, status,
                attempts, attempt_offset, next_attempt_at, last_error, created_at, updated_at)
            SELECT gen_random_uuid(), notification.id, integration.id, integration.disable_resolve_message,
                CASE WHEN target.paused OR integration.paused THEN '{DeliveryStatus.PAUSED}'
                    ELSE '{DeliveryStatus.PENDING}' END,
                0, 0, {received_at}, '', {received_at}, {received_at}
            FROM notification, target, input, {tables["Integration"]} integration
            WHERE integration.contact_point_id = target.id AND integration.enabled
                AND ((input.value ->> 'firing')::boolean OR NOT integration.disable_resolve_message)
            RETURNING status
        )
        SELECT {found_caller}, EXISTS (SELECT 1 FROM target), ARRAY(SELECT status FROM delivery)
    """  # noqa: S608 - table and column names and statuses are ours; every value is in the parameter


def _run_one_statement(values: dict[str, Any], *, by_token: bool, **found_by: Any) -> tuple[bool, bool, list[str]]:
    """(caller found, contact point found, the deliveries' statuses), for the notification's `values`."""
    document = {**values, **found_by, "firing": values["status"] == "firing"}
    with connection.cursor() as cursor:
        cursor.execute(_one_statement_sql(by_token=by_token), [rows.json_parameter(document)])
        caller_found, target_found, statuses = cursor.fetchone()
    return caller_found, target_found, statuses


def _store_in_one_statement(notification: Notification) -> list[str]:
    values = {name: getattr(notification, name) for name in NOTIFICATION_COLUMNS}
    return _run_one_statement(values, by_token=False, contact_point_id=notification.contact_point_id)[2]
