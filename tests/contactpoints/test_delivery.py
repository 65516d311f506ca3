"""The delivery engine in-process: claims, outcomes, backoff, the failed state and the sweeper."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from contactpoints import delivery as engine
from contactpoints.intake import parse_intake
from contactpoints.models import Attempt, Delivery, DeliveryStatus
from contactpoints.services import accept_notification
from tests.receivers import Answer

pytestmark = pytest.mark.django_db

SECRET_PASSWORD = "hunter2-s3cr3t"


@pytest.fixture
def enqueued():
    """Capture what would be published to the broker instead of publishing."""
    with mock.patch("contactpoints.services.enqueue_deliveries") as publish:
        yield publish


@pytest.fixture
def pending_delivery(make_contact_point, receiver, django_capture_on_commit_callbacks, enqueued):
    contact_point = make_contact_point(
        "Ops", [("webhook", {"url": f"{receiver.url}/hook", "username": "u", "password": SECRET_PASSWORD})]
    )
    parsed = parse_intake([{"labels": {"alertname": "Down"}}], max_alerts=10)
    with django_capture_on_commit_callbacks(execute=True):
        answer = accept_notification(contact_point, parsed)
    return Delivery.objects.get(notification_id=answer["id"])


def make_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_accepting_enqueues_each_delivery_after_commit(pending_delivery, enqueued):
    enqueued.assert_called_once_with([pending_delivery.pk])


def test_success_records_one_attempt(pending_delivery, receiver):
    assert engine.run_delivery(pending_delivery.pk) == DeliveryStatus.DELIVERED
    pending_delivery.refresh_from_db()
    assert pending_delivery.attempts == 1 and pending_delivery.delivered_at is not None
    (attempt,) = Attempt.objects.filter(delivery=pending_delivery)
    assert (attempt.number, attempt.outcome, attempt.http_status) == (1, "success", 200)
    integration = pending_delivery.integration
    integration.refresh_from_db()
    assert integration.last_attempt_at is not None and integration.last_attempt_error == ""
    assert receiver.requests[0].headers["webhook-id"] == str(pending_delivery.pk)


def test_a_claimed_delivery_is_not_sent_twice(pending_delivery, receiver):
    assert engine.claim(pending_delivery.pk)
    assert engine.run_delivery(pending_delivery.pk) is None
    assert receiver.requests == []


def test_retry_then_success_keeps_every_attempt(
    pending_delivery, receiver, enqueued, django_capture_on_commit_callbacks
):
    receiver.answer_with(Answer(500, b"oops"), Answer(502, b"gateway"))
    for expected in (DeliveryStatus.RETRYING, DeliveryStatus.RETRYING, DeliveryStatus.DELIVERED):
        make_due(pending_delivery)
        with django_capture_on_commit_callbacks(execute=True):
            assert engine.run_delivery(pending_delivery.pk) == expected
    attempts = list(Attempt.objects.filter(delivery=pending_delivery).values_list("number", "outcome", "http_status"))
    assert attempts == [(1, "retry", 500), (2, "retry", 502), (3, "success", 200)]
    # Short waits go to the broker as countdowns, after commit.
    countdowns = [c.kwargs.get("countdown_seconds") for c in enqueued.call_args_list[1:]]
    assert len(countdowns) == 2 and all(0 < c < 1 for c in countdowns)


def test_retry_after_sets_the_next_attempt(pending_delivery, receiver):
    receiver.answer_with(Answer(429, b"", {"Retry-After": "120"}))
    before = timezone.now()
    engine.run_delivery(pending_delivery.pk)
    pending_delivery.refresh_from_db()
    assert pending_delivery.status == DeliveryStatus.RETRYING
    assert pending_delivery.next_attempt_at >= before + timedelta(seconds=119)


def test_client_error_fails_at_once(pending_delivery, receiver):
    receiver.answer_with(Answer(404, b"no such hook"))
    assert engine.run_delivery(pending_delivery.pk) == DeliveryStatus.FAILED
    pending_delivery.refresh_from_db()
    assert pending_delivery.last_http_status == 404
    assert pending_delivery.last_error == "webhook response status 404 Not Found: no such hook"


def test_attempts_are_capped(pending_delivery, receiver, settings):
    settings.DELIVERY_MAX_ATTEMPTS = 2
    receiver.default = Answer(503, b"down")
    make_due(pending_delivery)
    assert engine.run_delivery(pending_delivery.pk) == DeliveryStatus.RETRYING
    make_due(pending_delivery)
    assert engine.run_delivery(pending_delivery.pk) == DeliveryStatus.FAILED


def test_settings_that_no_longer_validate_fail_without_sending(pending_delivery, receiver):
    integration = pending_delivery.integration
    integration.settings = {"url": ""}
    integration.save()
    assert engine.run_delivery(pending_delivery.pk) == DeliveryStatus.FAILED
    pending_delivery.refresh_from_db()
    assert pending_delivery.last_error.startswith("settings no longer validate")
    assert receiver.requests == []


def test_secrets_are_scrubbed_from_stored_errors(pending_delivery, receiver):
    receiver.answer_with(Answer(400, f"denied for {SECRET_PASSWORD}".encode()))
    engine.run_delivery(pending_delivery.pk)
    attempt = Attempt.objects.get(delivery=pending_delivery)
    assert SECRET_PASSWORD not in attempt.error
    assert "[REDACTED]" in attempt.error


def test_manual_retry_of_a_failed_delivery_gets_a_fresh_budget(
    pending_delivery, receiver, settings, enqueued, django_capture_on_commit_callbacks
):
    settings.DELIVERY_MAX_ATTEMPTS = 1
    receiver.answer_with(Answer(500, b"down"))
    assert engine.run_delivery(pending_delivery.pk) == DeliveryStatus.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        assert engine.retry_failed(Delivery.objects.get(pk=pending_delivery.pk))
    assert engine.run_delivery(pending_delivery.pk) == DeliveryStatus.DELIVERED
    assert Attempt.objects.filter(delivery=pending_delivery).count() == 2


def test_sweeper_enqueues_deliveries_the_broker_lost(pending_delivery, enqueued, settings):
    settings.DELIVERY_SWEEP_GRACE_SECONDS = 30
    Delivery.objects.filter(pk=pending_delivery.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    enqueued.reset_mock()
    assert engine.sweep() == {"enqueued": 1, "reclaimed": 0}
    enqueued.assert_called_once_with([pending_delivery.pk])
    # Just swept: not again before another grace period.
    assert engine.sweep() == {"enqueued": 0, "reclaimed": 0}


def test_sweeper_leaves_fresh_deliveries_to_the_broker(pending_delivery, enqueued):
    enqueued.reset_mock()
    assert engine.sweep() == {"enqueued": 0, "reclaimed": 0}


def test_sweeper_reclaims_a_delivery_whose_worker_died(pending_delivery, enqueued, settings):
    settings.DELIVERY_SWEEP_GRACE_SECONDS = 0
    assert engine.claim(pending_delivery.pk)
    Delivery.objects.filter(pk=pending_delivery.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    result = engine.sweep()
    assert result["reclaimed"] == 1
    pending_delivery.refresh_from_db()
    assert pending_delivery.status == DeliveryStatus.RETRYING
    assert "outcome is unknown" in Attempt.objects.get(delivery=pending_delivery).error


@pytest.mark.parametrize(
    ("attempt", "retry_after", "low", "high"),
    [(1, None, 0.16, 0.24), (3, None, 0.64, 0.96), (1, 5.0, 5.0, 5.0), (1, 10_000.0, 900.0, 900.0)],
)
def test_backoff_table(attempt, retry_after, low, high, settings):
    settings.DELIVERY_RETRY_BASE_SECONDS = 0.2
    settings.DELIVERY_RETRY_MAX_SECONDS = 900
    assert low <= engine.retry_delay_seconds(attempt, retry_after) <= high


def test_an_integration_bug_is_retried_and_logged_without_secrets(pending_delivery, caplog):
    from integrations.webhook import Webhook

    def broken(self, ctx, transport):
        raise RuntimeError(f"boom near {ctx.config['password']}")

    with mock.patch.object(Webhook, "send", broken):
        assert engine.run_delivery(pending_delivery.pk) == DeliveryStatus.RETRYING
    pending_delivery.refresh_from_db()
    assert pending_delivery.last_error == "internal error in the webhook integration: RuntimeError"
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "contactpoints.delivery")
    assert "boom near [REDACTED]" in logged
    assert SECRET_PASSWORD not in logged
