"""Sensu Go (spec §4.12): validation table, the event at a loopback receiver, resolved status, errors."""

from __future__ import annotations

import time

import pytest

from integrations.base import Result, SettingsError
from integrations.sensugo import SensuGo
from tests.integrations.helpers import EXAMPLE_MESSAGE, alert, loopback_transport, make_context
from tests.receivers import Answer

API_KEY = "key-s3cr3t"
RULE_URL = "http://localhost/alerting/list"


def send(receiver, settings=None, alerts=None, url_suffix="/"):
    ctx = make_context(
        SensuGo, {"url": receiver.url + url_suffix, **(settings or {})}, alerts, secure_settings={"apikey": API_KEY}
    )
    return SensuGo().send(ctx, loopback_transport())


def event_of(request) -> dict:
    """The posted event, with `issued` checked (now, in Unix seconds) and removed."""
    body = request.json()
    issued = body["check"].pop("issued")
    assert isinstance(issued, int)
    assert abs(time.time() - issued) < 10
    return body


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "secure", "errors"),
    [
        ({"apikey": "k"}, {}, [("url", "could not find URL property in settings")]),
        ({"url": "", "apikey": "k"}, {}, [("url", "could not find URL property in settings")]),
        ({"url": "http://sensu.example"}, {}, [("apikey", "could not find the API key property in settings")]),
        (
            {"url": "http://sensu.example", "apikey": ""},
            {"apikey": ""},
            [("apikey", "could not find the API key property in settings")],
        ),
        (
            {},
            {},
            [
                ("url", "could not find URL property in settings"),
                ("apikey", "could not find the API key property in settings"),
            ],
        ),
    ],
)
def test_invalid_settings(settings, secure, errors):
    with pytest.raises(SettingsError) as raised:
        SensuGo.validate(settings, secure)
    assert raised.value.errors == errors
    assert raised.value.message == errors[0][1]  # Grafana's one error: the URL first


def test_defaults_and_secrets():
    config = SensuGo.validate({"url": "http://sensu.example"}, {"apikey": "k"})
    assert config["apikey"] == "k"
    assert config["message"] == '{{ template("default.message") }}'
    assert (config["entity"], config["check"], config["namespace"], config["handler"]) == ("", "", "", "")
    assert SensuGo.secret_keys() == ["apikey"]


def test_example_validates():
    assert SensuGo.validate(SensuGo.example)["url"] == "https://sensu.example.com:8080"


# -- requests ------------------------------------------------------------------------------


def test_default_event(receiver):
    outcome = send(receiver)
    assert outcome.result is Result.SUCCESS
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/api/core/v2/namespaces/default/events")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"Key {API_KEY}"
    assert request.headers["user-agent"] == "ContactPoints/0.1.0"
    assert event_of(request) == {
        "check": {
            "handlers": None,
            "interval": 86400,
            "metadata": {"labels": {"ruleURL": RULE_URL}, "name": "default"},
            "output": EXAMPLE_MESSAGE,
            "status": 2,
        },
        "entity": {"metadata": {"name": "default", "namespace": "default"}},
        "ruleUrl": RULE_URL,
    }
    body = request.json()
    assert list(body) == ["check", "entity", "ruleUrl"]  # Go's sorted map keys
    assert list(body["check"]) == ["handlers", "interval", "issued", "metadata", "output", "status"]


def test_templated_settings(receiver):
    settings = {
        "entity": "{{ CommonLabels.lbl1 }}-host",
        "check": "{{ CommonLabels.alertname }}",
        "namespace": "ns-{{ CommonLabels.lbl1 }}",
        "handler": "{{ Status }}-handler",
        "message": "{{ Alerts|length }} alert(s) {{ Status }}",
    }
    send(receiver, settings, url_suffix="")
    (request,) = receiver.requests
    assert request.path == "/api/core/v2/namespaces/ns-val1/events"
    event = event_of(request)
    assert event["entity"]["metadata"] == {"name": "val1-host", "namespace": "ns-val1"}
    assert event["check"]["metadata"]["name"] == "alert1"
    assert event["check"]["handlers"] == ["firing-handler"]
    assert event["check"]["output"] == "1 alert(s) firing"


@pytest.mark.parametrize(
    ("settings", "name", "namespace", "handlers"),
    [
        # Empty renders (a template error renders "") fall back to `default`.
        ({"entity": '{{ template("missing") }}'}, "default", "default", None),
        ({"namespace": "{{ CommonLabels.nothing }}"}, "default", "default", None),
        # A handler setting that renders empty still makes a one-element list, as Grafana's.
        ({"handler": "{{ CommonLabels.nothing }}"}, "default", "default", [""]),
    ],
)
def test_empty_renders(receiver, settings, name, namespace, handlers):
    assert send(receiver, settings).ok
    event = event_of(receiver.requests[0])
    assert event["entity"]["metadata"] == {"name": name, "namespace": namespace}
    assert event["check"]["handlers"] == handlers


# -- resolved ------------------------------------------------------------------------------


def test_resolved_event_has_status_ok(receiver):
    send(receiver, alerts=[alert("a", "resolved")], settings={"message": "{{ Status }}"})
    check = event_of(receiver.requests[0])["check"]
    assert (check["status"], check["output"]) == (0, "resolved")


def test_mixed_batch_is_critical(receiver):
    send(receiver, alerts=[alert("a", "resolved"), alert("b")])
    assert event_of(receiver.requests[0])["check"]["status"] == 2


# -- responses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "result", "error"),
    [
        (201, Result.SUCCESS, ""),
        (400, Result.FAILED, 'webhook response status 400 Bad Request: {"message":"bad event"}'),
        (401, Result.FAILED, 'webhook response status 401 Unauthorized: {"message":"bad event"}'),
        (500, Result.RETRY, 'webhook response status 500 Internal Server Error: {"message":"bad event"}'),
    ],
)
def test_response_classification(receiver, status, result, error):
    receiver.answer_with(Answer(status, b'{"message":"bad event"}'))
    outcome = send(receiver)
    assert (outcome.result, outcome.error, outcome.http_status) == (result, error, status)
