"""Discord (spec §4.3): validation table, requests to a real loopback receiver, resolved colours."""

from __future__ import annotations

import pytest

from integrations.base import Result, SettingsError
from integrations.discord import FOOTER_ICON_URL, Discord
from tests.integrations.helpers import EXAMPLE_MESSAGE, EXAMPLE_TITLE, alert, loopback_transport, make_context
from tests.receivers import Answer

HOOK_PATH = "/api/webhooks/123/s3cr3t-token"


def send(receiver, settings=None, alerts=None, **options):
    """The (secret) webhook URL points at the receiver."""
    ctx = make_context(Discord, settings or {}, alerts, secure_settings={"url": receiver.url + HOOK_PATH}, **options)
    return Discord().send(ctx, loopback_transport())


def sent_body(receiver) -> dict:
    (request,) = receiver.requests
    return request.json()


def sent_embed(receiver) -> dict:
    (embed,) = sent_body(receiver)["embeds"]
    return embed


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "secure", "key", "error"),
    [
        ({}, {}, "url", "could not find webhook url property in settings"),
        ({"url": ""}, {}, "url", "could not find webhook url property in settings"),
        (
            {"title": "t", "use_discord_username": True},
            {"url": ""},
            "url",
            "could not find webhook url property in settings",
        ),
    ],
)
def test_invalid_settings(settings, secure, key, error):
    with pytest.raises(SettingsError) as raised:
        Discord.validate(settings, secure)
    assert raised.value.errors == [(key, error)]
    assert raised.value.message == error


@pytest.mark.parametrize(
    ("settings", "secure", "expected"),
    [
        (
            {"url": "https://example.com/api/webhooks/1/x"},
            {},
            {
                "title": '{{ template("default.title") }}',
                "message": '{{ template("default.message") }}',
                "use_discord_username": False,
                "use_embed_description": False,
                "avatar_url": "",
            },
        ),
        ({}, {"url": "https://example.com/api/webhooks/1/x"}, {"url": "https://example.com/api/webhooks/1/x"}),
        (
            {"url": "https://example.com/h", "use_discord_username": "true", "use_embed_description": 1},
            {},
            {"use_discord_username": True, "use_embed_description": True},
        ),
    ],
)
def test_valid_settings(settings, secure, expected):
    config = Discord.validate(settings, secure)
    assert {key: config[key] for key in expected} == expected


def test_example_and_secrets():
    Discord.validate(Discord.example)
    assert Discord.secret_keys() == ["url"]


# -- requests ------------------------------------------------------------------------------


def test_request(receiver):
    outcome = send(receiver)
    assert outcome.result is Result.SUCCESS
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", HOOK_PATH)
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "username": "ContactPoints",
        "content": EXAMPLE_MESSAGE,
        "embeds": [
            {
                "title": EXAMPLE_TITLE,
                "type": "rich",
                "url": "http://localhost/alerting/list",
                "color": 14037554,
                "footer": {"text": "ContactPoints v0.1.0", "icon_url": FOOTER_ICON_URL},
            }
        ],
    }
    assert list(request.json()) == ["username", "content", "embeds"]


def test_resolved_colour_and_title(receiver):
    send(receiver, alerts=[alert("a", "resolved")], group_labels={"alertname": "a"})
    body = sent_body(receiver)
    assert body["content"].startswith("**Resolved**\n")
    assert (body["embeds"][0]["title"], body["embeds"][0]["color"]) == ("[RESOLVED] a ", 3581519)


def test_mixed_batch_is_firing(receiver):
    send(receiver, alerts=[alert("a"), alert("b", "resolved")])
    assert sent_embed(receiver)["color"] == 14037554


RAW_AVATAR = 'https://example.com/{{ template("missing") }}.png'


@pytest.mark.parametrize(
    ("settings", "top_level", "description"),
    [
        ({"use_discord_username": True}, {"content": EXAMPLE_MESSAGE}, None),  # no username key at all
        ({"use_embed_description": True}, {"username": "ContactPoints", "content": ""}, EXAMPLE_MESSAGE),
        (
            {"avatar_url": "https://example.com/{{ CommonLabels.lbl1 }}.png"},
            {"username": "ContactPoints", "content": EXAMPLE_MESSAGE, "avatar_url": "https://example.com/val1.png"},
            None,
        ),
        (  # a template error in the avatar URL sends the raw setting
            {"avatar_url": RAW_AVATAR},
            {"username": "ContactPoints", "content": EXAMPLE_MESSAGE, "avatar_url": RAW_AVATAR},
            None,
        ),
        ({"avatar_url": "{{ '' }}"}, {"username": "ContactPoints", "content": EXAMPLE_MESSAGE}, None),  # left out
    ],
)
def test_options(receiver, settings, top_level, description):
    send(receiver, settings)
    body = sent_body(receiver)
    (embed,) = body.pop("embeds")
    assert body == top_level
    assert embed.get("description") == description


@pytest.mark.parametrize(
    ("settings", "content", "title", "description"),
    [
        ({"message": "x" * 2000, "title": "t" * 256}, "x" * 2000, "t" * 256, None),
        ({"message": "x" * 2001, "title": "t" * 257}, "x" * 1999 + "…", "t" * 255 + "…", None),
        ({"message": "é" * 2500, "title": "ü" * 300}, "é" * 1999 + "…", "ü" * 255 + "…", None),  # runes, not bytes
        # The description is cut like the content (Grafana truncates the message wherever it goes).
        ({"message": "x" * 2000, "use_embed_description": True}, "", EXAMPLE_TITLE, "x" * 2000),
        ({"message": "x" * 2500, "use_embed_description": True}, "", EXAMPLE_TITLE, "x" * 1999 + "…"),
        ({"message": "é" * 2001, "use_embed_description": True}, "", EXAMPLE_TITLE, "é" * 1999 + "…"),
    ],
)
def test_truncation(receiver, settings, content, title, description):
    send(receiver, settings)
    body = sent_body(receiver)
    (embed,) = body["embeds"]
    assert (body["content"], embed["title"], embed.get("description")) == (content, title, description)


def test_template_errors_leave_fields_empty(receiver):
    send(receiver, {"title": '{{ template("missing") }}', "message": '{{ template("missing") }}'})
    body = sent_body(receiver)
    assert body["content"] == ""
    assert "title" not in body["embeds"][0]  # an empty title is left out, as Go's omitempty does


def test_templated_url(receiver):
    settings = {"url": receiver.url + "/api/webhooks/{{ CommonLabels.lbl1 }}/s3cr3t"}
    Discord().send(make_context(Discord, settings), loopback_transport())
    assert receiver.requests[0].path == "/api/webhooks/val1/s3cr3t"


def test_url_template_error_falls_back_to_the_raw_setting():
    raw = 'https://example.com/api/webhooks/{{ template("missing") }}/s3cr3t'
    ctx = make_context(Discord, {}, secure_settings={"url": raw})
    assert Discord().build(ctx).url == raw


@pytest.mark.parametrize(("status", "result"), [(204, Result.SUCCESS), (400, Result.FAILED), (502, Result.RETRY)])
def test_classification(receiver, status, result):
    receiver.answer_with(Answer(status, b'{"message": "Unknown Webhook", "code": 10015}'))
    outcome = send(receiver)
    assert outcome.result is result
    if status >= 400:
        assert outcome.error.startswith(f"webhook response status {status} ")
