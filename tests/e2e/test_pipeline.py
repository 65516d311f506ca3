"""From an intake POST to delivered, on real parts: worker, beat, Redis, HTTP and SMTP peers."""

from __future__ import annotations

import time

import pytest

from contactpoints.models import Delivery, DeliveryStatus
from tests.conftest import SECRET_MARK
from tests.receivers import Answer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALERT = {
    "version": "4",
    "status": "firing",
    "receiver": "ops",
    "groupLabels": {"alertname": "DiskFull"},
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "DiskFull", "instance": "db1", "severity": "critical"},
            "annotations": {"summary": "disk 95% full"},
            "startsAt": "2026-11-27T06:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.local/graph",
        }
    ],
}
SLACK_SECRET_PATH = "/services/T0SECRET/B0SECRET/slackpaths3cr3t42"
WEBHOOK_PASSWORD = "webhook-password-s3cr3t-77"


def wait_until(predicate, timeout_seconds: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def delivery_settled(notification_id: str):
    deliveries = list(Delivery.objects.filter(notification_id=notification_id))
    settled = all(d.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED) for d in deliveries)
    return deliveries if deliveries and settled else None


def test_one_post_reaches_webhook_slack_and_email(
    celery_worker, smtp_sink, receiver, make_contact_point, api, intake_token
):
    from tests.receivers import Receiver

    slack = Receiver()
    try:
        contact_point = make_contact_point(
            "Ops Team",
            [
                ("webhook", {"url": f"{receiver.url}/hook", "username": "ops", "password": WEBHOOK_PASSWORD}),
                ("slack", {"url": f"{slack.url}{SLACK_SECRET_PATH}"}),
                ("email", {"addresses": "oncall@example.com;lead@example.com", "singleEmail": True}),
            ],
        )
        started = time.monotonic()
        response = api.post(f"/api/v1/intake/{contact_point.uid}", ALERT, token=intake_token)
        assert response.status_code == 202, response.content
        assert response.json()["deliveries"] == 3

        hook = receiver.wait_for(1)[0]
        assert hook.received_at - started < 2.0
        assert hook.path == "/hook"
        body = hook.json()
        assert body["status"] == "firing" and body["state"] == "alerting"
        assert body["alerts"][0]["labels"]["alertname"] == "DiskFull"
        assert body["title"].startswith("[FIRING:1] DiskFull")
        assert hook.headers["authorization"].startswith("Basic ")

        posted = slack.wait_for(1)[0]
        assert posted.path == SLACK_SECRET_PATH
        assert posted.json()["attachments"][0]["title"].startswith("[FIRING:1] DiskFull")

        deliveries = wait_until(lambda: delivery_settled(response.json()["id"]))
        assert [(d.status, d.last_error) for d in deliveries] == [(DeliveryStatus.DELIVERED, "")] * 3
        assert all(d.attempts == 1 for d in deliveries)

        mail = smtp_sink.wait_for(1)[-1]
        assert sorted(mail.rcpt_tos) == ["lead@example.com", "oncall@example.com"]
        assert b"DiskFull" in mail.content
    finally:
        slack.close()
    log = celery_worker.log()
    for secret in (WEBHOOK_PASSWORD, SLACK_SECRET_PATH, SECRET_MARK):
        assert secret not in log


def test_500_twice_then_200_is_delivered_after_three_attempts(
    celery_worker, receiver, make_contact_point, api, intake_token
):
    receiver.answer_with(Answer(500, b"boom"), Answer(503, b"busy"))
    contact_point = make_contact_point("Flaky", [("webhook", {"url": receiver.url})])
    response = api.post(f"/api/v1/intake/{contact_point.uid}", ALERT, token=intake_token)
    assert response.status_code == 202

    receiver.wait_for(3)
    (delivery,) = wait_until(lambda: delivery_settled(response.json()["id"]))
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 3
    outcomes = [(a.outcome, a.http_status) for a in delivery.attempt_set.all()]
    assert outcomes == [("retry", 500), ("retry", 503), ("success", 200)]


def test_429_with_retry_after_is_honoured(celery_worker, receiver, make_contact_point, api, intake_token):
    receiver.answer_with(Answer(429, b"slow down", {"Retry-After": "2"}))
    contact_point = make_contact_point("Limited", [("webhook", {"url": receiver.url})])
    response = api.post(f"/api/v1/intake/{contact_point.uid}", ALERT, token=intake_token)
    assert response.status_code == 202

    first, second = receiver.wait_for(2, timeout_seconds=15)[:2]
    # The retry base is 0.2 s in tests: only Retry-After explains a gap of two seconds.
    assert second.received_at - first.received_at >= 1.9
    (delivery,) = wait_until(lambda: delivery_settled(response.json()["id"]))
    assert delivery.status == DeliveryStatus.DELIVERED


def test_400_is_not_retried(celery_worker, receiver, make_contact_point, api, intake_token):
    receiver.answer_with(Answer(400, b"bad payload"))
    contact_point = make_contact_point("Strict", [("webhook", {"url": receiver.url})])
    response = api.post(f"/api/v1/intake/{contact_point.uid}", ALERT, token=intake_token)

    (delivery,) = wait_until(lambda: delivery_settled(response.json()["id"]))
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 1
    assert delivery.last_http_status == 400
    assert "400 Bad Request: bad payload" in delivery.last_error
    time.sleep(1.0)  # several retry bases: nothing else may arrive
    assert len(receiver.requests) == 1


def test_accepted_while_redis_is_down_is_delivered_when_it_returns(
    celery_worker, wakes_only, private_redis, receiver, make_contact_point, api, intake_token
):
    contact_point = make_contact_point("Resilient", [("webhook", {"url": receiver.url})])
    private_redis.stop()
    try:
        response = api.post(f"/api/v1/intake/{contact_point.uid}", ALERT, token=intake_token)
        assert response.status_code == 202, response.content
        (delivery,) = Delivery.objects.filter(notification_id=response.json()["id"])
        # Its wake was lost with Redis. A worker thread that was awake anyway (lingering, or on an
        # earlier test's retries) may still claim it from the database; otherwise it waits.
        assert delivery.status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.DELIVERED)
        time.sleep(1.0)
    finally:
        private_redis.start()
    # Neither the worker nor beat is restarted: they reconnect, and the sweeper finds the row.
    receiver.wait_for(1, timeout_seconds=45)
    (delivery,) = wait_until(lambda: delivery_settled(response.json()["id"]), timeout_seconds=30)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(delivery.pk)]  # once
    assert delivery.status == DeliveryStatus.DELIVERED


def test_a_delivery_whose_worker_died_mid_send_is_sent_by_another(
    celery_worker, wakes_only, receiver, make_contact_point, api, intake_token
):
    from unittest import mock

    from django.utils import timezone

    from contactpoints import queue

    contact_point = make_contact_point("Orphaned", [("webhook", {"url": receiver.url})])
    with mock.patch("contactpoints.broker.wake"):  # the wake never reaches a worker
        response = api.post(f"/api/v1/intake/{contact_point.uid}", ALERT, token=intake_token)
    (delivery,) = Delivery.objects.filter(notification_id=response.json()["id"])
    # This process claims it and "dies": the row stays `sending` until its lease lapses.
    assert queue.claim(1, ids=[delivery.pk]).deliveries
    Delivery.objects.filter(pk=delivery.pk).update(lease_expires_at=timezone.now())

    # Beat's sweeper (every second here) reclaims the lease; the real worker sends it.
    receiver.wait_for(1, timeout_seconds=30)
    (delivery,) = wait_until(lambda: delivery_settled(response.json()["id"]), timeout_seconds=30)
    assert delivery.status == DeliveryStatus.DELIVERED
    outcomes = [(a.number, a.outcome) for a in delivery.attempt_set.all()]
    assert outcomes == [(1, "retry"), (2, "success")]
    assert "outcome is unknown" in delivery.attempt_set.first().error
    assert len(receiver.requests) == 1
