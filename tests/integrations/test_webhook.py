"""Webhook (spec §4.17): validation table, requests to a real loopback receiver, classification."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from integrations.base import Result, SettingsError
from integrations.webhook import Webhook
from tests.integrations.helpers import (
    DELIVERY_ID,
    EXAMPLE_MESSAGE,
    EXAMPLE_TITLE,
    GROUP_KEY,
    alert,
    loopback_transport,
    make_context,
)
from tests.receivers import Answer

SILENCE_URL = (
    "http://localhost/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Dalert1&matcher=lbl1%3Dval1"
)
EXAMPLE_BODY = {
    "receiver": "cp",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "alert1", "lbl1": "val1"},
            "annotations": {"ann1": "annv1"},
            "startsAt": "0001-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "",
            "fingerprint": "fac0861a85de433a",
            "silenceURL": SILENCE_URL,
            "dashboardURL": "http://localhost/d/abcd",
            "panelURL": "http://localhost/d/abcd?viewPanel=efgh",
            "values": None,
            "valueString": "",
        }
    ],
    "groupLabels": {"alertname": ""},
    "commonLabels": {"alertname": "alert1", "lbl1": "val1"},
    "commonAnnotations": {"ann1": "annv1"},
    "externalURL": "http://localhost",
    "appVersion": "0.1.0",
    "version": "1",
    "groupKey": GROUP_KEY,
    "truncatedAlerts": 0,
    "orgId": 1,
    "title": EXAMPLE_TITLE,
    "state": "alerting",
    "message": EXAMPLE_MESSAGE,
}


def send(receiver, settings, alerts=None, **context_options):
    ctx = make_context(Webhook, {"url": f"{receiver.url}/hook", **settings}, alerts, **context_options)
    return Webhook().send(ctx, loopback_transport())


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "secure", "key", "error"),
    [
        ({}, {}, "url", "required field 'url' is not specified"),
        ({"url": ""}, {}, "url", "required field 'url' is not specified"),
        (
            {"url": "http://x", "username": "u", "password": "p", "authorization_credentials": "c"},
            {},
            "authorization_credentials",
            "both HTTP Basic Authentication and Authorization Header are set, only 1 is permitted",
        ),
        (
            {"url": "http://x", "username": "u", "authorization_scheme": "Token"},
            {"password": "p", "authorization_credentials": "c"},
            "authorization_credentials",
            "both HTTP Basic Authentication and Authorization Header are set, only 1 is permitted",
        ),
        (
            {"url": "http://x", "headers": {"Host": "h", "Cookie": "c", "X-Ok": "1"}},
            {},
            "headers",
            'custom headers ["Cookie" "Host"] are not allowed',
        ),
        (
            {"url": "http://x", "headers": {"authorization": "Bearer x"}},
            {},
            "headers",
            'custom headers ["authorization"] are not allowed',
        ),
        (
            {"url": "http://x", "headers": {"x-forwarded-for": "1", "X-Real-IP": "2", "te": "3"}},
            {},
            "headers",
            'custom headers ["X-Real-IP" "te" "x-forwarded-for"] are not allowed',
        ),
        (
            {"url": "http://x", "headers": "Host: x"},
            {},
            "headers",
            "Extra Headers must be an object of names to values",
        ),
    ],
)
def test_invalid_settings(settings, secure, key, error):
    with pytest.raises(SettingsError) as raised:
        Webhook.validate(settings, secure)
    assert raised.value.errors == [(key, error)]
    assert raised.value.message == error


@pytest.mark.parametrize(
    ("settings", "secure", "expected"),
    [
        ({"url": "http://x"}, {}, {"httpMethod": "POST", "maxAlerts": 0, "authorization_scheme": ""}),
        ({"url": "http://x", "maxAlerts": "3"}, {}, {"maxAlerts": 3}),
        ({"url": "http://x", "maxAlerts": 2}, {}, {"maxAlerts": 2}),
        ({"url": "http://x", "maxAlerts": "many"}, {}, {"maxAlerts": 0}),  # non-numeric silently 0
        ({"url": "http://x"}, {"authorization_credentials": "c"}, {"authorization_scheme": "Bearer"}),
        ({"url": "http://x", "username": "u", "authorization_credentials": "c"}, {}, {"username": "u"}),
        ({"url": "http://x", "httpMethod": "GET"}, {}, {"httpMethod": "GET"}),  # fails at send time
        ({"url": "http://x"}, {"username": "secret-user"}, {"username": "secret-user"}),  # read via secrets
        (
            {"url": "http://x", "hmacConfig": {"header": "X-Sig"}},
            {"hmacConfig.secret": "s"},
            {"hmacConfig.secret": "s"},
        ),
    ],
)
def test_valid_settings(settings, secure, expected):
    config = Webhook.validate(settings, secure)
    assert {key: config[key] for key in expected} == expected


def test_secret_keys_are_declared():
    assert Webhook.secret_keys() == [
        "password",
        "authorization_credentials",
        "tlsConfig.caCertificate",
        "tlsConfig.clientCertificate",
        "tlsConfig.clientKey",
        "hmacConfig.secret",
    ]


# -- requests ------------------------------------------------------------------------------


def test_default_payload_is_grafanas_version_1_body(receiver):
    outcome = send(receiver, {})
    assert outcome.result is Result.SUCCESS
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "ContactPoints/0.1.0"
    assert request.headers["webhook-id"] == DELIVERY_ID
    assert "authorization" not in request.headers
    assert list(request.json()) == list(EXAMPLE_BODY)  # Go's key order
    assert request.json() == EXAMPLE_BODY
    assert b"alertmanager=grafana\\u0026matcher" in request.body  # Go escapes & < > in JSON strings


def test_resolved_notification_has_state_ok(receiver):
    send(receiver, {}, [alert("a", "resolved")], group_labels={"alertname": "a"})
    body = receiver.requests[0].json()
    assert (body["status"], body["state"], body["title"]) == ("resolved", "ok", "[RESOLVED] a ")
    assert body["alerts"][0]["endsAt"] == "2024-05-01T11:00:00Z"
    assert body["message"].startswith("**Resolved**\n")


def test_put_with_basic_auth_and_custom_headers(receiver):
    settings = {
        "httpMethod": "PUT",
        "username": "user",
        "headers": {"X-Team": "ops", "content-type": "application/vnd.alerts+json"},
    }
    send(receiver, settings, secure_settings={"password": "pa:ss-s3cr3t"})
    (request,) = receiver.requests
    assert request.method == "PUT"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"user:pa:ss-s3cr3t").decode()
    assert request.headers["x-team"] == "ops"
    assert request.headers["content-type"] == "application/vnd.alerts+json"  # custom headers override


@pytest.mark.parametrize(
    ("settings", "authorization"),
    [
        ({"authorization_credentials": "tok"}, "Bearer tok"),
        ({"authorization_scheme": "Token", "authorization_credentials": "tok"}, "Token tok"),
        ({"authorization_scheme": "Token"}, None),  # a scheme without credentials sends nothing
        ({"username": "only-user"}, None),  # basic auth needs both parts
    ],
)
def test_authorization_header(receiver, settings, authorization):
    send(receiver, settings)
    assert receiver.requests[0].headers.get("authorization") == authorization


def test_hmac_signature_over_the_body(receiver):
    send(receiver, {"hmacConfig": {"secret": "hmac-s3cr3t"}})
    (request,) = receiver.requests
    expected = hmac.new(b"hmac-s3cr3t", request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-grafana-alerting-signature"] == expected


def test_hmac_signature_with_timestamp_and_custom_header(receiver):
    before = int(time.time())
    settings = {"hmacConfig": {"header": "X-Signature", "timestampHeader": "X-Timestamp"}}
    send(receiver, settings, secure_settings={"hmacConfig.secret": "k-s3cr3t"})
    (request,) = receiver.requests
    timestamp = request.headers["x-timestamp"]
    assert before <= int(timestamp) <= int(time.time())
    expected = hmac.new(b"k-s3cr3t", timestamp.encode() + b":" + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-signature"] == expected
    assert "x-grafana-alerting-signature" not in request.headers


def test_hmac_without_secret_fails_without_sending(receiver):
    outcome = send(receiver, {"hmacConfig": {"header": "X-Signature"}})
    assert (outcome.result, outcome.error) == (Result.FAILED, "secret must be provided")
    assert receiver.requests == []


def test_custom_payload_with_vars(receiver):
    template = '{"who": "{{ Vars.team }}", "status": "{{ Status }}", "n": {{ Alerts | length }}}'
    send(receiver, {"payload": {"template": template, "vars": {"team": "db"}}})
    (request,) = receiver.requests
    assert request.body == b'{"who": "db", "status": "firing", "n": 1}'
    assert request.headers["content-type"] == "application/json"


def test_templated_url(receiver):
    ctx = make_context(Webhook, {"url": receiver.url + "/hook/{{ CommonLabels.alertname }}"})
    assert Webhook().send(ctx, loopback_transport()).ok
    assert receiver.requests[0].path == "/hook/alert1"


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"url": '{{ template("missing") }}'}, 'failed to template url: template "missing" not defined'),
        (
            {"url": "http://127.0.0.1:9/", "payload": {"template": "{{ template('nope') }}"}},
            'failed to template payload.template: template "nope" not defined',
        ),
        ({"url": "http://127.0.0.1:9/", "httpMethod": "GET"}, "webhook only supports HTTP methods PUT or POST: GET"),
    ],
)
def test_failures_before_sending(settings, error):
    outcome = Webhook().send(make_context(Webhook, settings), loopback_transport())
    assert (outcome.result, outcome.error) == (Result.FAILED, error)


def test_title_template_error_still_sends(receiver):
    send(receiver, {"title": '{{ template("missing") }}'})
    assert receiver.requests[0].json()["title"] == ""


def test_noop_url_renders_but_does_not_send(receiver):
    ctx = make_context(Webhook, {"url": "grafana://noop"})
    assert Webhook().send(ctx, loopback_transport()).ok
    assert receiver.requests == []


def test_max_alerts_truncates_and_describes_the_kept_alerts(receiver):
    alerts = [alert("a", "resolved"), alert("b", "resolved"), alert("c", "firing")]
    send(receiver, {"maxAlerts": "2"}, alerts, group_labels={})
    body = receiver.requests[0].json()
    assert [a["labels"]["alertname"] for a in body["alerts"]] == ["a", "b"]
    assert (body["truncatedAlerts"], body["status"], body["state"]) == (1, "resolved", "ok")
    assert body["commonAnnotations"] == {}


def test_alerts_dropped_before_intake_are_counted_too(receiver):
    send(receiver, {"maxAlerts": 1}, [alert("a"), alert("b")], truncated_alerts=3)
    assert receiver.requests[0].json()["truncatedAlerts"] == 4


def test_custom_webhook_id_header_wins(receiver):
    send(receiver, {"headers": {"webhook-id": "mine"}})
    assert receiver.requests[0].headers["webhook-id"] == "mine"


# -- classification ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "result", "error", "retry_after"),
    [
        (Answer(200, b"ok"), Result.SUCCESS, "", None),
        (Answer(204), Result.SUCCESS, "", None),
        (Answer(500, b"boom"), Result.RETRY, "webhook response status 500 Internal Server Error: boom", None),
        (
            Answer(503, b"", {"Retry-After": "12"}),
            Result.RETRY,
            "webhook response status 503 Service Unavailable: ",
            12,
        ),
        (
            Answer(429, b"slow", {"Retry-After": "7"}),
            Result.RETRY,
            "webhook response status 429 Too Many Requests: slow",
            7,
        ),
        (Answer(408, b""), Result.RETRY, "webhook response status 408 Request Timeout: ", None),
        (Answer(400, b"bad"), Result.FAILED, "webhook response status 400 Bad Request: bad", None),
        (Answer(404, b"x" * 2000), Result.FAILED, "webhook response status 404 Not Found: " + "x" * 1024, None),
    ],
)
def test_classification(receiver, answer, result, error, retry_after):
    receiver.answer_with(answer)
    outcome = send(receiver, {})
    assert (outcome.result, outcome.error, outcome.retry_after_seconds) == (result, error, retry_after)
    assert outcome.http_status == answer.status


def test_connection_refused_is_retried():
    ctx = make_context(Webhook, {"url": "http://127.0.0.1:9/hook"})
    outcome = Webhook().send(ctx, loopback_transport())
    assert outcome.result is Result.RETRY
    assert outcome.error.startswith("cannot connect to http://127.0.0.1:9")


def test_invalid_ca_certificate_fails():
    ctx = make_context(Webhook, {"url": "https://127.0.0.1:9/", "tlsConfig": {"caCertificate": "not a PEM"}})
    outcome = Webhook().send(ctx, loopback_transport())
    assert (outcome.result, outcome.error) == (Result.FAILED, "unable to use the provided CA certificate")
