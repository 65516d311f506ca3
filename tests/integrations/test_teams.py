"""Microsoft Teams (spec §4.8): validation table, Adaptive Card requests, the legacy connector's "1" rule."""

from __future__ import annotations

import pytest

from integrations.base import HttpResponse, Result, SettingsError
from integrations.teams import Teams
from tests.integrations.helpers import EXAMPLE_TITLE, alert, loopback_transport, make_context
from tests.receivers import Answer

HOOK_PATH = "/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=xyz"
# teams.default.message for the spec's worked example (§3.7): blank lines after the labels and
# annotations blocks, the URLs as Markdown links each followed by a blank line, one after the alert.
SILENCE_URL = (
    "http://localhost/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Dalert1&matcher=lbl1%3Dval1"
)
TEAMS_MESSAGE = (
    "**Firing**\n\nValue: [no value]\nLabels:\n - alertname = alert1\n - lbl1 = val1\n\nAnnotations:\n"
    f" - ann1 = annv1\n\nSilence: [{SILENCE_URL}]({SILENCE_URL})\n\n"
    "Dashboard: [http://localhost/d/abcd](http://localhost/d/abcd)\n\n"
    "Panel: [http://localhost/d/abcd?viewPanel=efgh](http://localhost/d/abcd?viewPanel=efgh)\n\n\n"
)


def send(receiver, settings=None, alerts=None, **options):
    ctx = make_context(Teams, {"url": receiver.url + HOOK_PATH, **(settings or {})}, alerts, **options)
    return Teams().send(ctx, loopback_transport())


def card_of(receiver) -> dict:
    (request,) = receiver.requests
    (attachment,) = request.json()["attachments"]
    return attachment["content"]


def expected_body(title: str, message: str, color: str) -> dict:
    return {
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": title,
                            "color": color,
                            "size": "large",
                            "weight": "bolder",
                            "wrap": True,
                        },
                        {"type": "TextBlock", "text": message, "wrap": True},
                        {
                            "type": "ActionSet",
                            "actions": [
                                {"type": "Action.OpenUrl", "title": "View URL", "url": "http://localhost/alerting/list"}
                            ],
                        },
                    ],
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "msTeams": {"width": "Full"},
                },
            }
        ],
        "summary": title,
        "type": "message",
    }


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "key", "error"),
    [
        ({}, "url", "could not find url property in settings"),
        ({"url": ""}, "url", "could not find url property in settings"),
        ({"title": "t", "sectiontitle": "s"}, "url", "could not find url property in settings"),
    ],
)
def test_invalid_settings(settings, key, error):
    with pytest.raises(SettingsError) as raised:
        Teams.validate(settings)
    assert raised.value.errors == [(key, error)]
    assert raised.value.message == error


def test_defaults_example_and_no_secrets():
    config = Teams.validate({"url": "https://example.com/hook", "sectiontitle": "Section"})
    assert config["title"] == '{{ template("default.title") }}'
    assert config["message"] == '{{ template("teams.default.message") }}'
    assert config["sectiontitle"] == "Section"
    Teams.validate(Teams.example)
    assert Teams.secret_keys() == []


# -- requests ------------------------------------------------------------------------------


def test_request(receiver):
    outcome = send(receiver)
    assert outcome.result is Result.SUCCESS
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", HOOK_PATH)
    assert request.headers["content-type"] == "application/json"
    assert request.json() == expected_body(EXAMPLE_TITLE, TEAMS_MESSAGE, "attention")


def test_resolved_is_good(receiver):
    send(receiver, {"message": "M"}, alerts=[alert("a", "resolved")], group_labels={"alertname": "a"})
    assert receiver.requests[0].json() == expected_body("[RESOLVED] a ", "M", "good")


def test_section_title_is_not_sent(receiver):
    send(receiver, {"sectiontitle": "UNIQUE-SECTION", "title": "T", "message": "M"})
    assert b"UNIQUE-SECTION" not in receiver.requests[0].body
    assert receiver.requests[0].json() == expected_body("T", "M", "attention")


def test_empty_title_leaves_out_the_summary(receiver):
    send(receiver, {"title": '{{ template("missing") }}', "message": "M"})
    body = receiver.requests[0].json()
    assert "summary" not in body
    assert card_of(receiver)["body"][0]["text"] == ""


def test_templated_url(receiver):
    send(receiver, {"url": receiver.url + "/hook/{{ CommonLabels.lbl1 }}"})
    assert receiver.requests[0].path == "/hook/val1"


def test_url_template_error_falls_back_to_the_raw_setting():
    raw = 'https://example.com/hook/{{ template("missing") }}'
    assert Teams().build(make_context(Teams, {"url": raw})).url == raw


# -- classification ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "result", "error"),
    [
        (Answer(200, b"1"), Result.SUCCESS, ""),
        (Answer(202, b""), Result.SUCCESS, ""),  # Workflows answer 202 with no body
        (Answer(200, b"not one"), Result.SUCCESS, ""),  # the "1" rule is for legacy connectors only
        (
            Answer(400, b'{"error":{"code":"TriggerInputSchemaMismatch"}}'),
            Result.FAILED,
            "send notification to Teams: webhook response status 400 Bad Request: "
            '{"error":{"code":"TriggerInputSchemaMismatch"}}',
        ),
        (
            Answer(503, b"busy"),
            Result.RETRY,
            "send notification to Teams: webhook response status 503 Service Unavailable: busy",
        ),
    ],
)
def test_classification(receiver, answer, result, error):
    receiver.answer_with(answer)
    outcome = send(receiver)
    assert (outcome.result, outcome.error, outcome.http_status) == (result, error, answer.status)


def test_transport_error_is_wrapped():
    outcome = Teams().send(make_context(Teams, {"url": "http://127.0.0.1:9/hook"}), loopback_transport())
    assert outcome.result is Result.RETRY
    assert outcome.error.startswith("send notification to Teams: ")


LEGACY = "https://example.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456"
LIMITED = b"Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0"


@pytest.mark.parametrize(
    ("url", "status", "body", "result", "error"),
    [
        (LEGACY, 200, b"1", Result.SUCCESS, ""),
        (LEGACY, 200, LIMITED, Result.FAILED, f"webhook failed validation: {LIMITED.decode()}"),
        (LEGACY, 200, b"", Result.FAILED, "webhook failed validation: "),
        (LEGACY, 200, b"1\n", Result.FAILED, "webhook failed validation: 1\n"),  # exactly "1"
        (LEGACY, 400, b"1", Result.FAILED, "webhook response status 400 Bad Request: 1"),  # only 2xx is validated
        ("https://{{ 'outlook' }}.webhook.office.com/x", 200, b"x", Result.FAILED, "webhook failed validation: x"),
        ("https://webhook.office.com/x", 200, b"x", Result.FAILED, "webhook failed validation: x"),
        ("https://webhook.office.com:443/x", 200, b"x", Result.SUCCESS, ""),  # Go's URL.Host keeps the port
        ("https://webhook.office.com.example.com/x", 200, b"x", Result.SUCCESS, ""),
        ("https://example.com/webhook.office.com", 200, b"x", Result.SUCCESS, ""),
    ],
)
def test_legacy_connector_body_must_be_1(url, status, body, result, error):
    """A receiver cannot live on that host, so the answer is classified directly."""
    ctx = make_context(Teams, {"url": url})
    outcome = Teams().classify(HttpResponse(status, {"content-type": "text/plain"}, body), ctx)
    assert (outcome.result, outcome.error) == (result, error)
