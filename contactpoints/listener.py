"""The worker's end of the hand-off (contactpoints.handoff): a thread per worker process that listens
for the deliveries the intake's statement claimed for it, and sends them as they come.

The thread keeps a database connection of its own, LISTENs on its channel, and only then announces
itself (its application_name), so nothing is handed to it before it can hear it. Each wake takes
every notification that has arrived, up to a batch, and sends them as one claimed batch
(contactpoints.queue.send), recorded in the background as a wake's batches are.

A batch whose sends take longer than they should (SLOW_BATCH_SECONDS and a little per delivery: a
destination timing out) would hold up every hand-off behind it, since no other worker can take
them: the listener takes its name back until the batch is done, and new notifications go the
common way meanwhile.

Leaving (the worker's warm shutdown, or a broken connection): the name goes first, then whatever
was already on its way is served for LEAVING_GRACE_SECONDS, and only then the connection closes.
While listening it runs a statement at least every handoff.HEARTBEAT_SECONDS, so that a frozen
process, whose session PostgreSQL keeps, soon stops being picked.

Hints (contactpoints.handoff): the listener also takes datagrams on a loopback port it announces with
its name. Each is a notification the intake is about to store, sent before its statement; for each
integration that the contact point's last hand-off went to (and that is not paced), the listener
builds the delivery and its request then (contactpoints.sending.prepare). A hand-off whose every
delivery was built from the inputs it brings is sent at once from what was built (_built_ahead_for);
any other builds its batch from the payload (batch_from), using a request built ahead where it fits.
On a quiet machine that takes about 0.7 ms of the worker's work off an alert's way.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections

from contactpoints import handoff, pacing, queue, rows, sending, storms
from contactpoints.models import Delivery, DeliveryStatus, Integration, Notification
from integrations.base import SettingsError
from integrations.destinations import Destination
from integrations.registry import UnknownIntegrationType

logger = logging.getLogger(__name__)

# How long one wait for notifications lasts. While hand-offs come, the paused destinations are read
# before each wait, so a batch knows them without a round trip of its own (a snapshot answers for
# pacing.PAUSES_FRESH_SECONDS): about 25 small reads a second per worker process. After QUIET_SECONDS
# without a hand-off the listener waits longer and reads nothing; the first batch after a quiet spell
# asks Redis itself.
POLL_SECONDS = pacing.PAUSES_FRESH_SECONDS * 0.8
QUIET_POLL_SECONDS = 0.5
QUIET_SECONDS = 60.0
# Redis did not answer the read: the next try waits this long (batches reserve as usual meanwhile).
PAUSES_RETRY_SECONDS = 5.0
# A batch is slow (a destination is timing out, say) past this, and this per delivery: far more
# than sends to destinations that answer cost.
SLOW_BATCH_SECONDS = 0.05
SLOW_BATCH_SECONDS_PER_DELIVERY = 0.005
# Statements that picked this listener just before it took its name back still commit to it.
LEAVING_GRACE_SECONDS = 2.0
RECONNECT_SECONDS = 1.0
# Hand-offs parsed at a time. A listener that fell behind finds thousands waiting (3,239 at once
# after 10 s of wrk at 1,100 alerts/s): parsed all together, the memory they take grows with the
# backlog.
HAND_OFFS_PARSED_AT_ONCE = 200
MAX_CACHED_INTEGRATIONS = 10_000
# A hint this old when read is not built: its hand-off has come, or the listener is busy.
HINT_FRESH_SECONDS = 0.05
# A request built from a hint and not sent within this is dropped (its statement went elsewhere).
PREPARED_KEEP_SECONDS = 2.0
MAX_PREPARED = 1_000
# An integration whose request took this long to build ahead is not built ahead for a while: a
# slow template would hold up the hand-offs behind it twice when the build does not fit.
SLOW_PREPARE_SECONDS = 0.01
SLOW_PREPARE_PAUSE_SECONDS = 60.0

_DELIVERY_FIELDS = rows.all_fields(Delivery)
_NOTIFICATION_FIELDS = rows.all_fields(Notification)


class Listener:
    def __init__(self) -> None:
        self.token = uuid.uuid4()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # id → ((integration's updated_at, contact point's updated_at) as the payload writes them, instance)
        self._integrations: dict[int, tuple[tuple[str, str], Integration]] = {}
        # Hints: where they come in; each contact point's (by uid) integrations in its last hand-off;
        # the user templates' version in the last; requests built ahead by delivery id, with when.
        self._hints: socket.socket | None = None
        self._integrations_of: dict[str, list[int]] = {}
        self._templates_version: tuple | None = None
        self._prepared: dict[str, _BuiltAhead] = {}
        self._slow_to_prepare: dict[int, float] = {}  # integration id → when to try again
        # Notifications handed off lately (id → when), oldest first: a hint read after its hand-off
        # (the listener was busy) is not built.
        self._handed: dict[str, float] = {}
        self._pauses: pacing.Pauses | None = None
        self._last_hand_off = -QUIET_SECONDS
        self._pauses_failed_at = -PAUSES_RETRY_SECONDS
        # On the listener's own connection: its heartbeat (handoff.LISTENER_FRESH_SECONDS).
        self._last_statement = 0.0
        self.counts: Counter[str] = Counter()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="handoff-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to leave; it serves what was already handed to it first (join waits for that)."""
        self._stopping.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        self._hints = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._hints.bind(("127.0.0.1", 0))
        self._hints.setblocking(False)
        try:
            while not self._stopping.is_set():
                try:
                    self._serve()
                except Exception:
                    logger.exception("hand-off listener failed; listening again in %.0f s", RECONNECT_SECONDS)
                    self._stopping.wait(RECONNECT_SECONDS)
        finally:
            self._hints.close()
            connections.close_all()  # this thread's own Django connection

    def _serve(self) -> None:
        database = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            database.ensure_connection()
            raw = database.connection
            raw.execute(f'LISTEN "{handoff.channel(self.token.hex)}"')
            self._announce(raw, here=True)
            with queue.recording(self.counts, in_background=True) as record_batch, _Watchdog() as watchdog:
                try:
                    while not self._stopping.is_set():
                        self._serve_once(raw, self._poll_seconds(), watchdog, record_batch)
                finally:
                    self._leave(raw, watchdog, record_batch)
        finally:
            database.close()

    def _leave(self, raw: Any, watchdog: _Watchdog, record_batch: Callable) -> None:
        """Take the name back, then serve what statements that saw it still send."""
        try:
            self._announce(raw, here=False)
        except psycopg.Error:  # the connection is gone: so is anything still on its way (the sweeper's)
            logger.warning("hand-off listener left without serving what was on its way")
            return
        ends = time.monotonic() + LEAVING_GRACE_SECONDS
        while (left := ends - time.monotonic()) > 0:
            self._serve_once(raw, left, watchdog, record_batch)

    def _poll_seconds(self) -> float:
        quiet = time.monotonic() - self._last_hand_off > QUIET_SECONDS
        unreadable = time.monotonic() - self._pauses_failed_at < PAUSES_RETRY_SECONDS
        return QUIET_POLL_SECONDS if quiet or unreadable else POLL_SECONDS

    def _announce(self, raw: Any, *, here: bool) -> None:
        port = self._hints.getsockname()[1] if self._hints is not None else None
        name = handoff.application_name(self.token.hex, port) if here else ""
        self._execute(raw, "SELECT set_config('application_name', %s, false)", [name])

    def _execute(self, raw: Any, sql: str, parameters: list | None = None) -> None:
        # A notification that arrives during the statement is kept by psycopg (3.2 and later) for the
        # next notifies(): none is lost to a heartbeat or an announcement.
        raw.execute(sql, parameters)
        self._last_statement = time.monotonic()

    def _serve_once(self, raw: Any, wait_seconds: float, watchdog: _Watchdog, record_batch: Callable) -> None:
        """Wait up to `wait_seconds` for notifications; send what came, in batches."""
        if wait_seconds <= POLL_SECONDS and not (self._pauses and self._pauses.fresh_for(wait_seconds)):
            self._pauses = pacing.current_pauses()
            if self._pauses is None:
                self._pauses_failed_at = time.monotonic()
        if time.monotonic() - self._last_statement >= handoff.HEARTBEAT_SECONDS:
            self._execute(raw, "SELECT 1")  # still alive: statements keep picking this listener
        notes = self._wait(raw, wait_seconds)
        if not notes:
            close_old_connections()  # this thread's Django connection (loads, puts back, parks)
            return
        self._last_hand_off = time.monotonic()
        notes += raw.notifies(timeout=0)
        for start in range(0, len(notes), HAND_OFFS_PARSED_AT_ONCE):
            chunk = notes[start : start + HAND_OFFS_PARSED_AT_ONCE]
            self._send_handed([json.loads(note.payload) for note in chunk], raw, watchdog, record_batch)
        self._pauses = None  # read again before the next: this batch may have paused a destination

    def _send_handed(
        self, payloads: list[dict[str, Any]], raw: Any, watchdog: _Watchdog, record_batch: Callable
    ) -> None:
        """Send what these hand-offs carry, in batches of up to DELIVERY_BATCH_SIZE deliveries."""
        self._note_handed(payload["notification"]["id"] for payload in payloads)
        if len(payloads) == 1 and (built := self._built_ahead_for(payloads[0])) is not None:
            # Sent before anything else is done with the hand-off: its batch comes from what was built.
            batch = self._batch_built_ahead(payloads[0], built)
            plan = storms.Plan(messages=[kept.message for kept in built])
            record_batch(self._watched(raw, watchdog, batch, lambda: queue.send_planned(queue.SentBatch(batch), plan)))
            return
        taken: list[dict[str, Any]] = []
        size = 0
        for payload in payloads:
            if taken and size + len(payload["deliveries"]) > settings.DELIVERY_BATCH_SIZE:
                self._send_batch_from(taken, raw, watchdog, record_batch)
                taken, size = [], 0
            taken.append(payload)
            size += len(payload["deliveries"])
        if taken:
            self._send_batch_from(taken, raw, watchdog, record_batch)

    def _send_batch_from(
        self, payloads: list[dict[str, Any]], raw: Any, watchdog: _Watchdog, record_batch: Callable
    ) -> None:
        batch = self.batch_from(payloads)
        if batch.deliveries:
            record_batch(self._watched(raw, watchdog, batch, lambda: queue.send(batch)))

    def _watched(
        self, raw: Any, watchdog: _Watchdog, batch: queue.Batch, send: Callable[[], queue.SentBatch]
    ) -> queue.SentBatch:
        """`send()` the batch. A slow batch (a destination timing out) would hold up every hand-off
        behind it, which no other worker can take: the name goes meanwhile, and they go the common way."""
        slow = SLOW_BATCH_SECONDS + SLOW_BATCH_SECONDS_PER_DELIVERY * len(batch.deliveries)
        with watchdog.after(slow, lambda: self._announce(raw, here=False)) as fired:
            sent = send()
        if fired() and not self._stopping.is_set():
            self._announce(raw, here=True)
        return sent

    def _wait(self, raw: Any, wait_seconds: float) -> list[psycopg.Notify]:
        """The notifications that have come or come within `wait_seconds`; hints that come first
        are built meanwhile."""
        deadline = time.monotonic() + wait_seconds
        while True:
            notes = list(raw.notifies(timeout=0))  # psycopg's backlog first: some came with a statement
            if notes:
                return notes
            for datagram in self._read_hints():
                self._prepare(datagram)
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            waiting_on = [raw.fileno()] + ([self._hints] if self._hints is not None else [])
            select.select(waiting_on, [], [], left)

    def _read_hints(self) -> list[bytes]:
        datagrams: list[bytes] = []
        while self._hints is not None and len(datagrams) < settings.DELIVERY_BATCH_SIZE:
            try:
                datagrams.append(self._hints.recv(65_536))
            except OSError:  # none waiting (BlockingIOError)
                break
        return datagrams

    def _prepare(self, datagram: bytes) -> None:
        """Build the requests of a hinted notification for the integrations its contact point's
        last hand-off went to. A datagram not signed with this SECRET_KEY, or anything unexpected in
        a hint, means nothing is built."""
        signed_hint = handoff.verified(datagram)
        if signed_hint is None:
            return
        try:
            hint = json.loads(signed_hint)
            fields, integration_ids = hint["notification"], self._integrations_of.get(hint["contact_point_uid"])
            received_at = _time(fields["received_at"])
            handed = fields["id"] in self._handed
        except (ValueError, KeyError, TypeError):
            return
        if handed or not integration_ids or self._templates_version is None or received_at is None:
            return
        if time.time() - received_at.timestamp() > HINT_FRESH_SECONDS:
            return
        templates = sending.user_templates(self._templates_version)  # the last hand-off's: cached
        for integration_id in integration_ids:
            cached = self._integrations.get(integration_id)
            if cached is None or self._slow_to_prepare.get(integration_id, 0.0) > time.monotonic():
                continue
            point = cached[1].contact_point
            as_notified = {**fields, "contact_point_id": point.pk, "receiver": point.name}
            hinted = self._hinted_message(as_notified, cached[1])
            if hinted is None:
                continue
            message, destination = hinted
            started = time.monotonic()
            prepared = sending.prepare(message.send, templates)
            if time.monotonic() - started > SLOW_PREPARE_SECONDS:
                self._slow_to_prepare[integration_id] = time.monotonic() + SLOW_PREPARE_PAUSE_SECONDS
            if prepared is not None:
                built = _BuiltAhead(
                    at=time.monotonic(),
                    prepared=prepared,
                    message=message,
                    destination=destination,
                    version=cached[0],
                    notification=as_notified,
                    templates_version=self._templates_version,
                )
                self._keep(str(message.carrier.pk), built)

    def _hinted_message(
        self, as_notified: dict[str, Any], cached: Integration
    ) -> tuple[storms.Message, Destination] | None:
        """What a hand-off of the hinted notification (its fields as a payload writes them) would send
        to the cached integration, and where, if it would be handed off and sent at once (not paused,
        not held back for its pace)."""
        if cached.is_paused or (as_notified.get("status") != "firing" and cached.disable_resolve_message):
            return None
        try:
            destination = sending.destination(cached)
        except (SettingsError, UnknownIntegrationType):
            return None
        if destination.rate_per_second is not None:
            return None  # paced: its hand-offs may wait for a slot, or merge into a digest
        try:
            notification = _notification(as_notified)
        except (ValueError, KeyError, TypeError):
            return None
        delivery_id = str(handoff.delivery_id(notification.pk, cached.pk))
        integration = self._copy(cached)
        delivery = self._delivery(delivery_id, notification, integration, integration.disable_resolve_message)
        return storms.single(delivery, None, destination.key), destination

    def _note_handed(self, notification_ids: Iterable[str]) -> None:
        now = time.monotonic()
        for notification_id in notification_ids:
            self._handed[notification_id] = now
        while self._handed:
            oldest = next(iter(self._handed))  # in the order they came
            if now - self._handed[oldest] < HINT_FRESH_SECONDS * 2:
                break
            del self._handed[oldest]

    def _keep(self, delivery_id: str, built: _BuiltAhead) -> None:
        now = time.monotonic()
        if len(self._prepared) >= MAX_PREPARED:
            self._prepared = {key: kept for key, kept in self._prepared.items() if kept.fresh(now)}
            if len(self._prepared) >= MAX_PREPARED:
                self._prepared.clear()
        self._prepared[delivery_id] = built

    def _take_prepared(self, delivery_ids: list[str]) -> dict[str, sending.Prepared]:
        taken = {}
        for delivery_id in delivery_ids:
            kept = self._prepared.pop(delivery_id, None)
            if kept is not None and kept.fresh(time.monotonic()):
                taken[delivery_id] = kept.prepared
        return taken

    def _built_ahead_for(self, payload: dict[str, Any]) -> list[_BuiltAhead] | None:
        """What was built ahead for each of the payload's deliveries, if each was, from the inputs
        the payload gives (notification, settings' versions, templates) and its destination still
        goes at once (storms.goes_now); else None, and the hand-off goes the common way."""
        entries = payload["deliveries"]
        if not entries or not self._prepared:
            return None
        kept = [self._prepared.get(entry[0]) for entry in entries]
        templates_version = _templates_version(payload)
        point_updated_at = payload["contact_point_updated_at"]
        for entry, built in zip(entries, kept, strict=True):
            if (
                built is None
                or not built.fresh(time.monotonic())
                or built.version != (entry[3], point_updated_at)
                or built.message.send.firing_only != entry[2]
                or built.templates_version != templates_version
                or built.notification != payload["notification"]
                or not storms.goes_now(built.destination, self._pauses)
            ):
                return None
        return kept

    def _batch_built_ahead(self, payload: dict[str, Any], built: list[_BuiltAhead]) -> queue.Batch:
        """The claimed batch of a payload whose every delivery was built ahead (as batch_from would give it)."""
        deliveries = []
        for entry, kept in zip(payload["deliveries"], built, strict=True):
            del self._prepared[entry[0]]
            deliveries.append(kept.message.carrier)
            deliveries[-1].integration.unhealthy_since = _time(entry[4])
        return queue.Batch(
            claim=self.token,
            deliveries=deliveries,
            claimed_at=_claimed_at(deliveries[0].notification.received_at),
            templates_version=built[0].templates_version,
            pauses=self._pauses,
            prepared={str(kept.message.carrier.pk): kept.prepared for kept in built},
        )

    def batch_from(self, payloads: list[dict[str, Any]]) -> queue.Batch:
        """The claimed batch the payloads stand for, built without reading the database (but for an
        integration or contact point this process has not seen in its current version)."""
        deliveries, oldest = [], None
        for payload in payloads:
            notification = _notification(payload["notification"])
            point_updated_at = payload["contact_point_updated_at"]
            handed = []
            for delivery_id, integration_id, firing_only, updated_at, unhealthy_since in payload["deliveries"]:
                integration = self._integration(integration_id, (updated_at, point_updated_at))
                if integration is None:
                    continue  # deleted since: so is its delivery
                # As the statement saw them: only what was not paused is handed off.
                integration.paused = integration.contact_point.paused = False
                integration.unhealthy_since = _time(unhealthy_since)
                handed.append(self._delivery(delivery_id, notification, integration, firing_only))
            if handed:  # what the next hint for this contact point is built for
                if len(self._integrations_of) >= MAX_CACHED_INTEGRATIONS:
                    self._integrations_of.clear()
                uid = handed[0].integration.contact_point.uid
                self._integrations_of[uid] = [delivery.integration_id for delivery in handed]
            deliveries += handed
            oldest = min(oldest or notification.received_at, notification.received_at)
        self._templates_version = _templates_version(payloads[-1])
        return queue.Batch(
            claim=self.token,
            deliveries=deliveries,
            claimed_at=_claimed_at(oldest),
            templates_version=self._templates_version,
            pauses=self._pauses,
            prepared=self._take_prepared([str(delivery.pk) for delivery in deliveries]) if self._prepared else {},
        )

    def _delivery(self, delivery_id: str, notification: Notification, integration: Integration, firing_only: bool):
        received_at = notification.received_at
        values = {
            "id": uuid.UUID(delivery_id),
            "notification_id": notification.pk,
            "integration_id": integration.pk,
            "firing_only": firing_only,
            "status": DeliveryStatus.SENDING,
            "attempts": 1,
            "attempt_offset": 0,
            "next_attempt_at": received_at,
            "lease_expires_at": handoff.lease_until(received_at),
            "claim": self.token,
            "last_error": "",
            "last_http_status": None,
            "created_at": received_at,
            "updated_at": received_at,
            "delivered_at": None,
            "coalesced_into_id": None,
        }
        delivery = rows.loaded(Delivery, _DELIVERY_FIELDS, [values[name] for name in _DELIVERY_FIELDS])
        rows.with_related(delivery, notification=notification, integration=integration)
        return delivery

    def _integration(self, integration_id: int, version: tuple[str, str]) -> Integration | None:
        """A copy of the integration (with its contact point) in `version` (_copy)."""
        cached = self._integrations.get(integration_id)
        if cached is None or cached[0] != version:
            found = Integration.objects.select_related("contact_point").filter(pk=integration_id).first()
            if found is None:
                return None
            if len(self._integrations) >= MAX_CACHED_INTEGRATIONS:
                self._integrations.clear()
            cached = self._integrations[integration_id] = (version, found)
        return self._copy(cached[1])

    @staticmethod
    def _copy(integration: Integration) -> Integration:
        """A copy of a cached integration with its contact point: each batch sets its own pause and
        health on it."""
        copied = rows.copied(integration)
        rows.with_related(copied, contact_point=rows.copied(integration.contact_point))
        return copied


@dataclass
class _BuiltAhead:
    """A hinted delivery whose request was built, with the inputs its hand-off must bring for it to
    be sent as built: as a payload writes them."""

    at: float  # time.monotonic() when built
    prepared: sending.Prepared
    message: storms.Message  # the delivery alone, as a plan sends one to a destination that goes at once
    destination: Destination  # unlimited: it goes at once while the pauses show it unpaused
    version: tuple[str, str]  # the integration's and its contact point's updated_at
    notification: dict[str, Any]
    templates_version: tuple

    def fresh(self, now: float) -> bool:
        return now - self.at < PREPARED_KEEP_SECONDS


class _Watchdog:
    """Calls a function if a block outlasts its time (from a thread of its own, started once)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._armed: tuple[float, Callable[[], None], list[bool]] | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._watch, name="handoff-watchdog", daemon=True)

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify()
        self._thread.join()

    @contextmanager
    def after(self, seconds: float, call: Callable[[], None]) -> Iterator[Callable[[], bool]]:
        """Within the block, `call` runs once `seconds` pass; the block gets whether it did."""
        fired = [False]
        with self._condition:
            self._armed = (time.monotonic() + seconds, call, fired)
            self._condition.notify()
        try:
            yield lambda: fired[0]
        finally:
            with self._condition:
                self._armed = None
                while fired[0] is None:  # the call is running: let it finish
                    self._condition.wait()

    def _watch(self) -> None:
        with self._condition:
            while not self._closed:
                if self._armed is None:
                    self._condition.wait()
                    continue
                due, call, fired = self._armed
                if (left := due - time.monotonic()) > 0:
                    self._condition.wait(left)
                    continue
                self._armed = None
                fired[0] = None  # running
                self._condition.release()
                try:
                    call()
                except Exception:
                    logger.warning("hand-off listener could not take its name back", exc_info=True)
                finally:
                    self._condition.acquire()
                    fired[0] = True
                    self._condition.notify_all()


def _claimed_at(received_at: datetime | None) -> float:
    """A hand-off's claim, on the monotonic clock: the statement's, when the notification was
    received (a send may start within START_WITHIN_SECONDS of it)."""
    age = max(0.0, time.time() - received_at.timestamp()) if received_at else 0.0
    return time.monotonic() - age


def _templates_version(payload: dict[str, Any]) -> tuple:
    """The user templates' version a hand-off was stored with, as sending.user_templates takes it."""
    version = payload["templates"]
    return (version[0], _time(version[1]))


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _notification(fields: dict[str, Any]) -> Notification:
    values = {**fields, "id": uuid.UUID(fields["id"]), "received_at": _time(fields["received_at"])}
    return rows.loaded(Notification, _NOTIFICATION_FIELDS, [values[name] for name in _NOTIFICATION_FIELDS])


_listener: Listener | None = None
_listener_lock = threading.Lock()


def start() -> Listener | None:
    """Start this process's listener (a worker's start-up), unless hand-offs are off or it runs."""
    global _listener
    with _listener_lock:
        if not settings.DELIVERY_HANDOFF or _listener is not None or connections["default"].vendor != "postgresql":
            return _listener
        _listener = Listener()
        _listener.start()
        return _listener


def stop() -> None:
    """The worker's warm shutdown begins: the listener takes its name back and serves what is on its way."""
    with _listener_lock:
        if _listener is not None:
            _listener.stop()


def wait_stopped() -> None:
    """The worker is about to exit: let the listener finish serving first (LEAVING_GRACE_SECONDS and
    the batch in hand; its sends have their own timeouts)."""
    global _listener
    with _listener_lock:
        leaving, _listener = _listener, None
    if leaving is not None:
        leaving.stop()
        leaving.join()
