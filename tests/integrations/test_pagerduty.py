"""PagerDuty (spec §4.10): validation table, Events API v2 requests at a loopback receiver, size rule."""

from __future__ import annotations

import json
import socket

import pytest

import integrations.pagerduty as pagerduty_module
from integrations.base import Result, SettingsError
from integrations.pagerduty import DEFAULT_DETAILS, MAX_EVENT_BYTES, PagerDuty
from integrations.values import sha256_hex
from tests.integrations.helpers import EXAMPLE_TITLE, GROUP_KEY, alert, loopback_transport, make_context
from tests.receivers import Answer

KEY = "s3cr3t-routing-key"
DEDUP_KEY = sha256_hex(GROUP_KEY)
HOST = "alerts-host.example"
FIRING_DETAIL = (
    "\nValue: [no value]\nLabels:\n - alertname = alert1\n - lbl1 = val1\nAnnotations:\n - ann1 = annv1\n"
    "Silence: http://localhost/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Dalert1"
    "&matcher=lbl1%3Dval1\nDashboard: http://localhost/d/abcd\nPanel: http://localhost/d/abcd?viewPanel=efgh\n"
)
EXAMPLE_EVENT = {
    "routing_key": KEY,
    "dedup_key": DEDUP_KEY,
    "event_action": "trigger",
    "payload": {
        "summary": EXAMPLE_TITLE,
        "source": HOST,
        "severity": "critical",
        "class": "default",
        "component": "ContactPoints",
        "group": "default",
        "custom_details": {"firing": FIRING_DETAIL, "num_firing": "1", "num_resolved": "0", "resolved": ""},
    },
    "client": "ContactPoints",
    "client_url": "http://localhost",
    "links": [{"href": "http://localhost", "text": "External URL"}],
}


@pytest.fixture(autouse=True)
def fixed_host_name(monkeypatch):
    monkeypatch.setattr(pagerduty_module, "host_name", lambda: HOST)


def send(receiver, settings=None, alerts=None, **options):
    settings = {"url": f"{receiver.url}/v2/enqueue", **(settings or {})}
    ctx = make_context(PagerDuty, settings, alerts, secure_settings={"integrationKey": KEY}, **options)
    return PagerDuty().send(ctx, loopback_transport())


def payload_of(receiver) -> dict:
    (request,) = receiver.requests
    return request.json()["payload"]


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "key", "error"),
    [
        ({}, "integrationKey", "could not find integration key property in settings"),
        ({"integrationKey": ""}, "integrationKey", "could not find integration key property in settings"),
        ({"integrationKey": "  "}, "integrationKey", "could not find integration key property in settings"),
        ({"integrationKey": "k", "details": "firing"}, "details", "Details must be an object of names to values"),
    ],
)
def test_invalid_settings(settings, key, error):
    with pytest.raises(SettingsError) as raised:
        PagerDuty.validate(settings)
    assert raised.value.errors == [(key, error)]
    assert raised.value.message == error


def test_defaults_and_details_merge():
    config = PagerDuty.validate({"details": {"firing": "mine", "team": "db"}}, {"integrationKey": "k"})
    assert config["details"] == {**DEFAULT_DETAILS, "firing": "mine", "team": "db"}
    assert (config["severity"], config["class"], config["group"]) == ("critical", "default", "default")
    assert config["summary"] == '{{ template("default.title") }}'
    assert config["client_url"] == "{{ ExternalURL }}"
    assert config["url"] == "https://events.pagerduty.com/v2/enqueue"
    assert PagerDuty.secret_keys() == ["integrationKey"]


def test_example_is_accepted():
    assert PagerDuty.validate(PagerDuty.example)["integrationKey"] == PagerDuty.example["integrationKey"]


# -- requests ------------------------------------------------------------------------------


def test_trigger_event(receiver):
    outcome = send(receiver)
    assert outcome.result is Result.SUCCESS
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/v2/enqueue")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "ContactPoints/0.1.0"
    assert request.body.endswith(b"}\n")  # Go's json.Encoder adds a newline
    assert request.json() == EXAMPLE_EVENT
    assert list(request.json()) == list(EXAMPLE_EVENT)
    assert list(request.json()["payload"]) == list(EXAMPLE_EVENT["payload"])


def test_resolved_event_keeps_the_full_payload(receiver):
    send(receiver, alerts=[alert("a", "resolved")], group_labels={"alertname": "a"})
    body = receiver.requests[0].json()
    assert (body["event_action"], body["dedup_key"]) == ("resolve", DEDUP_KEY)
    assert body["payload"]["summary"] == "[RESOLVED] a "
    details = body["payload"]["custom_details"]
    assert (details["num_firing"], details["num_resolved"], details["firing"]) == ("0", "1", "")
    assert details["resolved"].startswith("\nValue: [no value]\nLabels:\n - alertname = a\n")


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("warning", "warning"),
        ("ERROR", "error"),
        ("Info", "info"),
        ("critical", "critical"),
        ("major", "critical"),
        ("{{ CommonLabels.lbl1 }}", "critical"),  # renders "val1": unknown
        ("{{ CommonLabels.alertname | replace('alert1', 'WARNING') }}", "warning"),
        ("{{ CommonLabels.missing }}", "critical"),
        ('{{ template("missing") }}', "critical"),  # template error: ""
    ],
)
def test_severity_is_normalised(receiver, severity, expected):
    send(receiver, {"severity": severity})
    assert payload_of(receiver)["severity"] == expected


def test_templated_fields(receiver):
    settings = {
        "class": "cls-{{ CommonLabels.lbl1 }}",
        "component": "comp-{{ Status }}",
        "group": "grp-{{ Alerts | length }}",
        "summary": "S {{ CommonLabels.alertname }}",
        "source": "src-{{ Receiver }}",
        "client": "client-{{ CommonLabels.lbl1 }}",
        "client_url": "{{ ExternalURL }}/client",
        "details": {"team": "{{ CommonLabels.lbl1 }}", "firing": "{{ Alerts.Firing | length }} firing"},
    }
    send(receiver, settings)
    body = receiver.requests[0].json()
    assert body["payload"] == {
        "summary": "S alert1",
        "source": "src-cp",
        "severity": "critical",
        "class": "cls-val1",
        "component": "comp-firing",
        "group": "grp-1",
        "custom_details": {
            "firing": "1 firing",
            "num_firing": "1",
            "num_resolved": "0",
            "resolved": "",
            "team": "val1",
        },
    }
    assert (body["client"], body["client_url"]) == ("client-val1", "http://localhost/client")


def test_fields_that_render_empty_are_left_out(receiver):
    empty = "{{ CommonLabels.missing }}"
    send(receiver, {"class": empty, "component": empty, "group": empty, "client": empty, "client_url": empty})
    body = receiver.requests[0].json()
    assert list(body) == ["routing_key", "dedup_key", "event_action", "payload", "links"]
    assert list(body["payload"]) == ["summary", "source", "severity", "custom_details"]


def test_source_falls_back_to_the_client_without_a_host_name(receiver, monkeypatch):
    monkeypatch.setattr(pagerduty_module, "host_name", lambda: "")
    send(receiver, {"client": "my-client"})
    assert payload_of(receiver)["source"] == "my-client"


def test_real_host_name_is_the_default_source(monkeypatch):
    monkeypatch.undo()  # the autouse fixture's fixed name
    ctx = make_context(PagerDuty, {}, secure_settings={"integrationKey": KEY})
    assert json.loads(PagerDuty().build(ctx).body)["payload"]["source"] == socket.gethostname()


def test_summary_is_truncated(receiver):
    send(receiver, {"summary": "ü" * 1100})
    assert payload_of(receiver)["summary"] == "ü" * 1023 + "…"


def test_oversized_event_drops_custom_details(receiver):
    send(receiver, {"details": {"big": "x" * MAX_EVENT_BYTES}})
    (request,) = receiver.requests
    assert len(request.body) < MAX_EVENT_BYTES
    assert request.json()["payload"]["custom_details"] == {
        "error": "Custom details have been removed because the original event exceeds the maximum size of 512KB"
    }
    assert request.json()["payload"]["summary"] == EXAMPLE_TITLE


def test_event_at_the_size_limit_is_kept(receiver):
    ctx = make_context(PagerDuty, {"details": {"big": ""}}, secure_settings={"integrationKey": KEY})
    room = MAX_EVENT_BYTES - len(PagerDuty().build(ctx).body)
    send(receiver, {"details": {"big": "x" * room}})
    (request,) = receiver.requests
    assert len(request.body) == MAX_EVENT_BYTES
    assert request.json()["payload"]["custom_details"]["big"] == "x" * room


def test_details_template_error_fails_the_notification(receiver):
    outcome = send(receiver, {"details": {"oops": '{{ template("nope") }}'}})
    assert outcome.result is Result.FAILED
    assert outcome.error == (
        'build pagerduty message: "oops": failed to template "{{ template(\\"nope\\") }}": template "nope" not defined'
    )
    assert receiver.requests == []


def test_other_template_errors_degrade_to_empty(receiver):
    outcome = send(receiver, {"summary": '{{ template("nope") }}', "group": "{{ nope( }}"})
    assert outcome.result is Result.SUCCESS
    payload = payload_of(receiver)
    assert payload["summary"] == "" and "group" not in payload


def test_default_url_is_the_events_api():
    ctx = make_context(PagerDuty, {}, secure_settings={"integrationKey": KEY})
    request = PagerDuty().build(ctx)
    assert request.url == "https://events.pagerduty.com/v2/enqueue"
    assert json.loads(request.body)["routing_key"] == KEY


# -- classification ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "result", "error"),
    [
        (Answer(202, b'{"status":"success","dedup_key":"x"}'), Result.SUCCESS, ""),
        (
            Answer(400, b'{"status":"invalid event"}'),
            Result.FAILED,
            'send notification to Pagerduty: webhook response status 400 Bad Request: {"status":"invalid event"}',
        ),
        (
            Answer(429, b"slow down", {"Retry-After": "7"}),
            Result.RETRY,
            "send notification to Pagerduty: webhook response status 429 Too Many Requests: slow down",
        ),
        (
            Answer(500, b"oops"),
            Result.RETRY,
            "send notification to Pagerduty: webhook response status 500 Internal Server Error: oops",
        ),
    ],
)
def test_classification(receiver, answer, result, error):
    receiver.answer_with(answer)
    outcome = send(receiver)
    assert (outcome.result, outcome.error, outcome.http_status) == (result, error, answer.status)
    assert KEY not in outcome.error
