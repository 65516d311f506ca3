"""Notification templates through the API: create, read, replace, delete, preview."""

from __future__ import annotations

import pytest

from contactpoints.models import NotificationTemplate

pytestmark = pytest.mark.django_db

TEMPLATES = "/api/v1/templates"
PREVIEW = "/api/v1/templates/preview"


@pytest.fixture
def team_title():
    return NotificationTemplate.objects.create(name="team.title", content="Team {{ CommonLabels.team }}")


def test_create_then_list_and_read(api, admin_token):
    created = api.post(TEMPLATES, {"name": "b.title", "content": "B"}, token=admin_token)
    api.post(TEMPLATES, {"name": "a.title", "content": "A {{ Status }}\n"}, token=admin_token)

    assert (created.status_code, created.json()) == (201, {"name": "b.title", "content": "B", "syntax": "jinja"})
    assert api.get(TEMPLATES, token=admin_token).json() == [
        {"name": "a.title", "content": "A {{ Status }}\n", "syntax": "jinja"},
        {"name": "b.title", "content": "B", "syntax": "jinja"},
    ]
    assert api.get(f"{TEMPLATES}/a.title", token=admin_token).json()["content"] == "A {{ Status }}\n"


def test_creating_an_existing_name_is_a_conflict(api, admin_token, team_title):
    response = api.post(TEMPLATES, {"name": "team.title", "content": "other"}, token=admin_token)
    assert response.status_code == 409
    assert response.json() == {"message": "a template named 'team.title' exists; PUT templates/team.title to change it"}
    team_title.refresh_from_db()
    assert team_title.content == "Team {{ CommonLabels.team }}"


def test_put_replaces_or_creates(api, admin_token, team_title):
    replaced = api.put(f"{TEMPLATES}/team.title", {"content": "Squad {{ CommonLabels.team }}"}, token=admin_token)
    created = api.put(f"{TEMPLATES}/other", {"content": "new"}, token=admin_token)

    assert (replaced.status_code, replaced.json()["content"]) == (200, "Squad {{ CommonLabels.team }}")
    assert (created.status_code, created.json()) == (201, {"name": "other", "content": "new", "syntax": "jinja"})
    assert dict(NotificationTemplate.objects.values_list("name", "content")) == {
        "team.title": "Squad {{ CommonLabels.team }}",
        "other": "new",
    }


def test_delete(api, admin_token, team_title):
    assert api.delete(f"{TEMPLATES}/team.title", token=admin_token).status_code == 204
    assert not NotificationTemplate.objects.exists()
    assert api.delete(f"{TEMPLATES}/team.title", token=admin_token).status_code == 404


@pytest.mark.parametrize("method", ["get", "delete"])
def test_unknown_name_is_404(api, admin_token, method):
    response = getattr(api, method)(f"{TEMPLATES}/nope", token=admin_token)
    assert (response.status_code, response.json()) == (404, {"message": "no template named 'nope'"})


@pytest.mark.parametrize(
    ("content", "syntax", "line", "column", "error"),
    [
        (
            "{{ Status",
            None,
            1,
            None,
            "Jinja2 template: line 1: unexpected end of template, expected 'end of print statement'.",
        ),
        (
            "one\n{% if %}",
            None,
            2,
            None,
            "Jinja2 template: line 2: Expected an expression, got 'end of statement block'",
        ),
        (
            "one\ntwo\n{{ x | no_such_filter }}",
            None,
            3,
            None,
            "Jinja2 template: line 3: No filter named 'no_such_filter'.",
        ),
        ("one\n  {{ nope .Status }}", "go", 2, 6, 'Go template: line 2, column 6: function "nope" not defined'),
        ("{{ if .Status }}", "go", 1, 17, "Go template: line 1, column 17: unexpected EOF"),
        ("{{ .Status", "go", 1, 11, "Go template: line 1, column 11: unclosed action"),
    ],
)
def test_a_template_that_does_not_parse_is_400_with_its_engine_line_and_column(
    api, admin_token, content, syntax, line, column, error
):
    body = {"name": "broken", "content": content, **({"syntax": syntax} if syntax else {})}
    response = api.post(TEMPLATES, body, token=admin_token)
    assert response.status_code == 400
    assert response.json() == {
        "message": f"content: {error}",
        "errors": {"content": [error]},
        "line": line,
        "column": column,
    }
    body.pop("name")
    assert api.put(f"{TEMPLATES}/broken", body, token=admin_token).json()["line"] == line
    assert not NotificationTemplate.objects.exists()
    assert not NotificationTemplate.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": "x"}, "name"),
        ({"name": "x"}, "content"),
        ({"name": "", "content": "x"}, "name"),
        ({"name": "x", "content": ""}, "content"),
        ({"name": "preview", "content": "x"}, "name"),
        ({"name": "a/b", "content": "x"}, "name"),
        ({"name": " padded", "content": "x"}, "name"),
        ({"name": 5, "content": "x"}, "name"),
        ({"name": "x", "content": ["x"]}, "content"),
        ({"name": "x", "content": "nul\u0000"}, "content"),
        ({"name": "x", "content": "lone\ud800"}, "content"),
        ({"name": "x" * 191, "content": "x"}, "name"),
    ],
)
def test_malformed_bodies_are_400_naming_the_field(api, admin_token, body, field):
    response = api.post(TEMPLATES, body, token=admin_token)
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [("%20padded", {"content": "x"}, "name"), ("x", {}, "content"), ("x", ["x"], "non_field_errors")],
)
def test_malformed_puts_are_400_naming_the_field(api, admin_token, name, body, field):
    response = api.put(f"{TEMPLATES}/{name}", body, token=admin_token)
    assert (response.status_code, list(response.json()["errors"])) == (400, [field])
    assert not NotificationTemplate.objects.exists()


def test_templates_need_the_admin_scope(api, intake_token):
    assert api.get(TEMPLATES, token=intake_token).status_code == 403
    assert api.post(TEMPLATES, {"name": "x", "content": "x"}).status_code == 401


# -- POST templates/preview -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ({"template": "{{ Status }}"}, {"output": "firing", "syntax": "jinja"}),
        ({"template": "{{ .Status }}"}, {"output": "firing", "syntax": "go"}),  # detected
        (
            {"template": '{{ define "t" }}{{ .Status }}{{ end }}', "syntax": "go"},
            {"output": "t:\nfiring", "syntax": "go"},
        ),
        ({"template": "{{ .Status }}", "syntax": "jinja"}, {"error": "unexpected '.'", "line": 1, "syntax": "jinja"}),
        ({"template": ""}, {"output": "", "syntax": "jinja"}),
        (
            {"template": "{{ Alerts|length }}", "alerts": []},
            {"output": "2", "syntax": "jinja"},
        ),  # empty: the sample alerts
        (
            {"template": "{{ Alerts[0].Labels.alertname }} {{ Status }}", "alerts": [{"labels": {"alertname": "Up"}}]},
            {"output": "Up firing", "syntax": "jinja"},
        ),
        (
            {"template": "one\n{% if %}"},
            {"error": "Expected an expression, got 'end of statement block'", "line": 2, "syntax": "jinja"},
        ),
        (
            {"template": '{{ template("nope") }}'},
            {"error": 'template "nope" not defined', "line": None, "syntax": "jinja"},
        ),
    ],
)
def test_preview_answers_the_output_or_the_error(api, admin_token, body, answer):
    response = api.post(PREVIEW, body, token=admin_token)
    assert (response.status_code, response.json()) == (200, answer)


def test_preview_sees_templates_saved_through_the_api(api, admin_token):
    api.post(TEMPLATES, {"name": "team.title", "content": "Team {{ CommonLabels.team }}"}, token=admin_token)
    body = {"template": '{{ template("team.title") }}', "alerts": [{"labels": {"alertname": "A", "team": "db"}}]}
    assert api.post(PREVIEW, body, token=admin_token).json() == {"output": "Team db", "syntax": "jinja"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "template"),
        ({"template": 5}, "template"),
        ({"template": "x", "alerts": {"labels": {}}}, "alerts"),
        ({"template": "x", "alerts": [{"labels": "nope"}]}, "alerts[0].labels"),
        ({"template": "x", "alerts": [{"labels": {"a": "b"}}, {"annotations": {}}]}, "alerts[1].labels"),
        ({"template": "x", "alerts": [{"labels": {"a": "b"}, "startsAt": "yesterday"}]}, "alerts[0].startsAt"),
    ],
)
def test_preview_of_malformed_bodies_is_400_naming_the_field(api, admin_token, body, field):
    response = api.post(PREVIEW, body, token=admin_token)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_preview_refuses_more_alerts_than_the_intake_would(api, admin_token, settings):
    settings.INTAKE_MAX_ALERTS = 2
    alerts = [{"labels": {"alertname": str(n)}} for n in range(3)]
    response = api.post(PREVIEW, {"template": "x", "alerts": alerts}, token=admin_token)
    assert (response.status_code, response.json()["errors"]) == (400, {"alerts": "at most 2"})
