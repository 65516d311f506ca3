"""Issue 11: an integration's own rate (the admin, the provisioning API, provisioning files) and
the admin's destinations page (rate, pause, next slot, waiting deliveries)."""

from __future__ import annotations

import json
import re
import textwrap
import uuid
from io import StringIO
from unittest import mock

import pytest
import yaml
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from contactpoints import pacing, sending
from contactpoints.destination_rates import API_RATE_ERROR, FORM_RATE_ERROR, describe_rate
from contactpoints.models import ContactPoint, Delivery, DeliveryStatus, Integration, Notification
from contactpoints.redis_client import get_redis
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.django_db

PROVISIONING = "/api/v1/provisioning/contact-points"
EXPORT = f"{PROVISIONING}/export?format=json"
DESTINATIONS = reverse("admin:contactpoints_integration_destinations")
SLACK_SOURCE = "https://api.slack.com/docs/rate-limits"


def unique_url() -> str:
    """A webhook destination (its origin) of its own: shared with no other test, nor a
    destination an earlier run paused in the shared Redis."""
    return f"http://{uuid.uuid4().hex}.example.test/hook"


def slack_url() -> str:
    return f"https://hooks.slack.com/services/T0/B0/{uuid.uuid4().hex}"


def change_url(integration: Integration) -> str:
    return reverse("admin:contactpoints_integration_change", args=[integration.pk])


def admin_post(integration: Integration, rate: str) -> dict[str, str]:
    """What a browser posts on "Save" for a webhook integration with this rate typed."""
    return {
        "contact_point": str(integration.contact_point_id),
        "enabled": "on",
        "position": "0",
        "rate_per_second": rate,
        "url": integration.settings["url"],
        "httpMethod": "POST",
        "_continue": "Save and continue editing",
    }


@pytest.fixture
def webhook(make_contact_point) -> Integration:
    return make_contact_point("Ops", [("webhook", {"url": unique_url()})]).integrations.get()


def test_a_destination_is_worked_out_once_per_saved_version(webhook, settings, monkeypatch):
    """Every delivery asks for its destination; the URL is parsed and the key hashed once per saved
    version of the integration (and of the SMTP relay an email destination names)."""
    worked_out = []
    real = sending.destination_of
    monkeypatch.setattr(
        sending, "destination_of", lambda *args, **kwargs: worked_out.append(1) or real(*args, **kwargs)
    )
    first = sending.destination(webhook)
    assert sending.destination(Integration.objects.get(pk=webhook.pk)) == first
    assert len(worked_out) == 1

    webhook.settings = {**webhook.settings, "url": unique_url()}
    webhook.save()
    assert sending.destination(webhook).key != first.key
    settings.EMAIL_HOST = "relay.example.test"
    sending.destination(webhook)
    assert len(worked_out) == 3


# -- the admin form --------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "stored"), [("0.5", 0.5), ("0", 0.0), ("12", 12.0), ("", None)])
def test_the_admin_form_saves_the_integrations_own_rate(admin_client, webhook, typed, stored):
    webhook.rate_per_second = 3.0
    webhook.save()

    response = admin_client.post(change_url(webhook), admin_post(webhook, typed))

    assert response.status_code == 302, response.content.decode()
    webhook.refresh_from_db()
    assert webhook.rate_per_second == stored


@pytest.mark.parametrize("typed", ["-1", "abc", "nan", "inf", "1e999"])
def test_the_admin_form_refuses_a_rate_that_cannot_pace(admin_client, webhook, typed):
    response = admin_client.post(change_url(webhook), admin_post(webhook, typed))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"rate_per_second": [FORM_RATE_ERROR]}
    webhook.refresh_from_db()
    assert webhook.rate_per_second is None


def test_the_admin_form_shows_the_destinations_default_beside_the_rate(admin_client, make_contact_point):
    slack = make_contact_point("Chat", [("slack", {"url": slack_url()})]).integrations.get()
    hook = make_contact_point("Hook", [("webhook", {"url": unique_url()})]).integrations.get()

    slack_page = admin_client.get(change_url(slack)).content.decode()
    hook_page = admin_client.get(change_url(hook)).content.decode()

    assert 'name="rate_per_second"' in slack_page
    assert f'Default: 1 message/s (Slack, <a href="{SLACK_SOURCE}" title="{SLACK_SOURCE}"' in slack_page
    assert ">api.slack.com</a>). Empty: that default." in slack_page
    assert "Default: not paced (Webhook documents no limit)" in hook_page


def test_a_managed_integration_shows_its_rate_read_only(admin_client, webhook):
    Integration.objects.filter(pk=webhook.pk).update(provenance="file", rate_per_second=0.25)

    page = admin_client.get(change_url(webhook)).content.decode()

    assert 'name="rate_per_second"' not in page
    assert "0.25" in page


def test_duplicating_a_contact_point_keeps_the_rates(admin_client, webhook):
    webhook.rate_per_second = 2.0
    webhook.save()

    admin_client.post(reverse("admin:contactpoints_contactpoint_duplicate", args=[webhook.contact_point_id]))

    copy = ContactPoint.objects.get(name="Ops (copy)")
    assert copy.integrations.get().rate_per_second == 2.0


# -- the provisioning API --------------------------------------------------------------------


def body(**extra) -> dict:
    return {"name": "Ops Team", "type": "webhook", "settings": {"url": unique_url()}, **extra}


def test_the_api_takes_and_answers_ratepersecond(api, admin_token):
    created = api.post(PROVISIONING, body(ratePerSecond=2), token=admin_token)

    assert created.status_code == 202, created.content
    assert created.json()["ratePerSecond"] == 2
    uid = created.json()["uid"]
    assert Integration.objects.get(uid=uid).rate_per_second == 2.0
    [listed] = api.get(PROVISIONING, token=admin_token).json()
    assert listed["ratePerSecond"] == 2
    own_api = api.get("/api/v1/contact-points", token=admin_token).json()
    assert own_api[0]["integrations"][0]["ratePerSecond"] == 2


def test_put_replaces_the_rate_and_absent_means_the_providers_default(api, admin_token):
    uid = api.post(PROVISIONING, body(ratePerSecond=2), token=admin_token).json()["uid"]

    assert api.put(f"{PROVISIONING}/{uid}", body(ratePerSecond=0), token=admin_token).status_code == 202
    assert Integration.objects.get(uid=uid).rate_per_second == 0.0
    assert api.get(PROVISIONING, token=admin_token).json()[0]["ratePerSecond"] == 0

    assert api.put(f"{PROVISIONING}/{uid}", body(), token=admin_token).status_code == 202
    assert Integration.objects.get(uid=uid).rate_per_second is None
    assert "ratePerSecond" not in api.get(PROVISIONING, token=admin_token).json()[0]

    assert api.put(f"{PROVISIONING}/{uid}", body(ratePerSecond=0.5), token=admin_token).status_code == 202
    assert api.put(f"{PROVISIONING}/{uid}", body(ratePerSecond=None), token=admin_token).status_code == 202
    assert Integration.objects.get(uid=uid).rate_per_second is None


@pytest.mark.parametrize("value", [-1, -0.001, "2", "", True, [1], {"rate": 1}])
def test_the_api_refuses_a_rate_that_cannot_pace_naming_the_field(api, admin_token, value):
    response = api.post(PROVISIONING, body(ratePerSecond=value), token=admin_token)

    assert (response.status_code, response.json()["message"]) == (400, API_RATE_ERROR)
    assert not Integration.objects.exists()


def test_a_put_with_a_bad_rate_changes_nothing(api, admin_token):
    uid = api.post(PROVISIONING, body(ratePerSecond=2), token=admin_token).json()["uid"]

    response = api.put(f"{PROVISIONING}/{uid}", body(ratePerSecond=-5), token=admin_token)

    assert (response.status_code, response.json()["message"]) == (400, API_RATE_ERROR)
    assert Integration.objects.get(uid=uid).rate_per_second == 2.0


@pytest.mark.parametrize(("raw", "names_the_field"), [("1e999", True), ("NaN", False), ("Infinity", False)])
def test_infinite_and_nan_rates_are_a_400_not_a_500(api, admin_token, raw, names_the_field):
    text = json.dumps(body()).replace('"settings"', f'"ratePerSecond": {raw}, "settings"')

    response = api.post(PROVISIONING, raw=text, token=admin_token)

    assert response.status_code == 400
    # 1e999 parses (to infinity) and meets the rule; NaN and Infinity are no JSON at all.
    assert (response.json()["message"] == API_RATE_ERROR) is names_the_field


def test_the_export_carries_ratepersecond_only_when_set(api, admin_token):
    api.post(PROVISIONING, body(uid="paced", ratePerSecond=0.5), token=admin_token)
    api.post(PROVISIONING, body(uid="unpaced", ratePerSecond=0), token=admin_token)
    api.post(PROVISIONING, body(uid="default"), token=admin_token)

    receivers = api.get(EXPORT, token=admin_token).json()["contactPoints"][0]["receivers"]

    by_uid = {receiver["uid"]: receiver for receiver in receivers}
    assert by_uid["paced"]["ratePerSecond"] == 0.5
    assert by_uid["unpaced"]["ratePerSecond"] == 0
    assert set(by_uid["default"]) == {"uid", "type", "settings", "disableResolveMessage"}  # Grafana's keys


# -- provisioning files ----------------------------------------------------------------------

FILE = """\
apiVersion: 1
contactPoints:
  - orgId: 1
    name: Ops Team
    receivers:
      - uid: paced
        type: webhook
        ratePerSecond: {rate}
        settings:
          url: http://127.0.0.1:9/paced
      - uid: grafanas
        type: webhook
        settings:
          url: http://127.0.0.1:9/grafanas
"""


def import_text(tmp_path, text: str) -> str:
    path = tmp_path / "contact_points.yaml"
    path.write_text(textwrap.dedent(text))
    out = StringIO()
    call_command("import_contact_points", str(path), stdout=out)
    return out.getvalue()


def export_command() -> dict:
    out = StringIO()
    call_command("export_contact_points", "--format", "json", stdout=out)
    return json.loads(out.getvalue())


def test_a_file_sets_the_rate_and_the_export_gives_the_same_file_back(tmp_path):
    import_text(tmp_path, FILE.format(rate="0.5"))
    assert dict(Integration.objects.values_list("uid", "rate_per_second")) == {"paced": 0.5, "grafanas": None}

    exported = export_command()
    receivers = {r["uid"]: r for r in exported["contactPoints"][0]["receivers"]}
    assert receivers["paced"]["ratePerSecond"] == 0.5
    assert "ratePerSecond" not in receivers["grafanas"]

    # The exported file imports to the same state: nothing to write.
    assert "0 created, 0 updated, 2 unchanged" in import_text(tmp_path, yaml.safe_dump(exported))
    assert export_command() == exported


def test_a_file_that_drops_the_rate_goes_back_to_the_default(tmp_path):
    import_text(tmp_path, FILE.format(rate="3"))
    output = import_text(tmp_path, FILE.replace("        ratePerSecond: {rate}\n", ""))
    assert "1 updated" in output
    assert Integration.objects.get(uid="paced").rate_per_second is None


def test_a_file_rate_may_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HOOK_RATE", "0.25")
    import_text(tmp_path, FILE.format(rate="$HOOK_RATE"))
    assert Integration.objects.get(uid="paced").rate_per_second == 0.25


@pytest.mark.parametrize("rate", ["-1", "fast", ".inf", ".nan", "true"])
def test_a_file_with_a_bad_rate_imports_nothing_and_names_the_field(tmp_path, rate):
    with pytest.raises(CommandError) as raised:
        import_text(tmp_path, FILE.format(rate=rate))
    assert f"Ops Team: {API_RATE_ERROR}" in str(raised.value)
    assert not Integration.objects.exists()


# -- the destinations page -------------------------------------------------------------------


def pending_deliveries(integration: Integration, statuses: list[str]) -> None:
    notification = Notification.objects.create(
        contact_point=integration.contact_point, status="firing", receiver="r", group_key="{}:{}"
    )
    Delivery.objects.bulk_create(
        Delivery(notification=notification, integration=integration, status=status) for status in statuses
    )


def row_of(html: str, key: str) -> str:
    """The page's table row of one destination."""
    start = html.index(f'data-destination="{key}"')
    return html[start : html.index("</tr>", start)]


def test_the_page_shows_each_destination_its_rate_and_the_integrations_sharing_it(admin_client, make_contact_point):
    url, secret_url = unique_url(), slack_url()
    ops = make_contact_point("Ops", [("webhook", {"url": url}), ("slack", {"url": secret_url})])
    dev = make_contact_point("Dev", [("webhook", {"url": url + "/other-path"})])  # same origin: same destination
    hook, slack = ops.integrations.order_by("position")
    shared = dev.integrations.get()

    html = admin_client.get(DESTINATIONS).content.decode()

    hook_row = row_of(html, sending.destination(hook).key)
    assert sending.destination(shared).key == sending.destination(hook).key
    assert "Webhook origin" in hook_row
    assert change_url(hook) in hook_row and change_url(shared) in hook_row
    assert "not paced" in hook_row and "no documented limit" in hook_row
    slack_row = row_of(html, sending.destination(slack).key)
    assert "Slack webhook" in slack_row
    assert "1 message/s" in slack_row and SLACK_SOURCE in slack_row
    assert "—" in slack_row and "now" in slack_row  # not paused, a slot free now
    # Names are hashed keys: no URL (a Slack webhook URL is a secret) reaches the page.
    assert secret_url not in html and secret_url.rsplit("/", 1)[-1] not in html and url not in html


def test_the_page_shows_the_integrations_own_rate(admin_client, make_contact_point):
    hook = make_contact_point("Ops", [("webhook", {"url": unique_url()})], rate_per_second=5).integrations.get()

    row = row_of(admin_client.get(DESTINATIONS).content.decode(), sending.destination(hook).key)

    assert "5 messages/s" in row and "the integration&#x27;s own rate" in row


def test_a_paused_destination_shows_until_when(admin_client, make_contact_point):
    slack = make_contact_point("Chat", [("slack", {"url": slack_url()})]).integrations.get()
    key = sending.destination(slack).key
    pacing.pause(key, 30)

    row = row_of(admin_client.get(DESTINATIONS).content.decode(), key)

    assert "cp-badge-warning" in row and "—" not in row
    paused_for, next_slot = (float(seconds) for seconds in re.findall(r"in ([0-9.]+) s", row))
    assert 28 <= paused_for <= 30
    assert 28 <= next_slot <= 30  # the first slot after the pause


def test_the_waiting_count_adds_up_pending_and_retrying_deliveries_in_one_query(admin_client, make_contact_point):
    url = unique_url()
    first = make_contact_point("Ops", [("webhook", {"url": url})]).integrations.get()
    second = make_contact_point("Dev", [("webhook", {"url": url})]).integrations.get()
    pending_deliveries(first, ["pending", "pending", "retrying", "delivered", "failed", "sending"])
    pending_deliveries(second, ["retrying", "paused"])
    admin_client.get(DESTINATIONS)  # sessions and the like, before counting

    def queries_for_the_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            html = admin_client.get(DESTINATIONS).content.decode()
        assert "<td>4</td>" in row_of(html, sending.destination(first).key)
        return len(captured)

    few = queries_for_the_page()
    for number in range(5):  # more integrations and deliveries cost no more queries
        more = make_contact_point(f"More {number}", [("webhook", {"url": unique_url()})]).integrations.get()
        pending_deliveries(more, [DeliveryStatus.PENDING])
    assert queries_for_the_page() == few


def test_settings_that_no_longer_validate_are_listed_not_a_500(admin_client, make_contact_point):
    broken = make_contact_point("Broken", [("webhook", {"url": unique_url()})]).integrations.get()
    Integration.objects.filter(pk=broken.pk).update(settings={"httpMethod": "POST"})  # the url is gone
    fine = make_contact_point("Fine", [("webhook", {"url": unique_url()})]).integrations.get()

    response = admin_client.get(DESTINATIONS)

    assert response.status_code == 200
    html = response.content.decode()
    unreadable = html[html.index('id="unreadable-integrations"') :]
    assert change_url(broken) in unreadable and escape(str(broken)) in unreadable
    assert change_url(fine) in row_of(html, sending.destination(fine).key)


def test_disabled_integrations_are_left_out(admin_client, make_contact_point):
    hook = make_contact_point("Ops", [("webhook", {"url": unique_url()})], enabled=False).integrations.get()

    html = admin_client.get(DESTINATIONS).content.decode()

    assert change_url(hook) not in html
    assert "No enabled integration sends anywhere yet." in html


def test_without_redis_the_state_is_unknown_not_an_error(admin_client, make_contact_point, settings):
    make_contact_point("Chat", [("slack", {"url": slack_url()})])
    make_contact_point("Hooks", [("webhook", {"url": "http://127.0.0.1:9/hook"})])
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    get_redis.cache_clear()
    try:
        with mock.patch("contactpoints.admin.destinations.pacing.state", wraps=pacing.state) as asked:
            response = admin_client.get(DESTINATIONS)
    finally:
        get_redis.cache_clear()

    assert response.status_code == 200
    assert response.content.decode().count("unknown (Redis unavailable)") == 4  # paused until, next slot; each
    assert asked.call_count == 1  # the second destination did not wait for Redis's timeout again


def test_the_page_needs_the_view_permission(client, django_user_model, webhook):
    staff = django_user_model.objects.create_user("staff", password="staff-pw", is_staff=True)
    client.force_login(staff)
    assert client.get(DESTINATIONS).status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_integration"))
    response = client.get(DESTINATIONS)
    assert response.status_code == 200
    assert change_url(webhook) in response.content.decode()


def test_the_integration_list_links_to_the_page(admin_client):
    html = admin_client.get(reverse("admin:contactpoints_integration_changelist")).content.decode()
    assert f'href="{DESTINATIONS}"' in html


@pytest.mark.parametrize(
    ("rate", "burst", "text"),
    [
        (None, 1, "not paced"),
        (1.0, 1, "1 message/s"),
        (2.0, 1, "2 messages/s"),
        (20 / 60, 1, "20 messages/min"),
        (1000 / 3600, 1, "16.7 messages/min"),
        (0.0204, 3, "1.22 messages/min (bursts of 3)"),
        (0.01, 1, "36 messages/hour"),
        (2500.0, 1, "2,500 messages/s"),
        (1 / 86400 / 2, 1, "0.5 messages/day"),
    ],
)
def test_rates_read_in_the_unit_that_suits_them(rate, burst, text):
    assert describe_rate(rate, burst) == text
