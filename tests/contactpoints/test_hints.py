"""Hints (contactpoints.handoff.Hints, contactpoints.listener): before its statement runs, the intake
sends the notification to the listener it asks the statement to prefer; that listener builds the
requests ahead, and the hand-off sends them only if they were built from the same inputs."""

from __future__ import annotations

import json
import socket
import time
import uuid
from unittest import mock

import pytest
from django.test import override_settings
from django.utils import timezone

from contactpoints import handoff, listener, pacing, queue, sending, services, storms
from contactpoints.models import Delivery, DeliveryStatus, Notification
from integrations.webhook import Webhook
from tests.contactpoints.test_handoff import (
    Session,
    _handed_to,
    _listening,
    contact_point,
    no_wakes,
    on_postgresql,
    post,
    wait_until,
)

__all__ = ["contact_point", "no_wakes", "on_postgresql"]  # fixtures shared with the hand-off tests

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_hints(monkeypatch):
    """This process's web end starts knowing no listener, as a new web process does."""
    monkeypatch.setattr(handoff, "hints", handoff.Hints())


class HintedSession(Session):
    """A listening session that announces a loopback port, and the socket behind it."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(2.0)
        token = uuid.uuid4()
        super().__init__(token, name=handoff.application_name(token.hex, self.socket.getsockname()[1]))

    def close(self) -> None:
        self.socket.close()
        super().close()


@pytest.fixture
def hinted():
    sessions: list[HintedSession] = []

    def start() -> HintedSession:
        sessions.append(HintedSession())
        return sessions[-1]

    yield start
    for session in sessions:
        session.close()


def test_a_delivery_id_is_derived_from_its_notification_and_integration(client, contact_point, intake_token):
    answer = post(client, contact_point, intake_token)  # no listener: stored pending, the same ids
    (delivery,) = Delivery.objects.filter(notification_id=answer["id"])
    assert delivery.pk == handoff.delivery_id(answer["id"], contact_point.integrations.get().pk)
    assert handoff.delivery_id(answer["id"], delivery.integration_id + 1) != delivery.pk


def test_the_intake_hints_the_listener_it_prefers_before_its_statement(
    client, contact_point, intake_token, hinted, no_wakes
):
    first = hinted()
    post(client, contact_point, intake_token, alertname="Teaches")  # the answer names the listeners
    first.payloads()
    answer = post(client, contact_point, intake_token, alertname="Hinted")
    hint = json.loads(handoff.verified(first.socket.recv(65_536)))
    assert hint["notification"]["id"] == answer["id"]
    assert hint["notification"]["alerts"][0]["labels"]["alertname"] == "Hinted"
    assert hint["contact_point_uid"] == contact_point.uid
    assert intake_token not in json.dumps(hint)  # the token, or its hash, never leaves the statement
    assert set(hint) == {"notification", "contact_point_uid"}
    assert _handed_to(first.token, answer["id"])  # and the statement handed it to that listener


def test_a_request_stored_with_others_sends_no_hint(client, contact_point, intake_token, hinted, no_wakes):
    session = hinted()
    post(client, contact_point, intake_token)
    session.payloads()
    session.socket.settimeout(0.2)
    busy = mock.PropertyMock(
        return_value=False
    )  # another thread's statement is running: it waits, then goes in a batch
    with mock.patch.object(type(services._hot_path_stores), "idle", busy):
        answer = post(client, contact_point, intake_token)
    with pytest.raises(TimeoutError):
        session.socket.recv(65_536)
    assert _handed_to(session.token, answer["id"])  # handed off all the same


def test_the_statement_hands_off_to_the_hinted_listener_while_it_is_live(
    client, contact_point, intake_token, hinted, no_wakes
):
    one, other = hinted(), hinted()
    post(client, contact_point, intake_token)
    for preferred in (one, other, one):
        with mock.patch.object(handoff.hints, "preferred", return_value=(preferred.token.hex, 9)):
            answer = post(client, contact_point, intake_token)
        assert _handed_to(preferred.token, answer["id"])
    gone = uuid.uuid4().hex  # preferred but not listening: another listener takes it
    with mock.patch.object(handoff.hints, "preferred", return_value=(gone, 9)):
        answer = post(client, contact_point, intake_token)
    assert _handed_to(one.token, answer["id"]) or _handed_to(other.token, answer["id"])


def test_the_web_learns_the_listeners_and_forgets_one_that_left(client, contact_point, intake_token, hinted):
    assert handoff.hints.preferred() is None
    one = hinted()
    post(client, contact_point, intake_token)
    assert handoff.hints.preferred() == (one.token.hex, one.socket.getsockname()[1])
    one.close()
    other = hinted()
    post(client, contact_point, intake_token)
    assert handoff.hints.preferred() == (other.token.hex, other.socket.getsockname()[1])


def _worker_for(session: HintedSession) -> listener.Listener:
    """A listener, not running, that reads the session's hints itself (as its thread would)."""
    worker = listener.Listener()
    worker.token = session.token
    session.socket.setblocking(False)
    worker._hints = session.socket
    return worker


def _taught(worker, session, client, contact_point, intake_token) -> None:
    """A first hand-off sent: the worker knows the contact point's integrations, the web the listener."""
    post(client, contact_point, intake_token, alertname="Teaches")
    queue.send(worker.batch_from(session.payloads())).record()
    worker._read_hints()  # a hint the first post may have sent (none: the web knew no listener yet)


def test_a_hinted_listener_builds_ahead_and_the_hand_off_sends_what_it_built(
    client, contact_point, intake_token, hinted, receiver, no_wakes
):
    session = hinted()
    worker = _worker_for(session)
    _taught(worker, session, client, contact_point, intake_token)
    with (
        mock.patch.object(listener, "HINT_FRESH_SECONDS", 60.0),  # the test reads the hint after the post
        mock.patch.object(Webhook, "build", autospec=True, side_effect=Webhook.build) as build,
        mock.patch.object(Webhook, "deliver", autospec=True, side_effect=Webhook.deliver) as deliver,
    ):
        answer = post(client, contact_point, intake_token, alertname="Built ahead", summary="disk full")
        (hint,) = worker._read_hints()
        worker._prepare(hint)
        assert build.call_count == 1
        batch = worker.batch_from(session.payloads())
        (delivery,) = batch.deliveries
        assert list(batch.prepared) == [str(delivery.pk)]
        statuses = queue.send(batch).record()
    assert build.call_count == 1  # not built again
    assert deliver.call_args.args[1] is batch.prepared[str(delivery.pk)].request
    assert statuses == {str(delivery.pk): DeliveryStatus.DELIVERED}
    request = receiver.wait_for(2)[-1]
    assert request.json()["alerts"][0]["labels"]["alertname"] == "Built ahead"
    assert request.json()["alerts"][0]["annotations"]["summary"] == "disk full"
    assert Delivery.objects.get(notification_id=answer["id"]).status == DeliveryStatus.DELIVERED
    assert worker._prepared == {}


def test_a_request_built_from_other_inputs_is_not_sent(client, contact_point, intake_token, hinted, receiver, no_wakes):
    session = hinted()
    worker = _worker_for(session)
    _taught(worker, session, client, contact_point, intake_token)
    integration = contact_point.integrations.get()
    integration.assign_settings({"url": f"{receiver.url}/changed"})
    integration.save()  # the worker builds the hint with the settings it last saw
    with mock.patch.object(listener, "HINT_FRESH_SECONDS", 60.0):
        post(client, contact_point, intake_token, alertname="After the edit")
        worker._prepare(worker._read_hints()[0])
    assert len(worker._prepared) == 1
    statuses = queue.send(worker.batch_from(session.payloads())).record()
    assert list(statuses.values()) == [DeliveryStatus.DELIVERED]
    first, second = receiver.wait_for(2)
    assert (first.path, second.path) == ("/hook", "/changed")  # the hand-off's version, built again


def test_prepared_fits_only_the_same_inputs(contact_point):
    integration = contact_point.integrations.select_related("contact_point").get()

    def notification(alertname: str) -> Notification:
        alert = {
            "status": "firing",
            "labels": {"alertname": alertname},
            "annotations": {},
            "startsAt": "",
            "endsAt": "",
        }
        return Notification(id=uuid.UUID(int=1), receiver="Handed", alerts=[alert], group_key="k", status="firing")

    templates = sending.user_templates()
    send = sending.Send(integration, notification("A"), False, "key")
    prepared = sending.prepare(send, templates)
    assert prepared is not None
    assert prepared.fits(sending.Send(integration, notification("A"), False, "key"), templates)
    assert not prepared.fits(sending.Send(integration, notification("B"), False, "key"), templates)
    assert not prepared.fits(sending.Send(integration, notification("A"), False, "another key"), templates)
    assert not prepared.fits(sending.Send(integration, notification("A"), True, "key"), templates)
    assert not prepared.fits(send, sending.UserTemplates(jinja={"x": "y"}))


@pytest.mark.parametrize(
    "hint",
    [
        lambda now, uid: "not json",
        lambda now, uid: "[]",
        lambda now, uid: {"notification": 1, "contact_point_uid": uid},
        lambda now, uid: {"notification": {"received_at": "not a time"}, "contact_point_uid": uid},
        lambda now, uid: {"notification": {"id": "not a uuid", "received_at": now}, "contact_point_uid": uid},
        lambda now, uid: {"notification": {"received_at": now}, "contact_point_uid": uid},  # fields missing
        lambda now, uid: {"notification": {"received_at": now}, "contact_point_uid": "unknown"},
    ],
)
def test_a_hint_that_does_not_fit_builds_nothing(client, contact_point, intake_token, hinted, no_wakes, hint):
    session = hinted()
    worker = _worker_for(session)
    _taught(worker, session, client, contact_point, intake_token)
    written = hint(timezone.now().isoformat(), contact_point.uid)
    worker._prepare(handoff.signed((written if isinstance(written, str) else json.dumps(written)).encode()))
    assert worker._prepared == {}


def test_a_hint_not_signed_with_this_secret_key_builds_nothing(client, contact_point, intake_token, hinted, no_wakes):
    session = hinted()
    worker = _worker_for(session)
    _taught(worker, session, client, contact_point, intake_token)
    with mock.patch.object(listener, "HINT_FRESH_SECONDS", 60.0):
        post(client, contact_point, intake_token)
        (datagram,) = worker._read_hints()
        hint = handoff.verified(datagram)
        assert hint is not None
        worker._prepare(hint)  # without its tag
        worker._prepare(bytes([datagram[0] ^ 1]) + datagram[1:])  # a tag that does not match
        with override_settings(SECRET_KEY="another key"):
            forged = handoff.signed(hint)
        worker._prepare(forged)  # signed by someone who does not share the key
        assert worker._prepared == {}
        worker._prepare(datagram)  # as the web sent it
    assert len(worker._prepared) == 1


def test_a_hint_read_after_its_hand_off_builds_nothing(client, contact_point, intake_token, hinted, no_wakes):
    """Under load the listener reads hints only between batches: one whose notification it has
    already been handed would be built for nothing."""
    session = hinted()
    worker = _worker_for(session)
    _taught(worker, session, client, contact_point, intake_token)
    with mock.patch.object(listener, "HINT_FRESH_SECONDS", 60.0):
        answer = post(client, contact_point, intake_token)
        (hint,) = worker._read_hints()
        (payload,) = session.payloads()
        worker._note_handed([payload["notification"]["id"]])  # as serving its hand-off does
        worker._prepare(hint)
    assert payload["notification"]["id"] == answer["id"]
    assert worker._prepared == {}


def test_a_stale_hint_builds_nothing(client, contact_point, intake_token, hinted, no_wakes):
    session = hinted()
    worker = _worker_for(session)
    _taught(worker, session, client, contact_point, intake_token)
    post(client, contact_point, intake_token)
    (hint,) = worker._read_hints()
    with mock.patch.object(listener, "HINT_FRESH_SECONDS", 0.0):
        worker._prepare(hint)
    assert worker._prepared == {}


def test_the_listener_thread_builds_from_hints_and_sends_each_alert_once(
    make_contact_point, receiver, client, intake_token, no_wakes, settings
):
    settings.DELIVERY_WAKE_LINGER_SECONDS = 0
    contact_point = make_contact_point("Hinted", [("webhook", {"url": f"{receiver.url}/hook"})])
    built = []
    real_prepare = sending.prepare

    def counted_prepare(send, templates):
        built.append(real_prepare(send, templates))
        return built[-1]

    running = listener.Listener()
    with mock.patch.object(sending, "prepare", counted_prepare):
        running.start()
        try:
            wait_until(lambda: _listening(running.token))
            post(client, contact_point, intake_token, alertname="Teaches")  # the listener, the web
            wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 1)
            for number in range(10):
                post(client, contact_point, intake_token, alertname=f"Alert {number}")
                time.sleep(0.02)
            sent = wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 11)
        finally:
            running.stop()
            running.join(timeout=10)
    assert sent
    names = sorted(request.json()["alerts"][0]["labels"]["alertname"] for request in receiver.wait_for(11))
    assert names == sorted(["Teaches"] + [f"Alert {number}" for number in range(10)])  # each once
    assert Delivery.objects.count() == 11
    assert any(prepared is not None for prepared in built)  # hints reached the thread and were built


def _built_ahead(worker, session, client, contact_point, intake_token, **annotations):
    """A post whose hint the worker built, and its hand-off's payload."""
    with mock.patch.object(listener, "HINT_FRESH_SECONDS", 60.0):
        answer = post(client, contact_point, intake_token, alertname="Built ahead", **annotations)
        worker._prepare(worker._read_hints()[0])
    (payload,) = session.payloads()
    worker._pauses = pacing.current_pauses()
    return answer, payload


def test_a_hand_off_built_ahead_is_sent_as_its_payload_would_have_been(
    client, contact_point, intake_token, hinted, receiver, no_wakes
):
    session = hinted()
    worker = _worker_for(session)
    _taught(worker, session, client, contact_point, intake_token)
    answer, payload = _built_ahead(worker, session, client, contact_point, intake_token, summary="disk full")
    built = worker._built_ahead_for(payload)
    assert built is not None
    from_payload = listener.Listener()  # the common way, for comparison
    from_payload.token, from_payload._integrations = worker.token, dict(worker._integrations)
    expected = from_payload.batch_from([payload])
    batch = worker._batch_built_ahead(payload, built)
    fields = [field.attname for field in Delivery._meta.concrete_fields]
    assert [[getattr(d, name) for name in fields] for d in batch.deliveries] == [
        [getattr(d, name) for name in fields] for d in expected.deliveries
    ]
    (delivery,) = batch.deliveries
    assert (delivery.integration.unhealthy_since, delivery.notification.receiver) == (None, contact_point.name)
    assert (batch.claim, batch.templates_version) == (expected.claim, expected.templates_version)
    assert worker._prepared == {}  # taken
    plan = storms.Plan(messages=[kept.message for kept in built])
    statuses = queue.send_planned(queue.SentBatch(batch), plan).record()
    assert statuses == {str(delivery.pk): DeliveryStatus.DELIVERED}
    request = receiver.wait_for(2)[-1]
    assert request.json()["alerts"][0]["annotations"]["summary"] == "disk full"
    assert Delivery.objects.get(notification_id=answer["id"]).status == DeliveryStatus.DELIVERED


@pytest.mark.parametrize(
    "change",
    [
        lambda payload: payload["notification"]["alerts"][0]["labels"].update(alertname="Other"),
        lambda payload: payload["notification"].update(receiver="Renamed"),
        lambda payload: payload.update(contact_point_updated_at="2000-01-01T00:00:00+00:00"),
        lambda payload: payload["deliveries"][0].__setitem__(3, "2000-01-01T00:00:00+00:00"),
        lambda payload: payload["deliveries"][0].__setitem__(2, True),
        lambda payload: payload["templates"].__setitem__(0, 7),
        lambda payload: payload["deliveries"].append([str(uuid.uuid4()), 1, False, None, None]),
    ],
)
def test_a_hand_off_that_differs_from_what_was_built_goes_the_common_way(
    client, contact_point, intake_token, hinted, no_wakes, change
):
    session = hinted()
    worker = _worker_for(session)
    _taught(worker, session, client, contact_point, intake_token)
    _, payload = _built_ahead(worker, session, client, contact_point, intake_token)
    assert worker._built_ahead_for(payload) is not None
    change(payload)
    assert worker._built_ahead_for(payload) is None


def test_a_paused_destination_is_not_sent_what_was_built_for_it(client, contact_point, intake_token, hinted, no_wakes):
    session = hinted()
    worker = _worker_for(session)
    _taught(worker, session, client, contact_point, intake_token)
    _, payload = _built_ahead(worker, session, client, contact_point, intake_token)
    key = sending.destination(contact_point.integrations.get()).key
    pacing.pause(key, 2)  # a 429 from another worker
    worker._pauses = pacing.current_pauses()
    assert worker._built_ahead_for(payload) is None
    worker._pauses = None  # no snapshot: only planning, which asks Redis, may send it
    assert worker._built_ahead_for(payload) is None
