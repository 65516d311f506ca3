"""Threema Gateway (spec §4.15): validation table, the send_simple form at a loopback receiver."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from integrations.base import Result, SettingsError
from integrations.threema import Threema
from tests.integrations.helpers import EXAMPLE_MESSAGE, EXAMPLE_TITLE, alert, loopback_transport, make_context
from tests.receivers import Answer

SECRET = "gw-s3cr3t"
IDS = {"gateway_id": "*3MAGWID", "recipient_id": "ECHOECHO"}


@pytest.fixture
def api(settings, receiver):
    settings.THREEMA_API_URL = receiver.url
    return receiver


def send(options=None, alerts=None, **context_options):
    ctx = make_context(
        Threema, {**IDS, **(options or {})}, alerts, secure_settings={"api_secret": SECRET}, **context_options
    )
    return Threema().send(ctx, loopback_transport())


def form(request) -> list[tuple[str, str]]:
    return parse_qsl(request.body.decode("ascii"), keep_blank_values=True, strict_parsing=True)


# -- validation ----------------------------------------------------------------------------

NO_GATEWAY = "could not find Threema Gateway ID in settings"
GATEWAY_STAR = "invalid Threema Gateway ID: Must start with a *"
GATEWAY_LENGTH = "invalid Threema Gateway ID: Must be 8 characters long"
NO_RECIPIENT = "could not find Threema Recipient ID in settings"
RECIPIENT_LENGTH = "invalid Threema Recipient ID: Must be 8 characters long"
NO_SECRET = "could not find Threema API secret in settings"


VALID = {**IDS, "api_secret": SECRET}


@pytest.mark.parametrize(
    ("options", "errors"),
    [
        ({}, [("gateway_id", NO_GATEWAY), ("recipient_id", NO_RECIPIENT), ("api_secret", NO_SECRET)]),
        ({**VALID, "gateway_id": ""}, [("gateway_id", NO_GATEWAY)]),
        ({**VALID, "gateway_id": "3MAGWIDX"}, [("gateway_id", GATEWAY_STAR)]),
        ({**VALID, "gateway_id": "ABC"}, [("gateway_id", GATEWAY_STAR)]),  # the * is checked before the length
        ({**VALID, "gateway_id": "*3MAGWI"}, [("gateway_id", GATEWAY_LENGTH)]),
        ({**VALID, "gateway_id": "*3MAGWIDX"}, [("gateway_id", GATEWAY_LENGTH)]),
        ({**VALID, "gateway_id": "*ÄBCDEFG"}, [("gateway_id", GATEWAY_LENGTH)]),  # Go counts bytes: 9 here
        ({**VALID, "recipient_id": ""}, [("recipient_id", NO_RECIPIENT)]),
        ({**VALID, "recipient_id": "ECHO"}, [("recipient_id", RECIPIENT_LENGTH)]),
        ({**VALID, "recipient_id": "ECHOECHOE"}, [("recipient_id", RECIPIENT_LENGTH)]),
        (
            {**VALID, "gateway_id": "x", "recipient_id": "y"},
            [("gateway_id", GATEWAY_STAR), ("recipient_id", RECIPIENT_LENGTH)],
        ),
        (IDS, [("api_secret", NO_SECRET)]),
        ({**VALID, "api_secret": ""}, [("api_secret", NO_SECRET)]),
    ],
)
def test_invalid_settings(options, errors):
    with pytest.raises(SettingsError) as raised:
        Threema.validate(options)
    assert raised.value.errors == errors
    assert raised.value.message == errors[0][1]


@pytest.mark.parametrize(
    ("options", "secure"),
    [
        (VALID, {}),
        (IDS, {"api_secret": SECRET}),  # the encrypted value, as stored
        ({**VALID, "gateway_id": "*ÄBCDEF"}, {}),  # Go counts bytes: 7 characters, 8 bytes
    ],
)
def test_valid_settings(options, secure):
    config = Threema.validate(options, secure)
    assert (config["api_secret"], config["title"]) == (SECRET, '{{ template("default.title") }}')


def test_declaration_and_example():
    assert Threema.secret_keys() == ["api_secret"]
    assert [f.key for f in Threema.fields if f.template] == ["title", "description"]
    config = Threema.validate(Threema.example)
    assert (config["gateway_id"], config["recipient_id"]) == ("*3MAGWID", "YOUR3MID")


# -- requests ------------------------------------------------------------------------------


def test_firing_request(api):
    outcome = send()
    assert outcome.result is Result.SUCCESS
    (request,) = api.requests
    assert (request.method, request.path) == ("POST", "/send_simple")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["user-agent"] == "ContactPoints/0.1.0"
    text = f"⚠️ {EXAMPLE_TITLE}\n\n*Message:*\n{EXAMPLE_MESSAGE}\n*URL:* http://localhost/alerting/list\n"
    assert form(request) == [("from", "*3MAGWID"), ("secret", SECRET), ("text", text), ("to", "ECHOECHO")]
    # Go's url.Values encoding: `*` escaped, spaces as `+`, the emoji as UTF-8 bytes.
    assert request.body.startswith(b"from=%2A3MAGWID&secret=gw-s3cr3t&text=%E2%9A%A0%EF%B8%8F+%5BFIRING%3A1%5D")


def test_resolved_request_has_the_check_mark(api):
    send({"title": "{{ Status }}", "description": "all good"}, [alert("a", "resolved")])
    text = dict(form(api.requests[0]))["text"]
    assert text == "\u2705 resolved\n\n*Message:*\nall good\n*URL:* http://localhost/alerting/list\n"


def test_rule_url_keeps_both_slashes_of_the_scheme(api):
    # Grafana's path.Join would send `http:/grafana.example/sub/alerting/list`; the correct link is sent.
    ctx = make_context(Threema, IDS, secure_settings={"api_secret": SECRET})
    ctx.data.ExternalURL = "http://grafana.example/sub/"
    Threema().send(ctx, loopback_transport())
    assert dict(form(api.requests[0]))["text"].endswith("*URL:* http://grafana.example/sub/alerting/list\n")


@pytest.mark.parametrize(
    ("options", "head"),
    [
        ({"title": "T & {{ CommonLabels.lbl1 }}", "description": "<b>D</b>"}, "⚠️ T & val1\n\n*Message:*\n<b>D</b>\n"),
        ({"title": '{{ template("missing") }}', "description": "d"}, "⚠️ \n\n*Message:*\nd\n"),  # error → ""
        ({"title": "x" * 5000, "description": "d"}, "⚠️ " + "x" * 5000 + "\n\n*Message:*\nd\n"),  # no length limit
    ],
)
def test_templated_text(api, options, head):
    send(options)
    assert dict(form(api.requests[0]))["text"] == head + "*URL:* http://localhost/alerting/list\n"


@pytest.mark.parametrize(
    ("answer", "result", "error"),
    [
        (Answer(200, b"0123456789abcdef"), Result.SUCCESS, ""),
        (Answer(401, b""), Result.FAILED, "webhook response status 401 Unauthorized: "),
        (Answer(402, b""), Result.FAILED, "webhook response status 402 Payment Required: "),
        (Answer(429, b""), Result.RETRY, "webhook response status 429 Too Many Requests: "),
        (Answer(500, b"oops"), Result.RETRY, "webhook response status 500 Internal Server Error: oops"),
    ],
)
def test_classification(api, answer, result, error):
    api.answer_with(answer)
    outcome = send()
    assert (outcome.result, outcome.error, outcome.http_status) == (result, error, answer.status)
