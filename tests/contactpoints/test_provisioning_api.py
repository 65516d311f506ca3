"""Grafana's provisioning API (contract §5, spec §7): (request → status and body) tables."""

from __future__ import annotations

import base64
import json

import pytest
import yaml
from django.contrib.auth.models import Permission

from contactpoints.models import ContactPoint, Integration, Provenance

pytestmark = pytest.mark.django_db

PROVISIONING = "/api/v1/provisioning/contact-points"
EXPORT = f"{PROVISIONING}/export"
URL = "http://127.0.0.1:9/hook"
PASSWORD = "pw-s3cr3t-1"
UNSTORABLE = "values may not contain NUL characters, lone surrogates or infinite numbers"
WEBHOOK = {"name": "Ops Team", "type": "webhook", "settings": {"url": URL, "password": PASSWORD}}


def create(api, token, body=WEBHOOK, **headers) -> dict:
    response = api.post(PROVISIONING, body, token=token, **headers)
    assert response.status_code == 202, response.content
    return response.json()


def provisioned(name: str, uid: str, provenance: str = Provenance.FILE, **settings) -> Integration:
    contact_point = ContactPoint.objects.get_or_create(name=name)[0]
    integration = Integration(contact_point=contact_point, type="webhook", uid=uid, provenance=provenance)
    integration.assign_settings({"url": URL, **settings})
    integration.save()
    return integration


def basic(username: str, password: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


# -- POST ------------------------------------------------------------------------------------


def test_post_answers_202_with_the_created_integration_secrets_redacted(api, admin_token):
    item = create(api, admin_token)
    assert item == {
        "uid": item["uid"],
        "name": "Ops Team",
        "type": "webhook",
        "settings": {"url": URL, "password": "[REDACTED]"},
        "disableResolveMessage": False,
        "provenance": "api",
    }
    integration = Integration.objects.get(uid=item["uid"])
    assert integration.secure_settings == {"password": PASSWORD}
    assert "password" not in integration.settings
    assert integration.contact_point.uid == "ops-team"


def test_post_keeps_a_given_uid_and_groups_integrations_by_name(api, admin_token):
    first = create(api, admin_token, {**WEBHOOK, "uid": "ops_hook-1"})
    second = create(api, admin_token, {**WEBHOOK, "uid": "ops_hook-2", "disableResolveMessage": True})
    assert (first["uid"], second["uid"], second["disableResolveMessage"]) == ("ops_hook-1", "ops_hook-2", True)
    contact_point = ContactPoint.objects.get(name="Ops Team")
    assert [(i.uid, i.position) for i in contact_point.integrations.all()] == [("ops_hook-1", 0), ("ops_hook-2", 1)]


@pytest.mark.parametrize(
    ("headers", "provenance"),
    [
        ({}, "api"),
        ({"HTTP_X_DISABLE_PROVENANCE": "true"}, ""),  # none: editable in the admin
        ({"HTTP_X_DISABLE_PROVENANCE": "1"}, ""),  # Grafana looks at the header's presence
        ({"HTTP_X_DISABLE_PROVENANCE": "false"}, "api"),
    ],
)
def test_post_provenance_is_api_unless_the_header_disables_it(api, admin_token, headers, provenance):
    assert create(api, admin_token, **headers)["provenance"] == provenance


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "webhook", "settings": {"url": URL}}, "no name is set"),
        ({"name": "  ", "type": "webhook", "settings": {"url": URL}}, "no name is set"),
        ({"name": "a", "settings": {"url": URL}}, "no type is set"),
        ({"name": "a", "type": "webhook"}, "no settings are set"),
        ({"name": "a", "type": "webhook", "settings": {}}, "no settings are set"),
        ({"name": "a", "type": "webhook", "settings": "url"}, "no settings are set"),
        ({"name": "a", "type": "nope", "settings": {"a": 1}}, 'invalid integration type "nope"'),
        ({"name": "a", "type": "webhook", "settings": {"httpMethod": "POST"}}, "required field 'url' is not specified"),
        (
            {"name": "a", "type": "slack", "settings": {"mentionChannel": "all", "url": "http://x"}},
            'invalid value for mentionChannel: "all"',
        ),
        ({**WEBHOOK, "uid": "has space"}, "invalid format of UID. Only letters, numbers, '-' and '_' are allowed"),
        ({**WEBHOOK, "uid": "x" * 41}, "UID is longer than 40 symbols"),
        ({**WEBHOOK, "uid": 7}, "uid must be a string"),
        ({**WEBHOOK, "disableResolveMessage": "yes"}, "disableResolveMessage must be a boolean"),
        ({**WEBHOOK, "name": "a\x00b"}, UNSTORABLE),
        ({**WEBHOOK, "settings": {"url": URL, "title": "\ud800"}}, UNSTORABLE),
        ('{"name": "a", "type": "webhook", "settings": {"url": "http://x", "maxAlerts": 1e400}}', UNSTORABLE),
        ({**WEBHOOK, "name": "n" * 191}, "name is longer than 190 characters"),
        ([WEBHOOK], "the body must be a JSON object"),
    ],
)
def test_post_validation_errors_are_400_with_grafanas_text(api, admin_token, body, message):
    response = api.post(PROVISIONING, **({"raw": body} if isinstance(body, str) else {"body": body}), token=admin_token)
    assert (response.status_code, response.json()["message"]) == (400, message)
    assert not Integration.objects.exists()


def test_post_with_a_uid_in_use_is_refused(api, admin_token):
    provisioned("Elsewhere", "taken", Provenance.NONE)
    response = api.post(PROVISIONING, {**WEBHOOK, "uid": "taken"}, token=admin_token)
    assert response.status_code == 400
    assert response.json()["message"] == (
        "receiver configuration with UID 'taken' already exist in contact point 'Elsewhere'. "
        "Please use unique identifiers for receivers across all contact points"
    )


def test_malformed_json_is_a_400_with_a_message(api, admin_token):
    response = api.post(PROVISIONING, raw="{nope", token=admin_token)
    assert response.status_code == 400
    assert response.json()["message"].startswith("JSON parse error")


# -- GET -------------------------------------------------------------------------------------


def test_get_lists_every_integration_sorted_by_name_and_filters_by_name(api, admin_token):
    create(api, admin_token, {**WEBHOOK, "name": "Zeta", "uid": "z1"})
    create(api, admin_token, {**WEBHOOK, "name": "Alpha", "uid": "a1"})
    listed = api.get(PROVISIONING, token=admin_token).json()
    assert [(i["name"], i["uid"]) for i in listed] == [("Alpha", "a1"), ("Zeta", "z1")]
    assert all(i["settings"]["password"] == "[REDACTED]" for i in listed)
    assert [i["uid"] for i in api.get(f"{PROVISIONING}?name=Zeta", token=admin_token).json()] == ["z1"]
    assert api.get(f"{PROVISIONING}?name=Nobody", token=admin_token).json() == []


@pytest.mark.parametrize(
    ("credentials", "status"),
    [({}, 401), ({"HTTP_AUTHORIZATION": "Bearer nope"}, 401), ("intake", 403), ("admin", 200)],
)
def test_the_api_needs_an_admin_token_or_staff(api, intake_token, admin_token, credentials, status):
    if credentials == "intake":
        credentials = {"HTTP_AUTHORIZATION": f"Bearer {intake_token}"}
    elif credentials == "admin":
        credentials = {"HTTP_AUTHORIZATION": f"Bearer {admin_token}"}
    response = api.get(PROVISIONING, **credentials)
    assert response.status_code == status
    assert status == 200 or "message" in response.json()


# -- PUT -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent_password", "stored"),
    [
        ("[REDACTED]", {"password": PASSWORD}),  # "[REDACTED]" keeps the stored secret
        ("new-s3cr3t", {"password": "new-s3cr3t"}),
        (None, {}),  # left out: Grafana replaces the settings whole
    ],
)
def test_put_replaces_the_settings_and_redacted_keeps_the_secret(api, admin_token, sent_password, stored):
    uid = create(api, admin_token)["uid"]
    settings = {"url": f"{URL}/new", **({"password": sent_password} if sent_password else {})}
    response = api.put(f"{PROVISIONING}/{uid}", {**WEBHOOK, "settings": settings}, token=admin_token)
    assert (response.status_code, response.json()) == (202, {"message": "contactpoint updated"})
    integration = Integration.objects.get(uid=uid)
    assert integration.settings == {"url": f"{URL}/new"}
    assert integration.secure_settings == stored


def test_put_uses_the_uid_of_the_path_not_the_body(api, admin_token):
    uid = create(api, admin_token)["uid"]
    response = api.put(f"{PROVISIONING}/{uid}", {**WEBHOOK, "uid": "other"}, token=admin_token)
    assert response.status_code == 202
    assert list(Integration.objects.values_list("uid", flat=True)) == [uid]


@pytest.mark.parametrize(
    ("stored", "header", "status", "body"),
    [
        (Provenance.FILE, {}, 400, {"message": "cannot change provenance from 'file' to 'api'"}),
        (Provenance.FILE, {"HTTP_X_DISABLE_PROVENANCE": "true"}, 202, {"message": "contactpoint updated"}),
        (Provenance.API, {}, 202, {"message": "contactpoint updated"}),
        (Provenance.API, {"HTTP_X_DISABLE_PROVENANCE": "true"}, 202, {"message": "contactpoint updated"}),
        (Provenance.NONE, {}, 202, {"message": "contactpoint updated"}),
    ],
)
def test_put_provenance_may_not_move_between_file_and_api(api, admin_token, stored, header, status, body):
    provisioned("Ops Team", "managed", stored)
    response = api.put(f"{PROVISIONING}/managed", WEBHOOK, token=admin_token, **header)
    assert (response.status_code, response.json()) == (status, body)
    expected = stored if status == 400 else ("" if header else "api")
    assert Integration.objects.get(uid="managed").provenance == expected


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({**WEBHOOK, "settings": {"httpMethod": "POST"}}, 400, "required field 'url' is not specified"),
        ({**WEBHOOK, "name": ""}, 400, "no name is set"),
    ],
)
def test_put_validation_errors_change_nothing(api, admin_token, body, status, message):
    uid = create(api, admin_token)["uid"]
    before = Integration.objects.get(uid=uid)
    response = api.put(f"{PROVISIONING}/{uid}", body, token=admin_token)
    assert (response.status_code, response.json()["message"]) == (status, message)
    after = Integration.objects.get(uid=uid)
    assert (after.settings, after.secure_settings, after.updated_at) == (
        before.settings,
        before.secure_settings,
        before.updated_at,
    )


@pytest.mark.parametrize("uid", ["nope", "has%20space", "x" * 41])
def test_put_and_delete_of_an_unknown_uid_are_404(api, admin_token, uid):
    put = api.put(f"{PROVISIONING}/{uid}", WEBHOOK, token=admin_token)
    delete = api.delete(f"{PROVISIONING}/{uid}", token=admin_token)
    for response in (put, delete):
        assert response.status_code == 404
        assert response.json()["message"].startswith("contact point with uid '")


def test_put_renaming_the_only_integration_renames_its_contact_point(api, admin_token):
    uid = create(api, admin_token)["uid"]
    api.put(f"{PROVISIONING}/{uid}", {**WEBHOOK, "name": "Platform"}, token=admin_token)
    (contact_point,) = ContactPoint.objects.all()
    assert (contact_point.name, contact_point.uid) == ("Platform", "ops-team")  # the intake URL stays


def test_put_renaming_one_of_two_moves_it_to_that_contact_point(api, admin_token):
    first = create(api, admin_token)["uid"]
    second = create(api, admin_token)["uid"]
    api.put(f"{PROVISIONING}/{second}", {**WEBHOOK, "name": "Platform"}, token=admin_token)
    assert Integration.objects.get(uid=first).contact_point.name == "Ops Team"
    assert Integration.objects.get(uid=second).contact_point.name == "Platform"
    assert ContactPoint.objects.get(name="Platform").uid == "platform"


# -- DELETE ----------------------------------------------------------------------------------


def test_delete_removes_the_integration_and_then_the_empty_contact_point(api, admin_token):
    first = create(api, admin_token)["uid"]
    second = create(api, admin_token)["uid"]
    response = api.delete(f"{PROVISIONING}/{first}", token=admin_token)
    assert (response.status_code, response.json()) == (202, {"message": "contactpoint deleted"})
    assert ContactPoint.objects.filter(name="Ops Team").exists()
    api.delete(f"{PROVISIONING}/{second}", token=admin_token)
    assert not ContactPoint.objects.exists()


# -- export ----------------------------------------------------------------------------------


@pytest.fixture
def staff_user(django_user_model):
    """A staff user who may read integrations (the export), and no more."""
    user = django_user_model.objects.create_user("staff", password="staff-pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_integration"))
    return basic("staff", "staff-pw")


@pytest.fixture
def superuser(django_user_model):
    django_user_model.objects.create_superuser("root", password="root-pw")
    return basic("root", "root-pw")


@pytest.mark.parametrize(
    ("query", "accept", "content_type", "parse"),
    [
        ("", None, "text/yaml", yaml.safe_load),
        ("", "application/json", "application/json", json.loads),
        ("", "application/yaml", "text/yaml", yaml.safe_load),
        ("?format=json", None, "application/json", json.loads),
        ("?format=yaml", "application/json", "text/yaml", yaml.safe_load),  # the query wins
        ("?format=json", "text/yaml", "application/json", json.loads),
    ],
)
def test_export_format_comes_from_the_query_then_accept(api, admin_token, query, accept, content_type, parse):
    uid = create(api, admin_token)["uid"]
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = api.get(EXPORT + query, token=admin_token, **headers)
    assert (response.status_code, response["Content-Type"]) == (200, content_type)
    assert "Content-Disposition" not in response
    assert parse(response.content) == {
        "apiVersion": 1,
        "contactPoints": [
            {
                "orgId": 1,
                "name": "Ops Team",
                "receivers": [
                    {
                        "uid": uid,
                        "type": "webhook",
                        "settings": {"url": URL, "password": "[REDACTED]"},
                        "disableResolveMessage": False,
                    }
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("query", "content_type", "disposition"),
    [
        ("?download=true", "application/yaml", 'attachment;filename="export.yaml"'),
        ("?download=true&format=json", "application/json", 'attachment;filename="export.json"'),
    ],
)
def test_export_download_is_an_attachment(api, admin_token, query, content_type, disposition):
    create(api, admin_token)
    response = api.get(EXPORT + query, token=admin_token)
    assert (response["Content-Type"], response["Content-Disposition"]) == (content_type, disposition)


@pytest.mark.parametrize(
    ("who", "query", "status", "password"),
    [
        ("admin token", "?decrypt=true", 200, PASSWORD),
        ("superuser", "?decrypt=true", 200, PASSWORD),
        ("admin token", "?decrypt=false", 200, "[REDACTED]"),
        ("staff user", "", 200, "[REDACTED]"),
        ("staff user", "?decrypt=false", 200, "[REDACTED]"),
        ("staff user", "?decrypt=true", 403, None),
    ],
)
def test_export_decrypts_only_for_admins(api, admin_token, staff_user, superuser, who, query, status, password):
    create(api, admin_token)
    credentials = {
        "admin token": {"HTTP_AUTHORIZATION": f"Bearer {admin_token}"},
        "superuser": superuser,
        "staff user": staff_user,
    }[who]
    response = api.get(EXPORT + query + ("&" if query else "?") + "format=json", **credentials)
    assert response.status_code == status
    if status == 403:
        body = response.json()
        assert body["title"] == "Access denied" and body["accessErrorId"].startswith("ACE")
        assert body["message"] == (
            "You'll need additional permissions to perform this action. "
            "Permissions needed: alert.provisioning.secrets:read"
        )
        return
    receiver = response.json()["contactPoints"][0]["receivers"][0]
    assert receiver["settings"]["password"] == password


def test_export_by_name_and_empty_contact_points_are_left_out(api, admin_token):
    create(api, admin_token, {**WEBHOOK, "name": "One"})
    create(api, admin_token, {**WEBHOOK, "name": "Two"})
    ContactPoint.objects.create(name="Empty")
    everything = api.get(f"{EXPORT}?format=json", token=admin_token).json()
    assert [c["name"] for c in everything["contactPoints"]] == ["One", "Two"]
    one = api.get(f"{EXPORT}?format=json&name=Two", token=admin_token).json()
    assert [c["name"] for c in one["contactPoints"]] == ["Two"]


def test_export_doubles_dollars_so_that_the_file_reimports_them(api, admin_token):
    create(api, admin_token, {**WEBHOOK, "settings": {"url": URL, "title": "costs $5"}})
    exported = api.get(f"{EXPORT}?format=json", token=admin_token).json()
    assert exported["contactPoints"][0]["receivers"][0]["settings"]["title"] == "costs $$5"
