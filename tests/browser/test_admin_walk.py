"""What an on-call engineer does in the admin, in a real browser, start to finish.

Each step looks for what a person would look for (the error next to the field, the result of
each integration, the paused banner), and the main pages are saved to docs/screenshots/.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from contactpoints import pacing, queue, sending
from contactpoints.models import Attempt, ContactPoint, Delivery, DeliveryStatus, Integration, Notification

pytestmark = pytest.mark.browser

SLACK_SECRET_PATH = "/services/T000/B000/s3cr3t-slack-hook"


@pytest.fixture
def deliver_now(monkeypatch):
    """Deliveries queued by the admin are sent at once, in the server's thread (no worker here)."""

    def wake():
        while queue.deliver_due():
            pass
        return True

    monkeypatch.setattr("contactpoints.broker.wake", wake)


def open_contact_points(page) -> None:
    # The app has the model's name too: take the model's row of the app list.
    page.locator("#contactpoints-contactpoint").first.get_by_role("link", name="Contact points").click()


def save_and_expect_error(page, field: str, message: str) -> None:
    page.click("input[name=_save]")
    expect(page.locator(f".form-row.field-{field} .errorlist")).to_contain_text(message)


def add_integration(page, label: str) -> None:
    page.get_by_role("link", name="Add integration", exact=True).first.click()
    page.get_by_role("link", name=label, exact=True).click()
    expect(page.locator("h1")).to_have_text(f"Add {label} integration")


def seed_other_contact_points() -> None:
    """Neighbours for the list: one whose last attempt failed, one paused."""
    database = ContactPoint.objects.create(name="Database on-call")
    failing = Integration(contact_point=database, type="pagerduty")
    failing.assign_settings({"integrationKey": "pd-s3cr3t-key"})
    failing.last_attempt_at = timezone.now() - timedelta(minutes=3)
    failing.last_attempt_duration_ms = 1203
    failing.last_attempt_error = "unexpected 5xx status code: 503"
    failing.save()
    payments = ContactPoint.objects.create(name="Payments", paused=True)
    email = Integration(contact_point=payments, type="email", settings={"addresses": "payments@example.com"})
    email.last_attempt_at = timezone.now() - timedelta(hours=2)
    email.last_attempt_duration_ms = 85
    email.save()


def record_failed_delivery(integration: Integration) -> Delivery:
    """A delivery that used up its attempts against a broken receiver."""
    notification = Notification.objects.create(
        contact_point=integration.contact_point,
        status="firing",
        alerts=[
            {
                "status": "firing",
                "labels": {"alertname": "DiskFull", "instance": "db-1"},
                "annotations": {"summary": "Disk 95% full on db-1"},
                "startsAt": timezone.now().isoformat(),
                "endsAt": "",
                "generatorURL": "",
            }
        ],
        receiver=integration.contact_point.name,
        group_key='{}:{alertname="DiskFull"}',
        group_labels={"alertname": "DiskFull"},
    )
    delivery = Delivery.objects.create(
        notification=notification,
        integration=integration,
        status=DeliveryStatus.FAILED,
        attempts=3,
        last_error="unexpected 5xx status code: 502",
        last_http_status=502,
    )
    for number in (1, 2, 3):
        Attempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=timezone.now() - timedelta(minutes=4 - number),
            duration_ms=40 + number,
            outcome="retry" if number < 3 else "failed",
            http_status=502,
            error="unexpected 5xx status code: 502",
        )
    return delivery


def test_on_call_walk(page, screenshot, receiver, deliver_now):
    seed_other_contact_points()

    # A new contact point; saving it leads straight to its page, to add integrations.
    open_contact_points(page)
    page.locator(".object-tools").get_by_role("link", name=re.compile("Add contact point")).click()
    page.fill("#id_name", "Ops Team")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("Now add an integration")

    # Slack: saved empty, the spec's error shows next to the recipient; a webhook URL fixes it.
    add_integration(page, "Slack")
    save_and_expect_error(page, "recipient", "recipient must be specified when using the Slack chat API")
    screenshot("integration-error")
    page.fill("#id_url", receiver.url + SLACK_SECRET_PATH)
    page.fill("#id_recipient", "#ops")
    page.locator(".field-title .cp-preview-button").click()  # the default title, against sample alerts
    expect(page.locator(".field-title .cp-preview-output")).to_have_text(
        "[FIRING:1, RESOLVED:1]  (HighCPU critical ops)"
    )
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("Saved the Slack integration")

    # Webhook: the URL is required, with the spec's text.
    add_integration(page, "Webhook")
    save_and_expect_error(page, "url", "required field 'url' is not specified")
    page.fill("#id_url", receiver.url + "/hook")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("Saved the Webhook integration")

    # A test notification with a custom label reaches both, and each result shows.
    page.get_by_role("link", name="Send test notification").click()
    page.fill("#id_labels", "severity=critical")
    page.fill("#id_annotations", "summary=Checking the pager")
    page.click("input[value='Send test notification']")
    results = page.locator("#test-results tbody tr")
    expect(results).to_have_count(2)
    expect(page.locator("#test-results h2")).to_have_text("Results: all sent")
    for row, label in zip(results.all(), ("Slack", "Webhook"), strict=True):
        expect(row).to_contain_text(label)
        expect(row).to_contain_text("ok")
        expect(row).to_contain_text(re.compile(r"\d+ ms"))
    screenshot("test-results")
    requests = receiver.wait_for(2)
    webhook_body = next(r for r in requests if r.path == "/hook").json()
    assert webhook_body["commonLabels"]["severity"] == "critical"
    assert webhook_body["commonAnnotations"]["summary"] == "Checking the pager"

    # Pause the webhook from its row: the page says so plainly.
    page.get_by_role("link", name="Back to Ops Team").click()
    webhook_row = page.locator("tr.has_original", has_text="Webhook")
    webhook_row.get_by_role("button", name="Pause").click()
    expect(page.locator(".cp-banner")).to_contain_text("1 of 2 integrations paused: Webhook")
    expect(webhook_row.locator(".cp-badge-paused")).to_have_text("paused")
    assert Integration.objects.get(type="webhook").paused

    # A failed delivery of the Slack integration, retried from its page, is delivered.
    failed = record_failed_delivery(Integration.objects.get(type="slack"))
    page.reload()
    screenshot("contact-point")
    page.get_by_role("link", name="Delivery history").click()
    failed_row = page.locator("#result_list tbody tr", has_text="failed")
    expect(failed_row).to_contain_text("unexpected 5xx status code: 502")
    screenshot("deliveries")
    failed_row.locator("th a").click()
    expect(page.locator(".inline-group")).to_contain_text("unexpected 5xx status code: 502")
    page.get_by_role("button", name="Retry this delivery").click()
    expect(page.locator(".messagelist")).to_contain_text("Queued again")
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.DELIVERED
    expect(page.locator(".field-status_display")).to_have_text(re.compile(r"^\s*Status:\s*delivered\s*$"))
    assert any(r.path == SLACK_SECRET_PATH for r in receiver.requests[2:])

    # The list: each integration's health, paused ones marked.
    open_contact_points(page)
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.filter(has_text="Payments").locator(".cp-badge-paused")).to_have_text("paused")
    expect(rows.filter(has_text="Database on-call")).to_contain_text("unexpected 5xx status code: 503")
    expect(rows.filter(has_text="Ops Team")).to_contain_text("ok")
    screenshot("contact-points")

    # Where each integration sends, at what pace; Slack's channel answered 429 a moment ago.
    slack = Integration.objects.get(type="slack")
    pacing.pause(sending.destination(slack).key, 30)
    page.get_by_role("link", name="Integrations").first.click()
    page.get_by_role("link", name="Destinations and their pacing").click()
    slack_row = page.locator("#destinations tbody tr", has_text="Slack")
    expect(slack_row).to_contain_text("1 message/s")
    expect(slack_row.locator(".cp-badge-warning")).to_have_text("paused")
    screenshot("destinations")


TITLE_TEMPLATE = "[{{ Status|upper }}] {{ CommonLabels.team }}: {{ Alerts.Firing|length }} firing"
LIST_TEMPLATE = (
    TITLE_TEMPLATE
    + """
{% for alert in Alerts %}- {{ alert.Status }}: {{ alert.Labels.alertname }} on {{ alert.Labels.instance }}
{% endfor %}"""
)


def test_template_editor_previews_as_you_type(page, screenshot):
    page.goto("/admin/contactpoints/notificationtemplate/add/")
    output = page.locator(".cp-editor-preview .cp-preview-output")
    page.fill("#id_name", "ops.title")
    page.fill("#id_content", "{{ Status|upper }}")
    expect(output).to_have_text("FIRING")

    page.fill("#id_content", "{{ Status|upper }}\n{% if %}")
    expect(output).to_have_text(re.compile(r"^Line 2: "))

    page.fill("#id_content", TITLE_TEMPLATE)
    expect(output).to_have_text("[FIRING] ops: 1 firing")
    alerts = page.locator("#cp-preview-alerts")
    alerts.fill(
        '[{"labels": {"alertname": "DiskFull", "team": "db"}}, {"labels": {"alertname": "Load", "team": "db"}}]'
    )
    expect(output).to_have_text("[FIRING] db: 2 firing")

    page.get_by_role("button", name="Reset sample alerts").click()
    page.fill("#id_content", LIST_TEMPLATE)
    expect(output).to_contain_text("- resolved: HighCPU on web-2")
    screenshot("template-editor")

    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("ops.title")


def test_template_editor_previews_go_templates_and_names_the_engine(page):
    page.goto("/admin/contactpoints/notificationtemplate/add/")
    output = page.locator(".cp-editor-preview .cp-preview-output")
    engine = page.locator(".cp-editor-preview .cp-preview-engine")
    page.fill("#id_name", "ops")
    page.fill("#id_content", '{{ define "ops.title" }}{{ .Status | toUpper }}: {{ len .Alerts.Firing }}{{ end }}')
    expect(output).to_have_text("ops.title:\nFIRING: 1")
    expect(engine).to_have_text("(Go)")

    page.fill("#id_content", "{{ .Status | nope }}")
    expect(output).to_have_text('Go template: line 1, column 14: function "nope" not defined')

    page.select_option("#id_syntax", "jinja")  # the chosen syntax wins over detection
    page.fill("#id_content", "{{ Status }}")
    expect(output).to_have_text("firing")
    expect(engine).to_have_text("(Jinja2)")


def test_pages_fit_a_narrow_screen(page, screenshot):
    seed_other_contact_points()
    contact_point = ContactPoint.objects.get(name="Payments")
    page.set_viewport_size({"width": 390, "height": 844})
    for path in (
        "/admin/contactpoints/contactpoint/",
        f"/admin/contactpoints/contactpoint/{contact_point.pk}/change/",
        "/admin/contactpoints/delivery/",
        "/admin/contactpoints/notificationtemplate/add/",
        "/admin/contactpoints/integration/add/?type=webhook",
    ):
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow} px wider than the screen"
    page.goto(f"/admin/contactpoints/contactpoint/{contact_point.pk}/change/")
    expect(page.locator(".cp-banner")).to_contain_text("Paused")
    screenshot("contact-point-narrow")
