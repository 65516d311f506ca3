"""The delivery state machine in-process: batch claims, outcomes, backoff, the failed state, the sweeper."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from contactpoints import pacing, sending
from contactpoints import queue as engine
from contactpoints.intake import parse_intake
from contactpoints.models import Attempt, ContactPoint, Delivery, DeliveryStatus, Notification, NotificationTemplate
from contactpoints.sending import Send, SendResult
from contactpoints.services import accept_notification, store_with_deliveries
from contactpoints.storms import Message
from integrations.base import Outcome
from tests.receivers import Answer, Receiver

pytestmark = pytest.mark.django_db

SECRET_PASSWORD = "hunter2-s3cr3t"


@pytest.fixture
def woken():
    """Capture the doorbell instead of ringing the broker."""
    with mock.patch("contactpoints.broker.wake") as wake:
        yield wake


@pytest.fixture
def published():
    """Capture unconditional wakes (retries, the sweeper) instead of publishing."""
    with mock.patch("contactpoints.broker.publish") as publish:
        yield publish


def accept(contact_point, capture, alertname="Down"):
    parsed = parse_intake([{"labels": {"alertname": alertname}}], max_alerts=10)
    with capture(execute=True):
        answer = accept_notification(contact_point, parsed)
    return list(Delivery.objects.filter(notification_id=answer["id"]))


@pytest.fixture
def pending_delivery(make_contact_point, receiver, django_capture_on_commit_callbacks, woken, published):
    contact_point = make_contact_point(
        "Ops", [("webhook", {"url": f"{receiver.url}/hook", "username": "u", "password": SECRET_PASSWORD})]
    )
    (delivery,) = accept(contact_point, django_capture_on_commit_callbacks)
    return delivery


def make_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_accepting_wakes_a_worker_once_after_commit(pending_delivery, woken):
    woken.assert_called_once()


def test_success_records_one_attempt(pending_delivery, receiver):
    assert engine.run_delivery(pending_delivery.pk) == DeliveryStatus.DELIVERED
    pending_delivery.refresh_from_db()
    assert pending_delivery.attempts == 1 and pending_delivery.delivered_at is not None
    assert pending_delivery.claim is None and pending_delivery.lease_expires_at is None
    (attempt,) = Attempt.objects.filter(delivery=pending_delivery)
    assert (attempt.number, attempt.outcome, attempt.http_status) == (1, "success", 200)
    integration = pending_delivery.integration
    integration.refresh_from_db()
    assert integration.last_attempt_at is not None and integration.last_attempt_error == ""
    assert receiver.requests[0].headers["webhook-id"] == str(pending_delivery.pk)


def test_a_claim_loads_its_batch_and_the_templates_version_in_one_query(pending_delivery, django_assert_num_queries):
    expected_queries = 1 if connection.vendor == "postgresql" else 2  # SQLite: the UPDATE, then the load
    with django_assert_num_queries(expected_queries):
        batch = engine.claim(5)
    (delivery,) = batch.deliveries
    assert delivery == pending_delivery and delivery.status == DeliveryStatus.SENDING
    assert delivery.notification == pending_delivery.notification
    assert delivery.integration.contact_point == pending_delivery.integration.contact_point
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sending.TEMPLATES_VERSION_SQL)
            assert batch.templates_version == cursor.fetchone()


def test_a_claimed_delivery_is_not_sent_twice(pending_delivery, receiver):
    assert engine.claim(1).deliveries == [pending_delivery]
    assert engine.run_delivery(pending_delivery.pk) is None
    assert receiver.requests == []


def test_retry_then_success_keeps_every_attempt(
    pending_delivery, receiver, published, django_capture_on_commit_callbacks
):
    receiver.answer_with(Answer(500, b"oops"), Answer(502, b"gateway"))
    for expected in (DeliveryStatus.RETRYING, DeliveryStatus.RETRYING, DeliveryStatus.DELIVERED):
        make_due(pending_delivery)
        with django_capture_on_commit_callbacks(execute=True):
            assert engine.run_delivery(pending_delivery.pk) == expected
    attempts = list(Attempt.objects.filter(delivery=pending_delivery).values_list("number", "outcome", "http_status"))
    assert attempts == [(1, "retry", 500), (2, "retry", 502), (3, "success", 200)]
    # Short waits come back as wakes with a countdown, published after commit.
    countdowns = [c.kwargs["countdown_seconds"] for c in published.call_args_list]
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


def test_an_answer_with_nul_bytes_is_recorded_with_them_replaced(pending_delivery, receiver):
    # PostgreSQL text cannot hold NUL: stored as it came, the attempt would never be recorded.
    receiver.answer_with(Answer(404, b"no\x00such hook"))
    assert engine.run_delivery(pending_delivery.pk) == DeliveryStatus.FAILED
    pending_delivery.refresh_from_db()
    assert pending_delivery.last_error == "webhook response status 404 Not Found: no\ufffdsuch hook"
    assert Attempt.objects.get(delivery=pending_delivery).error == pending_delivery.last_error
    pending_delivery.integration.refresh_from_db()
    assert pending_delivery.integration.last_attempt_error == pending_delivery.last_error


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
    pending_delivery, receiver, settings, woken, django_capture_on_commit_callbacks
):
    settings.DELIVERY_MAX_ATTEMPTS = 1
    receiver.answer_with(Answer(500, b"down"))
    assert engine.run_delivery(pending_delivery.pk) == DeliveryStatus.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        assert engine.retry_failed(Delivery.objects.get(pk=pending_delivery.pk))
    assert engine.run_delivery(pending_delivery.pk) == DeliveryStatus.DELIVERED
    assert Attempt.objects.filter(delivery=pending_delivery).count() == 2


def test_sweeper_wakes_a_worker_while_anything_is_due(pending_delivery, published):
    # The wake rung at commit was lost (broker down, Redis flushed): the row is still due.
    assert engine.sweep() == {"due": 1, "reclaimed": 0}
    published.assert_called_once_with()


def test_sweeper_is_quiet_when_nothing_is_due(pending_delivery, published):
    Delivery.objects.filter(pk=pending_delivery.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert engine.sweep() == {"due": 0, "reclaimed": 0}
    published.assert_not_called()


def test_sweeper_reclaims_a_delivery_whose_worker_died(pending_delivery, published):
    assert engine.claim(1).deliveries
    Delivery.objects.filter(pk=pending_delivery.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert engine.sweep() == {"due": 1, "reclaimed": 1}
    pending_delivery.refresh_from_db()
    assert (pending_delivery.status, pending_delivery.claim) == (DeliveryStatus.RETRYING, None)
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
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "contactpoints.sending")
    assert "boom near [REDACTED]" in logged
    assert SECRET_PASSWORD not in logged


def many_due(make_contact_point, receiver, capture, count):
    contact_point = make_contact_point("Many", [("webhook", {"url": receiver.url})])
    return [accept(contact_point, capture, f"Alert{n}")[0] for n in range(count)]


def test_a_batch_claims_up_to_its_size_and_the_next_claim_gets_the_rest(
    make_contact_point, receiver, django_capture_on_commit_callbacks, woken
):
    deliveries = many_due(make_contact_point, receiver, django_capture_on_commit_callbacks, 5)
    first, second = engine.claim(3), engine.claim(3)
    assert (len(first.deliveries), len(second.deliveries)) == (3, 2)
    assert first.claim != second.claim
    claimed = {d.pk for d in first.deliveries + second.deliveries}
    assert claimed == {d.pk for d in deliveries}
    assert engine.claim(3).deliveries == []
    assert Delivery.objects.filter(status=DeliveryStatus.SENDING, attempts=1).count() == 5


def test_a_claim_takes_the_earliest_due_pending_and_retrying_deliveries_and_nothing_not_yet_due(
    make_contact_point, receiver, django_capture_on_commit_callbacks, woken
):
    later, retrying, pending, not_due = many_due(make_contact_point, receiver, django_capture_on_commit_callbacks, 4)

    def due_in(delivery: Delivery, seconds: float, **changes) -> None:
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now + timedelta(seconds=seconds), **changes)

    now = timezone.now()
    due_in(later, -1)
    due_in(retrying, -3, status=DeliveryStatus.RETRYING)
    due_in(pending, -2)
    due_in(not_due, 60)
    assert {d.pk for d in engine.claim(2).deliveries} == {retrying.pk, pending.pk}  # the two due first
    assert [d.pk for d in engine.claim(5).deliveries] == [later.pk]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the claim's ordered index walk is PostgreSQL's")
def test_the_claims_pick_walks_the_due_index_for_the_statuses_the_queue_holds(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc, proconfig, prorows FROM pg_proc WHERE proname = 'contactpoints_due_deliveries'")
        ((source, config, expected_rows),) = cursor.fetchall()
    assert config == ["enable_bitmapscan=off"]  # a bitmap scan would leave dead entries for every claim
    assert expected_rows <= 10  # PostgreSQL's default (1,000) made the claim read the whole table
    assert f"FROM {Delivery._meta.db_table}\n" in source
    assert "status IN (" + ", ".join(f"'{status}'" for status in engine.DUE_STATUSES) + ")" in source


def test_a_wake_claims_batches_until_nothing_is_due_and_a_full_batch_calls_in_help(
    make_contact_point, receiver, django_capture_on_commit_callbacks, woken, published, settings
):
    settings.DELIVERY_BATCH_SIZE = 3
    many_due(make_contact_point, receiver, django_capture_on_commit_callbacks, 4)
    with mock.patch("contactpoints.broker.clear_wake") as cleared:
        statuses = engine.deliver_due()
    assert statuses == {DeliveryStatus.DELIVERED: 4}
    published.assert_called_once_with()  # the first batch was full: another thread may join
    cleared.assert_called_once_with()  # only once nothing was left
    assert len(receiver.requests) == 4
    assert Attempt.objects.filter(outcome="success").count() == 4


def test_a_delivery_committed_while_the_flag_is_cleared_is_still_claimed(
    make_contact_point, receiver, django_capture_on_commit_callbacks, woken, published
):
    contact_point = make_contact_point("Race", [("webhook", {"url": receiver.url})])

    late = []

    def commit_one_more():
        # Committed after the last empty claim, while the flag was still set: its wake was never rung.
        if not late:
            late.extend(accept(contact_point, django_capture_on_commit_callbacks, "Late"))

    with mock.patch("contactpoints.broker.clear_wake", side_effect=commit_one_more):
        statuses = engine.deliver_due()
    assert statuses == {DeliveryStatus.DELIVERED: 1}
    assert [r.json()["alerts"][0]["labels"]["alertname"] for r in receiver.requests] == ["Late"]


def test_a_worker_that_outlived_its_lease_does_not_overwrite_the_next_owner(pending_delivery, receiver):
    late = engine.claim(1)
    # Its lease lapses; the sweeper hands the delivery on and another worker claims it.
    Delivery.objects.filter(pk=pending_delivery.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    engine.sweep()
    current = engine.claim(1)
    assert current.deliveries and current.claim != late.claim
    engine.send_and_record(late)  # the late worker finishes after all
    pending_delivery.refresh_from_db()
    assert (pending_delivery.status, pending_delivery.claim) == (DeliveryStatus.SENDING, current.claim)
    # Its attempt still counts in the history.
    assert sorted(Attempt.objects.filter(delivery=pending_delivery).values_list("outcome", flat=True)) == [
        "retry",
        "success",
    ]


def test_saved_settings_apply_to_the_very_next_delivery(pending_delivery, receiver):
    other = Receiver()
    try:
        assert engine.run_delivery(pending_delivery.pk) == DeliveryStatus.DELIVERED  # caches the config
        integration = pending_delivery.integration
        integration.assign_settings({"url": f"{other.url}/moved"})
        integration.save()
        retried = Delivery.objects.get(pk=pending_delivery.pk)
        Delivery.objects.filter(pk=retried.pk).update(status=DeliveryStatus.PENDING)
        assert engine.run_delivery(retried.pk) == DeliveryStatus.DELIVERED
        assert [r.path for r in other.requests] == ["/moved"]
    finally:
        other.close()


def test_a_template_created_just_now_renders_in_the_next_delivery(pending_delivery, receiver):
    assert engine.run_delivery(pending_delivery.pk) == DeliveryStatus.DELIVERED  # caches the user templates
    NotificationTemplate.objects.create(name="fresh.title", content="fresh {{ Status }}")
    integration = pending_delivery.integration
    integration.assign_settings({"url": receiver.url, "title": '{{ template("fresh.title") }}'})
    integration.save()
    Delivery.objects.filter(pk=pending_delivery.pk).update(status=DeliveryStatus.PENDING)
    assert engine.run_delivery(pending_delivery.pk) == DeliveryStatus.DELIVERED
    assert receiver.requests[-1].json()["title"] == "fresh firing"


def test_health_keeps_the_latest_attempt(pending_delivery, receiver):
    now = timezone.now()
    batch = engine.claim(1)
    delivery = batch.deliveries[0]
    older = SendResult(Outcome.failure("older", retryable=False), 0.01, now - timedelta(minutes=1))
    integration = delivery.integration
    type(integration).objects.filter(pk=integration.pk).update(last_attempt_at=now, last_attempt_error="newer")
    engine.record(
        batch, [(Message([delivery], Send(integration, delivery.notification, False, str(delivery.pk))), older)]
    )
    integration.refresh_from_db()
    assert integration.last_attempt_error == "newer"


@pytest.mark.parametrize("firing", [True, False])
def test_storing_in_one_statement_makes_the_same_rows_as_the_orm(make_contact_point, receiver, firing):
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement store is PostgreSQL's")
    contact_point = make_contact_point(
        "Rows",
        [("webhook", {"url": receiver.url}), ("webhook", {"url": receiver.url}), ("webhook", {"url": receiver.url})],
    )
    first, second, third = contact_point.integrations.order_by("position")
    second.disable_resolve_message, third.paused = True, True
    second.save()
    third.save()
    contact_point.integrations.create(type="webhook", settings={"url": receiver.url}, enabled=False, uid="off")
    contact_point = ContactPoint.objects.get(pk=contact_point.pk)

    def rows(one_statement: bool):
        notification = Notification(
            contact_point=contact_point, status="firing" if firing else "resolved", receiver="Rows", group_key="k"
        )
        statuses = store_with_deliveries(notification, one_statement=one_statement)
        stored = notification.deliveries.order_by("integration__position")
        shape = [(d.integration_id, d.firing_only, d.status, d.attempts, d.created_at) for d in stored]
        return sorted(statuses), [(i, f, s, a, c == notification.received_at) for i, f, s, a, c in shape]

    expected = [(first.pk, False, "pending", 0, True), (third.pk, False, "paused", 0, True)]
    if firing:
        expected.insert(1, (second.pk, True, "pending", 0, True))
    assert rows(one_statement=True) == rows(one_statement=False) == (sorted(s for *_, s, _a, _c in expected), expected)


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_take_the_same_delivery(make_contact_point, receiver, woken, published):
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite's concurrent writers are issue 9's")
    contact_point = make_contact_point("Contended", [("webhook", {"url": receiver.url})])
    for number in range(200):
        accept_notification(contact_point, parse_intake([{"labels": {"alertname": f"C{number}"}}], max_alerts=1))

    start_together = threading.Barrier(4)

    def claim_until_empty(_worker: int) -> list:
        claimed = []
        start_together.wait(timeout=10)
        try:
            while batch := engine.claim(7).deliveries:
                claimed += [delivery.pk for delivery in batch]
        finally:
            connections.close_all()  # this thread's own connection
        return claimed

    with ThreadPoolExecutor(4) as pool:
        per_worker = list(pool.map(claim_until_empty, range(4)))
    everything = [pk for claimed in per_worker for pk in claimed]
    assert len(everything) == len(set(everything)) == 200
    assert sum(1 for claimed in per_worker if claimed) > 1  # they did run side by side


def deliver_due_then_close():
    try:
        return engine.deliver_due()
    finally:
        connection.close()  # the thread's own connection: the test database is dropped at the end


@pytest.mark.django_db(transaction=True)  # the recorder thread has a connection of its own
def test_a_wake_sends_the_next_batch_while_the_one_before_is_recorded(
    make_contact_point, receiver, settings, woken, published
):
    settings.DELIVERY_BATCH_SIZE = 1
    contact_point = make_contact_point("Pipelined", [("webhook", {"url": receiver.url})])
    for number in range(3):
        accept_notification(contact_point, parse_intake([{"labels": {"alertname": f"P{number}"}}], max_alerts=1))
    recorded_at = []
    record = engine.SentBatch.record

    def slow_record(sent):
        time.sleep(0.3)  # a commit stuck behind a slow disk
        statuses = record(sent)
        recorded_at.append(time.monotonic())
        return statuses

    with mock.patch.object(engine.SentBatch, "record", slow_record):
        statuses = engine.deliver_due(record_in_background=True)
    # Back only once all three are recorded, each with its attempt.
    assert statuses == {DeliveryStatus.DELIVERED: 3} and len(recorded_at) == 3
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == Attempt.objects.count() == 3
    arrivals = sorted(request.received_at for request in receiver.requests)
    assert arrivals[1] < recorded_at[0] and arrivals[2] < recorded_at[1]  # sent before the one before was recorded
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("recorder")]


@pytest.mark.django_db(transaction=True)
def test_a_recording_that_fails_in_the_background_leaves_its_deliveries_to_the_sweeper(
    make_contact_point, receiver, woken, published, caplog
):
    contact_point = make_contact_point("Unrecorded", [("webhook", {"url": receiver.url})])
    accept_notification(contact_point, parse_intake([{"labels": {"alertname": "U"}}], max_alerts=1))
    with mock.patch.object(engine, "record", side_effect=RuntimeError("the database went away")):
        assert engine.deliver_due(record_in_background=True) == {}
    assert len(receiver.requests) == 1
    (delivery,) = Delivery.objects.all()
    assert delivery.status == DeliveryStatus.SENDING and delivery.lease_expires_at is not None  # the sweeper's
    assert "recording 1 sent deliveries failed" in caplog.text


@pytest.mark.django_db(transaction=True)  # the lingering wake runs on a thread of its own, with its own connection
def test_a_wake_lingers_for_the_next_commit_and_claims_it_without_a_celery_message(
    make_contact_point, receiver, settings
):
    from contactpoints import broker
    from contactpoints.redis_client import get_redis

    settings.DELIVERY_WAKE_LINGER_SECONDS = 0.4
    contact_point = make_contact_point("Trickle", [("webhook", {"url": receiver.url})])
    redis = get_redis()
    redis.delete(broker.DOORBELL_KEY)
    redis.set(broker.WAKE_PENDING_KEY, 1, px=5000)  # this wake is in progress
    reserve = mock.patch("contactpoints.pacing.reserve", wraps=pacing.reserve)
    with mock.patch("contactpoints.broker.publish") as published, reserve as reserved, ThreadPoolExecutor(1) as pool:
        lingering = pool.submit(deliver_due_then_close)
        time.sleep(0.1)  # it found nothing and listens
        parsed = parse_intake([{"labels": {"alertname": "Trickle"}}], max_alerts=10)
        answer = accept_notification(contact_point, parsed)  # rings the doorbell, not Celery
        receiver.wait_for(1, timeout_seconds=2)
        time.sleep(0.5)  # a quiet spell longer than one wait on the doorbell: it still lingers
        assert not lingering.done()
        engine.WORKER_STOPPING.set()  # the worker's warm shutdown ends it
        try:
            statuses = lingering.result(timeout=5)
        finally:
            engine.WORKER_STOPPING.clear()
    assert statuses == {DeliveryStatus.DELIVERED: 1}
    assert Delivery.objects.get(notification_id=answer["id"]).status == DeliveryStatus.DELIVERED
    published.assert_not_called()  # the flag stayed set while it lingered: nobody published
    reserved.assert_not_called()  # the ring said the webhook was not paused: no round trip to ask
    assert redis.get(broker.WAKE_PENDING_KEY) is None  # and was cleared when it stopped


@pytest.fixture
def rings(monkeypatch, settings):
    """broker.listen answers from a list (True: a commit rang, False: none did), then None (cannot
    listen), and records each call."""
    settings.DELIVERY_WAKE_LINGER_SECONDS = 0.5
    answers, heard = [], []

    def listen(seconds, then=None):
        heard.append(seconds)
        return (answers.pop(0), None) if answers else None

    monkeypatch.setattr(engine.broker, "listen", listen)
    monkeypatch.setattr(engine.broker, "clear_wake", mock.Mock())
    return answers, heard


def test_a_trickle_keeps_its_wake_past_the_backlog_deadline(db, rings, published, monkeypatch):
    monkeypatch.setattr(engine, "WAKE_WORK_SECONDS", 0)  # a backlog would hand on at once
    answers, heard = rings
    answers += [True] * 5  # rings keep coming: no Celery hop however long they do
    engine.deliver_due()
    assert len(heard) == 6  # five rings, then the sixth listen could not
    published.assert_not_called()
    engine.broker.clear_wake.assert_called_once()


def test_a_quiet_spell_keeps_the_wake_lingering_for_the_next_ring(pending_delivery, receiver, rings, published):
    answers, heard = rings
    Delivery.objects.filter(pk=pending_delivery.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    answers += [False, False, False]  # nothing rang for three waits
    with mock.patch.object(engine, "claim", wraps=engine.claim) as claims:
        assert engine.deliver_due() == {}
    assert len(heard) == 4 and claims.call_count == 2  # no claim while quiet; one after it could not listen
    published.assert_not_called()
    engine.broker.clear_wake.assert_called_once()


def test_one_wake_per_worker_lingers_and_the_others_end(db, rings, published):
    _, heard = rings
    assert engine._LINGERING.acquire(blocking=False)  # another wake of this process lingers
    try:
        assert engine.deliver_due() == {}
    finally:
        engine._LINGERING.release()
    assert heard == []  # it did not listen
    engine.broker.clear_wake.assert_not_called()  # and left the flag to the lingering wake


def test_a_worker_shutting_down_stops_lingering(db, rings, published):
    answers, heard = rings
    answers += [True] * 5
    engine.WORKER_STOPPING.set()
    try:
        engine.deliver_due()
    finally:
        engine.WORKER_STOPPING.clear()
    assert heard == []  # it cleared its flag and ended without waiting for rings
    engine.broker.clear_wake.assert_called_once()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="synchronous_commit is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_claim_commits_without_waiting_for_the_disk_and_only_its_own_transaction_does(pending_delivery):
    def synchronous_commit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('synchronous_commit')")
            return cursor.fetchone()[0]

    assert synchronous_commit() == "on"
    with transaction.atomic():
        assert engine.claim(1).deliveries == [pending_delivery]
        assert synchronous_commit() == "off"
    assert synchronous_commit() == "on"  # the next transaction (the record's) waits for the flush again
    assert engine.claim(1).deliveries == []  # nothing claimed: nothing written, nothing to flush
    assert synchronous_commit() == "on"
