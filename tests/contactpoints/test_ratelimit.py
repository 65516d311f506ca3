"""The intake rate limit: shares of a large limit are spent locally, the total never exceeds it."""

from __future__ import annotations

import uuid

import pytest
import redis

from contactpoints import ratelimit
from contactpoints.ratelimit import Rate
from contactpoints.redis_client import get_redis


@pytest.fixture
def identity():
    name = f"test:{uuid.uuid4().hex}"
    yield name
    for key in get_redis().keys(f"contactpoints:ratelimit:{name}:*"):
        get_redis().delete(key)


@pytest.fixture
def two_processes(monkeypatch):
    """Two processes' allowances; `use(n)` makes the next checks run as process n."""
    processes = [ratelimit._Allowances(), ratelimit._Allowances()]

    def use(number: int) -> None:
        monkeypatch.setattr(ratelimit, "_allowances", processes[number])

    use(0)
    return use


def handed_out(identity: str) -> int:
    return sum(int(get_redis().get(key)) for key in get_redis().keys(f"contactpoints:ratelimit:{identity}:*"))


def test_a_large_limit_costs_one_round_trip_per_share(identity, two_processes):
    rate = Rate(1000, 3600)  # a share of 10
    assert rate.share() == 10
    assert all(ratelimit.check(identity, rate) is None for _ in range(25))
    assert handed_out(identity) == 30


@pytest.mark.parametrize("count", [1, 3, 99])
def test_a_small_limit_is_counted_one_request_at_a_time(identity, two_processes, count):
    rate = Rate(count, 3600)
    assert rate.share() == 1
    answers = [ratelimit.check(identity, rate) for _ in range(count + 2)]
    assert answers[:count] == [None] * count
    assert all(wait is not None and wait >= 1 for wait in answers[count:])
    assert handed_out(identity) == count + 2


def test_processes_never_accept_more_than_the_limit_together(identity, two_processes):
    rate = Rate(300, 3600)  # a share of 3
    two_processes(0)
    assert ratelimit.check(identity, rate) is None  # process 0 took 3, spent 1
    two_processes(1)
    accepted_by_1 = sum(ratelimit.check(identity, rate) is None for _ in range(400))
    two_processes(0)
    accepted_by_0 = 1 + sum(ratelimit.check(identity, rate) is None for _ in range(10))
    # Process 1 was refused while process 0 still held 2 of its share: early by less than a share.
    assert (accepted_by_0, accepted_by_1) == (3, 297)


def test_a_new_window_starts_a_new_budget(identity, two_processes, monkeypatch):
    rate = Rate(200, 60)  # a share of 2
    clock = [6000.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock[0])
    assert sum(ratelimit.check(identity, rate) is None for _ in range(205)) == 200
    assert ratelimit.check(identity, rate) == pytest.approx(60.0)
    clock[0] += 60
    assert ratelimit.check(identity, rate) is None


def test_redis_down_fails_open_and_keeps_no_share(identity, two_processes, monkeypatch):
    rate = Rate(1000, 3600)

    class Down:
        def pipeline(self, transaction=False):
            raise redis.ConnectionError("down")

    monkeypatch.setattr(ratelimit, "get_redis", lambda: Down())
    assert all(ratelimit.check(identity, rate) is None for _ in range(3))
    monkeypatch.undo()
    two_processes(0)
    assert ratelimit.check(identity, rate) is None
    assert handed_out(identity) == 10  # the outage's requests took no share
