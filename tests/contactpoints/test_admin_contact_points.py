"""The contact point list and page: health, filters, paused state, duplicate and export."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import yaml
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contactpoints.models import ContactPoint, Delivery, DeliveryStatus, Integration, Notification, Provenance

pytestmark = pytest.mark.django_db

SECRET = "xoxb-s3cr3t-token"
WEBHOOK_SECRET = "Bearer-s3cr3t"
LIST = "admin:contactpoints_contactpoint_changelist"


def url(name: str, *args, **query) -> str:
    path = reverse(f"admin:contactpoints_contactpoint_{name}", args=args)
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@pytest.fixture
def ops(make_contact_point):
    """Ops: a Slack with a stored token that last failed, a webhook that last worked."""
    contact_point = make_contact_point(
        "Ops",
        [
            ("slack", {"recipient": "#ops", "token": SECRET}),
            ("webhook", {"url": "https://example.com/hook", "authorization_credentials": WEBHOOK_SECRET}),
        ],
    )
    now = timezone.now()
    contact_point.integrations.filter(type="slack").update(
        last_attempt_at=now - timedelta(minutes=3), last_attempt_duration_ms=1203, last_attempt_error="invalid_auth"
    )
    contact_point.integrations.filter(type="webhook").update(
        last_attempt_at=now - timedelta(hours=2), last_attempt_duration_ms=85
    )
    return contact_point


@pytest.fixture
def quiet(make_contact_point):
    """Quiet: paused, one email integration never tried."""
    contact_point = make_contact_point("Quiet", [("email", {"addresses": "quiet@example.com"})])
    contact_point.paused = True
    contact_point.save()
    return contact_point


def rows(html: str) -> dict[str, str]:
    """The list's rows by contact point name."""
    found = re.findall(r'<tr>\s*<td class="action-checkbox">.*?</tr>', html, re.S)
    return {re.search(r'field-name_display"><a [^>]*>([^<]+)', row).group(1).strip(): row for row in found}


# -- the list -----------------------------------------------------------------------------------


def test_list_shows_each_integrations_health_and_paused_plainly(admin_client, ops, quiet):
    listed = rows(admin_client.get(reverse(LIST)).content.decode())

    assert set(listed) == {"Ops", "Quiet"}
    slack, webhook = listed["Ops"].split("<li>")[1:]
    assert "Slack" in slack and "cp-badge-error" in slack and "failing" in slack
    assert "3\xa0minutes ago" in slack and "1203 ms" in slack and "invalid_auth" in slack
    assert "Webhook" in webhook and "cp-badge-ok" in webhook and "2\xa0hours ago" in webhook and "85 ms" in webhook
    assert "paused" not in listed["Ops"]
    assert re.search(r"Quiet\s*<span class=\"cp-badge cp-badge-paused\">paused</span>", listed["Quiet"])
    assert "no attempts yet" in listed["Quiet"]
    assert "never" in listed["Quiet"]  # no notification yet


def test_list_shows_when_the_last_notification_came(admin_client, ops):
    received = timezone.now() - timedelta(minutes=10)
    Notification.objects.create(
        contact_point=ops, status="firing", receiver="Ops", group_key="{}:{}", received_at=received
    )

    row = rows(admin_client.get(reverse(LIST)).content.decode())["Ops"]
    assert "10\xa0minutes ago" in row
    assert f'datetime="{received.isoformat()}"' in row


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ({}, {"Ops", "Quiet", "Both webhooks"}),
        ({"integration_type": "webhook"}, {"Ops", "Both webhooks"}),  # once each, though two match
        ({"integration_type": "email"}, {"Quiet"}),
        ({"integration_type": "teams"}, set()),
        ({"health": "failing"}, {"Ops"}),
        ({"health": "ok"}, {"Quiet", "Both webhooks"}),
        ({"paused": "yes"}, {"Quiet", "Both webhooks"}),  # a paused integration counts
        ({"paused": "no"}, {"Ops"}),
        ({"q": "both"}, {"Both webhooks"}),
        ({"q": "quiet"}, {"Quiet"}),  # the uid too
    ],
)
def test_list_filters_and_search(admin_client, ops, quiet, make_contact_point, query, shown):
    hook = ("webhook", {"url": "https://example.com/a"})
    both = make_contact_point("Both webhooks", [hook, hook])
    both.integrations.filter(position=1).update(paused=True)

    response = admin_client.get(url("changelist", **query))
    assert set(rows(response.content.decode())) == shown


def test_type_filter_offers_only_the_types_in_use(admin_client, ops):
    html = admin_client.get(reverse(LIST)).content.decode()
    assert "?integration_type=slack" in html and "?integration_type=webhook" in html
    assert "?integration_type=teams" not in html


def test_list_query_count_does_not_grow_with_contact_points(admin_client, make_contact_point):
    def queries(**query) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url("changelist", **query)).status_code == 200
        return len(captured)

    def add(count: int) -> None:
        for _ in range(count):
            name = f"cp {ContactPoint.objects.count()}"
            make_contact_point(name, [("webhook", {"url": "https://example.com/a"}), ("email", {"addresses": "a@b.c"})])

    add(3)
    few = [queries(), queries(health="ok", paused="no", integration_type="webhook", q="cp")]
    add(30)
    assert [queries(), queries(health="ok", paused="no", integration_type="webhook", q="cp")] == few


# -- the page -------------------------------------------------------------------------------------


def test_page_has_the_tools_and_each_integrations_health_and_actions(admin_client, ops):
    html = admin_client.get(url("change", ops.pk)).content.decode()
    slack = ops.integrations.get(type="slack")

    for tool in ("send_test", "pause", "duplicate", "export"):
        assert url(tool, ops.pk) in html, tool
    assert f"{reverse('admin:contactpoints_delivery_changelist')}?contact_point=ops" in html
    assert f"{url('send_test', ops.pk)}?integration={slack.uid}" in html  # the row's own test
    assert reverse("admin:contactpoints_integration_pause", args=[slack.pk]) in html
    assert 'form="cp-row-actions"' in html and '<form id="cp-row-actions" method="post" hidden>' in html
    assert "invalid_auth" in html and "1203 ms" in html
    assert "cp-banner" not in html
    assert SECRET not in html and WEBHOOK_SECRET not in html


def test_a_paused_contact_point_says_so_and_offers_resume(admin_client, quiet):
    html = admin_client.get(url("change", quiet.pk)).content.decode()
    assert "This contact point is paused: alerts are still accepted and recorded, but nothing is sent" in html
    assert url("resume", quiet.pk) in html
    assert "contact point paused" in html  # its integration's state


def test_paused_integrations_are_named_in_the_banner(admin_client, ops):
    ops.integrations.filter(type="webhook").update(paused=True)
    html = admin_client.get(url("change", ops.pk)).content.decode()
    assert re.search(r"1 of 2 integrations paused:</strong>\s*<span>Webhook\.", html)


def test_failed_and_held_deliveries_are_offered_again(admin_client, ops):
    notification = Notification.objects.create(contact_point=ops, status="firing", receiver="Ops", group_key="{}:{}")
    slack = ops.integrations.get(type="slack")
    for status in (DeliveryStatus.FAILED, DeliveryStatus.FAILED, DeliveryStatus.PAUSED, DeliveryStatus.DELIVERED):
        Delivery.objects.create(notification=notification, integration=slack, status=status)

    html = admin_client.get(url("change", ops.pk)).content.decode()
    assert "Retry 2 failed deliveries" in html
    assert "1 delivery was recorded while paused and not sent." in html


# -- pause and resume -----------------------------------------------------------------------------


def test_pause_and_resume_a_contact_point(admin_client, ops):
    response = admin_client.post(url("pause", ops.pk), follow=True)
    ops.refresh_from_db()
    assert ops.paused
    assert "Paused “Ops”: alerts are still accepted and recorded" in response.content.decode()
    assert LogEntry.objects.get(object_id=str(ops.pk)).get_change_message() == "Paused."

    admin_client.post(url("resume", ops.pk))
    ops.refresh_from_db()
    assert not ops.paused
    assert admin_client.get(url("pause", ops.pk)).status_code == 405


@pytest.mark.parametrize(
    ("next_url", "lands_on"),
    [
        ("/admin/contactpoints/contactpoint/", "/admin/contactpoints/contactpoint/"),
        ("https://evil.example/", None),  # not ours: the integration's own page
    ],
)
def test_pause_an_integration_and_go_back(admin_client, ops, next_url, lands_on):
    webhook = ops.integrations.get(type="webhook")
    pause = reverse("admin:contactpoints_integration_pause", args=[webhook.pk])

    response = admin_client.post(pause, {"next": next_url})
    webhook.refresh_from_db()
    assert webhook.paused and webhook.is_paused
    assert response.url == (lands_on or reverse("admin:contactpoints_integration_change", args=[webhook.pk]))


def test_an_integration_managed_as_code_can_still_be_paused(admin_client, ops):
    webhook = ops.integrations.get(type="webhook")
    webhook.provenance = Provenance.FILE
    webhook.save()

    html = admin_client.get(reverse("admin:contactpoints_integration_change", args=[webhook.pk])).content.decode()
    assert "Managed as code" in html and ">Pause</button>" in html
    admin_client.post(reverse("admin:contactpoints_integration_pause", args=[webhook.pk]))
    webhook.refresh_from_db()
    assert webhook.paused


@pytest.mark.parametrize("model", ["contactpoint", "integration"])
def test_pause_and_resume_actions(admin_client, ops, quiet, model):
    changelist = reverse(f"admin:contactpoints_{model}_changelist")
    objects = ContactPoint.objects if model == "contactpoint" else Integration.objects
    every = list(objects.values_list("pk", flat=True))

    admin_client.post(changelist, {"action": "pause_selected", "_selected_action": every})
    assert set(objects.values_list("paused", flat=True)) == {True}
    admin_client.post(changelist, {"action": "resume_selected", "_selected_action": every})
    assert set(objects.values_list("paused", flat=True)) == {False}


# -- duplicate and export ---------------------------------------------------------------------------


def test_duplicate_copies_integrations_with_their_secrets_under_new_uids(admin_client, ops):
    response = admin_client.post(url("duplicate", ops.pk))

    copy = ContactPoint.objects.get(name="Ops (copy)")
    assert response.url == url("change", copy.pk)
    assert copy.uid == "ops-copy"
    originals = {i.type: i for i in ops.integrations.all()}
    for integration in copy.integrations.all():
        original = originals[integration.type]
        assert integration.uid != original.uid
        assert (integration.settings, integration.secure_settings) == (original.settings, original.secure_settings)
        assert integration.last_attempt_at is None
    assert copy.integrations.count() == 2

    admin_client.post(url("duplicate", ops.pk))
    assert ContactPoint.objects.filter(name="Ops (copy 2)", uid="ops-copy-2").exists()


def test_export_one_as_grafana_provisioning_yaml_with_secrets_redacted(admin_client, ops):
    response = admin_client.get(url("export", ops.pk, format="yaml"))

    assert response["Content-Disposition"] == 'attachment; filename="contact-point-ops.yaml"'
    body = response.content.decode()
    assert SECRET not in body and WEBHOOK_SECRET not in body
    document = yaml.safe_load(body)
    assert document["apiVersion"] == 1
    (contact_point,) = document["contactPoints"]
    assert contact_point["name"] == "Ops"
    receivers = {r["type"]: r for r in contact_point["receivers"]}
    assert receivers["slack"]["settings"]["token"] == "[REDACTED]"
    assert receivers["webhook"]["settings"]["authorization_credentials"] == "[REDACTED]"


@pytest.mark.parametrize("how", ["link", "action"])
def test_export_all_as_json(admin_client, ops, quiet, how):
    if how == "link":
        response = admin_client.get(url("export_all", format="json"))
    else:
        every = list(ContactPoint.objects.values_list("pk", flat=True))
        response = admin_client.post(reverse(LIST), {"action": "export_json", "_selected_action": every})

    assert response["Content-Disposition"] == 'attachment; filename="contact-points.json"'
    names = [c["name"] for c in json.loads(response.content)["contactPoints"]]
    assert names == ["Ops", "Quiet"]


# -- the way through: a new contact point, then its integrations ----------------------------------------


def test_a_new_contact_point_leads_to_its_page_and_a_saved_integration_back_to_it(admin_client):
    response = admin_client.post(
        reverse("admin:contactpoints_contactpoint_add"), {"name": "New", "uid": "", **EMPTY_INLINE}
    )
    new = ContactPoint.objects.get(name="New")
    assert response.url == url("change", new.pk)

    add = reverse("admin:contactpoints_integration_add") + f"?type=webhook&contact_point={new.pk}"
    data = {"contact_point": new.pk, "enabled": "on", "position": 0, "url": "https://example.com/x", "_save": "Save"}
    assert admin_client.post(add, data).url == url("change", new.pk)


EMPTY_INLINE = {
    "integrations-TOTAL_FORMS": "0",
    "integrations-INITIAL_FORMS": "0",
    "integrations-MIN_NUM_FORMS": "0",
    "integrations-MAX_NUM_FORMS": "1000",
}
