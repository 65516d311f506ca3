"""Template previews in the admin: the editor's live preview and the integration form's Preview buttons."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from contactpoints.models import NotificationTemplate
from integrations.registry import get_type

pytestmark = pytest.mark.django_db

TEMPLATE_PREVIEW = "admin:contactpoints_notificationtemplate_preview"
INTEGRATION_PREVIEW = "admin:contactpoints_integration_preview"


def preview(client, body, name: str = TEMPLATE_PREVIEW):
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.post(reverse(name), raw, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "status", "answer"),
    [
        (
            {"template": "{{ Status }}: {{ Alerts|length }}"},
            200,
            {"output": "firing: 2", "syntax": "jinja"},
        ),  # the sample alerts
        (
            {"template": "{{ Status }}", "alerts": []},
            200,
            {"output": "firing", "syntax": "jinja"},
        ),  # empty: the samples too
        (
            {"template": "{{ CommonLabels.team }}", "alerts": [{"labels": {"alertname": "A", "team": "db"}}]},
            200,
            {"output": "db", "syntax": "jinja"},
        ),
        (
            {"template": "ok\n{% if %}"},
            200,
            {"error": "Expected an expression, got 'end of statement block'", "line": 2, "syntax": "jinja"},
        ),
        ({"template": 42}, 400, {"error": "Send the template as a string."}),
        ("not json", 400, {"error": "The request is not JSON."}),
    ],
)
@pytest.mark.parametrize("name", [TEMPLATE_PREVIEW, INTEGRATION_PREVIEW])
def test_preview_answers(admin_client, name, body, status, answer):
    response = preview(admin_client, body, name)
    assert (response.status_code, response.json()) == (status, answer)


def test_malformed_sample_alerts_are_named_as_such(admin_client):
    response = preview(admin_client, {"template": "{{ Status }}", "alerts": [{"labels": "nope"}]})
    assert response.status_code == 400
    assert response.json()["alerts"] is True
    assert response.json()["error"].startswith("The sample alerts are not usable: ")


def test_preview_sees_user_templates(admin_client):
    NotificationTemplate.objects.create(name="team.title", content="Team {{ CommonLabels.team }}")
    assert preview(admin_client, {"template": '{{ template("team.title") }}'}).json() == {
        "output": "Team ops",
        "syntax": "jinja",
    }


def test_preview_is_post_only_with_csrf_and_for_staff(admin_user, django_user_model):
    assert Client().post(reverse(TEMPLATE_PREVIEW), "{}", content_type="application/json").status_code == 302
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert preview(strict, {"template": "x"}).status_code == 403  # no CSRF token
    assert strict.get(reverse(TEMPLATE_PREVIEW)).status_code == 405

    nobody = django_user_model.objects.create_user("nobody", password="nobody-s3cr3t", is_staff=True)
    client = Client()
    client.force_login(nobody)
    assert preview(client, {"template": "x"}).status_code == 403
    nobody.user_permissions.add(Permission.objects.get(codename="view_notificationtemplate"))
    assert preview(client, {"template": "x"}).status_code == 200


def test_editor_has_a_live_preview_with_editable_sample_alerts(admin_client):
    html = admin_client.get(reverse("admin:contactpoints_notificationtemplate_add")).content.decode()

    panel = re.search(r"<section [^>]*data-live-preview[^>]*>", html).group(0)
    assert 'data-preview-source="id_content"' in panel
    assert f'data-preview-url="{reverse(TEMPLATE_PREVIEW)}"' in panel
    alerts = re.search(r'<textarea id="cp-preview-alerts"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    assert "&quot;alertname&quot;: &quot;HighCPU&quot;" in alerts
    assert 'name="cp-preview-alerts"' not in html  # not posted with the template
    assert "contactpoints/admin.js" in html and "contactpoints/admin.css" in html


def test_every_templated_setting_has_a_preview_button_and_no_other_does(admin_client):
    html = admin_client.get(reverse("admin:contactpoints_integration_add") + "?type=slack").content.decode()

    buttons = set(re.findall(r'class="button cp-preview-button" data-preview-input="id_([^"]+)"', html))
    templated = {field.key for field in get_type("slack").fields if field.template and not field.secret}
    assert buttons == templated
    assert "title" in buttons and "token" not in buttons and "url" not in buttons
    assert f'data-preview-url="{reverse(INTEGRATION_PREVIEW)}"' in html
