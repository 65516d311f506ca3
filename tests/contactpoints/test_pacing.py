"""Destination pacing against the real Redis: slots in order, pauses for everyone, fail open."""

from __future__ import annotations

import logging
import math
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from contactpoints import pacing
from contactpoints.redis_client import get_redis
from tests.conftest import SECRET_MARK
from tests.e2e.conftest import free_port

# Redis's clock runs on between two calls of one test; waits are compared within this much.
TOLERANCE_SECONDS = 0.1


@pytest.fixture
def key() -> str:
    return f"https://hooks.example.test/{uuid.uuid4()}"


@pytest.fixture
def quiet_outage_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as if no outage had been logged yet in this process."""
    monkeypatch.setattr(pacing, "_last_outage_warning", -math.inf)


def pacing_keys() -> set[bytes]:
    return set(get_redis().scan_iter("contactpoints:pacing:*"))


def assert_waits(actual: list[float], expected: list[float]) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(sorted(actual), expected, strict=True):
        assert want - TOLERANCE_SECONDS <= got <= want, (sorted(actual), expected)


@pytest.mark.parametrize(
    ("rate_per_second", "burst", "reservations", "expected_waits"),
    [
        (1, 1, 3, [0, 1, 2]),
        (2, 1, 4, [0, 0.5, 1, 1.5]),
        (1, 3, 5, [0, 0, 0, 1, 2]),
        (10, 5, 7, [0, 0, 0, 0, 0, 0.1, 0.2]),
        (0.5, 2, 4, [0, 0, 2, 4]),
    ],
)
def test_reservations_get_the_next_slots_in_order(key, rate_per_second, burst, reservations, expected_waits):
    waits = [pacing.reserve(key, rate_per_second, burst) for _ in range(reservations)]
    assert_waits(waits, expected_waits)


def test_twenty_workers_at_once_get_twenty_distinct_slots_half_a_second_apart(key):
    with ThreadPoolExecutor(max_workers=20) as pool:
        waits = list(pool.map(lambda _: pacing.reserve(key, 2, 1), range(20)))
    assert_waits(waits, [n * 0.5 for n in range(20)])


def test_a_wait_longer_than_the_caller_holds_is_not_reserved(key):
    assert pacing.reserve(key, 1) == 0.0
    refused = pacing.reserve(key, 1, max_wait_seconds=0.5)
    taken = pacing.reserve(key, 1)
    assert_waits([refused], [1])
    assert_waits([taken], [1])  # the refused caller did not push the next one back


def test_unlimited_sends_now_and_writes_nothing_to_redis(key):
    before = pacing_keys()
    assert [pacing.reserve(key, None) for _ in range(5)] == [0.0] * 5
    assert pacing_keys() == before


@pytest.mark.parametrize("rate_per_second", [None, 1, 100])
def test_a_paused_destination_waits_until_the_pause_ends(key, rate_per_second):
    pacing.pause(key, 5)
    wait = pacing.reserve(key, rate_per_second)  # unlimited destinations honour a pause too
    assert_waits([wait], [5])


def test_reservations_during_a_pause_are_spaced_from_its_end(key):
    pacing.pause(key, 3)
    assert_waits([pacing.reserve(key, 1) for _ in range(3)], [3, 4, 5])


@pytest.mark.parametrize(("first", "second", "paused_for"), [(10, 2, 10), (2, 10, 10)])
def test_a_pause_is_never_shortened(key, first, second, paused_for):
    pacing.pause(key, first)
    pacing.pause(key, second)
    assert_waits([pacing.reserve(key, 1)], [paused_for])


def test_a_pause_is_capped_at_the_longest_retry_delay(key, settings):
    settings.DELIVERY_RETRY_MAX_SECONDS = 30
    pacing.pause(key, 86400)
    assert_waits([pacing.reserve(key, 1)], [30])


def test_state_reports_the_pause_and_the_next_slot_without_reserving(key):
    assert pacing.state(key) == pacing.PacingState(paused_until=None, next_slot_in=0.0)
    pacing.reserve(key, 1, burst=2)
    pacing.reserve(key, 1, burst=2)
    with_burst = pacing.state(key, 1, burst=2)
    assert with_burst.paused_until is None
    assert 1 - TOLERANCE_SECONDS <= with_burst.next_slot_in <= 1
    assert 2 - TOLERANCE_SECONDS <= pacing.state(key).next_slot_in <= 2  # without the burst: until empty

    seconds, microseconds = get_redis().time()
    redis_now = seconds + microseconds / 1_000_000
    pacing.pause(key, 5)
    paused = pacing.state(key, 1, burst=2)
    assert redis_now + 5 - TOLERANCE_SECONDS <= paused.paused_until <= redis_now + 5 + TOLERANCE_SECONDS
    assert 5 - TOLERANCE_SECONDS <= paused.next_slot_in <= 5


def test_the_state_expires_once_it_no_longer_matters(key):
    before = pacing_keys()
    pacing.reserve(key, 20)
    (stored,) = pacing_keys() - before
    assert 0 < get_redis().pttl(stored) <= 50


def test_the_destination_key_is_not_stored_in_redis():
    secret_key = f"https://hooks.slack.com/services/T0/B0/{SECRET_MARK}-{uuid.uuid4()}"
    pacing.reserve(secret_key, 1)
    pacing.pause(secret_key, 1)
    assert not [k for k in get_redis().scan_iter("*") if SECRET_MARK.encode() in k]


@pytest.mark.parametrize(
    ("rate_per_second", "burst", "field"),
    [(0, 1, "rate_per_second"), (-1, 1, "rate_per_second"), (math.nan, 1, "rate_per_second"), (1, 0, "burst")],
)
def test_a_rate_or_burst_that_cannot_pace_is_refused(key, rate_per_second, burst, field):
    with pytest.raises(ValueError, match=field):
        pacing.reserve(key, rate_per_second, burst)


def test_an_unreachable_redis_sends_now_and_warns_once(key, settings, caplog, quiet_outage_log):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    get_redis.cache_clear()
    try:
        caplog.clear()
        waits = [pacing.reserve(key, 1) for _ in range(5)]
        pacing.pause(key, 5)
        state = pacing.state(key)
    finally:
        get_redis.cache_clear()
    assert waits == [0.0] * 5
    assert state is None
    warnings = [r for r in caplog.records if r.name == "contactpoints.pacing" and r.levelno >= logging.WARNING]
    assert [r.getMessage().split(";")[0] for r in warnings] == ["destination pacing is off while Redis is unreachable"]


def read_pauses_now() -> pacing.Pauses | None:
    pipe = get_redis().pipeline(transaction=False)
    pacing.read_pauses(pipe)
    return pacing.pauses_from(pipe.execute(raise_on_error=False)[0])


def test_the_paused_destinations_are_read_in_a_callers_round_trip(key):
    other = f"{key}/other"
    get_redis().delete(pacing.PAUSED_DESTINATIONS_KEY)  # no longer pause of an earlier test in it
    pacing.pause(key, 5)
    pauses = read_pauses_now()
    assert pauses is not None
    assert not pauses.shows_unpaused(key)
    assert pauses.shows_unpaused(other)
    # The list expires with the last pause it holds.
    assert 4000 < get_redis().pttl(pacing.PAUSED_DESTINATIONS_KEY) <= 5000


def test_a_pause_leaves_the_list_when_it_ends(key):
    pacing.pause(key, 0.2)
    assert not read_pauses_now().shows_unpaused(key)
    deadline = time.monotonic() + 2
    while not read_pauses_now().shows_unpaused(key):
        assert time.monotonic() < deadline, "the pause never left the list"
        time.sleep(0.05)
    assert pacing.reserve(key, None) == 0.0  # and the destination's own state agrees


def test_an_old_snapshot_no_longer_vouches_for_a_destination(key, monkeypatch):
    pauses = read_pauses_now()
    assert pauses.shows_unpaused(key)
    later = pauses.read_at + pacing.PAUSES_FRESH_SECONDS + 0.01
    monkeypatch.setattr(pacing.time, "monotonic", lambda: later)
    assert not pauses.shows_unpaused(key)


def test_a_failed_read_gives_no_snapshot():
    assert pacing.pauses_from(redis.ResponseError("NOSCRIPT")) is None
