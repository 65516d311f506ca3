"""Telegram (spec §4.14): validation table, sendMessage at a loopback receiver, token never shown."""

from __future__ import annotations

import pytest

from integrations.base import Result, SettingsError
from integrations.telegram import Telegram
from tests.integrations.helpers import EXAMPLE_MESSAGE, alert, form_fields, loopback_transport, make_context
from tests.receivers import Answer

BOT_TOKEN = "123456:AA-s3cr3t_token"
BASE = {"chatid": "-100123"}


@pytest.fixture
def api(settings, receiver):
    """The Bot API base URL points at the loopback receiver."""
    settings.TELEGRAM_API_URL = receiver.url + "/"
    return receiver


def send(settings=None, alerts=None, **options):
    ctx = make_context(
        Telegram, {**BASE, **(settings or {})}, alerts, secure_settings={"bottoken": BOT_TOKEN}, **options
    )
    return Telegram().send(ctx, loopback_transport())


# -- validation ----------------------------------------------------------------------------

THREAD_INTEGER = "message thread id must be an integer"
THREAD_INT32 = "message thread id must be an int32"
PARSE_MODE = "unknown parse_mode, must be Markdown, MarkdownV2, HTML or None"


@pytest.mark.parametrize(
    ("settings", "errors"),
    [
        (
            {},
            [("bottoken", "could not find Bot Token in settings"), ("chatid", "could not find Chat Id in settings")],
        ),
        ({"chatid": "1"}, [("bottoken", "could not find Bot Token in settings")]),
        ({"bottoken": "t", "chatid": ""}, [("chatid", "could not find Chat Id in settings")]),
        ({"bottoken": "t", "chatid": "1", "message_thread_id": "abc"}, [("message_thread_id", THREAD_INTEGER)]),
        ({"bottoken": "t", "chatid": "1", "message_thread_id": "1.5"}, [("message_thread_id", THREAD_INTEGER)]),
        ({"bottoken": "t", "chatid": "1", "message_thread_id": 2.0}, [("message_thread_id", THREAD_INTEGER)]),
        ({"bottoken": "t", "chatid": "1", "message_thread_id": " 7"}, [("message_thread_id", THREAD_INTEGER)]),
        ({"bottoken": "t", "chatid": "1", "message_thread_id": "1_000"}, [("message_thread_id", THREAD_INTEGER)]),
        ({"bottoken": "t", "chatid": "1", "message_thread_id": "0x10"}, [("message_thread_id", THREAD_INTEGER)]),
        ({"bottoken": "t", "chatid": "1", "message_thread_id": True}, [("message_thread_id", THREAD_INTEGER)]),
        # Beyond int64 Atoi itself fails, so it is "not an integer" rather than "not an int32".
        (
            {"bottoken": "t", "chatid": "1", "message_thread_id": "9223372036854775808"},
            [("message_thread_id", THREAD_INTEGER)],
        ),
        ({"bottoken": "t", "chatid": "1", "message_thread_id": "2147483648"}, [("message_thread_id", THREAD_INT32)]),
        ({"bottoken": "t", "chatid": "1", "message_thread_id": -2147483649}, [("message_thread_id", THREAD_INT32)]),
        ({"bottoken": "t", "chatid": "1", "parse_mode": "Markdown2"}, [("parse_mode", PARSE_MODE)]),
        ({"bottoken": "t", "chatid": "1", "parse_mode": "text"}, [("parse_mode", PARSE_MODE)]),
        (
            {"bottoken": "t", "chatid": "1", "message_thread_id": "x", "parse_mode": "x"},
            [("message_thread_id", THREAD_INTEGER), ("parse_mode", PARSE_MODE)],
        ),
    ],
)
def test_invalid_settings(settings, errors):
    with pytest.raises(SettingsError) as raised:
        Telegram.validate(settings)
    assert raised.value.errors == errors
    assert raised.value.message == errors[0][1]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, {"parse_mode": "HTML", "message_thread_id": "", "chatid": "-100123"}),
        ({"chatid": -100123}, {"chatid": "-100123"}),  # a number is taken as its text
        ({"chatid": "@alerts"}, {"chatid": "@alerts"}),
        ({"parse_mode": "markdownv2"}, {"parse_mode": "MarkdownV2"}),  # case-insensitive, Telegram's spelling
        ({"parse_mode": "MARKDOWN"}, {"parse_mode": "Markdown"}),
        ({"parse_mode": "html"}, {"parse_mode": "HTML"}),
        ({"parse_mode": "None"}, {"parse_mode": ""}),
        ({"parse_mode": "none"}, {"parse_mode": ""}),
        ({"parse_mode": ""}, {"parse_mode": "HTML"}),
        ({"message_thread_id": 42}, {"message_thread_id": "42"}),
        ({"message_thread_id": "+7"}, {"message_thread_id": "+7"}),
        ({"message_thread_id": "2147483647"}, {"message_thread_id": "2147483647"}),
        ({"message_thread_id": "-2147483648"}, {"message_thread_id": "-2147483648"}),
        ({"message_thread_id": ""}, {"message_thread_id": ""}),
        ({"disable_notifications": "true"}, {"disable_notifications": True, "protect_content": False}),
    ],
)
def test_valid_settings(settings, expected):
    config = Telegram.validate({**BASE, **settings}, {"bottoken": BOT_TOKEN})
    assert {key: config[key] for key in expected} == expected
    assert config["message"] == '{{ template("default.message") }}'


def test_declaration():
    assert Telegram.secret_keys() == ["bottoken"]
    assert [f.key for f in Telegram.fields if f.template] == ["message"]


def test_example_is_accepted():
    config = Telegram.validate(Telegram.example)
    assert config["bottoken"] and config["chatid"]


# -- requests ------------------------------------------------------------------------------


def test_default_request(api):
    outcome = send()
    assert outcome.result is Result.SUCCESS
    (request,) = api.requests
    assert (request.method, request.path) == ("POST", f"/bot{BOT_TOKEN}/sendMessage")
    assert request.headers["user-agent"] == "ContactPoints/0.1.0"
    assert form_fields(request) == [("chat_id", "-100123"), ("text", EXAMPLE_MESSAGE), ("parse_mode", "HTML")]


def test_every_option_in_the_spec_order(api):
    settings = {
        "chatid": "@alerts",
        "message_thread_id": 17,
        "disable_notifications": True,
        "parse_mode": "markdownv2",
        "disable_web_page_preview": True,
        "protect_content": "true",
        "message": "*{{ CommonLabels.alertname }}* is {{ Status }}",
    }
    send(settings)
    assert form_fields(api.requests[0]) == [
        ("chat_id", "@alerts"),
        ("message_thread_id", "17"),
        ("disable_notification", "true"),
        ("text", "*alert1* is firing"),
        ("parse_mode", "MarkdownV2"),
        ("disable_web_page_preview", "true"),
        ("protect_content", "true"),
    ]


def test_parse_mode_none_leaves_the_field_out(api):
    send({"parse_mode": "None", "message": "plain"})
    assert form_fields(api.requests[0]) == [("chat_id", "-100123"), ("text", "plain")]


def test_resolved_message(api):
    send(alerts=[alert("a", "resolved")], group_labels={"alertname": "a"})
    fields = dict(form_fields(api.requests[0]))
    assert fields["text"].startswith("**Resolved**\n\nValue: [no value]\nLabels:\n - alertname = a\n")
    assert (fields["chat_id"], fields["parse_mode"]) == ("-100123", "HTML")


@pytest.mark.parametrize(
    ("message", "text"),
    [
        ("é" * 4096, "é" * 4096),
        ("é" * 4097, "é" * 4095 + "…"),
        ("🔥" * 5000, "🔥" * 4095 + "…"),  # runes, not UTF-16 units or bytes
    ],
)
def test_message_is_cut_to_4096_runes(api, message, text):
    send({"message": message})
    assert dict(form_fields(api.requests[0]))["text"] == text


def test_template_error_sends_an_empty_text(api):
    assert send({"message": '{{ template("missing") }}'}).ok
    assert dict(form_fields(api.requests[0]))["text"] == ""


def test_base_url_keeps_its_own_path(settings, receiver):
    settings.TELEGRAM_API_URL = receiver.url + "/telegram"
    send()
    assert receiver.requests[0].path == f"/telegram/bot{BOT_TOKEN}/sendMessage"


# -- classification: the shared rules, with the token kept out of every error -------------


@pytest.mark.parametrize(
    ("answer", "result", "error"),
    [
        (Answer(200, b'{"ok":true,"result":{}}'), Result.SUCCESS, ""),
        (
            Answer(400, b'{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}'),
            Result.FAILED,
            'webhook response status 400 Bad Request: {"ok":false,"error_code":400,'
            '"description":"Bad Request: chat not found"}',
        ),
        (
            Answer(429, b'{"ok":false,"error_code":429}', {"Retry-After": "3"}),
            Result.RETRY,
            'webhook response status 429 Too Many Requests: {"ok":false,"error_code":429}',
        ),
        (Answer(502, b"bad gateway"), Result.RETRY, "webhook response status 502 Bad Gateway: bad gateway"),
        # A proxy's error page that echoes the request path must not reveal the token.
        (
            Answer(404, f"no route for /bot{BOT_TOKEN}/sendMessage".encode()),
            Result.FAILED,
            "webhook response status 404 Not Found: no route for /bot[REDACTED]/sendMessage",
        ),
        (
            Answer(404, b"no route for /bot123456%3AAA-s3cr3t_token/sendMessage"),
            Result.FAILED,
            "webhook response status 404 Not Found: no route for /bot[REDACTED]/sendMessage",
        ),
    ],
)
def test_classification(api, answer, result, error):
    api.answer_with(answer)
    outcome = send()
    assert (outcome.result, outcome.error, outcome.http_status) == (result, error, answer.status)
    assert "s3cr3t" not in outcome.error


def test_unreachable_api_is_retried_without_the_token(settings):
    settings.TELEGRAM_API_URL = "http://127.0.0.1:9"
    outcome = send()
    assert outcome.result is Result.RETRY
    assert outcome.error.startswith("cannot connect to http://127.0.0.1:9")
    assert "s3cr3t" not in outcome.error
