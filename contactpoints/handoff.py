"""Hand-off: the intake's statement gives a new notification's deliveries straight to a listening worker.

On the common path a notification waited for four trips between processes after it was parsed:
the store's answer to the web, the web's ring through Redis, the worker's claim and its answer.
On an idle two-core machine each trip costs about half a millisecond of waking up, which made the
hops, not the work, most of an alert's latency. With a hand-off there is one: the statement that
stores the notification also claims its deliveries for a worker's listener and sends them to it
with NOTIFY, which PostgreSQL delivers as the statement commits. The worker sends at once; no
claim, no ring.

A listener (contactpoints.listener, one per worker process) announces itself in its connection's
application_name, `APPLICATION_NAME_PREFIX` + a token, and LISTENs on `CHANNEL_PREFIX` + the same
token. The statement picks one such session (LISTENER_SQL) and stores the deliveries as `sending`,
claimed with that token and leased as a worker's claim is (lease_until), then notifies the payload.
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

from datetime import datetime, timedelta

from django.conf import settings

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
# One live listening session of this database (NOTIFY reaches no other), if any: its token (the
# claim, as a UUID's hex, and the channel's suffix). Spread over the listeners when several worker
# processes run. A session of another role shows no application_name; any other name, however it
# begins, is not a listener's.
LISTENER_SQL = f"""
    SELECT substr(activity.application_name, {len(APPLICATION_NAME_PREFIX) + 1}) AS token
    FROM pg_stat_get_activity(NULL) activity
    WHERE activity.datid = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND activity.application_name ~ '^{APPLICATION_NAME_PREFIX}[0-9a-f]{{32}}$'
        AND activity.state_change > statement_timestamp() - interval '{LISTENER_FRESH_SECONDS} seconds'
    ORDER BY random() LIMIT 1
"""  # noqa: S608 - a constant of ours
NO_LISTENER_SQL = "SELECT NULL::text AS token WHERE FALSE"  # DELIVERY_HANDOFF off


def lease_until(moment: datetime) -> datetime:
    """When a delivery claimed at `moment` stops belonging to its worker."""
    return moment + timedelta(seconds=settings.DELIVERY_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)


def application_name(token: str) -> str:
    return f"{APPLICATION_NAME_PREFIX}{token}"


def channel(token: str) -> str:
    return f"{CHANNEL_PREFIX}{token}"
