"""Pausing keeps intake and records deliveries but sends nothing; test notifications send now."""

from __future__ import annotations

from unittest import mock

import pytest

from contactpoints import queue as engine
from contactpoints.intake import parse_intake
from contactpoints.models import Delivery, DeliveryStatus
from contactpoints.sending import send_test_notification
from contactpoints.services import accept_notification
from tests.receivers import Answer

pytestmark = pytest.mark.django_db

MESSAGE = {"title": "Disk full", "message": "db-1"}


@pytest.fixture
def woken():
    with mock.patch("contactpoints.broker.wake") as wake:
        yield wake


def accept(contact_point, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return accept_notification(contact_point, parse_intake(MESSAGE, max_alerts=5))


def test_paused_contact_point_records_paused_deliveries_and_wakes_no_worker(
    make_contact_point, receiver, woken, django_capture_on_commit_callbacks
):
    contact_point = make_contact_point("Quiet", [("webhook", {"url": receiver.url})])
    contact_point.paused = True
    contact_point.save()
    answer = accept(contact_point, django_capture_on_commit_callbacks)
    assert answer["deliveries"] == 1
    (delivery,) = Delivery.objects.filter(notification_id=answer["id"])
    assert delivery.status == DeliveryStatus.PAUSED
    woken.assert_not_called()


def test_one_paused_integration_of_two(make_contact_point, receiver, woken, django_capture_on_commit_callbacks):
    contact_point = make_contact_point("Half", [("webhook", {"url": receiver.url}), ("webhook", {"url": receiver.url})])
    contact_point.integrations.filter(position=0).update(paused=True)
    answer = accept(contact_point, django_capture_on_commit_callbacks)
    statuses = sorted(Delivery.objects.filter(notification_id=answer["id"]).values_list("status", flat=True))
    assert statuses == [DeliveryStatus.PAUSED, DeliveryStatus.PENDING]
    woken.assert_called_once()
    (due,) = engine.claim(10).deliveries
    assert due.integration.position == 1


def test_pausing_after_acceptance_stops_the_send(
    make_contact_point, receiver, woken, django_capture_on_commit_callbacks
):
    contact_point = make_contact_point("Late", [("webhook", {"url": receiver.url})])
    answer = accept(contact_point, django_capture_on_commit_callbacks)
    contact_point.integrations.update(paused=True)
    (delivery,) = Delivery.objects.filter(notification_id=answer["id"])
    assert engine.run_delivery(delivery.pk) == DeliveryStatus.PAUSED
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PAUSED, 0)
    assert receiver.requests == []
    # Sending it by hand after resuming works like a retry.
    contact_point.integrations.update(paused=False)
    assert engine.retry_failed(delivery)
    assert engine.run_delivery(delivery.pk) == DeliveryStatus.DELIVERED


def test_test_notification_reports_each_integration(make_contact_point, receiver):
    receiver.answer_with(Answer(200), Answer(500, b"down"))
    contact_point = make_contact_point(
        "Tested", [("webhook", {"url": receiver.url}), ("webhook", {"url": receiver.url})]
    )
    results = send_test_notification(contact_point, labels={"team": "db"}, annotations={"summary": "try"})
    assert sorted(r["status"] for r in results) == ["failed", "ok"]
    failed = next(r for r in results if r["status"] == "failed")
    assert failed["error"] == "webhook response status 500 Internal Server Error: down"
    assert all(r["type"] == "webhook" and r["durationMs"] >= 0 for r in results)
    sent = receiver.requests[0].json()["alerts"][0]
    assert sent["labels"] == {"alertname": "TestAlert", "instance": "Grafana", "team": "db"}
    assert sent["annotations"]["summary"] == "try"
    assert Delivery.objects.count() == 0  # a test is not a delivery
