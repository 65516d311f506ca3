"""DingDing (spec §4.2): validation table, link and actionCard requests to a loopback receiver, error wrapping."""

from __future__ import annotations

import pytest

from integrations.base import Result, SettingsError
from integrations.dingding import DingDing, dingtalk_link
from tests.integrations.helpers import EXAMPLE_MESSAGE, EXAMPLE_TITLE, alert, loopback_transport, make_context
from tests.receivers import Answer

HOOK_PATH = "/robot/send?access_token=s3cr3t-token"
# ruleURL http://localhost/alerting/list, query-encoded as Go's url.Values.Encode does.
MESSAGE_URL = "dingtalk://dingtalkclient/page/link?pc_slide=false&url=http%3A%2F%2Flocalhost%2Falerting%2Flist"


def send(receiver, settings=None, alerts=None, **options):
    """The (secret) robot URL points at the receiver."""
    ctx = make_context(DingDing, settings or {}, alerts, secure_settings={"url": receiver.url + HOOK_PATH}, **options)
    return DingDing().send(ctx, loopback_transport())


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "secure", "key", "error"),
    [
        ({}, {}, "url", "could not find url property in settings"),
        ({"url": ""}, {}, "url", "could not find url property in settings"),
        ({"msgType": "actionCard"}, {"url": ""}, "url", "could not find url property in settings"),
    ],
)
def test_invalid_settings(settings, secure, key, error):
    with pytest.raises(SettingsError) as raised:
        DingDing.validate(settings, secure)
    assert raised.value.errors == [(key, error)]
    assert raised.value.message == error


def test_defaults_example_and_secrets():
    config = DingDing.validate({"url": "https://example.com/robot/send?access_token=x"})
    assert (config["msgType"], config["title"], config["message"]) == (
        "link",
        '{{ template("default.title") }}',
        '{{ template("default.message") }}',
    )
    assert DingDing.validate({"url": "https://example.com", "msgType": "markdown"})["msgType"] == "markdown"
    DingDing.validate(DingDing.example)
    assert DingDing.secret_keys() == ["url"]


# -- requests ------------------------------------------------------------------------------


LINK_BODY = {"msgtype": "link", "link": {"text": EXAMPLE_MESSAGE, "title": EXAMPLE_TITLE, "messageUrl": MESSAGE_URL}}
ACTION_CARD_BODY = {
    "msgtype": "actionCard",
    "actionCard": {"text": EXAMPLE_MESSAGE, "title": EXAMPLE_TITLE, "singleTitle": "More", "singleURL": MESSAGE_URL},
}


@pytest.mark.parametrize(
    ("settings", "body"),
    [
        ({}, LINK_BODY),
        ({"msgType": "link"}, LINK_BODY),
        ({"msgType": "actionCard"}, ACTION_CARD_BODY),
        ({"msgType": "{{ 'actionCard' if Status == 'firing' else 'link' }}"}, ACTION_CARD_BODY),  # templated
        ({"msgType": "markdown"}, LINK_BODY),  # anything else is a link message
        ({"msgType": "actioncard"}, LINK_BODY),  # the comparison is exact
    ],
)
def test_request(receiver, settings, body):
    outcome = send(receiver, settings)
    assert outcome.result is Result.SUCCESS
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", HOOK_PATH)
    assert request.headers["content-type"] == "application/json"
    assert request.json() == body


def test_resolved(receiver):
    send(receiver, alerts=[alert("a", "resolved")], group_labels={"alertname": "a"})
    link = receiver.requests[0].json()["link"]
    assert link["title"] == "[RESOLVED] a "
    assert link["text"].startswith("**Resolved**\n")
    assert link["messageUrl"] == MESSAGE_URL


@pytest.mark.parametrize(
    ("rule_url", "expected"),
    [
        ("http://localhost/alerting/list", MESSAGE_URL),
        (
            "https://grafana.example:3000/sub path/alerting/list?orgId=1&x=a+b",
            "dingtalk://dingtalkclient/page/link?pc_slide=false"
            "&url=https%3A%2F%2Fgrafana.example%3A3000%2Fsub+path%2Falerting%2Flist%3ForgId%3D1%26x%3Da%2Bb",
        ),
        ("/alerting/list", "dingtalk://dingtalkclient/page/link?pc_slide=false&url=%2Falerting%2Flist"),
    ],
)
def test_dingtalk_link(rule_url, expected):
    assert dingtalk_link(rule_url) == expected


def test_templated_url_and_fields(receiver):
    settings = {"url": receiver.url + "/robot/{{ CommonLabels.lbl1 }}", "title": "T {{ Status }}", "message": "M"}
    DingDing().send(make_context(DingDing, settings), loopback_transport())
    (request,) = receiver.requests
    assert request.path == "/robot/val1"
    assert request.json()["link"] == {"text": "M", "title": "T firing", "messageUrl": MESSAGE_URL}


def test_template_errors(receiver):
    send(receiver, {"title": '{{ template("missing") }}', "msgType": '{{ template("missing") }}'})
    assert receiver.requests[0].json()["link"]["title"] == ""  # and an unrenderable msgType means link


def test_url_template_error_falls_back_to_the_raw_setting():
    raw = 'https://example.com/robot/send?access_token={{ template("missing") }}s3cr3t'
    assert DingDing().build(make_context(DingDing, {}, secure_settings={"url": raw})).url == raw


# -- classification ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "result", "error"),
    [
        (Answer(200, b'{"errcode":0,"errmsg":"ok"}'), Result.SUCCESS, ""),
        # DingTalk reports most failures in a 200 body; Grafana does not read it.
        (Answer(200, b'{"errcode":310000,"errmsg":"keywords not in content"}'), Result.SUCCESS, ""),
        (
            Answer(400, b"bad"),
            Result.FAILED,
            "send notification to dingding: webhook response status 400 Bad Request: bad",
        ),
        (
            Answer(500, b"oops"),
            Result.RETRY,
            "send notification to dingding: webhook response status 500 Internal Server Error: oops",
        ),
    ],
)
def test_classification(receiver, answer, result, error):
    receiver.answer_with(answer)
    outcome = send(receiver)
    assert (outcome.result, outcome.error, outcome.http_status) == (result, error, answer.status)


def test_transport_error_is_wrapped_without_the_secret_url():
    ctx = make_context(DingDing, {}, secure_settings={"url": "http://127.0.0.1:9/robot/send?access_token=s3cr3t"})
    outcome = DingDing().send(ctx, loopback_transport())
    assert outcome.result is Result.RETRY
    assert outcome.error.startswith("send notification to dingding: ")
    assert "s3cr3t" not in outcome.error
