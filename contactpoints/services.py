"""The only writer of notifications and deliveries: new deliveries go to a listening worker in the
same statement (contactpoints.handoff), and a wake for the workers follows the commit for the rest."""

from __future__ import annotations

import logging
import uuid
from contextlib import nullcontext
from datetime import timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from contactpoints import broker, handoff, metrics, rows
from contactpoints.group_commit import GroupCommit
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
from contactpoints.sending import TEMPLATES_VERSION_SQL, derive_group_key

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
    counts = {"notifications": 1, "alerts": len(parsed.alerts)} if counted else {}
    _after_commit(DeliveryStatus.PENDING in statuses, **counts)
    return answer


def _after_commit(pending: bool, *, notifications: int = 0, alerts: int = 0) -> None:
    """A wake for the workers when a delivery is pending, and the intake's `notifications` (with
    their `alerts`) counted in /metrics, in the wake's round trip to Redis when there is one."""

    def count(pipe) -> None:
        metrics.add_notifications(pipe, notifications, alerts)

    if pending and notifications:
        transaction.on_commit(lambda: broker.wake(also=count))
    elif pending:
        transaction.on_commit(broker.wake)
    elif notifications:
        transaction.on_commit(lambda: metrics.count_notifications(notifications, alerts))


class UnknownToken(Exception):
    """No active token with intake rights has this hash; the API's own authentication answers."""


def accept_with_token(token_hash: str, contact_point_uid: str, parsed: ParsedIntake) -> dict[str, Any]:
    """The intake's hot path (PostgreSQL, a Bearer token, no Idempotency-Key): the token's check,
    the contact point's lookup and the store are one statement, shared with the requests that
    arrived while the one before was being stored (_hot_path_stores); the answer waits for the
    disk after the wake (_store_hot_path_batch).

    Raises UnknownToken, or ContactPoint.DoesNotExist when the token is good but the uid is not.
    """
    # No model instance: the contact point's id and name come from the row the statement finds by this uid.
    values = _notification_values(contact_point_uid, parsed)
    # Hinted only when stored alone: under load a listener's hand-offs come in batches, which gain
    # nothing from a request built ahead, and the web would spend a datagram per request for nothing.
    hinted = handoff.hints.preferred() if settings.DELIVERY_HANDOFF and _hot_path_stores.idle else None
    document = _statement_document(
        values,
        token_hash=token_hash,
        used_before=values["received_at"] - ApiToken.LAST_USED_RESOLUTION,
        contact_point_uid=contact_point_uid,
        alert_count=len(parsed.alerts),
        listener=hinted[0] if hinted else None,
    )
    if hinted:  # the listener builds while the statement runs
        hint = {"notification": values, "contact_point_uid": contact_point_uid}
        handoff.hints.send(hinted[1], rows.json_parameter(hint).encode())
    caller_found, target_found, statuses = _hot_path_stores.submit(document)
    if not caller_found:
        raise UnknownToken
    if not target_found:
        raise ContactPoint.DoesNotExist
    return {"id": str(values["id"]), "alerts": len(parsed.alerts), "deliveries": len(statuses)}


# The errors that say nothing about one request's values: the whole batch fails with them.
_CONNECTION_ERRORS = (OperationalError, InterfaceError)


def _store_hot_path_batch(documents: list[dict[str, Any]]) -> list[Found | Exception]:
    """Store a batch of the hot path's notifications in one statement (handing their deliveries to a
    listening worker where it can); then one wake for all that were not, with the stored ones
    counted in its round trip; then wait until the batch is on disk. A statement
    refused for a value (not the connection) is run again per notification, so that only the one
    that caused it fails.

    The store's commit does not wait for the WAL flush (the statement turns that off for its own
    transaction): a hand-off reaches its worker as it commits, the wake goes out at once, and the
    worker sends while the flush runs.
    The answers wait for it (_wait_until_on_disk): a 202 still means stored on disk. A PostgreSQL
    crash in between fails the requests (503, the sender retries) after their alerts may have been
    sent: at worst a receiver gets an alert twice, never one that was answered 202 and then lost.
    The flush usually takes a fraction of a millisecond, but on the development machine's shared
    disk one in a hundred took 3-5 ms and the slowest up to 50: a trickle's slowest alerts were
    those waiting for it.
    """
    try:
        found: list[Found | Exception] = list(_run_statement(documents, by_token=True))
    except _CONNECTION_ERRORS:
        raise
    except DatabaseError:
        if len(documents) == 1:
            raise
        found = [_alone(document) for document in documents]
    pending, notifications, alerts = False, 0, 0
    for document, outcome in zip(documents, found, strict=True):
        if isinstance(outcome, Exception):
            continue
        caller_found, target_found, statuses = outcome
        if caller_found and target_found:
            pending = pending or DeliveryStatus.PENDING in statuses
            notifications, alerts = notifications + 1, alerts + document["alert_count"]
    if notifications:
        _after_commit(pending, notifications=notifications, alerts=alerts)
        _wait_until_on_disk()  # nothing else needs it: a refused request's token use may be lost in a crash
    return found


def _wait_until_on_disk() -> None:
    """Commit a transaction that waits as the server's synchronous_commit says (the WAL flush, and
    synchronous standbys where there are any): the WAL is flushed and sent in order, so everything
    committed before it on any connection is as durable when it returns. It needs a transaction id
    to write a commit record at all (a read-only transaction commits without waiting)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()")


def _alone(document: dict[str, Any]) -> Found | Exception:
    try:
        return _run_statement([document], by_token=True)[0]
    except _CONNECTION_ERRORS:
        raise
    except DatabaseError as exc:
        return exc


# Per web process; a batch is at most what one process's threads can have queued.
_hot_path_stores: GroupCommit[dict[str, Any], Found] = GroupCommit(_store_hot_path_batch, max_batch=64)


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
def _one_statement_sql(*, by_token: bool, hand_off: bool) -> str:
    """INSERT notifications and their deliveries in one statement (a data-modifying WITH).

    Its one parameter is a JSON array of documents, one per notification, each holding every value
    (`input`, numbered `n`): on the busiest path, psycopg adapting a dozen parameters one by one
    cost more CPU than PostgreSQL spends reading them from one document. `target` is each one's
    contact point: found by id, or (`by_token`) by uid once `caller`, an active token with intake
    rights, is found by its hash; that variant also marks the token used, at most once a
    LAST_USED_RESOLUTION. With `hand_off`, the deliveries a listening worker can take are handed to
    it (`handed`, contactpoints.handoff): stored claimed for it (the first document's `listener`
    if it is live), their payload notified. A delivery's id is derived from its notification's and
    integration's (handoff.delivery_id), so that a hinted listener knows it beforehand. One answer
    row per document, in order: whether the caller and the target were found, the stored
    deliveries' statuses, and the live listeners that take hints ("token port").
    """
    tables = {model.__name__: model._meta.db_table for model in (ApiToken, ContactPoint, Notification, Integration)}
    scopes = ", ".join(f"'{scope}'" for scope in (TokenScope.INTAKE, TokenScope.ADMIN))
    received_at = _input_value("timestamptz", "received_at")
    if by_token:
        used_before = _input_value("timestamptz", "used_before")
        target = f"""
            caller AS (
                SELECT input.n, token.id FROM {tables["ApiToken"]} token
                JOIN input ON token.token_hash = input.value ->> 'token_hash'
                WHERE token.revoked_at IS NULL AND token.scope IN ({scopes})
            ),
            touched AS (
                UPDATE {tables["ApiToken"]} token SET last_used_at = {received_at}
                FROM caller JOIN input USING (n)
                WHERE token.id = caller.id
                    AND (token.last_used_at IS NULL OR token.last_used_at < {used_before})
            ),
            target AS (
                SELECT input.n, point.id, point.name, point.paused, point.updated_at FROM {tables["ContactPoint"]} point
                JOIN input ON point.uid = input.value ->> 'contact_point_uid'
                WHERE input.n IN (SELECT n FROM caller)
            )"""  # noqa: S608 - table names and scopes are ours; every value is in the parameter
        found_caller = "input.n IN (SELECT n FROM caller)"
        # The hot path's commit: not waiting for the flush, which _store_hot_path_batch waits for after the wake.
        unflushed = f", ({rows.COMMIT_WITHOUT_FLUSH_SQL}) unflushed"
    else:
        target = f"""target AS (
            SELECT input.n, point.id, point.name, point.paused, point.updated_at FROM {tables["ContactPoint"]} point
            JOIN input ON point.id = {_input_value("bigint", "contact_point_id")}
        )"""  # noqa: S608
        found_caller = "TRUE"
        unflushed = ""  # run in its caller's transaction, which commits as that caller chose
    values = ", ".join(_input_value(sql_type, name) for name, sql_type in NOTIFICATION_COLUMNS.items())
    # What a listener needs to send without reading the database (contactpoints.listener.batch_from).
    notification_fields = ", ".join(f"'{name}', input.value -> '{name}'" for name in NOTIFICATION_COLUMNS)
    return f"""
        WITH input AS (SELECT e.value, e.n FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS e(value, n)),
        {target},
        notification AS (
            INSERT INTO {tables["Notification"]} (contact_point_id, receiver, {", ".join(NOTIFICATION_COLUMNS)})
            SELECT target.id, target.name, {values} FROM target JOIN input USING (n)
            RETURNING id
        ),
        planned AS (
            SELECT {handoff.DELIVERY_ID_SQL} AS id, target.n, integration.id AS integration_id,
                integration.disable_resolve_message AS firing_only,
                target.paused OR integration.paused AS held, integration.updated_at,
                integration.unhealthy_since
            FROM target JOIN input USING (n)
            JOIN {tables["Integration"]} integration ON integration.contact_point_id = target.id
            WHERE integration.enabled
                AND ((input.value ->> 'firing')::boolean OR NOT integration.disable_resolve_message)
        ),
        listeners AS ({handoff.LISTENERS_SQL if hand_off else handoff.NO_LISTENERS_SQL}),
        listener AS ({handoff.PICK_LISTENER_SQL}),
        offered AS (
            SELECT planned.n, listener.token, jsonb_build_object(
                'notification', jsonb_build_object({notification_fields},
                    'contact_point_id', target.id, 'receiver', target.name),
                'contact_point_updated_at', target.updated_at,
                'deliveries', jsonb_agg(jsonb_build_array(planned.id, planned.integration_id, planned.firing_only,
                    planned.updated_at, planned.unhealthy_since)),
                'templates', (SELECT jsonb_build_array(templates, changed)
                    FROM ({TEMPLATES_VERSION_SQL}) version(templates, changed))
            )::text AS payload
            FROM planned JOIN input USING (n) JOIN target USING (n), listener
            WHERE NOT planned.held
            GROUP BY planned.n, listener.token, input.value, target.id, target.name, target.updated_at
        ),
        handed AS (SELECT n, token, payload FROM offered WHERE octet_length(payload) <= {handoff.MAX_PAYLOAD_BYTES}),
        delivery AS (
            INSERT INTO {Delivery._meta.db_table} (id, notification_id, integration_id, firing_only, status,
                attempts, attempt_offset, next_attempt_at, lease_expires_at, claim, last_error, created_at, updated_at)
            SELECT planned.id, notification.id, planned.integration_id, planned.firing_only,
                CASE WHEN planned.held THEN '{DeliveryStatus.PAUSED}'
                    WHEN handed.n IS NOT NULL THEN '{DeliveryStatus.SENDING}'
                    ELSE '{DeliveryStatus.PENDING}' END,
                CASE WHEN handed.n IS NULL THEN 0 ELSE 1 END, 0, {received_at},
                CASE WHEN handed.n IS NOT NULL THEN {_input_value("timestamptz", "lease_until")} END,
                handed.token::uuid, '', {received_at}, {received_at}
            FROM planned
            JOIN input USING (n)
            JOIN notification ON notification.id = {_input_value("uuid", "id")}
            LEFT JOIN handed ON handed.n = planned.n AND NOT planned.held
            RETURNING notification_id, status
        )
        SELECT {found_caller}, input.n IN (SELECT n FROM target),
            ARRAY(SELECT status FROM delivery WHERE delivery.notification_id = {_input_value("uuid", "id")}),
            ARRAY(SELECT token || ' ' || port FROM listeners WHERE port IS NOT NULL)
        FROM input{unflushed},
            (SELECT COUNT(pg_notify('{handoff.CHANNEL_PREFIX}' || token, payload)) FROM handed) notified
        ORDER BY input.n
    """  # noqa: S608 - table and column names and statuses are ours; every value is in the parameter


# What the statement answers of one notification: (caller found, contact point found, the deliveries' statuses).
Found = tuple[bool, bool, list[str]]


def _statement_document(values: dict[str, Any], **found_by: Any) -> dict[str, Any]:
    """One notification's `values`, and what finds its contact point, as the statement reads them."""
    lease = handoff.lease_until(values["received_at"])
    return {**values, **found_by, "firing": values["status"] == "firing", "lease_until": lease}


def _run_statement(documents: list[dict[str, Any]], *, by_token: bool) -> list[Found]:
    with connection.cursor() as cursor:
        sql = _one_statement_sql(by_token=by_token, hand_off=settings.DELIVERY_HANDOFF)
        cursor.execute(sql, [rows.json_parameter(documents)])
        answers = cursor.fetchall()
    handoff.hints.learn(answers[0][3] if answers else None)  # the listeners it saw, for the next hints
    return [(caller_found, target_found, statuses) for caller_found, target_found, statuses, _ in answers]


def _store_in_one_statement(notification: Notification) -> list[str]:
    values = {name: getattr(notification, name) for name in NOTIFICATION_COLUMNS}
    document = _statement_document(values, contact_point_id=notification.contact_point_id)
    return _run_statement([document], by_token=False)[0][2]
