"""Hand-off: the intake's statement gives a new notification's deliveries straight to a listening worker.

On the common path a notification waited for four trips between processes after it was parsed:
the store's answer to the web, the web's ring through Redis, the worker's claim and its answer.
On an idle two-core machine each trip costs about half a millisecond of waking up, which made the
hops, not the work, most of an alert's latency. With a hand-off there is one: the statement that
stores the notification also claims its deliveries for a worker's listener and sends them to it
with NOTIFY, which PostgreSQL delivers as the statement commits. The worker sends at once; no
claim, no ring.

A listener (contactpoints.listener, one per worker process) announces itself in its connection's
application_name, `APPLICATION_NAME_PREFIX` + a token (+ a port for hints, below), and LISTENs on
`CHANNEL_PREFIX` + the same token. The statement picks one such session (LISTENERS_SQL,
PICK_LISTENER_SQL) and stores the deliveries as `sending`, claimed with that token and leased as a
worker's claim is (lease_until), then notifies the payload.
Whatever the statement cannot hand off is stored `pending` and rung for as before: no listener (no
worker running, or the web's role cannot see the worker's sessions), a payload over NOTIFY's limit,
a paused integration.

What can go wrong is what can go wrong with a claim. A listener that dies holding hand-offs leaves
them `sending` until their lease lapses, and the sweeper takes them on (contactpoints.queue.sweep).
A frozen one (its process stopped or hung, its session still open) stops being picked once its
heartbeat is LISTENER_FRESH_SECONDS old; what it got before waits for it or for the lease. A
listener leaving on purpose first takes its name back, then serves what is still on its way.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import random
import socket
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.crypto import salted_hmac

# A claimed delivery belongs to its worker this long past the request timeout; after that the
# sweeper assumes the worker died (redirects, SMTP and rendering fit well inside the margin).
LEASE_MARGIN_SECONDS = 60
APPLICATION_NAME_PREFIX = "contactpoints handoff "
CHANNEL_PREFIX = "contactpoints_handoff_"
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; a larger notification goes the common way.
MAX_PAYLOAD_BYTES = 7900

# A listener runs a statement at least this often (a heartbeat when nothing else); one that has not
# for LISTENER_FRESH_SECONDS is taken for frozen (a stopped or hung worker process, whose session
# PostgreSQL still keeps) and gets nothing more.
HEARTBEAT_SECONDS = 0.5
LISTENER_FRESH_SECONDS = 2
# The live listening sessions of this database (NOTIFY reaches no other): each one's token (the
# claim, as a UUID's hex, and the channel's suffix) and the loopback port it takes hints on (NULL: a
# listener that takes none). A session of another role shows no application_name; any other name,
# however it begins, is not a listener's.
LISTENERS_SQL = f"""
    SELECT substr(activity.application_name, {len(APPLICATION_NAME_PREFIX) + 1}, 32) AS token,
        nullif(substr(activity.application_name, {len(APPLICATION_NAME_PREFIX) + 34}), '')::integer AS port
    FROM pg_stat_get_activity(NULL) activity
    WHERE activity.datid = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND activity.application_name ~ '^{APPLICATION_NAME_PREFIX}[0-9a-f]{{32}}( [0-9]{{1,5}})?$'
        AND activity.state_change > statement_timestamp() - interval '{LISTENER_FRESH_SECONDS} seconds'
"""  # noqa: S608 - a constant of ours
NO_LISTENERS_SQL = "SELECT NULL::text AS token, NULL::integer AS port WHERE FALSE"  # DELIVERY_HANDOFF off
# Which of them a statement hands to: the one its first document prefers (the one hinted), if live;
# else any, spread at random over the listeners when several worker processes run.
PICK_LISTENER_SQL = """
    SELECT token FROM listeners
    ORDER BY token = (SELECT input.value ->> 'listener' FROM input WHERE input.n = 1) DESC NULLS LAST, random()
    LIMIT 1
"""


def lease_until(moment: datetime) -> datetime:
    """When a delivery claimed at `moment` stops belonging to its worker."""
    return moment + timedelta(seconds=settings.DELIVERY_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)


def application_name(token: str, hint_port: int | None = None) -> str:
    return f"{APPLICATION_NAME_PREFIX}{token}" + ("" if hint_port is None else f" {hint_port}")


def channel(token: str) -> str:
    return f"{CHANNEL_PREFIX}{token}"


# The id of a notification's delivery to an integration, as the intake's statement gives it
# (DELIVERY_ID_SQL): a listener knows it from a hint, before the statement has run.
DELIVERY_ID_SQL = "md5((input.value ->> 'id') || ':' || integration.id)::uuid"


def delivery_id(notification_id: uuid.UUID | str, integration_id: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"{notification_id}:{integration_id}".encode()).hexdigest())  # noqa: S324 - an id


# -- hints ------------------------------------------------------------------------------------
# Before its statement runs, the intake sends the notification (not the token) in one datagram to
# the listener it asks the statement to prefer, and that listener builds its requests while the
# statement runs (contactpoints.listener). A hint is only ever work done early: a listener sends what
# a statement's NOTIFY hands it, and uses a request built from a hint only if the hand-off's inputs are
# the same (contactpoints.sending.Prepared). A hint lost, late or sent to another listener costs the
# time it would have saved, nothing else.

# A hint is signed with the web's and worker's SECRET_KEY: the port takes datagrams from anyone on the
# machine, and a forged hint, which could never be sent, could still make a listener build.
HINT_TAG_BYTES = 16
_HINT_SALT = "contactpoints.handoff.hint"


def signed(hint: bytes) -> bytes:
    return salted_hmac(_HINT_SALT, hint).digest()[:HINT_TAG_BYTES] + hint


def verified(datagram: bytes) -> bytes | None:
    """The hint a datagram carries, if it was signed with this SECRET_KEY."""
    tag, hint = datagram[:HINT_TAG_BYTES], datagram[HINT_TAG_BYTES:]
    return hint if hmac.compare_digest(tag, salted_hmac(_HINT_SALT, hint).digest()[:HINT_TAG_BYTES]) else None


# A web process keeps preferring one listener this long, then picks again among those live: the
# notifications it stores together then share their hinted listener, and over time several worker
# processes share the hand-offs.
PREFERENCE_SECONDS = 1.0


class Hints:
    """The web process's end: the listeners the last statement saw, the one preferred, one socket."""

    def __init__(self) -> None:
        self._listeners: tuple[tuple[str, int], ...] = ()
        self._preferred: tuple[str, int] | None = None
        self._preferred_since = -PREFERENCE_SECONDS
        self._socket: socket.socket | None = None

    def learn(self, announced: list[str] | None) -> None:
        """The live listeners a statement saw, as "token port" (its answer's last column)."""
        announced_ports = ((token, int(port)) for token, port in (entry.split(" ") for entry in announced or ()))
        listeners = tuple((token, port) for token, port in announced_ports if 0 < port < 65_536)
        if listeners != self._listeners:
            self._listeners = listeners
            if self._preferred not in listeners:
                self._preferred_since = -PREFERENCE_SECONDS  # gone: pick again at once

    def preferred(self) -> tuple[str, int] | None:
        """The listener (token, port) to hint and to prefer, if one is known."""
        if time.monotonic() - self._preferred_since >= PREFERENCE_SECONDS:
            self._preferred = random.choice(self._listeners) if self._listeners else None
            self._preferred_since = time.monotonic()
        return self._preferred

    def send(self, port: int, hint: bytes) -> None:
        if len(hint) > MAX_PAYLOAD_BYTES:
            return  # its hand-off would not fit a NOTIFY either
        if self._socket is None:
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._socket.setblocking(False)
        with contextlib.suppress(OSError):  # no listener there any more, a full buffer: no hint
            self._socket.sendto(signed(hint), ("127.0.0.1", port))


hints = Hints()
