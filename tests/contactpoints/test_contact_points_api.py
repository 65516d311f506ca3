"""GET contact-points (secrets as set/unset, health in Grafana's names) and POST .../test."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from contactpoints.api.serializers import go_duration
from contactpoints.models import Integration
from integrations.registry import get_type
from tests.receivers import Answer

pytestmark = pytest.mark.django_db

LIST = "/api/v1/contact-points"
WEBHOOK_SECRETS = get_type("webhook").secret_keys()
WEBHOOK_WITH_SECRETS = {
    "url": "http://127.0.0.1:9/hook",
    "password": "pw-s3cr3t-1",
    "hmacConfig": {"secret": "hmac-s3cr3t-1", "header": "X-Sig"},
}


def test_lists_contact_points_by_name_with_their_integrations(api, admin_token, make_contact_point):
    make_contact_point("Zeta", [("webhook", {"url": "http://127.0.0.1:9/z"})])
    make_contact_point("Alpha", [("webhook", WEBHOOK_WITH_SECRETS), ("webhook", {"url": "http://127.0.0.1:9/2"})])

    response = api.get(LIST, token=admin_token)

    assert response.status_code == 200
    answer = response.json()
    assert [c["name"] for c in answer] == ["Alpha", "Zeta"]
    alpha = answer[0]
    assert (alpha["uid"], alpha["paused"], alpha["description"]) == ("alpha", False, "")
    first, second = alpha["integrations"]
    assert first == {
        "uid": first["uid"],
        "type": "webhook",
        "settings": {"url": "http://127.0.0.1:9/hook", "hmacConfig": {"header": "X-Sig"}},
        "secureFields": {key: key in ("password", "hmacConfig.secret") for key in WEBHOOK_SECRETS},
        "disableResolveMessage": False,
        "ratePerSecond": None,
        "enabled": True,
        "paused": False,
        "provenance": "",
        "lastNotifyAttempt": None,
        "lastNotifyAttemptDuration": None,
        "lastNotifyAttemptError": "",
        "unhealthySince": None,
    }
    assert second["secureFields"] == dict.fromkeys(WEBHOOK_SECRETS, False)
    assert "s3cr3t" not in response.content.decode()


def test_health_is_the_last_attempt_in_grafanas_names(api, admin_token, make_contact_point):
    contact_point = make_contact_point("Ops", [("webhook", {"url": "http://127.0.0.1:9/"})])
    contact_point.integrations.update(
        last_attempt_at=datetime(2024, 5, 1, 12, 0, 3, tzinfo=UTC),
        last_attempt_duration_ms=1520,
        last_attempt_error="webhook response status 500 Internal Server Error",
    )

    (integration,) = api.get(LIST, token=admin_token).json()[0]["integrations"]

    assert integration["lastNotifyAttempt"] == "2024-05-01T12:00:03Z"
    assert integration["lastNotifyAttemptDuration"] == "1.52s"
    assert integration["lastNotifyAttemptError"] == "webhook response status 500 Internal Server Error"


@pytest.mark.parametrize(
    ("milliseconds", "text"),
    [(0, "0s"), (7, "7ms"), (120, "120ms"), (999, "999ms"), (1000, "1s"), (1500, "1.5s"), (1520, "1.52s"),
     (61_005, "1m1.005s"), (120_000, "2m0s"), (3_600_000, "1h0m0s"), (3_723_400, "1h2m3.4s")],
)  # fmt: skip
def test_durations_read_like_go_durations(milliseconds, text):
    assert go_duration(milliseconds) == text


def test_paused_and_provisioned_integrations_say_so(api, admin_token, make_contact_point):
    contact_point = make_contact_point("Quiet", [("webhook", {"url": "http://127.0.0.1:9/"})])
    contact_point.paused = True
    contact_point.save()
    contact_point.integrations.update(paused=True, enabled=False, disable_resolve_message=True, provenance="file")

    (listed,) = api.get(LIST, token=admin_token).json()

    assert listed["paused"] is True
    (integration,) = listed["integrations"]
    assert {k: integration[k] for k in ("paused", "enabled", "disableResolveMessage", "provenance")} == {
        "paused": True,
        "enabled": False,
        "disableResolveMessage": True,
        "provenance": "file",
    }


def test_query_count_does_not_grow_with_the_rows(api, admin_token, make_contact_point):
    def queries_for_listing() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert api.get(LIST, token=admin_token).status_code == 200
        return len(captured)

    make_contact_point("One", [("webhook", {"url": "http://127.0.0.1:9/"})])
    queries_for_listing()  # the token's first use records last_used_at: one more query, once
    few = queries_for_listing()
    for n in range(6):
        make_contact_point(f"More {n}", [("webhook", {"url": "http://127.0.0.1:9/"})] * 3)
    assert queries_for_listing() == few


@pytest.mark.parametrize(("token", "status"), [("intake", 403), (None, 401)])
def test_listing_needs_the_admin_scope(api, intake_token, token, status):
    response = api.get(LIST, token=intake_token if token else None)
    assert response.status_code == status
    assert "message" in response.json()


# -- POST contact-points/<uid>/test ---------------------------------------------------------


def url_to_test(contact_point, **query) -> str:
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    return f"{LIST}/{contact_point.uid}/test{suffix}"


def test_sends_a_test_alert_to_every_integration_with_the_given_labels(api, admin_token, make_contact_point, receiver):
    receiver.answer_with(Answer(200), Answer(500, b"down"))
    contact_point = make_contact_point("Tested", [("webhook", {"url": receiver.url})] * 2)
    body = {"labels": {"team": "db"}, "annotations": {"summary": "Trying it out"}}

    response = api.post(url_to_test(contact_point), body, token=admin_token)

    assert response.status_code == 200
    results = response.json()
    uids = set(contact_point.integrations.values_list("uid", flat=True))
    assert {r["uid"] for r in results} == uids
    assert sorted(r["status"] for r in results) == ["failed", "ok"]
    failed = next(r for r in results if r["status"] == "failed")
    assert failed["error"] == "webhook response status 500 Internal Server Error: down"
    assert all(r["type"] == "webhook" and isinstance(r["durationMs"], int) for r in results)
    sent = json.loads(receiver.requests[0].body)
    assert sent["alerts"][0]["labels"]["team"] == "db"
    assert sent["alerts"][0]["annotations"]["summary"] == "Trying it out"


def test_body_is_optional(api, admin_token, make_contact_point, receiver):
    contact_point = make_contact_point("Tested", [("webhook", {"url": receiver.url})])
    response = api.post(url_to_test(contact_point), raw="", token=admin_token)
    assert response.status_code == 200
    assert [r["status"] for r in response.json()] == ["ok"]


def test_one_integration_only(api, admin_token, make_contact_point, receiver):
    contact_point = make_contact_point("Tested", [("webhook", {"url": receiver.url})] * 2)
    chosen = contact_point.integrations.last()
    response = api.post(url_to_test(contact_point, integration=chosen.uid), {}, token=admin_token)
    assert [r["uid"] for r in response.json()] == [chosen.uid]
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"labels": "team=db"}, "labels"),
        ({"labels": {"team": 5}}, "labels"),
        ({"labels": None}, "labels"),
        ({"annotations": ["summary"]}, "annotations"),
        ({"annotations": {"summary": {"text": "x"}}}, "annotations"),
        ({"labels": {"bad\u0000name": "x"}}, "labels"),
        ({"labels": {"lone\ud800": "x"}}, "labels"),
        ({"annotations": {"summary": "lone\udc00"}}, "annotations"),
        ([], "non_field_errors"),
    ],
)
def test_malformed_bodies_get_400_naming_the_field(api, admin_token, make_contact_point, receiver, body, field):
    contact_point = make_contact_point("Tested", [("webhook", {"url": receiver.url})])
    response = api.post(url_to_test(contact_point), body, token=admin_token)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert response.json()["message"].startswith(field)
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (f"{LIST}/nope/test", "no contact point with uid 'nope'"),
        (f"{LIST}/tested/test?integration=nope", "contact point 'tested' has no integration with uid 'nope'"),
    ],
)
def test_unknown_contact_point_or_integration_is_404(api, admin_token, make_contact_point, receiver, path, message):
    make_contact_point("Tested", [("webhook", {"url": receiver.url})])
    response = api.post(path, {}, token=admin_token)
    assert (response.status_code, response.json()) == (404, {"message": message})


def test_a_test_stores_nothing(api, admin_token, make_contact_point, receiver):
    from contactpoints.models import Delivery, Notification

    contact_point = make_contact_point("Tested", [("webhook", {"url": receiver.url})])
    api.post(url_to_test(contact_point), {}, token=admin_token)
    assert not Notification.objects.exists() and not Delivery.objects.exists()
    assert Integration.objects.get().last_attempt_at is None
