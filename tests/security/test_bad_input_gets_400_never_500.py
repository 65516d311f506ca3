"""Hostile bodies get 400 with a message on every endpoint that reads JSON, never a 500:
nesting deeper than the limit, times outside what a datetime can hold, URLs longer than the column."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from contactpoints.json_limits import MAX_JSON_DEPTH
from contactpoints.models import Notification

pytestmark = pytest.mark.django_db

TOO_DEEP = f"JSON nesting is too deep (limit {MAX_JSON_DEPTH})"
ALERT = {"labels": {"alertname": "Deep"}}


def nested(depth: int) -> str:
    """A JSON text of `depth` nested arrays: [[[...]]]."""
    return "[" * depth + "]" * depth


def in_alert(depth: int) -> str:
    """An Alertmanager payload whose alert carries an extra field nested to make `depth` in all.
    The payload object, `alerts` and the alert are three levels of it."""
    return '{"alerts": [{"labels": {"alertname": "Deep"}, "extra": ' + nested(depth - 3) + "}]}"


@pytest.fixture
def contact_point(make_contact_point):
    return make_contact_point("Ops Team", [("webhook", {"url": "http://127.0.0.1:9/hook"})])


def endpoints(contact_point) -> dict[str, tuple[str, str]]:
    """Every endpoint that reads a JSON body: name → (method, path)."""
    return {
        "intake": ("post", f"/api/v1/intake/{contact_point.uid}"),
        "provisioning create": ("post", "/api/v1/provisioning/contact-points"),
        "provisioning replace": ("put", "/api/v1/provisioning/contact-points/some-uid"),
        "template create": ("post", "/api/v1/templates"),
        "template replace": ("put", "/api/v1/templates/team.title"),
        "template preview": ("post", "/api/v1/templates/preview"),
        "test notification": ("post", f"/api/v1/contact-points/{contact_point.uid}/test"),
    }


def send(client, method: str, path: str, raw: str, token: str):
    return getattr(client, method)(
        path, data=raw, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


@pytest.mark.parametrize(
    "endpoint",
    [
        "intake",
        "provisioning create",
        "provisioning replace",
        "template create",
        "template replace",
        "template preview",
        "test notification",
    ],
)
@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("[" * 3000, id="3000 opening brackets"),
        pytest.param(nested(3000), id="3000 nested arrays"),
        pytest.param(in_alert(600), id="an array 600 deep inside an alert"),
        pytest.param(in_alert(MAX_JSON_DEPTH + 1), id="one level over the limit"),
        pytest.param('{"a": ' * 2000 + "1" + "}" * 2000, id="2000 nested objects"),
    ],
)
def test_json_nested_deeper_than_the_limit_is_400_on_every_endpoint(
    client, contact_point, intake_token, admin_token, endpoint, raw
):
    method, path = endpoints(contact_point)[endpoint]
    response = send(client, method, path, raw, intake_token if endpoint == "intake" else admin_token)
    assert (response.status_code, response.json()["message"]) == (400, TOO_DEEP)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("[" * 100 + "{" * 100, id="brackets in a string"),
        pytest.param('"' + "[" * 100, id="after an escaped quote"),
        pytest.param("\\" + "[" * 100, id="after an escaped backslash"),
    ],
)
def test_brackets_inside_strings_are_not_nesting(client, contact_point, intake_token, value):
    body = {"alerts": [{"labels": {"alertname": "Brackets", "value": value}}]}
    response = send(client, "post", f"/api/v1/intake/{contact_point.uid}", json.dumps(body), intake_token)
    assert response.status_code == 202, response.content
    assert Notification.objects.get().alerts[0]["labels"]["value"] == value


def test_nesting_at_the_limit_is_accepted(client, contact_point, intake_token):
    response = send(client, "post", f"/api/v1/intake/{contact_point.uid}", in_alert(MAX_JSON_DEPTH), intake_token)
    assert response.status_code == 202, response.content


@pytest.mark.parametrize("field", ["startsAt", "endsAt"])
@pytest.mark.parametrize(
    "moment",
    [
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+01:00",
        " 0001-01-01T00:00:00+01:00",
        "0001-01-01T00:59:00+01:00",
        "9999-12-31T23:00:00-01:00",
    ],
)
@pytest.mark.parametrize("endpoint", ["intake", "template preview"])
def test_times_beyond_what_utc_can_hold_are_400_naming_the_field(
    client, contact_point, intake_token, admin_token, endpoint, field, moment
):
    method, path = endpoints(contact_point)[endpoint]
    alerts = [{**ALERT, field: moment}]
    body = {"alerts": alerts} if endpoint == "intake" else {"template": "{{ Status }}", "alerts": alerts}
    token = intake_token if endpoint == "intake" else admin_token
    response = send(client, method, path, json.dumps(body), token)
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {f"alerts[0].{field}": "must be between 0001-01-01 and 9999-12-31 in UTC"}


@pytest.mark.parametrize(
    ("moment", "stored"),
    [
        ("0001-01-01T00:00:00Z", ""),  # Go's zero time: unset
        ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
        ("0001-01-01T02:00:00+01:00", "0001-01-01T01:00:00Z"),
    ],
)
def test_times_at_the_edges_of_the_range_are_kept(client, contact_point, intake_token, moment, stored):
    body = {"alerts": [{**ALERT, "endsAt": moment, "status": "firing"}]}
    response = send(client, "post", f"/api/v1/intake/{contact_point.uid}", json.dumps(body), intake_token)
    assert response.status_code == 202, response.content
    assert Notification.objects.get().alerts[0]["endsAt"] == stored


EXTERNAL_URL_MAX = Notification._meta.get_field("external_url").max_length


@pytest.mark.parametrize(
    ("length", "status"),
    [(EXTERNAL_URL_MAX, 202), (EXTERNAL_URL_MAX + 1, 400), (100_000, 400)],
)
def test_external_url_longer_than_its_column_is_400_naming_the_field(
    client, contact_point, intake_token, length, status
):
    url = "http://am.example/" + "x" * (length - len("http://am.example/"))
    body = {"alerts": [ALERT], "externalURL": url}
    response = send(client, "post", f"/api/v1/intake/{contact_point.uid}", json.dumps(body), intake_token)
    assert response.status_code == status, response.content
    if status == 400:
        assert response.json()["errors"] == {"externalURL": f"must be at most {EXTERNAL_URL_MAX} characters"}


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(nested(3000), id="3000 nested arrays"),
        pytest.param('{"template": "x", "alerts": [' + nested(600) + "]}", id="sample alerts 600 deep"),
    ],
)
def test_the_admin_template_preview_refuses_deep_json_with_400(admin_client, raw):
    response = admin_client.post(
        reverse("admin:contactpoints_notificationtemplate_preview"), raw, content_type="application/json"
    )
    assert (response.status_code, response.json()) == (400, {"error": f"{TOO_DEEP}."})
