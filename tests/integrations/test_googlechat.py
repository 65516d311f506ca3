"""Google Chat (spec §4.5): validation table, card requests to a real loopback receiver, widget rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.base import Result, SettingsError
from integrations.goformat import go_format_time
from integrations.googlechat import GoogleChat
from tests.integrations.helpers import EXAMPLE_MESSAGE, EXAMPLE_TITLE, alert, loopback_transport, make_context

HOOK_PATH = "/v1/spaces/AAAA/messages?key=k&token=s3cr3t"
OPEN_BUTTON = {
    "buttons": [
        {
            "textButton": {
                "text": "OPEN IN CONTACTPOINTS",
                "onClick": {"openLink": {"url": "http://localhost/alerting/list"}},
            }
        }
    ]
}


def context(receiver, settings=None, alerts=None, **options):
    """The (secret) webhook URL points at the receiver."""
    secure = {"url": receiver.url + HOOK_PATH}
    return make_context(GoogleChat, settings or {}, alerts, secure_settings=secure, **options)


def send(receiver, settings=None, alerts=None, **options):
    return GoogleChat().send(context(receiver, settings, alerts, **options), loopback_transport())


def widgets_of(receiver) -> list:
    (request,) = receiver.requests
    ((section,),) = [card["sections"] for card in request.json()["cards"]]
    return section["widgets"]


def version_lines(started: datetime) -> set[str]:
    """The version line as it may read (the minute can turn while the test runs)."""
    moments = (started, datetime.now(UTC), started + timedelta(seconds=5))
    return {f"ContactPoints v0.1.0 | {go_format_time(moment, '02 Jan 06 15:04 MST')}" for moment in moments}


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "secure", "key", "error"),
    [
        ({}, {}, "url", "could not find url property in settings"),
        ({"url": ""}, {}, "url", "could not find url property in settings"),
        ({"hide_open_button": True}, {"url": ""}, "url", "could not find url property in settings"),
    ],
)
def test_invalid_settings(settings, secure, key, error):
    with pytest.raises(SettingsError) as raised:
        GoogleChat.validate(settings, secure)
    assert raised.value.errors == [(key, error)]
    assert raised.value.message == error


def test_defaults_example_and_secrets():
    config = GoogleChat.validate({"url": "https://example.com/hook"})
    assert (config["title"], config["message"]) == (
        '{{ template("default.title") }}',
        '{{ template("default.message") }}',
    )
    assert (config["hide_open_button"], config["hide_version_info"]) == (False, False)
    GoogleChat.validate(GoogleChat.example)
    assert GoogleChat.secret_keys() == ["url"]


# -- requests ------------------------------------------------------------------------------


def test_request(receiver):
    started = datetime.now(UTC)
    outcome = send(receiver)
    assert outcome.result is Result.SUCCESS
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", HOOK_PATH)
    assert request.headers["content-type"] == "application/json; charset=UTF-8"
    body = request.json()
    version = body["cards"][0]["sections"][0]["widgets"].pop()
    assert version["textParagraph"]["text"] in version_lines(started)
    assert body == {
        "previewText": EXAMPLE_TITLE,
        "fallbackText": EXAMPLE_TITLE,
        "cards": [
            {
                "header": {"title": EXAMPLE_TITLE},
                "sections": [{"widgets": [{"textParagraph": {"text": EXAMPLE_MESSAGE}}, OPEN_BUTTON]}],
            }
        ],
    }


def test_version_line_format():
    (card,) = GoogleChat().message(make_context(GoogleChat, {"url": "https://example.com/h"}))["cards"]
    text = card["sections"][0]["widgets"][-1]["textParagraph"]["text"]
    assert text.startswith("ContactPoints v0.1.0 | ")
    day, month, year, clock, zone = text.split(" | ")[1].split(" ")
    assert (len(day), len(month), len(year), len(clock), zone) == (2, 3, 2, 5, "UTC")


def test_resolved(receiver):
    send(receiver, {"hide_version_info": True}, alerts=[alert("a", "resolved")], group_labels={"alertname": "a"})
    body = receiver.requests[0].json()
    assert (body["previewText"], body["cards"][0]["header"]["title"]) == ("[RESOLVED] a ", "[RESOLVED] a ")
    assert widgets_of(receiver)[0]["textParagraph"]["text"].startswith("**Resolved**\n")


@pytest.mark.parametrize(
    ("settings", "kinds"),
    [
        ({}, ["message", "button", "version"]),
        ({"hide_open_button": True}, ["message", "version"]),
        ({"hide_version_info": True}, ["message", "button"]),
        ({"hide_open_button": True, "hide_version_info": "true"}, ["message"]),
        ({"message": "{{ '' }}"}, ["button", "version"]),  # Google rejects an empty text paragraph
        ({"message": '{{ template("missing") }}'}, ["button", "version"]),  # a template error renders ""
    ],
)
def test_widgets(receiver, settings, kinds):
    send(receiver, settings)
    seen = []
    for widget in widgets_of(receiver):
        if "buttons" in widget:
            assert widget == OPEN_BUTTON
            seen.append("button")
        elif widget["textParagraph"]["text"].startswith("ContactPoints v0.1.0 | "):
            seen.append("version")
        else:
            assert widget == {"textParagraph": {"text": EXAMPLE_MESSAGE}}
            seen.append("message")
    assert seen == kinds


def test_no_button_without_an_absolute_external_url(receiver):
    ctx = context(receiver, {"hide_version_info": True})
    ctx.data.ExternalURL = ""  # the rule URL is then the relative /alerting/list
    GoogleChat().send(ctx, loopback_transport())
    assert widgets_of(receiver) == [{"textParagraph": {"text": EXAMPLE_MESSAGE}}]


def test_card_without_widgets_sends_null(receiver):
    send(receiver, {"message": "{{ '' }}", "hide_open_button": True, "hide_version_info": True, "title": "T"})
    body = receiver.requests[0].json()
    assert body["cards"] == [{"header": {"title": "T"}, "sections": [{"widgets": None}]}]


def test_templated_fields_and_url(receiver):
    settings = {"url": receiver.url + "/hook/{{ CommonLabels.lbl1 }}", "title": "T {{ Status }}", "message": "M"}
    GoogleChat().send(make_context(GoogleChat, {**settings, "hide_version_info": True}), loopback_transport())
    (request,) = receiver.requests
    assert request.path == "/hook/val1"
    body = request.json()
    assert (body["previewText"], body["fallbackText"], body["cards"][0]["header"]["title"]) == ("T firing",) * 3
    assert body["cards"][0]["sections"][0]["widgets"][0] == {"textParagraph": {"text": "M"}}


def test_url_template_error_falls_back_to_the_raw_setting():
    raw = 'https://example.com/hook/{{ template("missing") }}?token=s3cr3t'
    ctx = make_context(GoogleChat, {}, secure_settings={"url": raw})
    assert GoogleChat().build(ctx).url == raw
