"""A notification template carries its syntax: detected once when the client does not say, kept
as given when it does, Jinja2 for templates stored before syntaxes existed."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from contactpoints.models import NotificationTemplate, TemplateSyntax

TEMPLATES = "/api/v1/templates"


@pytest.mark.parametrize(
    ("content", "syntax"),
    [
        ("{{ .CommonLabels.team }}", "go"),
        ('{{ template "default.title" . }}', "go"),
        ('{{ define "x" }}{{ len .Alerts.Firing }} firing{{ end }}', "go"),
        ("{{ $x := 1 }}{{ $x }}", "go"),
        ("{{/* a note */}}", "go"),
        ("{{ CommonLabels.team }}", "jinja"),  # a name, then a field: Jinja2's form
        ('{{ template("default.title") }}', "jinja"),
        ("{% if Status %}x{% endif %}", "jinja"),
        ("no actions at all", "jinja"),
    ],
)
@pytest.mark.django_db
def test_the_api_detects_the_syntax_when_the_client_does_not_say(api, admin_token, content, syntax):
    response = api.post(TEMPLATES, {"name": "t", "content": content}, token=admin_token)
    assert (response.status_code, response.json()["syntax"]) == (201, syntax)
    assert NotificationTemplate.objects.get().syntax == syntax


@pytest.mark.parametrize(
    ("content", "syntax", "status", "message"),
    [
        ("{{ .Status }}", "jinja", 400, "content: Jinja2 template: line 1: unexpected '.'"),
        (
            '{{ template("x") }}',
            "go",
            400,
            'content: Go template: line 1, column 12: unexpected "(" in template clause',
        ),
        ("plain text", "go", 201, None),
    ],
)
@pytest.mark.django_db
def test_a_syntax_the_client_gives_is_kept_and_checked_by_that_engine(
    api, admin_token, content, syntax, status, message
):
    response = api.put(f"{TEMPLATES}/t", {"content": content, "syntax": syntax}, token=admin_token)
    assert response.status_code == status
    if message:
        assert response.json()["message"] == message
    else:
        assert NotificationTemplate.objects.get().syntax == syntax


@pytest.mark.parametrize(
    ("chosen", "content", "stored"),
    [
        ("", "{{ .Status }}", "go"),  # the form's default: detect
        ("", "{{ Status }}", "jinja"),
        ("jinja", "plain", "jinja"),
    ],
)
@pytest.mark.django_db
def test_the_admin_form_detects_by_default(admin_client, chosen, content, stored):
    url = reverse("admin:contactpoints_notificationtemplate_add")
    assert admin_client.post(url, {"name": "t", "syntax": chosen, "content": content}).status_code == 302
    assert NotificationTemplate.objects.get().syntax == stored
    listing = admin_client.get(reverse("admin:contactpoints_notificationtemplate_changelist")).content.decode()
    assert dict(TemplateSyntax.choices)[stored] in listing


@pytest.mark.django_db
def test_the_admin_names_the_engine_in_the_preview_and_in_errors(admin_client):
    template = NotificationTemplate.objects.create(name="t", content="{{ .Status }}", syntax="go")
    page = admin_client.get(reverse("admin:contactpoints_notificationtemplate_change", args=[template.pk]))
    assert 'Preview <span class="cp-preview-engine">(Go text/template (Grafana))</span>' in page.content.decode()
    url = reverse("admin:contactpoints_notificationtemplate_add")
    html = admin_client.post(url, {"name": "u", "syntax": "go", "content": "{{ nope }}"}).content.decode()
    assert "Go template: line 1, column 4: function &quot;nope&quot; not defined" in html


@pytest.mark.django_db(transaction=True)
def test_templates_stored_before_the_migration_are_jinja():
    executor = MigrationExecutor(connection)
    before, after = [("contactpoints", "0004_delivery_queue")], [("contactpoints", "0005_template_syntax")]
    executor.migrate(before)
    old_model = executor.loader.project_state(before).apps.get_model("contactpoints", "NotificationTemplate")
    old_model.objects.create(name="old", content="{{ .Status }}")  # Go-looking, but written for Jinja2 then

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # back to the latest state for the other tests
    assert NotificationTemplate.objects.values_list("name", "syntax", "provenance").get() == ("old", "jinja", "")
