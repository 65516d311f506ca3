"""Destination pacing shared by every worker on every machine, kept in Redis.

Each destination (a Slack channel, a Discord webhook, a PagerDuty routing key, …) is paced with
GCRA, the generic cell rate algorithm: Redis holds one "theoretical arrival time" (TAT) per
destination, the moment the bucket would be empty again. A reservation takes the next free slot
and moves the TAT one interval (1/rate) further; `burst` slots may fall at the same moment. A
destination that answered 429/503 is paused for everyone until its pause-until.

A reservation is a ticket: `reserve()` hands out a slot and says how long to wait for it, and the
caller sends at that moment without reserving again. Slots are not given back: a caller that
abandons its slot lets it lapse, which only leaves the destination under-used for one interval.
A caller that will not hold a slot longer than some time passes `max_wait_seconds`: a longer wait
is then reported but not reserved, so callers that come back later never push the schedule ahead
of the senders that are really waiting.

A pause moves every slot handed out after it to the pause's end, spaced from there (the burst
is allowed again at the end: the provider's own bucket refilled meanwhile). Slots handed out
before the pause keep their time; a sender holding one reads `state()` just before it sends.

Every clock reading is Redis's TIME inside the script, so workers on machines whose clocks
disagree still agree on the schedule. Times are whole microseconds: Lua numbers are doubles, which
hold today's epoch in microseconds exactly, and `%.0f` writes them back without rounding.

A pause is also listed in one sorted set of paused destinations, which a lingering worker reads in
the round trip that brings its ring (`read_pauses`): a notification in a trickle to an unlimited,
unpaused destination then goes out without a round trip of its own (a third of a millisecond
of its latency). The list is a snapshot; a pause that starts after it is the same race as one that
starts after a reservation, and a destination it shows paused reserves as usual.

When Redis is down, pacing fails open like the intake rate limit: deliveries go out unpaced, and
a warning says so at most once a minute per process.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings
from redis.client import Pipeline
from redis.commands.core import Script

from contactpoints.redis_client import REDIS_ERRORS, get_redis

logger = logging.getLogger(__name__)

_MICROSECONDS = 1_000_000
PAUSED_DESTINATIONS_KEY = "contactpoints:pacing:paused"
# A snapshot of the paused destinations answers for the batch claimed right after it was read.
PAUSES_FRESH_SECONDS = 0.05
OUTAGE_WARNING_INTERVAL_SECONDS = 60.0

# Shared by all scripts: the state hash expires when neither the TAT nor the pause matters any
# more, which is exactly when an absent key means the same as the stored one.
_LUA_NOW_AND_EXPIRE = """
local function now_us()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function field(name)
    local value = redis.call('HGET', KEYS[1], name)
    return value and tonumber(value) or 0
end
local function expire(now)
    local last = math.max(field('tat'), field('paused_until'))
    if last > now then
        redis.call('PEXPIRE', KEYS[1], math.ceil((last - now) / 1000))
    end
end
"""

# ARGV: interval (0: unlimited), burst tolerance, longest wait worth reserving (-1: any), all in
# microseconds.
# Returns the wait in microseconds; a wait above the longest one was not reserved.
_RESERVE = (
    _LUA_NOW_AND_EXPIRE
    + """
local interval, tolerance, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_us()
local tat = math.max(field('tat'), now)
local send_at = math.max(tat - tolerance, now, field('paused_until'))
local wait = send_at - now
if max_wait >= 0 and wait > max_wait then
    return wait
end
if interval > 0 then  -- unlimited: only the pause applies, and nothing is written
    redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', math.max(tat, send_at) + interval))
    expire(now)
end
return wait
"""
)

# KEYS: the destination's state, the set of paused destinations. ARGV: pause length in
# microseconds. A pause only ever moves later. The set holds each destination until its pause ends,
# and expires with the last.
_PAUSE = (
    _LUA_NOW_AND_EXPIRE
    + """
local now = now_us()
local until_us = math.max(field('paused_until'), now + tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'paused_until', string.format('%.0f', until_us))
expire(now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now))
redis.call('ZADD', KEYS[2], string.format('%.0f', until_us), KEYS[1])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[2], math.ceil((tonumber(last[2]) - now) / 1000))
return 1
"""
)

# KEYS: the set of paused destinations. The ones still paused, by their state's key.
_PAUSED = (
    _LUA_NOW_AND_EXPIRE
    + """
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%.0f', now_us()), '+inf')
"""
)

# Read-only: Redis's now, the TAT and the pause-until, as strings of microseconds.
_STATE = (
    _LUA_NOW_AND_EXPIRE
    + """
return {string.format('%.0f', now_us()), string.format('%.0f', field('tat')),
        string.format('%.0f', field('paused_until'))}
"""
)


@dataclass(frozen=True)
class PacingState:
    paused_until: float | None  # epoch seconds (Redis's clock), None when not paused
    next_slot_in: float  # seconds until a reservation made now would be sent


def reserve(key: str, rate_per_second: float | None, burst: int = 1, max_wait_seconds: float | None = None) -> float:
    """Take the destination's next send slot; the seconds to wait before sending (0.0: now).

    `rate_per_second=None` means unlimited: no wait unless the destination is paused, and
    nothing written. With `max_wait_seconds`, a longer wait is returned without reserving the
    slot: come back after roughly that long.
    """
    interval_us = 0 if rate_per_second is None else _interval_us(rate_per_second, burst)
    max_wait_us = -1 if max_wait_seconds is None else round(max(max_wait_seconds, 0.0) * _MICROSECONDS)
    try:
        wait_us = _script(_RESERVE)(keys=[_redis_key(key)], args=[interval_us, (burst - 1) * interval_us, max_wait_us])
    except REDIS_ERRORS as exc:
        _warn_outage(exc)
        return 0.0
    return max(int(wait_us), 0) / _MICROSECONDS


def pause(key: str, seconds: float) -> None:
    """Hold every delivery to the destination for `seconds` (a 429's Retry-After, a 503).

    A longer pause already in place is kept. The pause is capped at DELIVERY_RETRY_MAX_SECONDS
    so a destination cannot hold its deliveries longer than one retry would wait anyway.
    """
    seconds = min(seconds, settings.DELIVERY_RETRY_MAX_SECONDS)
    if not seconds > 0:  # also refuses NaN
        return
    try:
        _script(_PAUSE)(keys=[_redis_key(key), PAUSED_DESTINATIONS_KEY], args=[round(seconds * _MICROSECONDS)])
    except REDIS_ERRORS as exc:
        _warn_outage(exc)


def state(key: str, rate_per_second: float | None = None, burst: int = 1) -> PacingState | None:
    """What the admin shows for a destination, read without reserving; None when Redis is down.

    With the destination's rate and burst, `next_slot_in` allows for the burst; without them it
    is the time until the schedule is empty.
    """
    tolerance_us = 0 if rate_per_second is None else (burst - 1) * _interval_us(rate_per_second, burst)
    try:
        now_us, tat_us, paused_until_us = (int(v) for v in _script(_STATE)(keys=[_redis_key(key)]))
    except REDIS_ERRORS as exc:
        logger.debug("destination pacing state not read: %s", exc)
        return None
    paused = paused_until_us > now_us
    next_slot_us = max(tat_us - tolerance_us, paused_until_us, now_us) - now_us
    return PacingState(
        paused_until=paused_until_us / _MICROSECONDS if paused else None,
        next_slot_in=next_slot_us / _MICROSECONDS,
    )


@dataclass(frozen=True)
class Pauses:
    """The destinations paused when a worker's ring came (read_pauses)."""

    paused: frozenset[str]  # their state's keys (_redis_key)
    read_at: float = field(default_factory=time.monotonic)

    def shows_unpaused(self, key: str) -> bool:
        """True when the destination was not paused, and this snapshot is fresh enough to say so."""
        return self.fresh_for(0.0) and _redis_key(key) not in self.paused

    def fresh_for(self, seconds: float) -> bool:
        """Whether this snapshot still answers `seconds` from now."""
        return time.monotonic() + seconds - self.read_at <= PAUSES_FRESH_SECONDS


def read_pauses(pipe: Pipeline) -> None:
    """Add the read of the paused destinations to a caller's round trip (see pauses_from)."""
    # EVAL, not the registered script: a pipeline checks SCRIPT EXISTS in a round trip of its own.
    pipe.eval(_PAUSED, 1, PAUSED_DESTINATIONS_KEY)


def current_pauses() -> Pauses | None:
    """The paused destinations now, in a round trip of its own; None when Redis is down."""
    try:
        return pauses_from(_script(_PAUSED)(keys=[PAUSED_DESTINATIONS_KEY]))
    except REDIS_ERRORS as exc:
        logger.debug("paused destinations not read: %s", exc)
        return None


def pauses_from(reply: Any) -> Pauses | None:
    """read_pauses' answer; None when it failed (its caller's pipeline does not raise)."""
    if not isinstance(reply, list):
        return None
    return Pauses(frozenset(key.decode() if isinstance(key, bytes) else key for key in reply))


def _interval_us(rate_per_second: float, burst: int) -> int:
    if not (math.isfinite(rate_per_second) and rate_per_second > 0):
        raise ValueError(f"rate_per_second must be a positive number, not {rate_per_second!r}")
    if burst < 1:
        raise ValueError(f"burst must be at least 1, not {burst!r}")
    return max(round(_MICROSECONDS / rate_per_second), 1)


def _redis_key(key: str) -> str:
    # Destination keys can hold secrets (a Slack webhook URL, a routing key): store a digest.
    return "contactpoints:pacing:" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _script(source: str) -> Script:
    # register_script runs EVALSHA and loads the script again after a Redis restart (NOSCRIPT).
    return _registered(get_redis(), source)


@lru_cache(maxsize=8)  # a few scripts per client; tests swap clients
def _registered(client: redis.Redis, source: str) -> Script:
    return client.register_script(source)


_outage_lock = threading.Lock()
_last_outage_warning = -math.inf


def _warn_outage(exc: BaseException) -> None:
    """One warning a minute per process; the rest at DEBUG, so an outage does not flood the log."""
    global _last_outage_warning
    with _outage_lock:
        now = time.monotonic()
        loud = now - _last_outage_warning >= OUTAGE_WARNING_INTERVAL_SECONDS
        if loud:
            _last_outage_warning = now
    level = logging.WARNING if loud else logging.DEBUG
    logger.log(level, "destination pacing is off while Redis is unreachable; sending unpaced: %s", exc)
