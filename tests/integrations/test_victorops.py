"""VictorOps (spec §4.16): validation table, REST endpoint requests at a loopback receiver."""

from __future__ import annotations

import time

import pytest

from integrations.base import Result, SettingsError
from integrations.values import sha256_hex
from integrations.victorops import VictorOps
from tests.integrations.helpers import (
    EXAMPLE_MESSAGE,
    EXAMPLE_TITLE,
    GROUP_KEY,
    alert,
    loopback_transport,
    make_context,
)
from tests.receivers import Answer

PATH = "/integrations/generic/20131114/alert/s3cr3t-api-key/routing"
ENTITY_ID = sha256_hex(GROUP_KEY)


def send(receiver, settings=None, alerts=None, **options):
    ctx = make_context(VictorOps, settings or {}, alerts, secure_settings={"url": receiver.url + PATH}, **options)
    return VictorOps().send(ctx, loopback_transport())


def sent_body(receiver) -> dict:
    (request,) = receiver.requests
    return request.json()


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "secure"),
    [({}, {}), ({"url": ""}, {}), ({"url": "  "}, {"url": ""}), ({"messageType": "WARNING"}, {})],
)
def test_url_is_required(settings, secure):
    with pytest.raises(SettingsError) as raised:
        VictorOps.validate(settings, secure)
    assert raised.value.errors == [("url", "could not find victorops url property in settings")]
    assert raised.value.message == "could not find victorops url property in settings"


def test_defaults():
    config = VictorOps.validate({"url": "https://example.com/alert/s3cr3t/r"})
    assert config["messageType"] == "CRITICAL"
    assert config["title"] == '{{ template("default.title") }}'
    assert config["description"] == '{{ template("default.message") }}'
    assert VictorOps.secret_keys() == ["url"]


def test_example_is_accepted():
    assert VictorOps.validate(VictorOps.example)["url"] == VictorOps.example["url"]


# -- requests ------------------------------------------------------------------------------


def test_request(receiver):
    before = int(time.time())
    outcome = send(receiver)
    assert outcome.result is Result.SUCCESS
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", PATH)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "ContactPoints/0.1.0"
    body = request.json()
    timestamp = body.pop("timestamp")
    assert before <= timestamp <= int(time.time())
    assert body == {
        "alert_url": "http://localhost/alerting/list",
        "entity_display_name": EXAMPLE_TITLE,
        "entity_id": ENTITY_ID,
        "message_type": "CRITICAL",
        "monitoring_tool": "ContactPoints v0.1.0",
        "state_message": EXAMPLE_MESSAGE,
    }


@pytest.mark.parametrize(
    ("message_type", "expected"),
    [
        ("WARNING", "WARNING"),
        ("warning", "WARNING"),
        ("info", "INFO"),
        ("{{ CommonLabels.lbl1 }}", "VAL1"),
        ("{{ CommonLabels.missing }}", "CRITICAL"),  # empty after templating
        ('{{ template("nope") }}', "CRITICAL"),  # template error: empty
    ],
)
def test_message_type(receiver, message_type, expected):
    send(receiver, {"messageType": message_type})
    assert sent_body(receiver)["message_type"] == expected


def test_resolved_is_a_recovery(receiver):
    send(receiver, {"messageType": "WARNING"}, alerts=[alert("a", "resolved")], group_labels={"alertname": "a"})
    body = sent_body(receiver)
    assert (body["message_type"], body["entity_id"]) == ("RECOVERY", ENTITY_ID)
    assert body["entity_display_name"] == "[RESOLVED] a "
    assert body["state_message"].startswith("**Resolved**\n")


def test_partly_resolved_batch_is_not_a_recovery(receiver):
    send(receiver, alerts=[alert("a"), alert("b", "resolved")])
    assert sent_body(receiver)["message_type"] == "CRITICAL"


def test_title_and_description_are_templates(receiver):
    send(receiver, {"title": "T {{ CommonLabels.lbl1 }}", "description": "{{ Alerts | length }} alert(s)"})
    body = sent_body(receiver)
    assert (body["entity_display_name"], body["state_message"]) == ("T val1", "1 alert(s)")


def test_state_message_is_truncated(receiver):
    send(receiver, {"description": "ß" * 30000})
    assert sent_body(receiver)["state_message"] == "ß" * 20479 + "…"


def test_url_is_templated(receiver):
    ctx = make_context(VictorOps, {}, secure_settings={"url": receiver.url + "/alert/s3cr3t/{{ CommonLabels.lbl1 }}"})
    VictorOps().send(ctx, loopback_transport())
    assert receiver.requests[0].path == "/alert/s3cr3t/val1"


def test_url_falls_back_to_the_setting_on_template_error():
    url = 'https://example.com/alert/s3cr3t/{{ template("nope") }}'
    assert VictorOps().build(make_context(VictorOps, {"url": url})).url == url


# -- classification ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "result", "error"),
    [
        (Answer(200, b'{"result":"success","entity_id":"x"}'), Result.SUCCESS, ""),
        (
            Answer(400, b'{"result":"failure","message":"Missing fields"}'),
            Result.FAILED,
            'webhook response status 400 Bad Request: {"result":"failure","message":"Missing fields"}',
        ),
        (Answer(404, b"no such key"), Result.FAILED, "webhook response status 404 Not Found: no such key"),
        (Answer(502, b"bad gateway"), Result.RETRY, "webhook response status 502 Bad Gateway: bad gateway"),
    ],
)
def test_classification(receiver, answer, result, error):
    receiver.answer_with(answer)
    outcome = send(receiver)
    assert (outcome.result, outcome.error, outcome.http_status) == (result, error, answer.status)


def test_unreachable_endpoint_hides_the_secret_url():
    ctx = make_context(VictorOps, {}, secure_settings={"url": "http://127.0.0.1:9/alert/s3cr3t-api-key/routing"})
    outcome = VictorOps().send(ctx, loopback_transport())
    assert outcome.result is Result.RETRY
    assert "s3cr3t" not in outcome.error
