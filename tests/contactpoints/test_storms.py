"""A claimed batch meets its destinations' pace in-process: digests, slots, pauses, overrides.

The end-to-end storm (500 alerts, a receiver that allows one message a second) is in
tests/e2e/test_alert_storm.py; these pin each rule of contactpoints.storms on its own.
"""

from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from contactpoints import pacing, sending
from contactpoints import queue as engine
from contactpoints.intake import parse_intake
from contactpoints.models import Attempt, Delivery, DeliveryStatus
from contactpoints.redis_client import get_redis
from contactpoints.services import accept_notification
from contactpoints.storms import merged_notification
from tests.receivers import Answer

pytestmark = pytest.mark.django_db

SLACK_PATH = "/services/T000/B000/XXXX"
DIGEST_LINE = "notifications merged into this digest"


@pytest.fixture(autouse=True)
def fresh_pacing():
    """Receivers reuse ports across tests: no slot or pause of an earlier test may carry over."""
    client = get_redis()
    for name in client.scan_iter("contactpoints:pacing:*"):
        client.delete(name)


@pytest.fixture(autouse=True)
def published():
    """Wakes are captured, not published: these tests drive the queue themselves."""
    with mock.patch("contactpoints.broker.publish") as publish, mock.patch("contactpoints.broker.wake"):
        yield publish


def notify(contact_point, count: int, status: str = "firing", start: int = 0) -> list[str]:
    ids = []
    for number in range(start, start + count):
        alert = {"status": status, "labels": {"alertname": "Storm", "instance": f"host-{number}"}}
        ids.append(accept_notification(contact_point, parse_intake({"alerts": [alert]}, max_alerts=10))["id"])
    return ids


def instances_in(text: str) -> set[str]:
    return {word for word in text.replace("\n", " ").split() if word.startswith("host-")}


def test_a_backlog_to_a_paced_destination_goes_out_as_one_digest(make_contact_point, receiver):
    contact_point = make_contact_point("Ops", [("slack", {"url": f"{receiver.url}{SLACK_PATH}"})])
    notify(contact_point, 12)
    engine.deliver_due()
    (posted,) = receiver.requests
    attachment = posted.json()["attachments"][0]
    assert attachment["title"].startswith("[FIRING:12] Storm")
    assert attachment["text"].startswith(f"12 {DIGEST_LINE}\n\n**Firing**")
    assert instances_in(attachment["text"]) == {f"host-{n}" for n in range(12)}
    deliveries = list(Delivery.objects.all())
    assert {d.status for d in deliveries} == {DeliveryStatus.DELIVERED}
    (carrier,) = [d for d in deliveries if d.coalesced_into_id is None]
    assert {d.coalesced_into_id for d in deliveries if d != carrier} == {carrier.pk}
    assert Attempt.objects.filter(outcome="success").count() == 12  # every merged delivery has its attempt


def test_a_few_waiting_go_one_by_one_at_the_pace(make_contact_point, receiver, published):
    contact_point = make_contact_point("Ops", [("slack", {"url": f"{receiver.url}{SLACK_PATH}"})])
    notify(contact_point, 3)  # not more than COALESCE_THRESHOLD (5): no digest
    engine.deliver_due()
    first, second = receiver.requests
    assert 0.9 <= second.received_at - first.received_at <= 1.5  # Slack's 1/s, the second slot held
    (third,) = Delivery.objects.filter(status=DeliveryStatus.PENDING)
    assert third.attempts == 0  # put back for its slot, no attempt counted
    due_in = (third.next_attempt_at - timezone.now()).total_seconds()
    assert 0 < due_in <= 1.5
    assert any(call.kwargs.get("countdown_seconds") for call in published.call_args_list)  # a wake at its slot
    time.sleep(due_in + 0.05)
    engine.deliver_due()
    assert len(receiver.requests) == 3
    assert DIGEST_LINE not in receiver.requests[2].json()["attachments"][0]["text"]


def test_an_unlimited_destination_is_neither_paced_nor_coalesced(make_contact_point, receiver):
    contact_point = make_contact_point("Ops", [("webhook", {"url": f"{receiver.url}/hook"})])
    notify(contact_point, 10)
    engine.deliver_due()
    assert len(receiver.requests) == 10
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED, coalesced_into=None).count() == 10


def test_a_429_pauses_its_destination_for_every_delivery_to_it(make_contact_point, receiver):
    receiver.answer_with(Answer(429, b"slow down", {"Retry-After": "3"}))
    first = make_contact_point("Ops", [("webhook", {"url": f"{receiver.url}/a"})])
    second = make_contact_point("Dev", [("webhook", {"url": f"{receiver.url}/b"})])  # same origin
    notify(first, 1)
    engine.deliver_due()
    assert [r.path for r in receiver.requests] == ["/a"]
    notify(second, 1)
    engine.deliver_due()
    assert len(receiver.requests) == 1  # held by the other integration's 429
    (held,) = Delivery.objects.filter(notification__contact_point=second)
    assert held.status == DeliveryStatus.PENDING and held.attempts == 0
    assert 2 < (held.next_attempt_at - timezone.now()).total_seconds() <= 3.1


def reservations_when_sent_after_a_ring() -> int:
    """Claim, send and record as a lingering wake does after a ring (with the paused destinations read
    at the ring); how many slots it reserved."""
    pipe = get_redis().pipeline(transaction=False)
    pacing.read_pauses(pipe)
    pauses = pacing.pauses_from(pipe.execute()[0])
    batch = engine.claim(10)
    batch.pauses = pauses
    with mock.patch.object(pacing, "reserve", wraps=pacing.reserve) as reserve:
        engine.send(batch).record()
    return reserve.call_count


def test_a_ring_that_shows_an_unlimited_destination_unpaused_spares_its_reservation(make_contact_point, receiver):
    contact_point = make_contact_point("Ops", [("webhook", {"url": f"{receiver.url}/hook"})])
    notify(contact_point, 2)
    assert reservations_when_sent_after_a_ring() == 0
    assert len(receiver.requests) == 2


def test_a_ring_that_shows_the_destination_paused_holds_it_as_a_reservation_would(make_contact_point, receiver):
    contact_point = make_contact_point("Ops", [("webhook", {"url": f"{receiver.url}/hook"})])
    pacing.pause(sending.destination(contact_point.integrations.get()).key, 3)  # another worker's 429
    notify(contact_point, 1)
    assert reservations_when_sent_after_a_ring() == 1
    assert receiver.requests == []
    (held,) = Delivery.objects.all()
    assert held.status == DeliveryStatus.PENDING and held.attempts == 0
    assert 2 < (held.next_attempt_at - timezone.now()).total_seconds() <= 3.1


def test_a_paced_destination_reserves_its_slot_whatever_the_ring_showed(make_contact_point, receiver):
    contact_point = make_contact_point("Ops", [("slack", {"url": f"{receiver.url}{SLACK_PATH}"})])
    notify(contact_point, 1)
    assert reservations_when_sent_after_a_ring() == 1
    assert len(receiver.requests) == 1


def test_a_pause_that_comes_while_a_send_waits_for_its_slot_holds_it(make_contact_point, receiver):
    contact_point = make_contact_point("Ops", [("slack", {"url": f"{receiver.url}{SLACK_PATH}"})])
    notify(contact_point, 2)
    integration = contact_point.integrations.get()
    key = sending.destination(integration).key
    real_sleep = time.sleep

    def sleep_then_pause(seconds):
        real_sleep(seconds)
        pacing.pause(key, 5)  # another worker's 429 while this send waited

    with mock.patch("contactpoints.sending.time.sleep", side_effect=sleep_then_pause):
        engine.deliver_due()
    assert len(receiver.requests) == 1
    (held,) = Delivery.objects.filter(status=DeliveryStatus.PENDING)
    assert held.attempts == 0


@pytest.mark.parametrize(("rate", "requests"), [(0.0, 8), (None, 1)])
def test_an_integrations_own_rate_overrides_the_providers(make_contact_point, receiver, rate, requests):
    contact_point = make_contact_point("Ops", [("slack", {"url": f"{receiver.url}{SLACK_PATH}"})])
    contact_point.integrations.update(rate_per_second=rate)
    notify(contact_point, 8)
    engine.deliver_due()
    assert len(receiver.requests) == requests  # 0: not paced, each alone; default: one digest


def test_a_webhook_with_a_rate_of_its_own_is_paced_and_coalesced(make_contact_point, receiver):
    contact_point = make_contact_point("Ops", [("webhook", {"url": f"{receiver.url}/hook"})])
    contact_point.integrations.update(rate_per_second=0.5)
    notify(contact_point, 7)
    engine.deliver_due()
    (posted,) = receiver.requests
    body = posted.json()
    assert len(body["alerts"]) == 7 and body["title"].startswith("[FIRING:7]")
    assert body["message"].startswith(f"7 {DIGEST_LINE}")


def test_resolved_alerts_coalesce_and_disable_resolve_message_is_kept(make_contact_point, receiver):
    contact_point = make_contact_point("Ops", [("slack", {"url": f"{receiver.url}{SLACK_PATH}"})])
    notify(contact_point, 4)
    notify(contact_point, 4, status="resolved", start=4)
    Delivery.objects.filter(notification__status="resolved").update(firing_only=True)
    notify(contact_point, 2, status="resolved", start=8)
    engine.deliver_due()
    (posted,) = receiver.requests
    text = posted.json()["attachments"][0]["text"]
    assert text.startswith(f"10 {DIGEST_LINE}")
    assert instances_in(text) == {f"host-{n}" for n in (0, 1, 2, 3, 8, 9)}  # 4-7 were firing-only
    assert "**Resolved**" in text


def test_a_merged_notification_lists_each_alert_once_with_shared_group_labels(make_contact_point):
    contact_point = make_contact_point("Ops", [("webhook", {"url": "http://127.0.0.1:9/hook"})])
    notify(contact_point, 2)
    notify(contact_point, 1, status="resolved", start=1)  # host-1 again, now resolved
    deliveries = sorted(Delivery.objects.select_related("notification"), key=lambda d: d.notification.received_at)
    merged = merged_notification(deliveries)
    assert [(a["labels"]["instance"], a["status"]) for a in merged.alerts] == [
        ("host-0", "firing"),
        ("host-1", "resolved"),
    ]
    assert merged.status == "firing"
    assert merged.group_labels == {"alertname": "Storm"}
    assert merged.group_key == deliveries[0].notification.group_key


def test_digests_are_cut_at_the_largest_size(make_contact_point, receiver, settings):
    settings.DIGEST_MAX_NOTIFICATIONS = 4
    settings.PACING_HOLD_SECONDS = 3.0  # hold every slot: the digests go out in this one wake
    contact_point = make_contact_point("Ops", [("slack", {"url": f"{receiver.url}{SLACK_PATH}"})])
    notify(contact_point, 10)
    engine.deliver_due()
    titles = [r.json()["attachments"][0]["title"] for r in receiver.requests]
    assert sorted(title.split("]")[0] for title in titles) == ["[FIRING:2", "[FIRING:4", "[FIRING:4"]
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 10


def test_waiting_deliveries_are_claimed_when_their_slot_comes(make_contact_point, receiver):
    contact_point = make_contact_point("Ops", [("slack", {"url": f"{receiver.url}{SLACK_PATH}"})])
    notify(contact_point, 1)
    engine.deliver_due()
    notify(contact_point, 9, start=1)  # arrive while the next slot is a second away
    Delivery.objects.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=timezone.now() + timedelta(seconds=1))
    time.sleep(1.05)
    engine.deliver_due()
    first, digest = receiver.requests
    assert instances_in(first.json()["attachments"][0]["text"]) == {"host-0"}
    assert digest.json()["attachments"][0]["text"].startswith(f"9 {DIGEST_LINE}")


def test_the_history_shows_which_digest_carried_a_delivery(
    make_contact_point, receiver, api, admin_token, admin_client
):
    contact_point = make_contact_point("Ops", [("slack", {"url": f"{receiver.url}{SLACK_PATH}"})])
    notify(contact_point, 7)
    engine.deliver_due()
    listed = api.get("/api/v1/deliveries", token=admin_token).json()["results"]
    carriers = [d for d in listed if d["coalesced_into"] is None]
    assert len(carriers) == 1 and len(listed) == 7
    assert {d["coalesced_into"] for d in listed if d is not carriers[0]} == {carriers[0]["id"]}
    merged = next(d for d in listed if d["coalesced_into"])
    page = admin_client.get(f"/admin/contactpoints/delivery/{merged['id']}/change/").content.decode()
    assert f'sent in the digest of <a href="/admin/contactpoints/delivery/{carriers[0]["id"]}/change/">' in page
    page = admin_client.get(f"/admin/contactpoints/delivery/{carriers[0]['id']}/change/").content.decode()
    assert "carried a digest of its own and 6 other notifications" in page
    assert "in a digest" in admin_client.get("/admin/contactpoints/delivery/").content.decode()


def test_a_teams_digest_says_how_many_it_merged(make_contact_point, receiver):
    contact_point = make_contact_point("Ops", [("teams", {"url": f"{receiver.url}/webhookb2/x"})])
    notify(contact_point, 7)
    engine.deliver_due()
    (posted,) = receiver.requests
    assert f"7 {DIGEST_LINE}" in posted.body.decode()


def test_an_email_digest_says_how_many_it_merged(make_contact_point, smtp_server):
    contact_point = make_contact_point("Ops", [("email", {"addresses": "oncall@example.com"})])
    contact_point.integrations.update(rate_per_second=1.0)  # email relays publish no limit: paced by choice
    notify(contact_point, 7)
    engine.deliver_due()
    ((_, message),) = smtp_server.messages
    parts = [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
    assert len(parts) == 2 and all(f"7 {DIGEST_LINE}" in part for part in parts)  # text and HTML


def test_a_bug_in_a_destination_rule_sends_unpaced_rather_than_holding_the_batch(make_contact_point, receiver, caplog):
    contact_point = make_contact_point("Ops", [("slack", {"url": f"{receiver.url}{SLACK_PATH}"})])
    notify(contact_point, 3)
    with mock.patch("contactpoints.storms.sending.destination", side_effect=KeyError("url")):
        engine.deliver_due()
    assert len(receiver.requests) == 3
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 3
    assert "its deliveries go unpaced" in caplog.text
