"""A batch takes as many sender threads as its destinations' answers need: few for a receiver that
answers at once, all of them for a slow one, and more as soon as answers turn slow."""

from __future__ import annotations

import threading
import time
from unittest import mock

import pytest
from django.utils import timezone

from contactpoints import sending
from contactpoints.sender_threads import RECENT_SENDS, SLOW_SEND_SECONDS, UNKNOWN_WAIT_SECONDS, SenderThreads
from integrations.base import Outcome

FAST, SLOW = "webhook:fast", "webhook:slow"


def learned(*observations: tuple[str, float, float], most: int = 32) -> SenderThreads:
    threads = SenderThreads(most=most)
    for key, seconds, cpu_seconds in observations:
        threads.observe(key, seconds, cpu_seconds)
    return threads


def test_with_nothing_learned_a_batch_takes_every_thread_it_can_use():
    assert SenderThreads(most=32).for_batch([FAST] * 50) == 32
    assert SenderThreads(most=32).for_batch([FAST] * 5) == 5
    assert SenderThreads(most=32).for_batch([]) == 0


def test_a_destination_that_answers_at_once_needs_few_threads_and_a_slow_one_all():
    # 0.5 ms of CPU a send; the fast receiver answers in 0.25 ms, the slow one in 200 ms.
    threads = learned(*[(FAST, 0.00075, 0.0005)] * 10, *[(SLOW, 0.2005, 0.0005)] * 10)
    assert threads.for_batch([FAST] * 50) == 2  # 1 + 0.25 / 0.5, rounded up
    assert threads.for_batch([SLOW] * 50) == 32
    assert threads.for_batch([SLOW] * 3) == 3  # never more threads than sends
    assert threads.for_batch([FAST] * 45 + [SLOW] * 5) == 32  # 1 + (45 x 0.25 + 5 x 200) / (50 x 0.5) = 42
    # Not seen yet: taken as slow until its first sends are back.
    assert UNKNOWN_WAIT_SECONDS >= 0.1
    assert threads.for_batch(["webhook:new"] + [FAST] * 49) == 32


def test_waits_inflated_by_a_busy_interpreter_do_not_count_while_one_recent_send_shows_the_real_one():
    inflated = [(FAST, 0.01025, 0.0005)] * (RECENT_SENDS - 1)  # waited 9.75 ms for the lock or a core
    threads = learned((FAST, 0.00075, 0.0005), *inflated)
    assert threads.for_batch([FAST] * 50) == 2
    threads.observe(FAST, 0.01025, 0.0005)  # the clean one leaves the window: 9.75 ms is all it knows now
    assert threads.for_batch([FAST] * 50) == 21  # 1 + 9.75 / 0.5, rounded up


def test_a_destination_that_turns_slow_gets_threads_within_the_window():
    threads = learned(*[(FAST, 0.00075, 0.0005)] * RECENT_SENDS)
    for _ in range(RECENT_SENDS):
        assert threads.for_batch([FAST] * 50) == 2
        threads.observe(FAST, 0.5005, 0.0005)
    assert threads.for_batch([FAST] * 50) == 32


def _send(key: str) -> sending.Send:
    return sending.Send(mock.Mock(), mock.Mock(), False, key, destination_key=key)


class Receiver:
    """Stands in for send_notification: answers after `seconds`, counting sends in flight."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = self.sent = 0

    def __call__(self, send, templates):
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        started = time.monotonic()
        time.sleep(self.seconds)
        with self.lock:
            self.in_flight -= 1
            self.sent += 1
        return sending.SendResult(Outcome.success(), time.monotonic() - started, timezone.now())


@pytest.fixture
def learning(settings):
    settings.DELIVERY_SEND_CONCURRENCY = 16
    threads = SenderThreads(most=16)
    with mock.patch.object(sending, "_sender_threads", return_value=threads):
        yield threads


def test_a_batch_to_a_fast_destination_is_sent_on_the_threads_it_needs(learning):
    for _ in range(RECENT_SENDS):
        learning.observe(FAST, 0.00075, 0.0005)
    receiver = Receiver(0.001)
    with mock.patch.object(sending, "send_notification", side_effect=receiver):
        results = sending.send_many([_send(FAST) for _ in range(30)], sending.UserTemplates())
    assert all(result is not None and result.outcome.ok for result in results) and receiver.sent == 30
    assert receiver.most_in_flight <= 2


def test_slow_answers_add_threads_while_sends_are_left(learning):
    for _ in range(RECENT_SENDS):
        learning.observe(FAST, 0.00075, 0.0005)  # learned fast: the batch starts on 2 threads
    receiver = Receiver(SLOW_SEND_SECONDS * 1.2)
    with mock.patch.object(sending, "send_notification", side_effect=receiver):
        started = time.monotonic()
        results = sending.send_many([_send(FAST) for _ in range(32)], sending.UserTemplates())
        took = time.monotonic() - started
    assert all(result is not None for result in results) and receiver.sent == 32
    assert receiver.most_in_flight > 2
    assert receiver.most_in_flight <= 16
    # On 2 threads, 32 sends of 60 ms would take 0.96 s.
    assert took < 16 * SLOW_SEND_SECONDS * 1.2
