"""The admin: type picker, declaration-built integration forms, write-only secrets, contact points."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.urls import reverse
from django.utils.html import escape

from contactpoints.forms import parse_name_value_lines
from contactpoints.models import (
    ContactPoint,
    Integration,
    Notification,
    NotificationTemplate,
    Provenance,
)
from integrations import registry
from integrations.base import Field, IntegrationType, Kind

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-value-that-must-never-show"
INTEGRATION_ADD = "admin:contactpoints_integration_add"


class Pager(IntegrationType):
    """A made-up type for what the real ones do not declare: a required secret and a list."""

    type = "pager"
    label = "Pager"
    description = "Pages someone."
    fields = (
        Field("apiKey", "API key", required=True, secret=True, required_error="API key is missing"),
        Field("responders", "Responders", Kind.LIST),
        Field("retries", "Retries", Kind.INT, default=3),
    )


@pytest.fixture
def with_pager(monkeypatch):
    types = {**registry.all_types(), "pager": Pager}
    monkeypatch.setattr(registry, "all_types", lambda: types)


@pytest.fixture
def contact_point():
    return ContactPoint.objects.create(name="Ops Team")


@pytest.fixture
def webhook(contact_point):
    integration = Integration(contact_point=contact_point, type="webhook")
    integration.assign_settings({"url": "https://example.com/hook", "authorization_credentials": SECRET})
    integration.save()
    return integration


def add_url(**query: str) -> str:
    return reverse(INTEGRATION_ADD) + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def change_url(integration: Integration) -> str:
    return reverse("admin:contactpoints_integration_change", args=[integration.pk])


def webhook_post(contact_point: ContactPoint, **settings: str) -> dict[str, str]:
    data = {
        "contact_point": str(contact_point.pk),
        "enabled": "on",
        "position": "0",
        "httpMethod": "POST",
        "url": "https://example.com/hook",
    }
    data.update(settings)
    return data


def field_errors(html: str, field_name: str) -> list[str]:
    """The messages in the error list of one field's row (the admin's markup)."""
    row = re.search(rf'<div class="form-row errors[^"]*\bfield-{re.escape(field_name)}\b.*?</div>', html, re.S)
    if not row:
        return []
    errorlist = re.search(r'<ul class="errorlist"[^>]*>(.*?)</ul>', row.group(0), re.S)
    return re.findall(r"<li>(.*?)</li>", errorlist.group(1), re.S) if errorlist else []


# -- adding an integration: the type picker, then the type's own form ------------------------


def test_admin_is_titled_contact_points(admin_client):
    assert "Contact points" in admin_client.get(reverse("admin:index")).content.decode()


def test_type_picker_lists_every_type_with_links_carrying_the_contact_point(admin_client, contact_point):
    html = admin_client.get(add_url(contact_point=contact_point.pk)).content.decode()

    for cls in registry.all_types().values():
        assert cls.label in html
        assert escape(cls.description) in html
        link = f'href="?type={cls.type}&amp;contact_point={contact_point.pk}"'
        assert (link in html) is cls.can_create  # deprecated types (LINE) are listed without a link
    assert "Ops Team" in html
    assert 'name="url"' not in html  # no form yet: first the type


def test_unknown_type_goes_back_to_the_picker(admin_client):
    response = admin_client.get(add_url(type="carrier-pigeon"))
    assert response.status_code == 302
    assert response.url == reverse(INTEGRATION_ADD)


def test_add_form_has_only_the_chosen_types_fields(admin_client, contact_point):
    html = admin_client.get(add_url(type="webhook", contact_point=contact_point.pk)).content.decode()

    for key in ("url", "httpMethod", "headers", "maxAlerts", "hmacConfig.secret", "tlsConfig.clientKey"):
        assert f'name="{key}"' in html
    assert 'name="recipient"' not in html  # a Slack field
    assert 'name="type"' not in html  # shown, never posted
    assert f'<option value="{contact_point.pk}" selected>' in html
    assert "Optional settings" in html
    assert html.index('name="url"') < html.index("Optional settings") < html.index('name="httpMethod"')
    assert 'type="password" name="authorization_credentials"' in html
    assert 'type="checkbox" name="tlsConfig.insecureSkipVerify"' in html
    assert '<select name="httpMethod"' in html


@pytest.mark.parametrize(
    ("settings", "field", "message"),
    [
        ({"url": ""}, "url", "required field 'url' is not specified"),
        (
            {"username": "u", "password": "p", "authorization_credentials": "c"},
            "authorization_credentials",
            "both HTTP Basic Authentication and Authorization Header are set, only 1 is permitted",
        ),
        ({"headers": "X-Team: ops\nCookie: a=b"}, "headers", 'custom headers ["Cookie"] are not allowed'),
        ({"headers": "no colon here"}, "headers", "Line 1: write it as name: value."),
        # A tampered post is judged by the type, as the API would judge it (finding 14).
        (
            {"tlsConfig.insecureSkipVerify": "maybe"},
            "tlsConfig.insecureSkipVerify",
            "Disable certificate verification must be true or false",
        ),
    ],
)
def test_invalid_webhook_shows_the_specs_error_next_to_the_field(admin_client, contact_point, settings, field, message):
    response = admin_client.post(add_url(type="webhook"), webhook_post(contact_point, **settings))

    assert response.status_code == 200
    assert escape(message) in field_errors(response.content.decode(), field)
    assert not Integration.objects.exists()


def test_a_posted_secret_is_not_echoed_when_the_form_has_errors(admin_client, contact_point):
    data = webhook_post(contact_point, url="", password=SECRET, **{"tlsConfig.clientKey": SECRET})
    response = admin_client.post(add_url(type="webhook"), data)

    assert response.status_code == 200
    assert SECRET not in response.content.decode()


def test_valid_webhook_stores_secrets_encrypted_and_a_blank_secret_keeps_them(admin_client, contact_point):
    data = webhook_post(
        contact_point,
        authorization_credentials=SECRET,
        headers="X-Team: ops",
        **{"hmacConfig.secret": "hmac-" + SECRET},
    )
    response = admin_client.post(add_url(type="webhook"), data)
    assert response.status_code == 302, response.content.decode()

    integration = Integration.objects.get()
    assert integration.type == "webhook"
    assert integration.settings == {
        "url": "https://example.com/hook",
        "httpMethod": "POST",
        "headers": {"X-Team": "ops"},
    }
    assert integration.secure_settings == {"authorization_credentials": SECRET, "hmacConfig.secret": "hmac-" + SECRET}
    with connection.cursor() as cursor:
        cursor.execute("SELECT settings::text, secure_settings FROM contactpoints_integration")
        assert SECRET not in " ".join(cursor.fetchone())

    edit = webhook_post(contact_point, title="{{ .Status }}", headers="X-Team: ops")
    assert admin_client.post(change_url(integration), edit).status_code == 302

    integration.refresh_from_db()
    assert integration.settings["title"] == "{{ .Status }}"
    assert integration.secure_settings["authorization_credentials"] == SECRET


def test_change_page_never_shows_a_secret_only_whether_it_is_set(admin_client, webhook):
    html = admin_client.get(change_url(webhook)).content.decode()

    assert SECRET not in html
    assert "Set; leave blank to keep." in html  # authorization_credentials
    assert "Not set." in html  # password
    assert 'name="authorization_credentials__clear"' in html
    assert 'name="password__clear"' not in html
    assert 'value="https://example.com/hook"' in html


@pytest.mark.parametrize(
    "page",
    [
        "admin:contactpoints_integration_changelist",
        "admin:contactpoints_integration_history",
        "admin:contactpoints_integration_delete",
        "admin:contactpoints_contactpoint_changelist",
    ],
)
def test_no_other_page_shows_a_secret_either(admin_client, contact_point, webhook, page):
    edit = webhook_post(contact_point, username="u", password=SECRET, authorization_credentials__clear="on")
    assert admin_client.post(change_url(webhook), edit).status_code == 302  # an entry in the history

    args = [] if page.endswith("changelist") else [webhook.pk]
    response = admin_client.get(reverse(page, args=args))
    assert response.status_code == 200
    assert SECRET not in response.content.decode()


def test_clearing_a_secret_removes_it(admin_client, contact_point, webhook):
    both = webhook_post(contact_point, authorization_credentials="new", authorization_credentials__clear="on")
    html = admin_client.post(change_url(webhook), both).content.decode()
    assert "Enter a new value or clear it, not both." in field_errors(html, "authorization_credentials__clear")

    data = webhook_post(contact_point, authorization_credentials__clear="on")
    assert admin_client.post(change_url(webhook), data).status_code == 302

    webhook.refresh_from_db()
    assert webhook.secret_state()["authorization_credentials"] is False


def test_the_type_of_an_existing_integration_cannot_change(admin_client, webhook):
    html = admin_client.get(change_url(webhook) + "?type=slack").content.decode()

    assert "Webhook (webhook)" in html
    assert 'name="url"' in html
    assert 'name="recipient"' not in html


def test_slack_form_maps_the_specs_cross_field_rule_to_its_field(admin_client, contact_point):
    data = {"contact_point": str(contact_point.pk), "enabled": "on", "position": "0", "token": SECRET}
    response = admin_client.post(add_url(type="slack"), data)

    html = response.content.decode()
    assert "recipient must be specified when using the Slack chat API" in field_errors(html, "recipient")
    assert SECRET not in html


def test_email_requires_addresses_with_the_specs_text(admin_client, contact_point):
    data = {"contact_point": str(contact_point.pk), "enabled": "on", "position": "0", "addresses": " "}
    html = admin_client.post(add_url(type="email"), data).content.decode()
    assert "could not find addresses in settings" in field_errors(html, "addresses")


def test_a_required_secret_is_required_until_set_then_kept_when_blank(admin_client, contact_point, with_pager):
    common = {"contact_point": str(contact_point.pk), "enabled": "on", "position": "0"}
    html = admin_client.post(add_url(type="pager"), common).content.decode()
    assert "API key is missing" in field_errors(html, "apiKey")

    bad_list = {**common, "apiKey": SECRET, "responders": '{"not": "a list"}'}
    html = admin_client.post(add_url(type="pager"), bad_list).content.decode()
    assert "Responders must be a list" in field_errors(html, "responders")
    assert SECRET not in html

    valid = {**common, "apiKey": SECRET, "responders": '[{"type": "team", "name": "ops"}]', "retries": "5"}
    assert admin_client.post(add_url(type="pager"), valid).status_code == 302
    pager = Integration.objects.get(type="pager")
    assert pager.settings == {"responders": [{"type": "team", "name": "ops"}], "retries": 5}
    assert pager.secure_settings == {"apiKey": SECRET}

    assert admin_client.post(change_url(pager), {**common, "retries": ""}).status_code == 302
    pager.refresh_from_db()
    assert pager.settings == {} and pager.secure_settings == {"apiKey": SECRET}


@pytest.mark.parametrize("provenance", [Provenance.API, Provenance.FILE])
def test_integrations_managed_as_code_are_read_only(admin_client, webhook, provenance):
    webhook.provenance = provenance
    webhook.save()

    html = admin_client.get(change_url(webhook)).content.decode()
    assert "Managed as code" in html
    assert 'name="_save"' not in html
    assert SECRET not in html
    assert "[REDACTED]" in html
    assert admin_client.post(change_url(webhook), {"url": "https://evil.example"}).status_code == 403


# -- contact points ------------------------------------------------------------------------


def test_contact_point_list_shows_integration_types_and_last_notification(admin_client, webhook):
    Notification.objects.create(
        contact_point=webhook.contact_point, status="firing", receiver="Ops Team", group_key="{}:{}"
    )
    html = admin_client.get(reverse("admin:contactpoints_contactpoint_changelist")).content.decode()

    assert "ops-team" in html
    assert "Webhook" in html
    assert "never" not in html


def test_contact_point_page_lists_integrations_with_links(admin_client, webhook):
    url = reverse("admin:contactpoints_contactpoint_change", args=[webhook.contact_point.pk])
    html = admin_client.get(url).content.decode()

    assert change_url(webhook) in html
    assert "https://example.com/hook" in html  # the summary
    assert f'{reverse(INTEGRATION_ADD)}?contact_point={webhook.contact_point.pk}"' in html
    assert SECRET not in html


def test_saving_a_contact_point_leaves_its_integrations_alone(admin_client, webhook):
    contact_point = webhook.contact_point
    data = {
        "name": "Ops",
        "uid": "ops-team",
        "description": "",
        "integrations-TOTAL_FORMS": "1",
        "integrations-INITIAL_FORMS": "1",
        "integrations-MIN_NUM_FORMS": "0",
        "integrations-MAX_NUM_FORMS": "1000",
        "integrations-0-id": str(webhook.pk),
        "integrations-0-contact_point": str(contact_point.pk),
    }
    url = reverse("admin:contactpoints_contactpoint_change", args=[contact_point.pk])
    assert admin_client.post(url, data).status_code == 302

    contact_point.refresh_from_db()
    webhook.refresh_from_db()
    assert (contact_point.name, contact_point.uid) == ("Ops", "ops-team")
    assert webhook.secure_settings["authorization_credentials"] == SECRET


# -- notification templates ----------------------------------------------------------------


def test_a_template_that_does_not_parse_shows_its_line_next_to_the_content(admin_client):
    url = reverse("admin:contactpoints_notificationtemplate_add")
    bad = {"name": "ops.title", "content": "{{ Status }}\n{{ foo( }}"}
    html = admin_client.post(url, bad).content.decode()

    errors = field_errors(html, "content")
    assert len(errors) == 1 and errors[0].startswith("Jinja2 template: line 2: ")
    assert 'style="font-family: monospace"' in html
    assert (
        admin_client.post(url, {"name": "ops.title", "content": "[{{ Status }}] {{ GroupLabels }}"}).status_code == 302
    )
    assert NotificationTemplate.objects.get().name == "ops.title"


# -- the form's parsing of maps --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("X-Team: ops\n\nX-Url: https://a.example:8443/x", {"X-Team": "ops", "X-Url": "https://a.example:8443/x"}),
        ("  name :  spaced value  ", {"name": "spaced value"}),
        ("empty:", {"empty": ""}),
    ],
)
def test_name_value_lines(text, expected):
    assert parse_name_value_lines(text) == expected


def test_picker_offers_zenduty_as_a_webhook_preset(admin_client, contact_point):
    html = admin_client.get(add_url(contact_point=contact_point.pk)).content.decode()
    assert "Zenduty" in html
    assert f"?type=webhook&amp;preset=zenduty&amp;contact_point={contact_point.pk}" in html


def test_preset_form_is_the_webhook_form_with_zenduty_help_and_post(admin_client, contact_point):
    html = admin_client.get(add_url(type="webhook", preset="zenduty", contact_point=contact_point.pk)).content.decode()
    assert "Add Zenduty integration" in html
    assert "Zenduty shows when you add a Grafana integration" in html
    assert '<option value="POST" selected>POST</option>' in html
