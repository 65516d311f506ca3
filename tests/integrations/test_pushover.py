"""Pushover (spec §4.11): validation table, the multipart message at a loopback receiver."""

from __future__ import annotations

import pytest

from integrations.base import Result, SettingsError
from integrations.pushover import Pushover
from tests.integrations.helpers import (
    EXAMPLE_MESSAGE,
    EXAMPLE_TITLE,
    alert,
    form_fields,
    loopback_transport,
    make_context,
)
from tests.receivers import Answer

USER_KEY = "uKey-s3cr3t"
API_TOKEN = "aToken-s3cr3t"
SECRETS = {"userKey": USER_KEY, "apiToken": API_TOKEN}
RULE_URL = "http://localhost/alerting/list"


@pytest.fixture
def api(settings, receiver):
    settings.PUSHOVER_API_URL = receiver.url
    return receiver


def send(settings=None, alerts=None, **options):
    ctx = make_context(Pushover, settings or {}, alerts, secure_settings=SECRETS, **options)
    return Pushover().send(ctx, loopback_transport())


# The default message: Grafana's default title and (trimmed) message, the rule list link, no sound.
DEFAULT_FIELDS = [
    ("user", USER_KEY),
    ("token", API_TOKEN),
    ("priority", "0"),
    ("title", EXAMPLE_TITLE),
    ("url", RULE_URL),
    ("url_title", "Show alert rule"),
    ("message", EXAMPLE_MESSAGE.strip()),
    ("sound", ""),
    ("html", "1"),
]


# -- validation ----------------------------------------------------------------------------


def alerting_error(text: str) -> str:
    return f"failed to convert alerting priority to integer: strconv.ParseInt: parsing {text}: invalid syntax"


@pytest.mark.parametrize(
    ("settings", "errors"),
    [
        ({}, [("userKey", "user key not found"), ("apiToken", "API token not found")]),
        ({"apiToken": "t"}, [("userKey", "user key not found")]),
        ({"userKey": "u", "apiToken": ""}, [("apiToken", "API token not found")]),
        ({**SECRETS, "priority": "high"}, [("priority", alerting_error('"high"'))]),
        ({**SECRETS, "priority": "1.5"}, [("priority", alerting_error('"1.5"'))]),
        ({**SECRETS, "priority": 1.5}, [("priority", alerting_error('"1.5"'))]),
        ({**SECRETS, "priority": " 1"}, [("priority", alerting_error('" 1"'))]),
        ({**SECRETS, "priority": True}, [("priority", alerting_error('"true"'))]),
        (
            {**SECRETS, "priority": "99999999999999999999"},
            [
                (
                    "priority",
                    "failed to convert alerting priority to integer: "
                    'strconv.ParseInt: parsing "99999999999999999999": value out of range',
                )
            ],
        ),
        (
            {**SECRETS, "okPriority": "low"},
            [
                (
                    "okPriority",
                    'failed to convert OK priority to integer: strconv.ParseInt: parsing "low": invalid syntax',
                )
            ],
        ),
        (
            {**SECRETS, "priority": "x", "okPriority": "-"},
            [
                ("priority", alerting_error('"x"')),
                (
                    "okPriority",
                    'failed to convert OK priority to integer: strconv.ParseInt: parsing "-": invalid syntax',
                ),
            ],
        ),
    ],
)
def test_invalid_settings(settings, errors):
    with pytest.raises(SettingsError) as raised:
        Pushover.validate(settings)
    assert raised.value.errors == errors
    assert raised.value.message == errors[0][1]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, {"priority": 0, "okPriority": 0, "retry": 0, "expire": 0, "uploadImage": True, "sound": ""}),
        ({"priority": "2", "okPriority": -2}, {"priority": 2, "okPriority": -2}),
        ({"priority": "+1", "okPriority": ""}, {"priority": 1, "okPriority": 0}),
        ({"priority": 5}, {"priority": 5}),  # any integer: Pushover itself judges the range
        ({"retry": "60", "expire": 3600}, {"retry": 60, "expire": 3600}),
        ({"retry": "soon", "expire": "1.5"}, {"retry": 0, "expire": 0}),  # parse errors are ignored
        ({"expire": "99999999999999999999"}, {"expire": 2**63 - 1}),  # Go keeps the clamped value
        ({"uploadImage": False}, {"uploadImage": False}),
    ],
)
def test_valid_settings(settings, expected):
    config = Pushover.validate({**SECRETS, **settings})
    assert {key: config[key] for key in expected} == expected


def test_declaration():
    assert Pushover.secret_keys() == ["userKey", "apiToken"]
    assert [f.key for f in Pushover.fields if f.template] == [
        "userKey",
        "device",
        "sound",
        "okSound",
        "title",
        "message",
    ]


def test_example_is_accepted():
    config = Pushover.validate(Pushover.example)
    assert config["userKey"] and config["apiToken"]


# -- requests ------------------------------------------------------------------------------


def test_default_request(api):
    outcome = send()
    assert outcome.result is Result.SUCCESS
    (request,) = api.requests
    assert (request.method, request.path) == ("POST", "/1/messages.json")
    assert request.headers["user-agent"] == "ContactPoints/0.1.0"
    assert form_fields(request) == DEFAULT_FIELDS


def test_every_option(api):
    settings = {
        "priority": "1",
        "okPriority": "-1",
        "retry": "60",
        "expire": "600",
        "device": "phone-{{ CommonLabels.lbl1 }},tablet",
        "sound": "{{ 'siren' if Status == 'firing' else 'magic' }}",
        "okSound": "magic",
        "title": "T {{ CommonLabels.alertname }}",
        "message": "<b>{{ Alerts | length }}</b> alert",
    }
    send(settings)
    assert form_fields(api.requests[0]) == [
        ("user", USER_KEY),
        ("token", API_TOKEN),
        ("priority", "1"),  # not emergency: no retry, no expire
        ("device", "phone-val1,tablet"),
        ("title", "T alert1"),
        ("url", RULE_URL),
        ("url_title", "Show alert rule"),
        ("message", "<b>1</b> alert"),
        ("sound", "siren"),
        ("html", "1"),
    ]


def test_emergency_priority_sends_retry_and_expire(api):
    send({"priority": 2, "retry": "30", "expire": "bad"})
    assert form_fields(api.requests[0])[:5] == [
        ("user", USER_KEY),
        ("token", API_TOKEN),
        ("priority", "2"),
        ("retry", "30"),
        ("expire", "0"),
    ]


def test_resolved_uses_ok_priority_and_ok_sound(api):
    settings = {"priority": "2", "okPriority": "-1", "retry": "30", "sound": "siren", "okSound": "{{ 'magic' }}"}
    send(settings, [alert("a", "resolved")], group_labels={"alertname": "a"})
    fields = form_fields(api.requests[0])
    assert [name for name, _ in fields] == [
        *("user", "token", "priority", "title", "url", "url_title", "message", "sound", "html"),
    ]
    values = dict(fields)
    assert (values["priority"], values["sound"], values["title"]) == ("-1", "magic", "[RESOLVED] a ")
    assert values["message"].startswith("**Resolved**\n")


def test_resolved_with_emergency_ok_priority(api):
    send({"okPriority": 2, "retry": 45, "expire": 90}, [alert("a", "resolved")])
    assert form_fields(api.requests[0])[2:5] == [("priority", "2"), ("retry", "45"), ("expire", "90")]


@pytest.mark.parametrize(
    ("options", "sound"),
    [
        ({}, ""),  # unset: sent, empty
        ({"sound": "default"}, None),  # only "default" leaves the field out
        ({"sound": "{{ 'default' }}"}, None),  # decided on the rendered value
        ({"sound": "none"}, "none"),
        ({"okSound": "default"}, ""),  # the OK sound is for resolved notifications only
    ],
)
def test_sound(api, options, sound):
    send(options)
    assert dict(form_fields(api.requests[0])).get("sound") == sound


@pytest.mark.parametrize(
    ("message", "sent"),
    [
        ("  hello \n", "hello"),  # trimmed
        ("{{ '   ' }}", "(no details)"),  # a blank rendering: Pushover rejects empty messages
        ('{{ template("missing") }}', "(no details)"),  # a template error renders ""
        ("x" * 1025, "x" * 1023 + "…"),
        (" " * 1023 + "xy", "…"),  # cut first, then trimmed
        ("é" * 1024, "é" * 1024),
    ],
)
def test_message(api, message, sent):
    send({"message": message})
    assert dict(form_fields(api.requests[0]))["message"] == sent


def test_title_is_cut_to_250_runes(api):
    send({"title": "ü" * 300})
    assert dict(form_fields(api.requests[0]))["title"] == "ü" * 249 + "…"


def test_templated_user_key(api):
    ctx = make_context(Pushover, {"userKey": "u-{{ CommonLabels.lbl1 }}-s3cr3t", "apiToken": API_TOKEN})
    Pushover().send(ctx, loopback_transport())
    assert form_fields(api.requests[0])[0] == ("user", "u-val1-s3cr3t")


def test_long_external_url_is_cut_to_512_runes(api):
    ctx = make_context(Pushover, {}, secure_settings=SECRETS)
    ctx.data.ExternalURL = "http://grafana.example/" + "p" * 600
    Pushover().send(ctx, loopback_transport())
    url = dict(form_fields(api.requests[0]))["url"]
    assert len(url) == 512 and url.endswith("p…")


# -- classification: Grafana's shared sender rules -----------------------------------------


@pytest.mark.parametrize(
    ("answer", "result", "error"),
    [
        (Answer(200, b'{"status":1,"request":"r"}'), Result.SUCCESS, ""),
        (
            Answer(400, b'{"user":"invalid","errors":["user identifier is invalid"],"status":0}'),
            Result.FAILED,
            'webhook response status 400 Bad Request: {"user":"invalid","errors":["user identifier is invalid"],'
            '"status":0}',
        ),
        (Answer(429, b"slow down"), Result.RETRY, "webhook response status 429 Too Many Requests: slow down"),
        (Answer(500, b""), Result.RETRY, "webhook response status 500 Internal Server Error: "),
    ],
)
def test_classification(api, answer, result, error):
    api.answer_with(answer)
    outcome = send()
    assert (outcome.result, outcome.error, outcome.http_status) == (result, error, answer.status)
