"""Grafana's provisioning API for notification templates: (request → status and body) tables."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.models import Permission

from contactpoints.models import NotificationTemplate, Provenance, TemplateSyntax
from contactpoints.template_provisioning import template_version

pytestmark = pytest.mark.django_db

TEMPLATES = "/api/v1/provisioning/templates"
TEAM = '{{ define "team.title" }}[{{ .Status | toUpper }}] {{ .CommonLabels.team }}{{ end }}'
NOT_FOUND = {"messageId": "alerting.notifications.templates.notFound", "statusCode": 404}


def put(api, token, name, body, **headers):
    return api.put(f"{TEMPLATES}/{name}", body, token=token, **headers)


def stored(name: str) -> tuple[str, str, str]:
    template = NotificationTemplate.objects.get(name=name)
    return template.content, template.syntax, template.provenance


def basic(username: str, password: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


# -- the version is Grafana's fingerprint ------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "version"),
    [("", "cbf29ce484222325"), ("a", "af63bd4c8601b7be")],  # FNV-1 64 test vectors, as Grafana computes it
)
def test_version_is_grafanas_content_fingerprint(content, version):
    assert template_version(content) == version


# -- PUT -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (TEAM, TEAM),
        (f"\n  {TEAM}\n\n", TEAM),  # trimmed, as Grafana does
        # No define: wrapped in one named after the template, lines indented (Grafana's rule).
        ("{{ .Status }}\nline two", '{{ define "team.title" }}\n  {{ .Status }}\n  line two\n{{ end }}'),
    ],
)
def test_put_creates_a_go_template_and_answers_grafanas_shape(api, admin_token, sent, kept):
    response = put(api, admin_token, "team.title", {"template": sent})
    assert (response.status_code, response.json()) == (
        202,
        {"name": "team.title", "template": kept, "provenance": "api", "version": template_version(kept)},
    )
    assert stored("team.title") == (kept, TemplateSyntax.GO, Provenance.API)


def test_put_with_the_current_version_updates_and_a_stale_one_is_a_conflict(api, admin_token):
    first = put(api, admin_token, "team.title", {"template": TEAM}).json()
    changed = TEAM.replace("team }}", "team }} (ops)")
    second = put(api, admin_token, "team.title", {"template": changed, "version": first["version"]})
    stale = put(api, admin_token, "team.title", {"template": TEAM, "version": first["version"]})

    assert (second.status_code, second.json()["version"]) == (202, template_version(changed))
    assert second.json()["version"] != first["version"]
    assert (stale.status_code, stale.json()) == (
        409,
        {
            "message": f"provided version {first['version']} of template team.title does not match "
            f"current version {template_version(changed)}",
            "messageId": "alerting.notifications.conflict",
            "statusCode": 409,
        },
    )
    assert stored("team.title")[0] == changed


def test_put_without_a_version_replaces_whatever_is_stored(api, admin_token):
    put(api, admin_token, "team.title", {"template": TEAM})
    assert put(api, admin_token, "team.title", {"template": "{{ .Status }}"}).status_code == 202
    assert stored("team.title")[0] == '{{ define "team.title" }}\n  {{ .Status }}\n{{ end }}'


def test_a_versioned_put_to_no_template_is_404(api, admin_token):
    response = put(api, admin_token, "nope", {"template": TEAM, "version": "0123456789abcdef"})
    assert (response.status_code, {k: response.json()[k] for k in NOT_FOUND}) == (404, NOT_FOUND)
    assert not NotificationTemplate.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"template": '{{ define "x" }}\n{{ nope .Status }}{{ end }}'},
            'Go template: line 2, column 4: function "nope" not defined',
        ),
        (
            {"template": "{{ nope }}"},
            'Go template: line 2, column 6: function "nope" not defined',
        ),  # inside the added define
        ({"template": '{{ define "x" }}{{ if .Status }}{{ end }}'}, "Go template: line 1, column 42: unexpected EOF"),
        ({"template": ""}, "template must have content"),
        ({}, "template must have content"),
        ({"template": 5}, "template must have content"),
        ({"template": TEAM, "version": 5}, "version must be a string (the version a GET answered)"),
        ([TEAM], 'the body must be a JSON object: {"template": "...", "version"?: "..."}'),
    ],
)
def test_put_refuses_what_grafana_refuses_with_the_engine_line_and_column(api, admin_token, body, message):
    response = put(api, admin_token, "team.title", body)
    assert (response.status_code, response.json()) == (
        400,
        {"message": message, "messageId": "alerting.notifications.templates.invalidFormat", "statusCode": 400},
    )
    assert not NotificationTemplate.objects.exists()


@pytest.mark.parametrize(
    ("stored_provenance", "headers", "status", "provenance"),
    [
        (None, {"HTTP_X_DISABLE_PROVENANCE": "true"}, 202, Provenance.NONE),  # stays editable in the admin
        (Provenance.API, {"HTTP_X_DISABLE_PROVENANCE": "true"}, 202, Provenance.NONE),
        (Provenance.NONE, {}, 202, Provenance.API),
        (Provenance.FILE, {}, 400, Provenance.FILE),  # file and api never become each other
    ],
)
def test_put_provenance_follows_the_contact_points_rule(
    api, admin_token, stored_provenance, headers, status, provenance
):
    if stored_provenance is not None:
        NotificationTemplate.objects.create(name="team.title", content="old", syntax="go", provenance=stored_provenance)
    response = put(api, admin_token, "team.title", {"template": TEAM}, **headers)
    assert response.status_code == status
    assert stored("team.title")[2] == provenance
    if status == 400:
        assert response.json()["message"] == "cannot change provenance from 'file' to 'api'"


# -- GET -------------------------------------------------------------------------------------


def test_list_and_get(api, admin_token):
    assert api.get(TEMPLATES, token=admin_token).json() == []
    put(api, admin_token, "b", {"template": '{{ define "b" }}B{{ end }}'})
    NotificationTemplate.objects.create(name="a", content="A {{ Status }}", syntax="jinja")

    expected_b = {"name": "b", "template": '{{ define "b" }}B{{ end }}', "provenance": "api"}
    listed = api.get(TEMPLATES, token=admin_token).json()
    assert [item["name"] for item in listed] == ["a", "b"]
    assert listed[1] == {**expected_b, "version": template_version(expected_b["template"])}
    assert api.get(f"{TEMPLATES}/b", token=admin_token).json() == listed[1]


def test_get_unknown_is_404_in_grafanas_shape(api, admin_token):
    response = api.get(f"{TEMPLATES}/nope", token=admin_token)
    assert (response.status_code, response.json()) == (404, {"message": "template 'nope' not found", **NOT_FOUND})


# -- DELETE ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "status", "left"),
    [
        ("", 204, []),
        (f"?version={template_version(TEAM)}", 204, []),
        ("?version=0123456789abcdef", 409, ["team.title"]),
    ],
)
def test_delete(api, admin_token, query, status, left):
    put(api, admin_token, "team.title", {"template": TEAM})
    response = api.delete(f"{TEMPLATES}/team.title{query}", token=admin_token)
    assert response.status_code == status
    assert list(NotificationTemplate.objects.values_list("name", flat=True)) == left


def test_delete_unknown_is_204_as_in_grafana(api, admin_token):
    assert api.delete(f"{TEMPLATES}/nope", token=admin_token).status_code == 204


# -- who may -----------------------------------------------------------------------------------


@pytest.fixture
def staff(django_user_model):
    """basic auth headers for a staff user holding the given template permissions."""

    def make(*actions: str) -> dict[str, str]:
        username = "staff-" + "-".join(actions or ("none",))
        user = django_user_model.objects.create_user(username, password="staff-pw", is_staff=True)
        for action in actions:
            user.user_permissions.add(Permission.objects.get(codename=f"{action}_notificationtemplate"))
        return basic(username, "staff-pw")

    return make


@pytest.mark.parametrize(
    ("who", "method", "path", "status"),
    [
        ("admin token", "get", TEMPLATES, 200),
        ("admin token", "put", f"{TEMPLATES}/new", 202),
        ("intake token", "get", TEMPLATES, 403),
        ("intake token", "put", f"{TEMPLATES}/team.title", 403),
        ("no one", "get", TEMPLATES, 401),
        ("view", "get", f"{TEMPLATES}/team.title", 200),
        ("view", "put", f"{TEMPLATES}/team.title", 403),
        ("view", "delete", f"{TEMPLATES}/team.title", 403),
        ("change", "put", f"{TEMPLATES}/team.title", 202),
        ("change", "put", f"{TEMPLATES}/new", 403),  # creating needs add too
        ("change,add", "put", f"{TEMPLATES}/new", 202),
        ("delete", "delete", f"{TEMPLATES}/team.title", 204),
        ("", "get", TEMPLATES, 403),  # staff without permissions
    ],
)
def test_permissions(api, admin_token, intake_token, staff, who, method, path, status):
    NotificationTemplate.objects.create(name="team.title", content=TEAM, syntax="go")
    if who == "admin token":
        credentials = {"HTTP_AUTHORIZATION": f"Bearer {admin_token}"}
    elif who == "intake token":
        credentials = {"HTTP_AUTHORIZATION": f"Bearer {intake_token}"}
    elif who == "no one":
        credentials = {}
    else:
        credentials = staff(*[action for action in who.split(",") if action])
    call = getattr(api, method)
    response = call(path, {"template": TEAM}, **credentials) if method == "put" else call(path, **credentials)
    assert response.status_code == status, response.content
    if status == 403:
        assert "message" in response.json()
