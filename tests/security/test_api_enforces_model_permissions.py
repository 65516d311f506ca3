"""Issue 9 #3: session and HTTP Basic users get what their Django model permissions give, on
every API endpoint: nothing without them, reads with view_*, writes with add/change/delete_*."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from contactpoints.models import ContactPoint, Delivery, Integration, Notification, NotificationTemplate
from tests.security.api_users import VIEW_EVERYTHING, basic_auth, signed_in, staff_user

pytestmark = pytest.mark.django_db

PASSWORD = "hook-pw-s3cr3t"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    needs: tuple[str, ...]  # codenames in the contactpoints app
    ok: int  # the answer with those permissions
    body: dict | None = None

    @property
    def reads(self) -> bool:
        return all(codename.startswith("view_") for codename in self.needs)


PROVISIONED = {"name": "Other", "type": "webhook", "settings": {"url": "http://127.0.0.1:9/new"}}
REPROVISIONED = {
    "name": "Ops",
    "type": "webhook",
    "settings": {"url": "http://127.0.0.1:9/y", "password": "[REDACTED]"},
}

ENDPOINTS = [
    Endpoint("GET", "/api/v1/contact-points", ("view_contactpoint", "view_integration"), 200),
    Endpoint("POST", "/api/v1/contact-points/ops/test", ("change_contactpoint",), 200, {}),
    Endpoint("GET", "/api/v1/deliveries", ("view_delivery",), 200),
    Endpoint("GET", "/api/v1/deliveries/{delivery}", ("view_delivery",), 200),
    Endpoint("POST", "/api/v1/deliveries/{delivery}/retry", ("change_delivery",), 202),
    Endpoint("GET", "/api/v1/integration-types", ("view_integration",), 200),
    Endpoint("GET", "/api/v1/templates", ("view_notificationtemplate",), 200),
    Endpoint("POST", "/api/v1/templates", ("add_notificationtemplate",), 201, {"name": "new", "content": "x"}),
    Endpoint("GET", "/api/v1/templates/team.title", ("view_notificationtemplate",), 200),
    Endpoint("PUT", "/api/v1/templates/team.title", ("change_notificationtemplate",), 200, {"content": "y"}),
    Endpoint(
        "PUT",
        "/api/v1/templates/new",
        ("add_notificationtemplate", "change_notificationtemplate"),
        201,
        {"content": "z"},
    ),
    Endpoint("DELETE", "/api/v1/templates/team.title", ("delete_notificationtemplate",), 204),
    Endpoint("POST", "/api/v1/templates/preview", ("view_notificationtemplate",), 200, {"template": "{{ Status }}"}),
    Endpoint("GET", "/api/v1/provisioning/contact-points", ("view_integration",), 200),
    Endpoint("POST", "/api/v1/provisioning/contact-points", ("add_integration",), 202, PROVISIONED),
    Endpoint("PUT", "/api/v1/provisioning/contact-points/hook-1", ("change_integration",), 202, REPROVISIONED),
    Endpoint("DELETE", "/api/v1/provisioning/contact-points/hook-1", ("delete_integration",), 202),
    Endpoint("GET", "/api/v1/provisioning/contact-points/export", ("view_integration",), 200),
    Endpoint("POST", "/api/v1/intake/ops", ("add_notification",), 202, {"title": "Disk full", "message": "db-1"}),
]
IDS = [f"{e.method} {e.path}" for e in ENDPOINTS]


@pytest.fixture
def world(make_contact_point, receiver) -> dict[str, str]:
    """A contact point `ops` with webhook `hook-1`, one failed delivery, the template `team.title`."""
    contact_point = make_contact_point("Ops", [("webhook", {"url": receiver.url + "/hook", "password": PASSWORD})])
    Integration.objects.filter(contact_point=contact_point).update(uid="hook-1")
    notification = Notification.objects.create(
        contact_point=contact_point, status="firing", receiver="Ops", group_key="{}:{}"
    )
    delivery = Delivery.objects.create(
        notification=notification, integration=contact_point.integrations.get(), status="failed"
    )
    NotificationTemplate.objects.create(name="team.title", content="Team")
    return {"delivery": str(delivery.pk)}


def call(client, endpoint: Endpoint, world: dict[str, str], headers: dict[str, str]):
    body = json.dumps(endpoint.body) if endpoint.body is not None else ""
    return client.generic(
        endpoint.method, endpoint.path.format(**world), body, content_type="application/json", **headers
    )


@pytest.mark.parametrize("how", ["basic", "session"])
@pytest.mark.parametrize("who", ["no permission", "view only", "the endpoint's permissions"])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_every_endpoint_answers_by_model_permissions(client, django_user_model, world, endpoint, who, how):
    granted = {"no permission": (), "view only": VIEW_EVERYTHING, "the endpoint's permissions": endpoint.needs}[who]
    allowed = who == "the endpoint's permissions" or (who == "view only" and endpoint.reads)

    response = call(client, endpoint, world, signed_in(client, staff_user(django_user_model, *granted), how))

    assert response.status_code == (endpoint.ok if allowed else 403), response.content
    if not allowed:
        assert "permission" in response.json()["message"]


@pytest.mark.parametrize(
    ("endpoint", "missing"),
    [(e, codename) for e in ENDPOINTS if len(e.needs) > 1 for codename in e.needs],
    ids=lambda value: value if isinstance(value, str) else f"{value.method} {value.path}",
)
def test_each_permission_an_endpoint_needs_is_needed(client, django_user_model, world, endpoint, missing):
    user = staff_user(django_user_model, *(c for c in endpoint.needs if c != missing))
    assert call(client, endpoint, world, basic_auth(user)).status_code == 403


def test_a_superuser_may_do_everything(client, django_user_model, world):
    superuser = staff_user(django_user_model, superuser=True)
    # One write that needs every kind of check: creating a template by PUT (add and change).
    put = call(client, ENDPOINTS[10], world, basic_auth(superuser))
    assert put.status_code == 201


def repoint(client, headers: dict[str, str]):
    """The review's attack: the webhook to another host, `[REDACTED]` keeping its password."""
    body = {"name": "Ops", "type": "webhook", "settings": {"url": "http://127.0.0.2:9/", "password": "[REDACTED]"}}
    return client.put(
        "/api/v1/provisioning/contact-points/hook-1", json.dumps(body), content_type="application/json", **headers
    )


@pytest.mark.parametrize(
    ("granted", "status", "url_after"),
    [
        ((), 403, "unchanged"),
        (VIEW_EVERYTHING, 403, "unchanged"),
        # Grafana keeps the stored secret for "[REDACTED]" whatever the URL: the right to change
        # integrations is what guards it (Grafana's ContactPointService.UpdateContactPoint).
        (("change_integration",), 202, "http://127.0.0.2:9/"),
    ],
)
def test_repointing_a_webhook_needs_the_change_permission(client, django_user_model, world, granted, status, url_after):
    before = Integration.objects.get(uid="hook-1").settings["url"]

    response = repoint(client, basic_auth(staff_user(django_user_model, *granted)))

    integration = Integration.objects.get(uid="hook-1")
    assert response.status_code == status
    assert integration.settings["url"] == (before if url_after == "unchanged" else url_after)
    assert integration.secure_settings == {"password": PASSWORD}
    assert ContactPoint.objects.get(uid="ops").integrations.count() == 1
