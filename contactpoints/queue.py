"""The delivery state machine, with the deliveries table as the queue: claim, record, back off, sweep.

    pending | retrying --claim--> sending --record--> delivered | retrying | failed
                                  sending --lease lapsed (sweep)--> retrying | failed
    (new, a worker listening) --hand-off--> sending   (contactpoints.handoff: claimed by the intake's statement)

Work moves in batches: one UPDATE claims up to DELIVERY_BATCH_SIZE due rows (SKIP LOCKED, so
workers never wait on each other or take the same row), one SELECT loads them with their
notifications and integrations, and one transaction records every attempt, outcome and health.
The broker only wakes workers (contactpoints.broker); the database is the source of truth, and
long waits live in `next_attempt_at`, never in broker countdowns.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from contactpoints import broker, metrics, monitoring, pacing, rows, sending, storms
from contactpoints.handoff import LEASE_MARGIN_SECONDS, lease_until
from contactpoints.models import Attempt, ContactPoint, Delivery, DeliveryStatus, Integration, Notification
from contactpoints.sending import SendResult
from integrations.base import Outcome, Result
from integrations.template_sandbox import WALL_CLOCK_FACTOR
from integrations.templating import DEFAULT_TIMEOUT_SECONDS as TEMPLATE_TIMEOUT_SECONDS

logger = logging.getLogger(__name__)

# A send that waited this long for a sender thread is not started: rendering (its own budget, at
# most WALL_CLOCK_FACTOR times it on the clock) and the attempt (DELIVERY_TIMEOUT_SECONDS) could no
# longer finish before the lease lapses and the sweeper hands the delivery to another worker. It
# goes back to the queue unsent instead.
START_WITHIN_SECONDS = LEASE_MARGIN_SECONDS - TEMPLATE_TIMEOUT_SECONDS * WALL_CLOCK_FACTOR - 10
DUE_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
# A retry's wake arrives this much after it is due, so clocks never make it find nothing.
WAKE_LATE_SECONDS = 0.05
# How long one wake keeps claiming a backlog before it hands on to a fresh task.
WAKE_WORK_SECONDS = 5.0
# Set when the worker begins a warm shutdown (contactpoints.tasks): a lingering wake stops lingering.
WORKER_STOPPING = threading.Event()
# One wake per worker process lingers at a time. Otherwise every wake that finds the queue drained
# (the sweeper's and retries' too) would linger, each claiming a share of a trickle: more claims,
# and threads contending for the GIL with each other's sends.
_LINGERING = threading.Lock()


@dataclass
class Batch:
    claim: uuid.UUID | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    claimed_at: float = field(default_factory=time.monotonic)
    # The user templates' version, read with the claim (None: sending asks for it).
    templates_version: tuple | None = None
    # The paused destinations, read with the ring that brought this claim (None: planning asks).
    pauses: pacing.Pauses | None = None
    # Requests built ahead, by delivery id (a hand-off's, contactpoints.listener): a send uses its
    # own if it was built from the same inputs.
    prepared: dict[str, sending.Prepared] = field(default_factory=dict)


def claim(limit: int, ids: list | None = None) -> Batch:
    """Move up to `limit` due deliveries (of `ids`, when given) to `sending` for this worker, and
    load them with what sending needs.

    Written out once, not compiled by the ORM for every wake (that cost more CPU than PostgreSQL
    spends running it). On PostgreSQL the claim, the load and the user templates' version are one
    statement: the round trips before a trickle's first byte goes out are the latency.
    """
    now = timezone.now()
    token = uuid.uuid4()
    lease = lease_until(now)
    table = Delivery._meta.db_table
    claim_value = rows.prep(Delivery, "claim", token)
    now_value = rows.prep(Delivery, "updated_at", now)
    if ids is None and connection.vendor == "postgresql":
        # Walks the due index in order (migration 0009 says why it is a function).
        pick, pick_parameters = "SELECT contactpoints_due_deliveries(%s, %s)", [now_value, limit]
    else:
        only = ""
        if ids is not None:
            only = f"AND id IN ({rows.placeholders(len(ids))})" if ids else "AND FALSE"
        lock = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
        pick = f"""
            SELECT id FROM {table} WHERE status IN (%s, %s) AND next_attempt_at <= %s {only}
            ORDER BY next_attempt_at LIMIT %s{lock}
        """  # noqa: S608 - table name ours; every value is a parameter
        pick_parameters = [*DUE_STATUSES, now_value, *(rows.prep(Delivery, "id", i) for i in ids or ()), limit]
    update = f"""
        UPDATE {table} SET status = %s, attempts = attempts + 1, lease_expires_at = %s, claim = %s, updated_at = %s
        WHERE id IN ({pick})
    """  # noqa: S608 - table name ours; every value is a parameter
    parameters = [
        DeliveryStatus.SENDING,
        rows.prep(Delivery, "lease_expires_at", lease),
        claim_value,
        now_value,
        *pick_parameters,
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_CLAIM_AND_LOAD_SQL.format(update=update), parameters)
            found = cursor.fetchall()
            if not found:
                return Batch()
            return Batch(token, _deliveries(found), templates_version=tuple(found[0][-2:]))
        cursor.execute(update, parameters)
        if not cursor.rowcount:
            return Batch()
        cursor.execute(_LOAD_CLAIMED_SQL, [DeliveryStatus.SENDING, claim_value])
        return Batch(token, _deliveries(cursor.fetchall()))


# The claimed deliveries with what sending needs, in one query (select_related, written out once).
_LOADED = (Delivery, Notification, Integration, ContactPoint)
_LOADED_FIELDS = [rows.all_fields(model) for model in _LOADED]
_LOADED_STARTS = [sum(len(names) for names in _LOADED_FIELDS[:index]) for index in range(len(_LOADED))]
_LOADED_COLUMNS = ", ".join(rows.columns(model, alias) for model, alias in zip(_LOADED, "dnic", strict=True))
_JOINS = f"""
    JOIN {Notification._meta.db_table} n ON n.id = d.notification_id
    JOIN {Integration._meta.db_table} i ON i.id = d.integration_id
    JOIN {ContactPoint._meta.db_table} c ON c.id = i.contact_point_id
"""
_LOAD_CLAIMED_SQL = f"""
    SELECT {_LOADED_COLUMNS} FROM {Delivery._meta.db_table} d {_JOINS} WHERE d.status = %s AND d.claim = %s
"""  # noqa: S608 - table and column names are the models'
# The claiming UPDATE (`update`) returns the rows it changed; each row carries the templates' version too.
# Its commit does not wait for the WAL to reach the disk (`unflushed`, for this transaction only): that
# flush put a disk write on every trickle alert's path, and the intake's commits queued behind it (at
# 100 alerts/s the slowest percent of intake stores took 4-30 ms, PostgreSQL itself under 2). A claim
# lost in a PostgreSQL crash leaves its deliveries due, their attempt counts unchanged, and they are
# sent again, as when a crash stops the recording after a synchronous claim (its lease lapses). What
# this costs: the lost claim's attempt is not recorded. The record stays synchronous, and its flush
# makes the claim before it durable too (the WAL is flushed in order).
_CLAIM_AND_LOAD_SQL = f"""
    WITH d AS ({{update}} RETURNING *),
    unflushed AS ({rows.COMMIT_WITHOUT_FLUSH_SQL})
    SELECT {_LOADED_COLUMNS}, templates.* FROM d {_JOINS}, ({sending.TEMPLATES_VERSION_SQL}) templates, unflushed
"""  # noqa: S608


def _part(row: tuple, index: int) -> Any:
    """The instance of the `index`th loaded model in a row of the joined query."""
    start, names = _LOADED_STARTS[index], _LOADED_FIELDS[index]
    return rows.instance(_LOADED[index], names, row[start : start + len(names)])


def _deliveries(found: list[tuple]) -> list[Delivery]:
    integrations: dict[Any, Integration] = {}  # one instance per integration: built and decrypted once
    deliveries = []
    for row in found:
        delivery, notification = (_part(row, index) for index in range(2))
        integration = integrations.get(delivery.integration_id)
        if integration is None:
            integration = integrations[delivery.integration_id] = _part(row, 2)
            rows.with_related(integration, contact_point=_part(row, 3))
        rows.with_related(delivery, notification=notification, integration=integration)
        deliveries.append(delivery)
    return deliveries


def deliver_due(*, record_in_background: bool = False) -> Counter[str]:
    """A wake's work: claim, send and record batches while anything is due; then, for one wake per
    worker process, wait for the next commit's ring. Returns how many deliveries ended in each status.

    `record_in_background` (the Celery task's wakes) records each batch on a thread of the wake's
    own while the wake claims and sends the next one (recording). In-process callers record inline:
    a thread with a connection of its own would not see rows a caller's transaction has not committed.

    While this loops, the wake flag stays set, so notifications cost no Celery messages at all.
    The first full batch rings once more, so another worker thread joins while there is a
    backlog, and a backlog still going after WAKE_WORK_SECONDS carries on in a fresh task (a
    worker's warm shutdown waits for running tasks). Once a claim comes back short, one wake of
    the process lingers on the doorbell, renewing the flag every DELIVERY_WAKE_LINGER_SECONDS,
    until the worker shuts down (WORKER_STOPPING): the first notification after a quiet hour is
    claimed as fast as one in a steady trickle, where a Celery hop cost up to a second after a
    busy spell. Other wakes that find the queue drained end, leaving the flag to it. A wake that
    cannot linger (Redis down, lingering off) clears the flag and looks at the queue once more:
    whatever was committed before the clear saw the flag and did not ring.
    """
    counts: Counter[str] = Counter()
    with recording(counts, in_background=record_in_background) as record_batch:
        _claim_send_and_linger(record_batch)
    return counts


def _claim_send_and_linger(record_batch: Callable[[SentBatch], None]) -> None:
    deadline = time.monotonic() + WAKE_WORK_SECONDS
    joined = cleared = False
    ring: Ring | None = None
    while True:
        batch = claim(settings.DELIVERY_BATCH_SIZE)
        if ring is not None:
            batch.pauses, ring = ring.pauses, None
        full = len(batch.deliveries) == settings.DELIVERY_BATCH_SIZE
        if full and not joined:
            joined = broker.publish()
        record_batch(send(batch))
        if full and (time.monotonic() > deadline or WORKER_STOPPING.is_set()):
            broker.publish()  # carry on in a fresh task
            return
        if not full:
            if cleared:
                return  # from the clear on, every commit rang for itself
            if not _LINGERING.acquire(blocking=False):
                return  # another wake of this worker lingers, and holds the flag for both
            try:
                ring = _linger()
            finally:
                _LINGERING.release()
            if ring:
                continue  # a commit rang while this wake lingered: claim it now, no Celery message
            broker.clear_wake()
            cleared = True


@contextmanager
def recording(counts: Counter[str], *, in_background: bool) -> Iterator[Callable[[SentBatch], None]]:
    """How a wake records its sent batches, adding their statuses to `counts`.

    In the background, a thread of the wake's own records a batch while the wake claims and sends
    the next: a recording's commit no longer holds back the next notification (in a trickle of 100
    alerts/s, the slowest percent waited 5-10 ms for the one before to be recorded). A batch waits
    for the one before it, so at most one is being recorded, and the wake ends only when its last
    is: a warm shutdown, which waits for running tasks, leaves no sent batch unrecorded.
    """
    if not in_background:
        yield lambda sent: counts.update(sent.record().values())
        return
    being_recorded: Future | None = None  # at most one batch at a time
    started = False  # the thread starts with the first batch: a wake that finds nothing starts none

    def settle() -> None:
        nonlocal being_recorded
        if being_recorded is not None:
            counts.update(being_recorded.result().values())
            being_recorded = None

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder") as recorder:

        def record_batch(sent: SentBatch) -> None:
            nonlocal being_recorded, started
            settle()
            if sent.has_outcomes:
                being_recorded, started = recorder.submit(_record_on_the_recorder, sent), True
            else:
                counts.update(sent.statuses.values())  # nothing to write: parked, or nothing claimed

        try:
            yield record_batch
        finally:
            settle()
            if started:
                recorder.submit(connections.close_all)  # the recorder thread's own connection ends with it


def _record_on_the_recorder(sent: SentBatch) -> dict[str, str]:
    """A failed recording is logged and leaves its deliveries `sending`: their lease lapses and the
    sweeper takes them on, as when a task that records inline fails."""
    close_old_connections()  # as Celery does around a task: one a database restart broke is replaced
    try:
        return sent.record()
    except Exception:
        logger.exception("recording %d sent deliveries failed; the sweeper takes them on", len(sent.batch.deliveries))
        return {}


@dataclass(frozen=True)
class Ring:
    """A commit rang while a wake lingered; the destinations' pauses came in the same round trip."""

    pauses: pacing.Pauses | None


def _linger() -> Ring | None:
    """Wait for a commit's ring, however long none comes. None when the worker shuts down,
    lingering is off (DELIVERY_WAKE_LINGER_SECONDS 0) or Redis does not answer; then the wake ends
    as one that never lingered."""
    while not WORKER_STOPPING.is_set():
        heard = broker.listen(settings.DELIVERY_WAKE_LINGER_SECONDS, then=pacing.read_pauses)
        if heard is None:
            return None
        rang, pauses = heard
        if rang:
            return Ring(pacing.pauses_from(pauses))
    return None


def run_delivery(delivery_id: Any) -> str | None:
    """Claim, send and record one delivery now, if it is due. None when there was nothing to claim."""
    return send_and_record(claim(1, ids=[delivery_id])).get(str(delivery_id))


def send_and_record(batch: Batch) -> dict[str, str]:
    return send(batch).record()


@dataclass
class SentBatch:
    """A claimed batch once sent: what to record of it."""

    batch: Batch
    statuses: dict[str, str] = field(default_factory=dict)  # the paused ones, already parked
    sent: list[tuple[storms.Message, SendResult]] = field(default_factory=list)
    # Not sent: (delivery, when it is due again; None: at once).
    waiting: list[tuple[Delivery, datetime | None]] = field(default_factory=list)

    @property
    def has_outcomes(self) -> bool:
        return bool(self.sent or self.waiting)

    def record(self) -> dict[str, str]:
        """Put back what waits, record what was sent; every delivery's status."""
        statuses = dict(self.statuses)
        statuses.update(_put_back(self.batch, self.waiting))
        statuses.update(record(self.batch, self.sent) if self.sent else {})
        return statuses


def send(batch: Batch) -> SentBatch:
    """Park the paused deliveries and send the rest, each at its destination's pace."""
    if not batch.deliveries:
        return SentBatch(batch)
    paused = [d for d in batch.deliveries if d.integration.is_paused]
    active = [d for d in batch.deliveries if not d.integration.is_paused]
    outcome = SentBatch(batch, statuses=_park(batch, paused))
    if active:
        plan = storms.plan(active, start_by=batch.claimed_at + START_WITHIN_SECONDS, pauses=batch.pauses)
        send_planned(outcome, plan)
    return outcome


def send_planned(outcome: SentBatch, plan: storms.Plan) -> SentBatch:
    """Send a plan of the outcome's batch (each send with its request built ahead, if one fits), and
    add what was sent and what waits to the outcome."""
    batch = outcome.batch
    for message in plan.messages:
        message.send.prepared = batch.prepared.get(message.send.idempotency_key)
    results = sending.send_many(
        [message.send for message in plan.messages], sending.user_templates(batch.templates_version)
    )
    outcome.waiting += plan.waiting
    for message, result in zip(plan.messages, results, strict=True):
        if result is None:
            outcome.waiting += [(delivery, None) for delivery in message.deliveries]
        else:
            outcome.sent.append((message, result))
    return outcome


def _park(batch: Batch, paused: list[Delivery]) -> dict[str, str]:
    """Paused after these were queued: keep them, unsent, without counting an attempt."""
    if paused:
        Delivery.objects.filter(pk__in=[d.pk for d in paused], status=DeliveryStatus.SENDING, claim=batch.claim).update(
            status=DeliveryStatus.PAUSED, attempts=F("attempts") - 1, lease_expires_at=None, claim=None
        )
    return {str(d.pk): DeliveryStatus.PAUSED for d in paused}


def _put_back(batch: Batch, waiting: list[tuple[Delivery, datetime | None]]) -> dict[str, str]:
    """Not sent, no attempt counted: due again when their destination's slot comes, or at once
    (None: no sender thread was free in time, or a pause came while they waited for their slot)."""
    if not waiting:
        return {}
    now = timezone.now()
    statuses, groups = {}, defaultdict(list)
    for delivery, due_at in waiting:
        was_retried = delivery.attempts - 1 > delivery.attempt_offset
        status = DeliveryStatus.RETRYING if was_retried else DeliveryStatus.PENDING
        statuses[str(delivery.pk)] = status
        groups[(status, due_at or now)].append(delivery.pk)
    for (status, due_at), pks in groups.items():
        Delivery.objects.filter(pk__in=pks, status=DeliveryStatus.SENDING, claim=batch.claim).update(
            status=status, attempts=F("attempts") - 1, lease_expires_at=None, claim=None, next_attempt_at=due_at
        )
    at_once = sum(1 for _, due_at in waiting if due_at is None)
    if at_once:
        logger.warning(
            "%d deliveries queued again unsent (no sender thread in time, or their destination paused)", at_once
        )
    # One wake, at the earliest: its claims pick up the later ones too. Longer waits: the sweeper rings.
    earliest = max((min(due_at for _, due_at in groups) - now).total_seconds(), 0.0)
    if earliest <= settings.MAX_BROKER_COUNTDOWN_SECONDS:
        broker.publish(countdown_seconds=earliest + WAKE_LATE_SECONDS if earliest else None)
    return statuses


def retry_delay_seconds(attempt_number: int, retry_after_seconds: float | None) -> float:
    """Exponential backoff with jitter, capped; a longer Retry-After wins."""
    base = settings.DELIVERY_RETRY_BASE_SECONDS * (2 ** (attempt_number - 1))
    delay = min(settings.DELIVERY_RETRY_MAX_SECONDS, base) * random.uniform(0.8, 1.2)
    if retry_after_seconds is not None:
        delay = max(delay, min(retry_after_seconds, settings.DELIVERY_RETRY_MAX_SECONDS))
    return delay


def _next_state(delivery: Delivery, result: SendResult, now: datetime) -> tuple[dict[str, Any], float | None]:
    """The fields one attempt's outcome changes, and the retry delay when there is one."""
    outcome = result.outcome
    changes: dict[str, Any] = {
        "status": DeliveryStatus.FAILED,
        "last_error": outcome.error,
        "last_http_status": outcome.http_status,
        "lease_expires_at": None,
        "claim": None,
        "updated_at": now,
    }
    if outcome.ok:
        changes.update(status=DeliveryStatus.DELIVERED, delivered_at=now, last_error="")
    elif outcome.result is Result.RETRY and not delivery.attempts_used_up:
        delay = retry_delay_seconds(delivery.attempts - delivery.attempt_offset, outcome.retry_after_seconds)
        changes.update(status=DeliveryStatus.RETRYING, next_attempt_at=now + timedelta(seconds=delay))
        return changes, delay
    return changes, None


def record(batch: Batch, sent: list[tuple[storms.Message, SendResult]]) -> dict[str, str]:
    """Store every attempt and move each delivery on, in one transaction; wake retries that come due soon.

    A digest's outcome is each of its deliveries' attempt; delivered, they point at its carrier.
    """
    now = timezone.now()
    statuses, soon, changes_of = {}, set(), {}
    outcomes = [(delivery, result, message) for message, result in sent for delivery in message.deliveries]
    for delivery, result, message in outcomes:
        changes, delay = _next_state(delivery, result, now)
        if changes["status"] == DeliveryStatus.DELIVERED and delivery is not message.carrier:
            changes["coalesced_into"] = message.carrier.pk
        changes_of[delivery.pk] = changes
        statuses[str(delivery.pk)] = changes["status"]
        if delay is not None and delay <= settings.MAX_BROKER_COUNTDOWN_SECONDS:
            soon.add(round(delay, 1))
    attempts = [
        Attempt(
            delivery=delivery,
            number=delivery.attempts,
            started_at=result.started_at,
            duration_ms=round(result.duration_seconds * 1000),
            outcome=str(result.outcome.result),
            http_status=result.outcome.http_status,
            error=result.outcome.error,
        )
        for delivery, result, _ in outcomes
    ]
    # Fallbacks and self-monitoring write in the outcomes' transaction; without them (most
    # batches) the outcomes are one statement on PostgreSQL, atomic on its own.
    watched = any(
        statuses[str(d.pk)] == DeliveryStatus.FAILED or d.integration.unhealthy_since is not None
        for d, _, _ in outcomes
    )
    one_statement = connection.vendor == "postgresql"
    with transaction.atomic() if watched or not one_statement else nullcontext():
        write = _write_outcomes_in_one_statement if one_statement else _write_outcomes
        owned = write(batch.claim, changes_of, attempts)
        ended = [(d, r.outcome) for d, r, _ in outcomes if d.pk in owned]
        delivered = [d for d, _ in ended if statuses[str(d.pk)] == DeliveryStatus.DELIVERED]
        failed = [(d, outcome) for d, outcome in ended if statuses[str(d.pk)] == DeliveryStatus.FAILED]
        monitoring.after_outcomes(delivered, failed)
        for delay in soon:
            transaction.on_commit(lambda delay=delay: broker.publish(countdown_seconds=delay + WAKE_LATE_SECONDS))
    metrics.count_outcomes(
        [(m.carrier.integration.type, str(r.outcome.result), r.duration_seconds) for m, r in sent],
        [d.integration.type for d in delivered],
        [(d.integration.type, metrics.failure_reason(outcome)) for d, outcome in failed],
    )
    return statuses


def _write_outcomes(claim_token: uuid.UUID, changes_of: dict[Any, dict[str, Any]], attempts: list[Attempt]) -> set:
    """The attempts, each delivery's changes and the integrations' health, by the ORM (SQLite).
    Returns the primary keys of the deliveries this batch still owned (and so changed)."""
    Attempt.objects.bulk_create(attempts)
    # Deliveries whose outcome changes the same fields to the same values share one UPDATE.
    groups: dict[tuple, list] = defaultdict(list)
    for pk, changes in changes_of.items():
        groups[tuple(changes.items())].append(pk)
    claim_value = rows.prep(Delivery, "claim", claim_token)
    owned = set()
    for changes, pks in groups.items():
        # Only rows this batch still owns: a worker that outlived its lease must not overwrite the next owner.
        ids = [rows.prep(Delivery, "id", pk) for pk in pks]
        changed = rows.update(
            Delivery,
            dict(changes),
            f"status = %s AND claim = %s AND id IN ({rows.placeholders(len(ids))})",
            [DeliveryStatus.SENDING, claim_value, *ids],
        )
        owned.update(changed)
    for integration_id, attempt in _latest_attempts(attempts).items():
        started_at = rows.prep(Integration, "last_attempt_at", attempt.started_at)
        rows.update(
            Integration,
            {
                "last_attempt_at": attempt.started_at,
                "last_attempt_duration_ms": attempt.duration_ms,
                "last_attempt_error": attempt.error,
            },
            "id = %s AND (last_attempt_at IS NULL OR last_attempt_at <= %s)",
            [integration_id, started_at],
        )
    return {pk for pk in changes_of if rows.prep(Delivery, "id", pk) in owned}


def _latest_attempts(attempts: list[Attempt]) -> dict[int, Attempt]:
    """Grafana's contact point status: each integration's latest attempt, never an older one over it."""
    latest: dict[int, Attempt] = {}
    for attempt in attempts:
        integration_id = attempt.delivery.integration_id
        if integration_id not in latest or attempt.started_at >= latest[integration_id].started_at:
            latest[integration_id] = attempt
    return latest


def _write_outcomes_in_one_statement(
    claim_token: uuid.UUID, changes_of: dict[Any, dict[str, Any]], attempts: list[Attempt]
) -> set:
    """_write_outcomes in one statement (PostgreSQL), its values in one JSON parameter: the ORM's
    insert and a statement per group and per integration cost a worker more CPU than sending."""
    document = {
        "claim": claim_token,
        "attempts": [
            {name: getattr(attempt, name) for name in _ATTEMPT_COLUMNS} | {"delivery_id": attempt.delivery.pk}
            for attempt in attempts
        ],
        "deliveries": [
            {"id": pk, **{_column(Delivery, name): value for name, value in changes.items()}}
            for pk, changes in changes_of.items()
        ],
        "health": [
            {"id": integration_id, "started_at": a.started_at, "duration_ms": a.duration_ms, "error": a.error}
            for integration_id, a in _latest_attempts(attempts).items()
        ],
    }
    with connection.cursor() as cursor:
        cursor.execute(_RECORD_SQL, [rows.json_parameter(document)])
        (owned,) = cursor.fetchone()
    return set(owned)


def _column(model: type, name: str) -> str:
    return model._meta.get_field(name).column


_ATTEMPT_COLUMNS = ("number", "started_at", "duration_ms", "outcome", "http_status", "error")
# Set on every recorded delivery; the others (delivered_at, next_attempt_at, coalesced_into) only
# by the outcomes that change them (_next_state), so a missing one keeps the row's value.
_ALWAYS_SET = ("status", "last_error", "last_http_status", "lease_expires_at", "claim", "updated_at")
_SET_BY_SOME = ("delivered_at", "next_attempt_at", "coalesced_into_id")
_RECORD_SQL = f"""
    WITH input AS (SELECT %s::jsonb AS value),
    attempt AS (
        INSERT INTO {Attempt._meta.db_table} (delivery_id, {", ".join(_ATTEMPT_COLUMNS)})
        SELECT a.delivery_id, {", ".join(f"a.{name}" for name in _ATTEMPT_COLUMNS)}
        FROM input, jsonb_to_recordset(input.value -> 'attempts') AS a(
            delivery_id uuid, number integer, started_at timestamptz, duration_ms integer, outcome text,
            http_status smallint, error text
        )
    ),
    health AS (
        UPDATE {Integration._meta.db_table} integration SET last_attempt_at = h.started_at,
            last_attempt_duration_ms = h.duration_ms, last_attempt_error = h.error
        FROM input, jsonb_to_recordset(input.value -> 'health') AS h(
            id bigint, started_at timestamptz, duration_ms integer, error text
        )
        WHERE integration.id = h.id
            AND (integration.last_attempt_at IS NULL OR integration.last_attempt_at <= h.started_at)
    ),
    moved AS (
        UPDATE {Delivery._meta.db_table} delivery
        SET {", ".join(f"{name} = c.{name}" for name in _ALWAYS_SET)},
            {", ".join(f"{name} = COALESCE(c.{name}, delivery.{name})" for name in _SET_BY_SOME)}
        FROM input, jsonb_to_recordset(input.value -> 'deliveries') AS c(
            id uuid, status text, last_error text, last_http_status smallint, lease_expires_at timestamptz,
            claim uuid, updated_at timestamptz, delivered_at timestamptz, next_attempt_at timestamptz,
            coalesced_into_id uuid
        )
        -- Only rows this batch still owns: a worker that outlived its lease must not overwrite the next owner.
        WHERE delivery.id = c.id AND delivery.status = '{DeliveryStatus.SENDING}'
            AND delivery.claim = (input.value ->> 'claim')::uuid
        RETURNING delivery.id
    )
    SELECT ARRAY(SELECT id FROM moved)
"""  # noqa: S608 - table and column names and the status are ours; every value is in the parameter


# -- the sweeper --------------------------------------------------------------------------

SWEEP_BATCH = 500
LOST_LEASE_ERROR = "the worker stopped during this attempt; its outcome is unknown"


def sweep() -> dict[str, int]:
    """Beat's safety net: reclaim lapsed leases, and ring while anything is due.

    A wake can be lost (broker down at commit, Redis flushed, a worker killed holding it); the
    deliveries it stood for are still due in the database, and this finds them.
    """
    now = timezone.now()
    reclaimed = _reclaim_lost_leases(now)
    due = Delivery.objects.filter(status__in=DUE_STATUSES, next_attempt_at__lte=now).count()
    if due:
        broker.publish()
    if due or reclaimed:
        logger.info("sweeper: %d due, %d lost leases reclaimed", due, reclaimed)
    return {"due": due, "reclaimed": reclaimed}


def _reclaim_lost_leases(now: datetime) -> int:
    """A delivery still `sending` after its lease lapsed lost its worker mid-attempt.

    Its outcome is unknown: it may have been sent. It is tried again (the dedup keys let the
    receiver drop a duplicate) unless its attempts are used up.
    """
    with transaction.atomic():
        lost = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("notification", "integration__contact_point")
            .filter(status=DeliveryStatus.SENDING, lease_expires_at__lt=now)[:SWEEP_BATCH]
        )
        for delivery in lost:
            delivery.status = DeliveryStatus.FAILED if delivery.attempts_used_up else DeliveryStatus.RETRYING
            delivery.next_attempt_at, delivery.lease_expires_at, delivery.claim = now, None, None
            delivery.last_error = LOST_LEASE_ERROR
        Attempt.objects.bulk_create(
            Attempt(
                delivery=delivery,
                number=delivery.attempts,
                started_at=delivery.updated_at,
                duration_ms=0,
                outcome=str(Result.RETRY),
                error=LOST_LEASE_ERROR,
            )
            for delivery in lost
        )
        Delivery.objects.bulk_update(lost, ["status", "next_attempt_at", "lease_expires_at", "claim", "last_error"])
        lost_for_good = Outcome(Result.FAILED, error=LOST_LEASE_ERROR)
        failed = [(d, lost_for_good) for d in lost if d.status == DeliveryStatus.FAILED]
        monitoring.after_outcomes([], failed)
    metrics.count_outcomes([], failed=[(d.integration.type, metrics.failure_reason(o)) for d, o in failed])
    return len(lost)


# -- by hand --------------------------------------------------------------------------------

RETRYABLE_BY_HAND = (DeliveryStatus.FAILED, DeliveryStatus.PAUSED)


def retry_many(deliveries) -> int:
    """Send failed (or paused) deliveries again with a fresh budget of attempts, in one update;
    the wake follows the commit. Returns how many were queued."""
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
        if moved:
            transaction.on_commit(broker.wake)
    return moved


def retry_failed(delivery: Delivery) -> bool:
    """Send one failed (or paused) delivery again (API and admin)."""
    return retry_many(Delivery.objects.filter(pk=delivery.pk)) == 1
