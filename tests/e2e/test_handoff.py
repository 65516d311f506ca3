"""Hand-offs to a real worker: the intake's statement gives new deliveries to the worker's listener,
which sends them with no claim and no Celery message; a stalled worker serves them once it resumes."""

from __future__ import annotations

import os
import signal
from collections import Counter
from unittest import mock

import pytest
from django.db import connection

from contactpoints import handoff
from contactpoints.models import Delivery, DeliveryStatus
from tests.e2e.test_pipeline import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NOTIFICATIONS = 100


def listening() -> bool:
    """A worker's listener has announced itself on the test database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE starts_with(application_name, %s)",
            [handoff.APPLICATION_NAME_PREFIX],
        )
        return cursor.fetchone()[0] > 0


def test_100_given_to_a_stalled_worker_arrive_once_each_when_it_resumes(
    celery_worker, receiver, make_contact_point, api, intake_token
):
    """Stopped, the worker's session stays open: what is handed to it before its heartbeat goes stale
    waits for it, the rest is queued (and rung by the sweeper); all of it arrives once it resumes."""
    contact_point = make_contact_point("Stalled", [("webhook", {"url": receiver.url})])
    assert wait_until(listening, timeout_seconds=30)  # not away (an earlier test's slow batch)
    os.kill(celery_worker.process.pid, signal.SIGSTOP)  # alive to PostgreSQL, serving nothing
    try:
        with mock.patch("contactpoints.broker.wake"):  # no ring now: the sweeper's comes later
            for number in range(NOTIFICATIONS):
                alert = [{"labels": {"alertname": "Stalled", "number": str(number)}}]
                response = api.post(f"/api/v1/intake/{contact_point.uid}", alert, token=intake_token)
                assert response.status_code == 202, response.content
        deliveries = Delivery.objects.filter(integration__contact_point=contact_point)
        statuses = Counter(deliveries.values_list("status", flat=True))
        assert statuses[DeliveryStatus.SENDING] > 0, statuses  # handed off while the heartbeat was fresh
        assert set(statuses) <= {DeliveryStatus.SENDING, DeliveryStatus.PENDING}, statuses
        assert receiver.requests == []
    finally:
        os.kill(celery_worker.process.pid, signal.SIGCONT)

    receiver.wait_for(NOTIFICATIONS, timeout_seconds=60)
    delivered = wait_until(
        lambda: deliveries.filter(status=DeliveryStatus.DELIVERED).count() == NOTIFICATIONS, timeout_seconds=30
    )
    assert delivered
    numbers = Counter(request.json()["alerts"][0]["labels"]["number"] for request in receiver.requests)
    assert sorted(numbers, key=int) == [str(n) for n in range(NOTIFICATIONS)]
    assert set(numbers.values()) == {1}, "a delivery arrived twice"
    assert set(deliveries.values_list("attempts", flat=True)) == {1}
