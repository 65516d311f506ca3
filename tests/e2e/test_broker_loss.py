"""Redis loses everything it held; the database still knows what is due, and every delivery arrives once."""

from __future__ import annotations

import os
import signal
from collections import Counter

import pytest
import redis

from contactpoints.models import Delivery, DeliveryStatus
from tests.e2e.test_pipeline import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NOTIFICATIONS = 100


def test_redis_flushed_with_100_deliveries_queued_delivers_each_exactly_once(
    celery_worker, wakes_only, private_redis, receiver, make_contact_point, api, intake_token
):
    contact_point = make_contact_point("Flushed", [("webhook", {"url": receiver.url})])
    worker_pid = celery_worker.process.pid
    os.kill(worker_pid, signal.SIGSTOP)  # queued, not yet taken: the wakes sit in Redis
    try:
        for number in range(NOTIFICATIONS):
            alert = [{"labels": {"alertname": "Flush", "number": str(number)}}]
            response = api.post(f"/api/v1/intake/{contact_point.uid}", alert, token=intake_token)
            assert response.status_code == 202, response.content
        queued = Delivery.objects.filter(integration__contact_point=contact_point, status=DeliveryStatus.PENDING)
        assert queued.count() == NOTIFICATIONS
        redis.Redis.from_url(private_redis.url).flushall()
    finally:
        os.kill(worker_pid, signal.SIGCONT)

    # Beat's sweeper (every second here) finds the due rows and wakes the worker again.
    receiver.wait_for(NOTIFICATIONS, timeout_seconds=60)
    delivered = wait_until(
        lambda: (
            Delivery.objects.filter(integration__contact_point=contact_point, status=DeliveryStatus.DELIVERED).count()
            == NOTIFICATIONS
        ),
        timeout_seconds=30,
    )
    assert delivered
    numbers = Counter(request.json()["alerts"][0]["labels"]["number"] for request in receiver.requests)
    assert sorted(numbers, key=int) == [str(n) for n in range(NOTIFICATIONS)]
    assert set(numbers.values()) == {1}, "a delivery arrived twice"
    attempts = Delivery.objects.filter(integration__contact_point=contact_point).values_list("attempts", flat=True)
    assert set(attempts) == {1}
