"""Opsgenie (spec §4.9): validation table, create and close requests at a loopback receiver."""

from __future__ import annotations

import pytest

from integrations.base import Result, SettingsError
from integrations.opsgenie import Opsgenie
from integrations.values import sha256_hex
from tests.integrations.helpers import (
    EXAMPLE_MESSAGE,
    EXAMPLE_TITLE,
    GROUP_KEY,
    alert,
    loopback_transport,
    make_context,
)
from tests.receivers import Answer

API_KEY = "s3cr3t-genie-key"
ALIAS = sha256_hex(GROUP_KEY)
ALERT_LIST = "http://localhost/alerting/list"
EXAMPLE_ALERT = {
    "alias": ALIAS,
    "message": EXAMPLE_TITLE,
    "description": f"{EXAMPLE_TITLE}\n{ALERT_LIST}\n\n{EXAMPLE_MESSAGE}",
    "details": {"url": ALERT_LIST},
    "source": "ContactPoints",
    "tags": ["alertname:alert1", "lbl1:val1"],
}


def send(receiver, settings=None, alerts=None, **options):
    settings = {"apiUrl": f"{receiver.url}/v2/alerts", **(settings or {})}
    ctx = make_context(Opsgenie, settings, alerts, secure_settings={"apiKey": API_KEY}, **options)
    return Opsgenie().send(ctx, loopback_transport())


def sent_alert(receiver) -> dict:
    (request,) = receiver.requests
    return request.json()


def labelled(**labels: str) -> list[dict]:
    return [{**alert("alert1"), "labels": {"alertname": "alert1", **labels}}]


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "key", "error"),
    [
        ({}, "apiKey", "could not find api key property in settings"),
        ({"apiKey": ""}, "apiKey", "could not find api key property in settings"),
        ({"apiKey": "k", "sendTagsAs": "labels"}, "sendTagsAs", 'invalid value for sendTagsAs: "labels"'),
        ({"apiKey": "k", "sendTagsAs": "Tags"}, "sendTagsAs", 'invalid value for sendTagsAs: "Tags"'),
        (
            {"apiKey": "k", "responders": [{"type": "team"}]},
            "responders",
            "responder at index [0] must have at least one of id, username or name specified",
        ),
        (
            {"apiKey": "k", "responders": [{"type": "user", "id": "1"}, {"type": "group", "name": "g"}]},
            "responders",
            "responder at index [1] has unsupported type. Supported only: team,teams,user,escalation,schedule",
        ),
        (
            {"apiKey": "k", "responders": [{"type": "", "id": "1"}]},
            "responders",
            "responder at index [0] has unsupported type. Supported only: team,teams,user,escalation,schedule",
        ),
        (
            {"apiKey": "k", "responders": [{"type": "teams", "id": "1"}]},
            "responders",
            "responder at index [0] has type 'teams' but empty name. Must be comma-separated string of names",
        ),
        (
            {"apiKey": "k", "responders": [{"type": "TEAMS", "username": "u"}]},
            "responders",
            "responder at index [0] has type 'teams' but empty name. Must be comma-separated string of names",
        ),
        ({"apiKey": "k", "responders": {"type": "team"}}, "responders", "Responders must be a list"),
        ({"apiKey": "k", "responders": ["team"]}, "responders", "responder at index [0] must be an object"),
    ],
)
def test_invalid_settings(settings, key, error):
    with pytest.raises(SettingsError) as raised:
        Opsgenie.validate(settings)
    assert raised.value.errors == [(key, error)]
    assert raised.value.message == error


def test_responder_type_template_must_parse():
    with pytest.raises(SettingsError) as raised:
        Opsgenie.validate({"apiKey": "k", "responders": [{"type": "{{ CommonLabels.kind ", "id": "1"}]})
    ((key, error),) = raised.value.errors
    assert key == "responders"
    assert error.startswith("responder at index [0] type is not a valid template: ")


@pytest.mark.parametrize(
    "responders",
    [
        [{"type": "team", "id": "1"}, {"type": "Schedule", "name": "s"}, {"type": "escalation", "username": "e"}],
        [{"type": "teams", "name": "a,b"}, {"type": "user", "username": "u@example.com"}],
        [{"type": "{{ CommonLabels.kind }}", "name": "{{ CommonLabels.owner }}"}],
    ],
)
def test_valid_responders(responders):
    assert (
        Opsgenie.validate({"apiKey": "k", "responders": responders})["responders"][0]["type"] == responders[0]["type"]
    )


def test_defaults():
    config = Opsgenie.validate({"message": "   "}, {"apiKey": "k"})
    assert config["apiUrl"] == "https://api.opsgenie.com/v2/alerts"
    assert config["message"] == '{{ template("default.title") }}'  # whitespace-only means the default
    assert (config["autoClose"], config["overridePriority"], config["sendTagsAs"]) == (True, True, "tags")
    assert config["responders"] == []
    assert Opsgenie.secret_keys() == ["apiKey"]


def test_example_is_accepted():
    assert Opsgenie.validate(Opsgenie.example)["apiUrl"] == "https://api.opsgenie.com/v2/alerts"


# -- create --------------------------------------------------------------------------------


def test_create_request(receiver):
    outcome = send(receiver)
    assert outcome.result is Result.SUCCESS
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/v2/alerts")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"GenieKey {API_KEY}"
    assert request.headers["user-agent"] == "ContactPoints/0.1.0"
    assert request.json() == EXAMPLE_ALERT
    assert list(request.json()) == list(EXAMPLE_ALERT)


@pytest.mark.parametrize(
    ("send_tags_as", "tags", "details"),
    [
        ("tags", ["alertname:alert1", "lbl1:val1"], {"url": ALERT_LIST}),
        ("details", [], {"alertname": "alert1", "lbl1": "val1", "url": ALERT_LIST}),
        ("both", ["alertname:alert1", "lbl1:val1"], {"alertname": "alert1", "lbl1": "val1", "url": ALERT_LIST}),
    ],
)
def test_send_tags_as(receiver, send_tags_as, tags, details):
    send(receiver, {"sendTagsAs": send_tags_as})
    body = sent_alert(receiver)
    assert (body["tags"], body["details"]) == (tags, details)
    assert list(body["details"]) == sorted(details)


def test_label_values_are_sent_as_written_and_private_labels_stay_out(receiver):
    alerts = labelled(team="{{ Status }}-team", zone="b", __private__="x")
    send(receiver, {"sendTagsAs": "both"}, alerts)
    body = sent_alert(receiver)
    assert body["tags"] == ["alertname:alert1", "team:{{ Status }}-team", "zone:b"]
    assert body["details"] == {"alertname": "alert1", "team": "{{ Status }}-team", "url": ALERT_LIST, "zone": "b"}


@pytest.mark.parametrize(
    ("labels", "override", "priority"),
    [
        ({"og_priority": "P2"}, True, "P2"),
        ({"og_priority": "P5"}, True, "P5"),
        ({"og_priority": "P2"}, False, None),
        ({"og_priority": "p2"}, True, None),
        ({"og_priority": "P6"}, True, None),
        ({}, True, None),
    ],
)
def test_priority_from_label(receiver, labels, override, priority):
    send(receiver, {"overridePriority": override}, labelled(**labels))
    assert sent_alert(receiver).get("priority") == priority


@pytest.mark.parametrize(
    ("responders", "expected"),
    [
        (
            [{"type": "team", "id": "t1"}, {"type": "user", "username": "u@example.com"}],
            [{"id": "t1", "type": "team"}, {"username": "u@example.com", "type": "user"}],
        ),
        (
            [{"type": "teams", "name": "a,b,,c"}],
            [{"name": "a", "type": "team"}, {"name": "b", "type": "team"}, {"name": "c", "type": "team"}],
        ),
        (
            [{"type": "{{ CommonLabels.kind }}", "name": "{{ CommonLabels.owner }}"}],
            [{"name": "ops", "type": "schedule"}],
        ),
        ([{"type": "{{ CommonLabels.missing }}", "id": "{{ CommonLabels.missing }}"}], None),  # renders empty
        (
            [{"type": "teams", "name": "{{ CommonLabels.kind }}s,{{ CommonLabels.owner }}"}],
            [{"name": "schedules", "type": "team"}, {"name": "ops", "type": "team"}],
        ),
        (
            [{"type": "escalation", "id": "e1", "name": "n", "username": "u"}],
            [{"id": "e1", "name": "n", "username": "u", "type": "escalation"}],
        ),
    ],
)
def test_responders(receiver, responders, expected):
    send(receiver, {"responders": responders}, labelled(kind="schedule", owner="ops"))
    assert sent_alert(receiver).get("responders") == expected


def test_message_is_templated_and_truncated(receiver):
    send(receiver, {"message": "{{ CommonLabels.lbl1 }} " + "é" * 200})
    message = sent_alert(receiver)["message"]
    assert message == "val1 " + "é" * 124 + "…"
    assert len(message) == 130


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("Alert {{ CommonLabels.alertname }}", "Alert alert1"),
        ("{{ CommonLabels.missing }}  ", f"{EXAMPLE_TITLE}\n{ALERT_LIST}\n\n{EXAMPLE_MESSAGE}"),  # blank: fallback
        ('{{ template("nope") }}', f"{EXAMPLE_TITLE}\n{ALERT_LIST}\n\n{EXAMPLE_MESSAGE}"),
    ],
)
def test_description(receiver, description, expected):
    send(receiver, {"description": description})
    assert sent_alert(receiver)["description"] == expected


def test_api_url_is_templated(receiver):
    send(receiver, {"apiUrl": receiver.url + "/{{ CommonLabels.lbl1 }}/alerts"})
    assert receiver.requests[0].path == "/val1/alerts"


def test_api_url_falls_back_to_the_setting_on_template_error():
    url = 'https://example.com/v2/alerts{{ template("nope") }}'
    request = Opsgenie().build(make_context(Opsgenie, {"apiUrl": url}, secure_settings={"apiKey": API_KEY}))
    assert request.url == url


# -- resolved ------------------------------------------------------------------------------


def test_resolved_closes_the_alert_by_alias(receiver):
    # The close URL uses the setting as written: a templated URL would not be rendered.
    outcome = send(receiver, alerts=[alert("a", "resolved")])
    assert outcome.result is Result.SUCCESS
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", f"/v2/alerts/{ALIAS}/close?identifierType=alias")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"GenieKey {API_KEY}"
    assert request.body == b'{"source":"ContactPoints"}'


def test_resolved_without_auto_close_sends_nothing(receiver):
    outcome = send(receiver, {"autoClose": False}, alerts=[alert("a", "resolved")])
    assert outcome.result is Result.SUCCESS
    assert receiver.requests == []


def test_partly_resolved_batch_still_creates(receiver):
    send(receiver, {"autoClose": False}, alerts=[alert("a"), alert("b", "resolved")])
    assert receiver.requests[0].path == "/v2/alerts"
    assert sent_alert(receiver)["alias"] == ALIAS


# -- classification ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "result", "error"),
    [
        (Answer(202, b'{"result":"Request will be processed"}'), Result.SUCCESS, ""),
        (
            Answer(422, b'{"message":"Request body is not processable"}'),
            Result.FAILED,
            "send notification to Opsgenie: webhook response status 422 Unprocessable Entity: "
            '{"message":"Request body is not processable"}',
        ),
        (
            Answer(429, b"too many", {"Retry-After": "3"}),
            Result.RETRY,
            "send notification to Opsgenie: webhook response status 429 Too Many Requests: too many",
        ),
        (
            Answer(503, b""),
            Result.RETRY,
            "send notification to Opsgenie: webhook response status 503 Service Unavailable: ",
        ),
    ],
)
def test_classification(receiver, answer, result, error):
    receiver.answer_with(answer)
    outcome = send(receiver)
    assert (outcome.result, outcome.error, outcome.http_status) == (result, error, answer.status)
