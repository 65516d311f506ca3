"""A claimed delivery is never sent after its lease could lapse (issue 9, finding 6).

A worker claims a batch and sends it on a pool of sender threads shared by all its batches. A
send still waiting for a thread when the rest of its lease could no longer cover rendering and
the attempt's deadline must not start: the sweeper could hand the delivery to another worker
meanwhile, and the receiver would get it twice. It goes back to the queue unsent, with no attempt
counted, and the next claim sends it once.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest

from contactpoints import queue as engine
from contactpoints import sending
from contactpoints.intake import parse_intake
from contactpoints.models import Attempt, Delivery, DeliveryStatus
from contactpoints.services import accept_notification

SLOW_SEND_SECONDS = 0.4
START_WITHIN_SECONDS = 0.2  # stands for the lease margin: shorter than one slow send


@pytest.fixture
def one_sender_thread():
    """Every send of a batch queues behind the one before it."""
    pool = ThreadPoolExecutor(max_workers=1)
    with mock.patch.object(sending, "_senders", return_value=pool):
        yield
    pool.shutdown()


@pytest.fixture
def slow_destination():
    send_now = sending.send_notification

    def slowly(send, templates):
        time.sleep(SLOW_SEND_SECONDS)
        return send_now(send, templates)

    with mock.patch.object(sending, "send_notification", side_effect=slowly):
        yield


@pytest.mark.django_db(transaction=True)
def test_sends_that_could_outlive_their_lease_are_queued_again_unsent(
    make_contact_point, receiver, one_sender_thread, slow_destination
):
    contact_point = make_contact_point("Busy", [("webhook", {"url": receiver.url})])
    with mock.patch("contactpoints.broker.wake"):
        for number in range(3):
            accept_notification(contact_point, parse_intake([{"labels": {"alertname": f"A{number}"}}], max_alerts=1))

    with (
        mock.patch.object(engine, "START_WITHIN_SECONDS", START_WITHIN_SECONDS),
        mock.patch("contactpoints.broker.publish"),
    ):
        statuses = engine.send_and_record(engine.claim(10))

    assert sorted(statuses.values()) == [DeliveryStatus.DELIVERED, DeliveryStatus.PENDING, DeliveryStatus.PENDING]
    assert len(receiver.requests) == 1
    waiting = Delivery.objects.filter(status=DeliveryStatus.PENDING)
    assert [(d.attempts, d.claim, d.lease_expires_at) for d in waiting] == [(0, None, None)] * 2
    assert Attempt.objects.count() == 1  # an attempt is recorded only for what was sent

    with mock.patch("contactpoints.broker.publish"):
        engine.send_and_record(engine.claim(10))  # the next claim starts them in time
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    assert len(receiver.requests) == 3  # each once
