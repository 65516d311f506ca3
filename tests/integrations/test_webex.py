"""Cisco Webex (spec §4.18): validation table, Messages API requests to a loopback receiver, truncBytes."""

from __future__ import annotations

import pytest

from integrations.base import Result, SettingsError
from integrations.values import trunc_bytes
from integrations.webex import DEFAULT_API_URL, Webex
from tests.integrations.helpers import EXAMPLE_MESSAGE, alert, loopback_transport, make_context
from tests.receivers import Answer

TOKEN = "bot-s3cr3t-token"
ROOM = "Y2lzY29zcGFyazovL3VzL1JPT00vMTIz"


def send(receiver, settings=None, alerts=None, token=TOKEN, **options):
    settings = {"api_url": receiver.url + "/v1/messages", "room_id": ROOM, **(settings or {})}
    ctx = make_context(Webex, settings, alerts, secure_settings={"bot_token": token} if token else {}, **options)
    return Webex().send(ctx, loopback_transport())


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "key", "error"),
    [
        ({"api_url": "http://[::1"}, "api_url", 'invalid URL "http://[::1"'),
        ({"api_url": "https://webexapis.com/%zz"}, "api_url", 'invalid URL "https://webexapis.com/%zz"'),
        ({"api_url": "::nope"}, "api_url", 'invalid URL "::nope"'),
        ({"api_url": "http://host:port/v1"}, "api_url", 'invalid URL "http://host:port/v1"'),
        ({"api_url": "http://h\x7f/", "room_id": "r"}, "api_url", 'invalid URL "http://h\\x7f/"'),
    ],
)
def test_invalid_settings(settings, key, error):
    with pytest.raises(SettingsError) as raised:
        Webex.validate(settings)
    assert raised.value.errors == [(key, error)]
    assert raised.value.message == error


@pytest.mark.parametrize(
    ("settings", "secure", "expected"),
    [
        # room_id and bot_token are not validated by the backend: empty settings are accepted.
        ({}, {}, {"api_url": DEFAULT_API_URL, "room_id": "", "bot_token": ""}),
        ({"api_url": ""}, {}, {"api_url": DEFAULT_API_URL}),
        ({"api_url": "https://webex.example/{{ CommonLabels.team }}/messages"}, {}, {"room_id": ""}),
        ({"room_id": "r"}, {"bot_token": "b"}, {"room_id": "r", "bot_token": "b"}),
        ({"bot_token": "plain"}, {}, {"bot_token": "plain"}),  # a secret may come in plain settings
    ],
)
def test_valid_settings(settings, secure, expected):
    config = Webex.validate(settings, secure)
    assert {key: config[key] for key in expected} == expected
    assert config["message"] == '{{ template("default.message") }}'


def test_example_and_secrets():
    Webex.validate(Webex.example)
    assert Webex.secret_keys() == ["bot_token"]


# -- requests ------------------------------------------------------------------------------


def test_request(receiver):
    outcome = send(receiver)
    assert outcome.result is Result.SUCCESS
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json() == {"roomId": ROOM, "markdown": EXAMPLE_MESSAGE}
    assert list(request.json()) == ["roomId", "markdown"]


def test_no_token_no_authorization_and_no_room(receiver):
    send(receiver, {"room_id": ""}, token="")
    (request,) = receiver.requests
    assert "authorization" not in request.headers
    assert request.json() == {"markdown": EXAMPLE_MESSAGE}


def test_resolved(receiver):
    send(receiver, alerts=[alert("a", "resolved")])
    assert receiver.requests[0].json()["markdown"].startswith("**Resolved**\n")


def test_templated_api_url_and_message(receiver):
    send(receiver, {"api_url": receiver.url + "/{{ CommonLabels.lbl1 }}/messages", "message": "{{ Status }}!"})
    (request,) = receiver.requests
    assert (request.path, request.json()["markdown"]) == ("/val1/messages", "firing!")


def test_api_url_template_error_fails_the_notification(receiver):
    outcome = send(receiver, {"api_url": receiver.url + '/{{ template("missing") }}'})
    assert outcome.result is Result.FAILED
    assert outcome.error.startswith("failed to template api_url: ")
    assert receiver.requests == []


def test_message_template_error_sends_empty_markdown(receiver):
    send(receiver, {"message": '{{ template("missing") }}'})
    assert receiver.requests[0].json() == {"roomId": ROOM, "markdown": ""}


@pytest.mark.parametrize(
    ("message", "markdown"),
    [
        ("x" * 4096, "x" * 4096),
        ("x" * 4097, "x" * 4093 + "…"),
        ("é" * 2048, "é" * 2048),  # 4096 bytes
        ("é" * 2049, "é" * 2046 + "…"),  # 4092 + 3 bytes: a whole 2-byte rune does not fit in 4093
        ("a" + "€" * 1400, "a" + "€" * 1364 + "…"),  # 1 + 4092 bytes of prefix, then the ellipsis
    ],
)
def test_markdown_is_cut_at_4096_bytes(receiver, message, markdown):
    send(receiver, {"message": message})
    sent = receiver.requests[0].json()["markdown"]
    assert sent == markdown
    assert len(sent.encode()) <= 4096


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("hello", 5, "hello"),
        ("hello!", 5, "he…"),
        ("hel", 3, "hel"),  # fits exactly
        ("hello", 2, ".."),
        ("hello", 1, "."),
        ("hello", 0, ""),
        ("hello!", 3, "…"),
        ("héllo", 5, "h…"),  # é is 2 bytes, so only "h" fits in 5 - 3
        ("日本語テキスト", 9, "日本…"),
        ("日本語テキスト", 8, "日…"),
    ],
)
def test_trunc_bytes(text, limit, expected):
    assert trunc_bytes(text, limit) == expected


@pytest.mark.parametrize(("status", "result"), [(200, Result.SUCCESS), (401, Result.FAILED), (429, Result.RETRY)])
def test_classification(receiver, status, result):
    receiver.answer_with(Answer(status, b'{"message":"x"}', {"Content-Type": "application/json"}))
    outcome = send(receiver)
    assert outcome.result is result
    assert TOKEN not in outcome.error
