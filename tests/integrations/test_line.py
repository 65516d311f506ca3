"""LINE (spec §4.7, deprecated): validation, the LINE Notify form request at a loopback receiver."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from integrations.base import Result, SettingsError
from integrations.line import Line
from tests.integrations.helpers import EXAMPLE_MESSAGE, EXAMPLE_TITLE, alert, loopback_transport, make_context
from tests.receivers import Answer

TOKEN = "line-s3cr3t"


@pytest.fixture
def api(settings, receiver):
    settings.LINE_API_URL = receiver.url
    return receiver


def send(options=None, alerts=None, **context_options):
    ctx = make_context(Line, options or {}, alerts, secure_settings={"token": TOKEN}, **context_options)
    return Line().send(ctx, loopback_transport())


def form(request) -> list[tuple[str, str]]:
    return parse_qsl(request.body.decode("ascii"), keep_blank_values=True, strict_parsing=True)


# -- declaration and validation ------------------------------------------------------------


def test_deprecated_type_that_cannot_be_created():
    assert (Line.type, Line.aliases, Line.deprecated, Line.can_create) == ("LINE", ("line",), True, False)
    described = Line.describe()
    assert (described["deprecated"], described["canCreate"]) == (True, False)
    assert "deprecated" in Line.description.lower() and "existing" in Line.description.lower()
    assert Line.secret_keys() == ["token"]


@pytest.mark.parametrize(
    ("options", "secure"),
    [({}, {}), ({"token": ""}, {}), ({"token": "   "}, {"token": ""}), ({"title": "t"}, {})],
)
def test_missing_token(options, secure):
    with pytest.raises(SettingsError) as raised:
        Line.validate(options, secure)
    assert raised.value.errors == [("token", "could not find token in settings")]


@pytest.mark.parametrize(("options", "secure"), [({"token": TOKEN}, {}), ({}, {"token": TOKEN})])
def test_token_from_settings_or_secure_settings(options, secure):
    config = Line.validate(options, secure)
    assert config == {
        "token": TOKEN,
        "title": '{{ template("default.title") }}',
        "description": '{{ template("default.message") }}',
    }


def test_example_is_accepted():
    assert Line.validate(Line.example)["token"]


# -- requests ------------------------------------------------------------------------------


def test_default_request(api):
    outcome = send()
    assert outcome.result is Result.SUCCESS
    (request,) = api.requests
    assert (request.method, request.path) == ("POST", "/api/notify")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded;charset=UTF-8"
    assert request.headers["user-agent"] == "ContactPoints/0.1.0"
    assert form(request) == [("message", f"{EXAMPLE_TITLE}\n{EXAMPLE_MESSAGE}")]
    # Go's url.Values encoding: spaces as `+`, everything but letters, digits and -_.~ escaped.
    assert request.body.startswith(b"message=%5BFIRING%3A1%5D++%28val1%29%0A%2A%2AFiring%2A%2A%0A%0AValue%3A+")


def test_resolved_message(api):
    send(alerts=[alert("a", "resolved")], group_labels={"alertname": "a"})
    ((name, message),) = form(api.requests[0])
    assert name == "message"
    assert message.startswith("[RESOLVED] a \n**Resolved**\n\nValue: [no value]\n")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"title": "T {{ Status }}", "description": "D & ü"}, "T firing\nD & ü"),
        ({"title": '{{ template("missing") }}', "description": "d"}, "\nd"),  # template errors render ""
        ({"title": "t" * 600, "description": "ä" * 600}, "t" * 600 + "\n" + "ä" * 398 + "…"),  # 1000 runes
        ({"title": "t" * 499, "description": "d" * 500}, "t" * 499 + "\n" + "d" * 500),  # exactly 1000
    ],
)
def test_message(api, options, message):
    send(options)
    assert form(api.requests[0]) == [("message", message)]


@pytest.mark.parametrize(
    ("answer", "result", "error"),
    [
        (Answer(200, b'{"status":200,"message":"ok"}'), Result.SUCCESS, ""),
        (
            Answer(401, b'{"status":401,"message":"Invalid access token"}'),
            Result.FAILED,
            'webhook response status 401 Unauthorized: {"status":401,"message":"Invalid access token"}',
        ),
        (Answer(429, b"limit"), Result.RETRY, "webhook response status 429 Too Many Requests: limit"),
        (Answer(503, b"down"), Result.RETRY, "webhook response status 503 Service Unavailable: down"),
    ],
)
def test_classification(api, answer, result, error):
    api.answer_with(answer)
    outcome = send()
    assert (outcome.result, outcome.error, outcome.http_status) == (result, error, answer.status)
