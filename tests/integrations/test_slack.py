"""Slack (spec §4.13): validation table, both modes against a loopback receiver, response rules."""

from __future__ import annotations

import time

import pytest

from integrations.base import HttpResponse, Result, SettingsError
from integrations.slack import FOOTER_ICON_URL, Slack
from tests.integrations.helpers import EXAMPLE_MESSAGE, EXAMPLE_TITLE, alert, loopback_transport, make_context
from tests.receivers import Answer

JSON = {"Content-Type": "application/json; charset=utf-8"}
TEXT = {"Content-Type": "text/plain"}


def webhook_send(receiver, settings=None, alerts=None, **options):
    """Incoming-webhook mode: the (secret) url points at the receiver, no token."""
    ctx = make_context(Slack, {"url": f"{receiver.url}/services/T1/B1/XYZ", **(settings or {})}, alerts, **options)
    return Slack().send(ctx, loopback_transport())


def api_send(receiver, settings=None, alerts=None):
    """Web API mode: a bot token and a recipient, chat.postMessage on the receiver."""
    receiver.answer_with(Answer(200, b'{"ok":true,"ts":"1.2","channel":"C1"}', JSON))
    settings = {"endpointUrl": f"{receiver.url}/api/chat.postMessage", "recipient": " #alerts ", **(settings or {})}
    ctx = make_context(Slack, settings, alerts, secure_settings={"token": "xoxb-s3cr3t"})
    return Slack().send(ctx, loopback_transport())


def attachment_of(request) -> dict:
    (attachment,) = request.json()["attachments"]
    return attachment


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "secure", "key", "error"),
    [
        ({}, {}, "recipient", "recipient must be specified when using the Slack chat API"),
        (
            {"recipient": "   "},
            {"token": "t"},
            "recipient",
            "recipient must be specified when using the Slack chat API",
        ),
        ({"recipient": "#c"}, {}, "token", "token must be specified when using the Slack chat API"),
        (
            {"endpointUrl": "https://slack.com/api/chat.postMessage", "recipient": "#c"},
            {},
            "token",
            "token must be specified when using the Slack chat API",
        ),
        (
            {"recipient": "#c", "mentionChannel": "everyone"},
            {"token": "t"},
            "mentionChannel",
            'invalid value for mentionChannel: "everyone"',
        ),
        # Grafana's order: recipient before mentionChannel before token.
        ({"mentionChannel": "all"}, {}, "recipient", "recipient must be specified when using the Slack chat API"),
        ({"recipient": "#c", "mentionChannel": "all"}, {}, "mentionChannel", 'invalid value for mentionChannel: "all"'),
        ({}, {"url": "http://[::1"}, "url", 'invalid URL "http://[::1"'),
        ({"url": "https://hooks.slack.com/%zz"}, {}, "url", 'invalid URL "https://hooks.slack.com/%zz"'),
        ({"url": "::nope"}, {}, "url", 'invalid URL "::nope"'),
        ({"url": "http://h\x7f/"}, {}, "url", 'invalid URL "http://h\\x7f/"'),
        ({"endpointUrl": "http://host:port/api"}, {}, "endpointUrl", 'invalid URL "http://host:port/api"'),
    ],
)
def test_invalid_settings(settings, secure, key, error):
    with pytest.raises(SettingsError) as raised:
        Slack.validate(settings, secure)
    assert raised.value.errors == [(key, error)]


@pytest.mark.parametrize(
    ("settings", "secure"),
    [
        ({"url": "https://hooks.slack.com/services/T/B/X"}, {}),  # incoming webhook: no token, no recipient
        ({}, {"url": "https://hooks.slack.com/services/T/B/X"}),
        ({"endpointUrl": "https://slack.example/api/chat.postMessage"}, {}),  # only the default URL needs them
        ({"recipient": "#c", "mentionChannel": "here"}, {"token": "t"}),
        ({"recipient": "C123", "token": "t", "mentionChannel": "channel"}, {}),
    ],
)
def test_valid_settings(settings, secure):
    config = Slack.validate(settings, secure)
    assert config["footer"] == '{{ template("slack.default.footer") }}'


def test_recipient_is_trimmed_and_secrets_declared():
    assert Slack.validate({"recipient": "  #ops \n"}, {"token": "t"})["recipient"] == "#ops"
    assert Slack.secret_keys() == ["token", "url"]


# -- requests ------------------------------------------------------------------------------


def test_incoming_webhook_request(receiver):
    before = int(time.time())
    outcome = webhook_send(receiver)
    assert outcome.result is Result.SUCCESS
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/services/T1/B1/XYZ")
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["user-agent"] == "ContactPoints/0.1.0"
    assert "authorization" not in request.headers
    body = request.json()
    ts = body["attachments"][0].pop("ts")
    assert before <= ts <= int(time.time())
    assert body == {
        "username": "ContactPoints",
        "attachments": [
            {
                "title": EXAMPLE_TITLE,
                "title_link": "http://localhost/alerting/list",
                "text": EXAMPLE_MESSAGE,
                "fallback": EXAMPLE_TITLE,
                "footer": "ContactPoints v0.1.0",
                "footer_icon": FOOTER_ICON_URL,
                "color": "#D63232",
            }
        ],
    }
    assert list(body) == ["username", "attachments"]


def test_web_api_request(receiver):
    outcome = api_send(receiver)
    assert outcome.result is Result.SUCCESS
    (request,) = receiver.requests
    assert request.path == "/api/chat.postMessage"
    assert request.headers["authorization"] == "Bearer xoxb-s3cr3t"
    body = request.json()
    assert list(body) == ["channel", "username", "attachments"]
    assert body["channel"] == "#alerts"


def test_resolved_message(receiver):
    webhook_send(receiver, alerts=[alert("a", "resolved")], group_labels={"alertname": "a"})
    attachment = attachment_of(receiver.requests[0])
    assert (attachment["title"], attachment["color"]) == ("[RESOLVED] a ", "#36a64f")
    assert attachment["text"].startswith("**Resolved**\n")
    assert attachment["title_link"] == "http://grafana.example/rules/a"  # the alerts' common generator URL


@pytest.mark.parametrize(
    ("settings", "pretext"),
    [
        ({"mentionChannel": "here"}, "<!here|here>"),
        ({"mentionChannel": "channel", "mentionUsers": "U1"}, "<!channel|channel> <@U1>"),
        ({"mentionGroups": " G1 , G2,"}, "<!subteam^G1><!subteam^G2>"),
        (
            {"mentionChannel": "here", "mentionGroups": "G1", "mentionUsers": "U1,,U2 "},
            "<!here|here> <!subteam^G1> <@U1><@U2>",
        ),
        ({"mentionUsers": "{{ CommonLabels.lbl1 }}"}, "<@val1>"),  # each mention is a template
    ],
)
def test_mentions(receiver, settings, pretext):
    webhook_send(receiver, settings)
    attachment = attachment_of(receiver.requests[0])
    assert (attachment["pretext"], attachment["mrkdwn_in"]) == (pretext, ["pretext"])


def test_no_mentions_no_pretext(receiver):
    webhook_send(receiver, {"mentionUsers": " , "})
    assert {"pretext", "mrkdwn_in"}.isdisjoint(attachment_of(receiver.requests[0]))


def test_templated_fields(receiver):
    settings = {
        "username": "bot-{{ Status }}",
        "icon_emoji": ":fire:",
        "icon_url": "http://icons.example/{{ CommonLabels.lbl1 }}.png",
        "color": "{{ 'warning' if Status == 'firing' else 'good' }}",
        "title": "T: {{ CommonLabels.alertname }}",
        "text": "{{ Alerts | length }} alert(s)",
        "footer": "by {{ Receiver }}",
        "recipient": "#{{ CommonLabels.lbl1 }}",
    }
    webhook_send(receiver, settings)
    body = receiver.requests[0].json()
    attachment = body["attachments"][0]
    assert (body["channel"], body["username"], body["icon_emoji"]) == ("#val1", "bot-firing", ":fire:")
    assert body["icon_url"] == "http://icons.example/val1.png"
    assert (attachment["title"], attachment["fallback"], attachment["text"]) == ("T: alert1", "T: alert1", "1 alert(s)")
    assert (attachment["color"], attachment["footer"]) == ("warning", "by cp")


def test_long_title_and_footer_are_truncated(receiver):
    webhook_send(receiver, {"title": "x" * 1100, "footer": "é" * 400})
    attachment = attachment_of(receiver.requests[0])
    assert attachment["title"] == "x" * 1023 + "…"
    assert attachment["footer"] == "é" * 299 + "…"


def test_template_error_leaves_the_field_empty(receiver):
    webhook_send(receiver, {"title": '{{ template("missing") }}'})
    attachment = attachment_of(receiver.requests[0])
    assert "title" not in attachment and attachment["fallback"] == ""
    assert attachment["text"] == EXAMPLE_MESSAGE


def test_different_generator_urls_link_to_the_alert_list(receiver):
    webhook_send(receiver, alerts=[alert("a"), alert("b")])
    assert attachment_of(receiver.requests[0])["title_link"] == "http://localhost/alerting/list"


# -- classification ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "result", "error", "retry_after"),
    [
        (Answer(200, b"ok", TEXT), Result.SUCCESS, "", None),
        (Answer(200, b'{"ok":true}', JSON), Result.SUCCESS, "", None),
        (
            Answer(200, b'{"ok":false,"error":"invalid_auth"}', JSON),
            Result.FAILED,
            "failed to send request: invalid_auth",
            None,
        ),
        (
            Answer(404, b'{"ok":false,"error":"channel_not_found"}', JSON),
            Result.FAILED,
            "failed to send request: channel_not_found",
            None,
        ),
        (Answer(200, b"", JSON), Result.FAILED, "unexpected empty response", None),
        (Answer(404, b"channel_not_found", TEXT), Result.FAILED, "the channel does not exist or is invalid", None),
        (Answer(404, b"user_not_found", TEXT), Result.FAILED, "the user does not exist or is invalid", None),
        (
            Answer(410, b"channel_is_archived", TEXT),
            Result.FAILED,
            "cannot send an incoming webhook for an archived channel",
            None,
        ),
        (
            Answer(403, b"posting_to_general_channel_denied", TEXT),
            Result.FAILED,
            "cannot send an incoming webhook to the #general channel",
            None,
        ),
        (
            Answer(404, b"no_service", TEXT),
            Result.FAILED,
            "the incoming webhook is either disabled, removed, or invalid",
            None,
        ),
        (Answer(400, b"no_text", TEXT), Result.FAILED, "cannot send an incoming webhook without a message", None),
        (Answer(400, b"invalid_payload", TEXT), Result.FAILED, "failed incoming webhook: invalid_payload", None),
        (Answer(200, b"okay", TEXT), Result.FAILED, "failed incoming webhook: okay", None),
        (Answer(503, b"ok", TEXT), Result.RETRY, "unexpected 5xx status code: 503", None),
        (Answer(500, b'{"ok":true}', JSON), Result.RETRY, "unexpected 5xx status code: 500", None),
        (
            Answer(429, b'{"ok":false,"error":"ratelimited"}', {**JSON, "Retry-After": "30"}),
            Result.RETRY,
            "failed to send request: ratelimited",
            30,
        ),
        (
            Answer(429, b"rate_limited", {**TEXT, "Retry-After": "5"}),
            Result.RETRY,
            "failed incoming webhook: rate_limited",
            5,
        ),
        (Answer(302, b""), Result.FAILED, "unexpected 3xx status code: 302", None),  # a redirect without Location
    ],
)
def test_classification(receiver, answer, result, error, retry_after):
    receiver.answer_with(answer)
    outcome = webhook_send(receiver)
    assert (outcome.result, outcome.error, outcome.retry_after_seconds) == (result, error, retry_after)
    assert outcome.http_status == answer.status


def test_informational_status_is_an_error():
    ctx = make_context(Slack, {"url": "http://127.0.0.1:9/"})
    outcome = Slack().classify(HttpResponse(101, {}, b""), ctx)
    assert (outcome.result, outcome.error) == (Result.FAILED, "unexpected 1xx status code: 101")


def test_unreachable_server_is_retried():
    ctx = make_context(Slack, {}, secure_settings={"url": "http://127.0.0.1:9/services/T/B/s3cr3t"})
    outcome = Slack().send(ctx, loopback_transport())
    assert outcome.result is Result.RETRY
    assert "s3cr3t" not in outcome.error  # the webhook URL is a secret
