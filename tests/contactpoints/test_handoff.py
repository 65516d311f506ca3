"""Hand-offs (contactpoints.handoff, contactpoints.listener): the intake's statement claims a new
notification's deliveries for a listening worker and notifies their payload; the listener sends
them without a claim or a ring, and whatever cannot be handed off goes the common way."""

from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from datetime import timedelta
from unittest import mock

import psycopg
import pytest
from django.db import connection, connections
from django.utils import timezone

from contactpoints import handoff, listener, queue, sending, services
from contactpoints.models import Attempt, Delivery, DeliveryStatus, Integration, NotificationTemplate
from tests.e2e import test_pipeline
from tests.receivers import Answer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def on_postgresql(settings):
    if connection.vendor != "postgresql":
        pytest.skip("hand-offs are PostgreSQL's (NOTIFY from the intake's statement)")
    settings.DELIVERY_HANDOFF = True


@pytest.fixture
def no_wakes():
    """Nothing reaches a worker through the broker: a delivery that arrives was handed off."""
    with mock.patch("contactpoints.broker.wake") as wake, mock.patch("contactpoints.broker.publish"):
        yield wake


class Session:
    """A database session that listens and announces itself as a worker's listener does."""

    def __init__(self, token: uuid.UUID, name: str | None = None) -> None:
        self.token = token
        self.database = connections.create_connection("default")
        self.database.ensure_connection()
        self.raw = self.database.connection
        self.raw.execute(f'LISTEN "{handoff.channel(token.hex)}"')
        self.announce(name if name is not None else handoff.application_name(token.hex))

    def announce(self, name: str) -> None:
        self.raw.execute("SELECT set_config('application_name', %s, false)", [name])

    def payloads(self, timeout: float = 2.0) -> list[dict]:
        return [json.loads(note.payload) for note in self.raw.notifies(timeout=timeout, stop_after=1)]

    def close(self) -> None:
        self.database.close()


@pytest.fixture
def session():
    listening = Session(uuid.uuid4())
    yield listening
    listening.close()


@pytest.fixture
def contact_point(make_contact_point, receiver):
    return make_contact_point("Handed", [("webhook", {"url": f"{receiver.url}/hook", "password": "s3cr3t-pw"})])


def post(client, contact_point, token, alertname="Down", **annotations):
    alert = {"labels": {"alertname": alertname}, "annotations": annotations}
    response = client.post(
        f"/api/v1/intake/{contact_point.uid}",
        data=json.dumps([alert]),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 202, response.content
    return response.json()


def test_the_statement_claims_the_deliveries_for_the_listener_and_notifies_them(
    client, contact_point, intake_token, session, no_wakes
):
    answer = post(client, contact_point, intake_token)
    (delivery,) = Delivery.objects.filter(notification_id=answer["id"])
    assert (delivery.status, delivery.claim, delivery.attempts) == (DeliveryStatus.SENDING, session.token, 1)
    assert delivery.lease_expires_at == handoff.lease_until(delivery.created_at)
    (payload,) = session.payloads()
    assert payload["notification"]["id"] == answer["id"]
    assert [entry[0] for entry in payload["deliveries"]] == [str(delivery.pk)]
    assert "s3cr3t-pw" not in json.dumps(payload)  # settings are read by the worker, never notified
    no_wakes.assert_not_called()  # nothing pending: no ring


def test_a_listener_sends_and_records_a_hand_off_from_its_payload_alone(
    client, contact_point, intake_token, session, receiver, no_wakes, django_assert_num_queries
):
    NotificationTemplate.objects.create(name="team", content='{{ define "team" }}ops{{ end }}', syntax="go")
    sending.user_templates()  # read from the database, as a claim's version would be
    answer = post(client, contact_point, intake_token, summary="disk full")
    (payload,) = session.payloads()
    worker = listener.Listener()
    worker.token = session.token
    worker._integrations[contact_point.integrations.get().pk] = (
        (payload["deliveries"][0][3], payload["contact_point_updated_at"]),
        Integration.objects.select_related("contact_point").get(contact_point=contact_point),
    )
    with django_assert_num_queries(0):  # no claim, no load: the payload and the caches are enough
        batch = worker.batch_from([payload])
        sending.user_templates(batch.templates_version)  # the payload's version is the one cached
    statuses = queue.send(batch).record()
    assert list(statuses.values()) == [DeliveryStatus.DELIVERED]
    (request,) = receiver.wait_for(1)
    assert request.json()["alerts"][0]["annotations"]["summary"] == "disk full"
    (delivery,) = Delivery.objects.filter(notification_id=answer["id"])
    assert (delivery.status, delivery.claim, delivery.lease_expires_at) == (DeliveryStatus.DELIVERED, None, None)
    assert [(a.number, a.outcome) for a in Attempt.objects.filter(delivery=delivery)] == [(1, "success")]


def test_a_payload_over_notifys_limit_goes_the_common_way(client, contact_point, intake_token, session, no_wakes):
    answer = post(client, contact_point, intake_token, description="x" * handoff.MAX_PAYLOAD_BYTES)
    (delivery,) = Delivery.objects.filter(notification_id=answer["id"])
    assert (delivery.status, delivery.claim) == (DeliveryStatus.PENDING, None)
    assert session.payloads(timeout=0.2) == []
    no_wakes.assert_called_once()


def test_paused_integrations_are_not_handed_off(make_contact_point, receiver, client, intake_token, session):
    contact_point = make_contact_point("Half paused", [("webhook", {"url": receiver.url})] * 2)
    Integration.objects.filter(pk=contact_point.integrations.order_by("position").first().pk).update(paused=True)
    answer = post(client, contact_point, intake_token)
    statuses = Delivery.objects.filter(notification_id=answer["id"]).values_list("status", flat=True)
    assert sorted(statuses) == [DeliveryStatus.PAUSED, DeliveryStatus.SENDING]
    (payload,) = session.payloads()
    assert len(payload["deliveries"]) == 1


@pytest.mark.parametrize("name", ["", "contactpoints handoff not-a-token", "contactpoints handoff "])
def test_a_session_that_is_not_a_listener_gets_nothing(client, contact_point, intake_token, no_wakes, name):
    stranger = Session(uuid.uuid4(), name=name)
    try:
        answer = post(client, contact_point, intake_token)
        (delivery,) = Delivery.objects.filter(notification_id=answer["id"])
        assert delivery.status == DeliveryStatus.PENDING
    finally:
        stranger.close()


def test_a_listener_of_another_database_gets_nothing(client, contact_point, intake_token, no_wakes):
    """NOTIFY reaches only the sessions of its own database: a worker of another deployment on the
    same PostgreSQL server must not be picked."""
    other = connection.settings_dict
    elsewhere = psycopg.connect(
        host=other["HOST"], port=other["PORT"] or 5432, user=other["USER"], password=other["PASSWORD"],
        dbname="postgres", autocommit=True,
    )  # fmt: skip
    try:
        elsewhere.execute("SELECT set_config('application_name', %s, false)", [handoff.application_name("a" * 32)])
        answer = post(client, contact_point, intake_token)
        assert Delivery.objects.get(notification_id=answer["id"]).status == DeliveryStatus.PENDING
    finally:
        elsewhere.close()


def test_a_listener_without_a_heartbeat_is_taken_for_frozen(client, contact_point, intake_token, session, no_wakes):
    """A stopped or hung worker keeps its session open: after LISTENER_FRESH_SECONDS without a
    statement on it, new deliveries go the common way instead of waiting for it."""
    time.sleep(handoff.LISTENER_FRESH_SECONDS + 0.2)
    stale = post(client, contact_point, intake_token, alertname="Frozen")
    assert Delivery.objects.get(notification_id=stale["id"]).status == DeliveryStatus.PENDING
    session.raw.execute("SELECT 1")  # the heartbeat a live listener sends
    fresh = post(client, contact_point, intake_token, alertname="Alive")
    assert Delivery.objects.get(notification_id=fresh["id"]).claim == session.token


def test_a_hand_off_that_arrives_during_the_listeners_heartbeat_is_kept(
    client, contact_point, intake_token, session, no_wakes
):
    """The listener runs statements on the connection it listens on (heartbeats, announcements):
    psycopg must keep a notification read with a statement's answer for the next notifies()."""
    answer = post(client, contact_point, intake_token)
    time.sleep(0.2)  # the notification is on the socket now
    session.raw.execute("SELECT 1")  # reads it along with the answer
    (payload,) = session.payloads(timeout=0.5)
    assert payload["notification"]["id"] == answer["id"]


def test_hand_offs_turned_off(client, contact_point, intake_token, session, no_wakes, settings):
    settings.DELIVERY_HANDOFF = False
    answer = post(client, contact_point, intake_token)
    assert Delivery.objects.get(notification_id=answer["id"]).status == DeliveryStatus.PENDING
    no_wakes.assert_called_once()


def test_a_hand_off_whose_listener_died_is_taken_on_by_the_sweeper(
    client, contact_point, intake_token, session, receiver, no_wakes
):
    answer = post(client, contact_point, intake_token)
    session.close()  # the worker is killed before it sends
    (delivery,) = Delivery.objects.filter(notification_id=answer["id"])
    assert queue.sweep()["reclaimed"] == 0  # still leased
    Delivery.objects.filter(pk=delivery.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert queue.sweep()["reclaimed"] == 1
    assert queue.deliver_due() == {DeliveryStatus.DELIVERED: 1}
    assert len(receiver.wait_for(1)) == 1


@pytest.fixture
def running_listener(settings):
    settings.DELIVERY_WAKE_LINGER_SECONDS = 0
    started = listener.Listener()
    started.start()
    wait_until(lambda: _listening(started.token))
    yield started
    started.stop()
    started.join(timeout=10)
    assert not started._thread.is_alive()


# The end-to-end tests' wait, polled finely: a listener is away for only part of a slow send.
wait_until = functools.partial(test_pipeline.wait_until, timeout_seconds=10.0, interval=0.02)


def _listening(token: uuid.UUID) -> bool:
    """Whether a session announces itself as the listener with this token (with its hint port or without)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name ~ %s",
            [f"^{handoff.application_name(token.hex)}( [0-9]+)?$"],
        )
        return cursor.fetchone()[0] == 1


def test_the_listener_thread_delivers_and_an_edit_applies_to_the_very_next_delivery(
    make_contact_point, receiver, client, intake_token, running_listener, no_wakes
):
    contact_point = make_contact_point("Live", [("webhook", {"url": f"{receiver.url}/first"})])
    post(client, contact_point, intake_token, alertname="One")
    assert [r.path for r in receiver.wait_for(1)] == ["/first"]
    integration = contact_point.integrations.get()
    integration.assign_settings({"url": f"{receiver.url}/second"})
    integration.save()
    post(client, contact_point, intake_token, alertname="Two")
    assert [r.path for r in receiver.wait_for(2)] == ["/first", "/second"]
    settled = wait_until(lambda: set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED})
    assert settled
    no_wakes.assert_not_called()


def _handed_to(token: uuid.UUID, notification_id: str) -> bool:
    """Whether the notification's delivery went to the listener with this token: claimed for it, or
    already sent by it and recorded (which clears the claim). Nothing else sends in these tests: no
    worker runs, and wakes and publishes are stubbed (no_wakes)."""
    delivery = Delivery.objects.get(notification_id=notification_id)
    return delivery.claim == token or (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)


def test_an_idle_listener_keeps_its_heartbeat(
    contact_point, receiver, client, intake_token, running_listener, no_wakes
):
    time.sleep(handoff.LISTENER_FRESH_SECONDS + 0.5)  # nothing handed to it meanwhile
    answer = post(client, contact_point, intake_token)
    assert _handed_to(running_listener.token, answer["id"])
    assert len(receiver.wait_for(1)) == 1


def test_while_a_batch_is_slow_the_listener_takes_its_name_back(
    contact_point, receiver, client, intake_token, running_listener, no_wakes
):
    receiver.answer_with(Answer(status=200, delay_seconds=0.5))
    first = post(client, contact_point, intake_token, alertname="Slow")
    wait_until(lambda: not _listening(running_listener.token))  # withdrawn while the send waits
    second = post(client, contact_point, intake_token, alertname="Meanwhile")
    assert Delivery.objects.get(notification_id=second["id"]).status == DeliveryStatus.PENDING
    wait_until(lambda: _listening(running_listener.token))  # back once the batch is done
    assert Delivery.objects.get(notification_id=first["id"]).status in (
        DeliveryStatus.SENDING,
        DeliveryStatus.DELIVERED,
    )
    third = post(client, contact_point, intake_token, alertname="After")
    assert _handed_to(running_listener.token, third["id"])


def test_a_leaving_listener_serves_what_is_handed_to_it_after_it_took_its_name_back(
    contact_point, receiver, client, intake_token, no_wakes
):
    started = listener.Listener()
    started.start()
    wait_until(lambda: _listening(started.token))
    with mock.patch.object(listener, "LEAVING_GRACE_SECONDS", 2.0):
        started.stop()  # a warm shutdown: the name goes first
        wait_until(lambda: not _listening(started.token))
        # A statement that read the name just before it went commits now.
        seen_before = f"SELECT '{started.token.hex}'::text AS token, NULL::integer AS port"
        with mock.patch.object(handoff, "LISTENERS_SQL", seen_before):
            services._one_statement_sql.cache_clear()
            try:
                answer = post(client, contact_point, intake_token)
            finally:
                services._one_statement_sql.cache_clear()
        assert _handed_to(started.token, answer["id"])
        started.join(timeout=10)
    assert Delivery.objects.get(notification_id=answer["id"]).status == DeliveryStatus.DELIVERED
    assert len(receiver.requests) == 1


def test_a_listener_that_fell_behind_parses_its_hand_offs_a_few_at_a_time(
    make_contact_point, receiver, client, intake_token, running_listener, no_wakes, settings, monkeypatch
):
    """Thousands of hand-offs can wait for a listener after a load (3,239 seen at once): parsed
    all together, the memory they took grew with the backlog. They are parsed a chunk at a time,
    and each is still sent once, in batches of at most DELIVERY_BATCH_SIZE deliveries."""
    settings.DELIVERY_BATCH_SIZE = 2
    monkeypatch.setattr(listener, "HAND_OFFS_PARSED_AT_ONCE", 3)
    monkeypatch.setattr(handoff.Hints, "send", lambda self, port, hint: None)  # only hand-offs are parsed
    parsed, batched, outstanding, sizes = [], [], [], []
    monkeypatch.setattr(listener, "json", mock.Mock(loads=lambda text: parsed.append(text) or json.loads(text)))
    batch_from = listener.Listener.batch_from

    def counted_batch_from(self, payloads):
        outstanding.append(len(parsed) - len(batched))  # parsed and not yet in a batch
        batched.extend(payloads)
        sizes.append(len(payloads))
        return batch_from(self, payloads)

    monkeypatch.setattr(listener.Listener, "batch_from", counted_batch_from)
    first_sent, go_on = threading.Event(), threading.Event()
    watched = listener.Listener._watched

    def first_held(self, *args):
        if not first_sent.is_set():
            first_sent.set()
            go_on.wait(10)  # the listener falls behind while the intake goes on
        return watched(self, *args)

    monkeypatch.setattr(listener.Listener, "_watched", first_held)
    contact_point = make_contact_point("Behind", [("webhook", {"url": f"{receiver.url}/hook"})])
    post(client, contact_point, intake_token, alertname="First")
    assert first_sent.wait(5)
    later = [post(client, contact_point, intake_token, alertname=f"Later{n}")["id"] for n in range(7)]
    assert all(_handed_to(running_listener.token, notification_id) for notification_id in later)
    go_on.set()
    arrived = receiver.wait_for(8)
    assert sorted(r.json()["commonLabels"]["alertname"] for r in arrived) == sorted(
        ["First", *(f"Later{n}" for n in range(7))]
    )
    assert len(parsed) == len(batched) == 8
    assert max(outstanding) <= 3  # never more parsed ahead than a chunk
    assert max(sizes) == 2  # one delivery each: two hand-offs a batch
    assert wait_until(lambda: set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED})
    assert Attempt.objects.count() == 8  # one attempt each: none sent twice
