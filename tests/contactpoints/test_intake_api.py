"""POST /api/v1/intake/<uid>: the three shapes, auth, limits, idempotency and every error answer."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission

from contactpoints.api import intake_view
from contactpoints.models import ApiToken, Delivery, Notification

pytestmark = pytest.mark.django_db

AM_PAYLOAD = {
    "version": "4",
    "status": "firing",
    "receiver": "team",
    "groupKey": '{}:{alertname="HighLatency"}',
    "groupLabels": {"alertname": "HighLatency"},
    "commonLabels": {"alertname": "HighLatency"},
    "externalURL": "http://alertmanager.local",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighLatency", "instance": "a"},
            "annotations": {"summary": "p99 high"},
            "startsAt": "2026-11-27T05:00:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prom/graph",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "HighLatency", "instance": "b"},
            "annotations": {},
            "startsAt": "2026-11-27T05:00:00Z",
            "endsAt": "2026-11-27T05:10:00Z",
        },
    ],
}


@pytest.fixture
def contact_point(make_contact_point):
    return make_contact_point(
        "Ops Team",
        [("webhook", {"url": "http://127.0.0.1:9/a"}), ("webhook", {"url": "http://127.0.0.1:9/b"})],
    )


def url(contact_point, slash: str = "") -> str:
    return f"/api/v1/intake/{contact_point.uid}{slash}"


def test_alertmanager_payload_is_accepted_with_one_delivery_per_integration(api, contact_point, intake_token):
    response = api.post(url(contact_point), AM_PAYLOAD, token=intake_token)
    assert response.status_code == 202
    answer = response.json()
    assert answer["alerts"] == 2 and answer["deliveries"] == 2
    notification = Notification.objects.get(pk=answer["id"])
    assert notification.status == "firing"
    assert notification.group_key == AM_PAYLOAD["groupKey"]
    assert notification.external_url == "http://alertmanager.local"
    assert notification.receiver == "Ops Team"
    assert notification.source == "alertmanager"
    assert [a["status"] for a in notification.alerts] == ["firing", "resolved"]
    assert notification.alerts[0]["startsAt"] == "2026-11-27T05:00:00.123456Z"
    assert Delivery.objects.filter(notification=notification, status="pending").count() == 2


def test_trailing_slash_is_accepted(api, contact_point, intake_token):
    assert api.post(url(contact_point, "/"), AM_PAYLOAD, token=intake_token).status_code == 202


def test_alert_array_derives_status_group_labels_and_group_key(api, contact_point, intake_token):
    body = [
        {"labels": {"alertname": "Down", "job": "api"}, "endsAt": "2020-01-01T00:00:00Z"},
        {"labels": {"alertname": "Down", "job": "web"}, "annotations": {"summary": "web down"}},
    ]
    response = api.post(url(contact_point), body, token=intake_token)
    assert response.status_code == 202
    notification = Notification.objects.get(pk=response.json()["id"])
    assert [a["status"] for a in notification.alerts] == ["resolved", "firing"]
    assert notification.group_labels == {"alertname": "Down"}
    assert notification.group_key == '{}/{contact_point="ops-team"}:{alertname="Down"}'
    assert notification.external_url == "http://localhost:8000"
    assert notification.source == "alerts"


def test_simple_message_becomes_one_alert(api, contact_point, intake_token):
    body = {"title": "Backup failed", "message": "nightly backup exited 1", "labels": {"team": "db"}}
    response = api.post(url(contact_point), body, token=intake_token)
    assert response.status_code == 202
    (alert,) = Notification.objects.get(pk=response.json()["id"]).alerts
    assert alert["labels"] == {"team": "db", "alertname": "Backup failed"}
    assert alert["annotations"] == {"summary": "Backup failed", "description": "nightly backup exited 1"}
    assert alert["status"] == "firing"


def test_disable_resolve_message_gets_nothing_when_all_resolved(api, make_contact_point, intake_token):
    contact_point = make_contact_point("Quiet", [("webhook", {"url": "http://127.0.0.1:9/"})])
    contact_point.integrations.update(disable_resolve_message=True)
    body = {"title": "Recovered", "message": "ok", "status": "resolved"}
    response = api.post(url(contact_point), body, token=intake_token)
    assert response.status_code == 202
    assert response.json()["deliveries"] == 0


def test_disabled_integrations_get_no_delivery(api, contact_point, intake_token):
    contact_point.integrations.filter(position=1).update(enabled=False)
    assert api.post(url(contact_point), AM_PAYLOAD, token=intake_token).json()["deliveries"] == 1


def test_idempotency_key_replays_the_first_answer(api, contact_point, intake_token):
    first = api.post(url(contact_point), AM_PAYLOAD, token=intake_token, HTTP_IDEMPOTENCY_KEY="abc-1")
    again = api.post(url(contact_point), AM_PAYLOAD, token=intake_token, HTTP_IDEMPOTENCY_KEY="abc-1")
    other = api.post(url(contact_point), AM_PAYLOAD, token=intake_token, HTTP_IDEMPOTENCY_KEY="abc-2")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert other.json()["id"] != first.json()["id"]
    assert Notification.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"alerts": "nope"}, "alerts"),
        ({"alerts": []}, "alerts"),
        ({"alerts": [{"labels": {"a": 1}}]}, "alerts[0].labels.a"),
        ({"alerts": [{"annotations": {}}]}, "alerts[0].labels"),
        ({"alerts": [{"labels": {}}]}, "alerts[0].labels"),
        ({"alerts": [{"labels": {"a": "b"}, "startsAt": "yesterday"}]}, "alerts[0].startsAt"),
        ({"alerts": [{"labels": {"a": "b"}, "status": "burning"}]}, "alerts[0].status"),
        ({"alerts": [{"labels": {"a": "b"}}], "groupLabels": []}, "groupLabels"),
        ({"alerts": [{"labels": {"a": "b"}}], "truncatedAlerts": -1}, "truncatedAlerts"),
        ([{"labels": {"a": "b"}}, "x"], "[1]"),
        ({"title": "", "message": "m"}, "title"),
        ({"title": "t", "message": 5}, "message"),
        ({"title": "t", "status": "ok"}, "status"),
        ({"something": "else"}, "body"),
        ({"alerts": [{"labels": {"a": "nul\u0000"}}]}, "alerts[0].labels.a"),
        ({"title": "t\ud800", "message": "m"}, "title"),
        ("just a string", "body"),
    ],
)
def test_bad_shapes_get_400_naming_the_field(api, contact_point, intake_token, body, field):
    response = api.post(url(contact_point), body, token=intake_token)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_rfc3339_lower_case_separators_are_accepted(api, contact_point, intake_token):
    body = [{"labels": {"alertname": "x"}, "startsAt": "2026-11-27t05:00:00.5z"}]
    response = api.post(url(contact_point), body, token=intake_token)
    assert response.status_code == 202
    (alert,) = Notification.objects.get(pk=response.json()["id"]).alerts
    assert alert["startsAt"] == "2026-11-27T05:00:00.500000Z"


def test_idempotency_key_with_nul_gets_400(api, contact_point, intake_token):
    response = api.post(url(contact_point), AM_PAYLOAD, token=intake_token, HTTP_IDEMPOTENCY_KEY="a\x00b")
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]


def test_malformed_json_gets_400(api, contact_point, intake_token):
    response = api.post(url(contact_point), raw="{not json", token=intake_token)
    assert response.status_code == 400
    assert response.json()["message"].startswith("malformed JSON")


def test_non_json_content_type_gets_415(api, contact_point, intake_token):
    response = api.post(url(contact_point), raw="title=x", token=intake_token, content_type="text/plain")
    assert response.status_code == 415


def test_body_over_the_byte_limit_gets_413(api, contact_point, intake_token, settings):
    settings.INTAKE_MAX_BYTES = 100
    response = api.post(url(contact_point), {"title": "x" * 200, "message": ""}, token=intake_token)
    assert response.status_code == 413


def test_too_many_alerts_get_413(api, contact_point, intake_token, settings):
    settings.INTAKE_MAX_ALERTS = 3
    body = [{"labels": {"alertname": f"a{i}"}} for i in range(4)]
    response = api.post(url(contact_point), body, token=intake_token)
    assert response.status_code == 413
    assert "at most 3" in response.json()["message"]


def test_unknown_contact_point_gets_404(api, intake_token):
    assert api.post("/api/v1/intake/nope", AM_PAYLOAD, token=intake_token).status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Token abc", "Bearer"])
def test_missing_or_bad_credentials_get_401_json(client, contact_point, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.post(url(contact_point), json.dumps(AM_PAYLOAD), content_type="application/json", **headers)
    assert response.status_code == 401
    assert "message" in response.json()


def test_revoked_token_gets_401(api, contact_point):
    token, plain = ApiToken.issue("old")
    token.revoked_at = token.created_at
    token.save()
    assert api.post(url(contact_point), AM_PAYLOAD, token=plain).status_code == 401


def test_intake_token_cannot_use_the_admin_api(api, intake_token, admin_token):
    assert api.get("/api/v1/deliveries", token=intake_token).status_code == 403
    assert api.get("/api/v1/deliveries", token=admin_token).status_code == 200


def test_admin_token_may_post_alerts(api, contact_point, admin_token):
    assert api.post(url(contact_point), AM_PAYLOAD, token=admin_token).status_code == 202


def test_staff_basic_auth_may_post_with_the_permission_and_non_staff_may_not(client, contact_point, django_user_model):
    import base64

    poster = django_user_model.objects.create_user("staff", password="pw-staff-1", is_staff=True)
    poster.user_permissions.add(Permission.objects.get(codename="add_notification"))
    django_user_model.objects.create_user("bare", password="pw-bare-1", is_staff=True)
    django_user_model.objects.create_user("plain", password="pw-plain-1")
    for user, password, expected in (
        ("staff", "pw-staff-1", 202),
        ("bare", "pw-bare-1", 403),
        ("plain", "pw-plain-1", 401),
    ):
        credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
        response = client.post(
            url(contact_point),
            json.dumps(AM_PAYLOAD),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Basic {credentials}",
        )
        assert response.status_code == expected


def test_rate_limit_answers_429_with_retry_after(api, contact_point, intake_token, settings):
    settings.INTAKE_RATE_LIMIT = "2/min"
    intake_view.intake_rate.cache_clear()
    try:
        codes = [api.post(url(contact_point), AM_PAYLOAD, token=intake_token).status_code for _ in range(3)]
        limited = api.post(url(contact_point), AM_PAYLOAD, token=intake_token)
    finally:
        intake_view.intake_rate.cache_clear()
    assert codes[:2] == [202, 202]
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 61
    assert Notification.objects.count() == 2


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("fine", None),
        ("nul\x00", "body"),
        ("lone \ud800", "body"),
        (float("inf"), "body"),
        ({"a": [1.5, {"b": "x\x00"}]}, "body.a[1].b"),
        ({"bad\x00name": "v"}, "body"),
    ],
)
def test_first_unstorable_table(value, path):
    from contactpoints.storable import first_unstorable

    assert first_unstorable(value) == path
