"""WeCom (spec §4.19): validation table, group robot and APIAPP requests at a loopback receiver,
the access-token exchange and its cache, and errors that never show the secret or the token."""

from __future__ import annotations

import json
import socket

import pytest

from integrations.base import Result, SettingsError
from integrations.wecom import TOKENS, WeCom
from tests.integrations.helpers import EXAMPLE_MESSAGE, EXAMPLE_TITLE, alert, loopback_transport, make_context
from tests.receivers import Answer

SECRET = "app-s3cr3t"
TOKEN = "tok-s3cr3t"
ROBOT_PATH = "/cgi-bin/webhook/send?key=robot-s3cr3t"
TOKEN_PATH = f"/cgi-bin/gettoken?corpid=corp1&corpsecret={SECRET}"
SEND_PATH = f"/cgi-bin/message/send?access_token={TOKEN}"
OK = Answer(200, b'{"errcode":0,"errmsg":"ok"}', {"Content-Type": "application/json"})


def token_answer(**fields) -> Answer:
    body = {"errcode": 0, "errmsg": "ok", "access_token": TOKEN, "expires_in": 7200, **fields}
    return Answer(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


@pytest.fixture(autouse=True)
def fresh_token_cache():
    TOKENS.clear()
    yield
    TOKENS.clear()


def robot_send(receiver, settings=None, alerts=None, **options):
    ctx = make_context(WeCom, settings or {}, alerts, secure_settings={"url": receiver.url + ROBOT_PATH}, **options)
    return WeCom().send(ctx, loopback_transport())


def app_send(endpoint, settings=None, alerts=None):
    settings = {"endpointUrl": endpoint, "agent_id": "1000002", "corp_id": "corp1", **(settings or {})}
    ctx = make_context(WeCom, settings, alerts, secure_settings={"secret": SECRET})
    return WeCom().send(ctx, loopback_transport())


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "secure", "errors"),
    [
        ({}, {}, [("url", "either url or secret is required")]),
        ({"agent_id": "1", "corp_id": "c"}, {}, [("url", "either url or secret is required")]),
        (
            {},
            {"secret": "s"},
            [("agent_id", "could not find AgentID in settings"), ("corp_id", "could not find CorpID in settings")],
        ),
        ({"secret": "s", "corp_id": "c"}, {}, [("agent_id", "could not find AgentID in settings")]),
        ({"agent_id": "1"}, {"secret": "s"}, [("corp_id", "could not find CorpID in settings")]),
    ],
)
def test_invalid_settings(settings, secure, errors):
    with pytest.raises(SettingsError) as raised:
        WeCom.validate(settings, secure)
    assert raised.value.errors == errors
    assert raised.value.message == errors[0][1]  # Grafana's one error: AgentID before CorpID


@pytest.mark.parametrize(
    ("settings", "msgtype"),
    [
        ({}, "markdown"),
        ({"msgtype": "text"}, "text"),
        ({"msgtype": "markdown"}, "markdown"),
        ({"msgtype": "html"}, "markdown"),  # anything else means markdown
        ({"msgtype": "TEXT"}, "markdown"),
    ],
)
def test_message_type(settings, msgtype):
    assert WeCom.validate({"url": "https://example.com/robot", **settings})["msgtype"] == msgtype


def test_defaults_and_secrets():
    config = WeCom.validate({"agent_id": "1", "corp_id": "c"}, {"secret": "s"})  # APIAPP needs no url
    assert (config["endpointUrl"], config["touser"]) == ("https://qyapi.weixin.qq.com", "@all")
    assert (config["title"], config["message"]) == (
        '{{ template("default.title") }}',
        '{{ template("default.message") }}',
    )
    assert WeCom.secret_keys() == ["url", "secret"]


def test_example_validates():
    assert WeCom.validate(WeCom.example)["url"].startswith("https://example.com/")


# -- group robot ---------------------------------------------------------------------------


def test_robot_markdown(receiver):
    outcome = robot_send(receiver)
    assert outcome.result is Result.SUCCESS
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", ROBOT_PATH)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "ContactPoints/0.1.0"
    assert request.json() == {
        "markdown": {"content": f"# {EXAMPLE_TITLE}\n{EXAMPLE_MESSAGE}\n"},
        "msgtype": "markdown",
    }
    assert list(request.json()) == ["markdown", "msgtype"]  # Go's sorted map keys


def test_robot_text(receiver):
    robot_send(receiver, {"msgtype": "text", "title": "T {{ Status }}", "message": "M"})
    assert receiver.requests[0].json() == {"msgtype": "text", "text": {"content": "T firing\nM"}}


def test_robot_ignores_app_settings(receiver):
    robot_send(receiver, {"agent_id": "1", "corp_id": "c", "touser": "u1"})
    (request,) = receiver.requests  # no token exchange
    assert set(request.json()) == {"markdown", "msgtype"}


# -- APIAPP --------------------------------------------------------------------------------


def test_app_message(receiver):
    receiver.answer_with(token_answer(), OK)
    outcome = app_send(receiver.url, {"touser": "zhangsan|lisi", "msgtype": "text", "message": "M", "title": "T"})
    assert outcome.result is Result.SUCCESS
    token_request, message_request = receiver.requests
    assert (token_request.method, token_request.path, token_request.body) == ("POST", TOKEN_PATH, b"")
    assert token_request.headers["content-type"] == "application/json"
    assert (message_request.method, message_request.path) == ("POST", SEND_PATH)
    assert message_request.headers["content-type"] == "application/json"
    body = message_request.json()
    assert body == {"agentid": "1000002", "msgtype": "text", "text": {"content": "T\nM"}, "touser": "zhangsan|lisi"}
    assert list(body) == ["agentid", "msgtype", "text", "touser"]


def test_app_markdown_defaults(receiver):
    receiver.answer_with(token_answer(), OK)
    app_send(receiver.url)
    assert receiver.requests[1].json() == {
        "agentid": "1000002",
        "markdown": {"content": f"# {EXAMPLE_TITLE}\n{EXAMPLE_MESSAGE}\n"},
        "msgtype": "markdown",
        "touser": "@all",
    }


@pytest.mark.parametrize(
    ("token", "requests_for_two_sends"),
    [
        (token_answer(), 3),  # expires_in 7200: the second notification reuses the token
        (token_answer(expires_in=300), 4),  # renewed five minutes early: nothing left to cache
        (token_answer(expires_in=None), 4),
        # Grafana's (wrong) key: WeCom never sends it, so it caches nothing.
        (Answer(200, json.dumps({"errcode": 0, "access_token": TOKEN, "expire_in": 7200}).encode()), 4),
    ],
)
def test_token_cache(receiver, token, requests_for_two_sends):
    receiver.answer_with(token, OK, token, OK)
    assert app_send(receiver.url).ok
    assert app_send(receiver.url).ok
    paths = [r.path for r in receiver.requests]
    assert len(paths) == requests_for_two_sends
    assert paths[0] == TOKEN_PATH and paths[-1] == SEND_PATH


def test_token_cache_is_per_corp_and_secret(receiver):
    receiver.answer_with(token_answer(), OK, token_answer(), OK)
    app_send(receiver.url)
    app_send(receiver.url, {"corp_id": "corp2"})
    assert [r.path.split("?")[0] for r in receiver.requests].count("/cgi-bin/gettoken") == 2


def test_refused_cached_token_is_renewed_once(receiver):
    expired = Answer(200, b'{"errcode":42001,"errmsg":"access_token expired"}')
    receiver.answer_with(token_answer(), OK, expired, token_answer(), OK)
    app_send(receiver.url)
    outcome = app_send(receiver.url)
    assert outcome.result is Result.SUCCESS
    assert [r.path for r in receiver.requests] == [TOKEN_PATH, SEND_PATH, SEND_PATH, TOKEN_PATH, SEND_PATH]


def test_refused_fresh_token_is_not_retried(receiver):
    # The spec does not check message/send's errcode; a fresh token is only dropped from the cache.
    receiver.answer_with(token_answer(), Answer(200, b'{"errcode":40014,"errmsg":"invalid access_token"}'))
    assert app_send(receiver.url).result is Result.SUCCESS
    assert len(receiver.requests) == 2


@pytest.mark.parametrize(
    ("answer", "result", "error"),
    [
        (
            Answer(200, b'{"errcode":40013,"errmsg":"invalid corpid"}'),
            Result.FAILED,
            "WeCom returned errmsg: invalid corpid",
        ),
        (Answer(200, b'{"errcode":-1,"errmsg":"system busy"}'), Result.RETRY, "WeCom returned errmsg: system busy"),
        (
            Answer(500, b"oops"),
            Result.RETRY,
            "WeCom returned statuscode invalid status code: 500 Internal Server Error",
        ),
        (Answer(403, b"no"), Result.FAILED, "WeCom returned statuscode invalid status code: 403 Forbidden"),
        (
            Answer(200, b"<html>"),
            Result.FAILED,
            "failed to decode the WeCom access token response: Expecting value: line 1 column 1 (char 0)",
        ),
        # The secret echoed back by WeCom is not repeated in the stored error.
        (
            Answer(200, json.dumps({"errcode": 40001, "errmsg": f"invalid credential {SECRET}"}).encode()),
            Result.FAILED,
            "WeCom returned errmsg: invalid credential [REDACTED]",
        ),
    ],
)
def test_token_errors(receiver, answer, result, error):
    receiver.answer_with(answer)
    outcome = app_send(receiver.url)
    assert (outcome.result, outcome.error) == (result, error)
    assert len(receiver.requests) == 1  # no message without a token


def test_unreachable_endpoint_hides_the_secret():
    port = closed_port()
    outcome = app_send(f"http://127.0.0.1:{port}")
    assert outcome.result is Result.RETRY
    assert outcome.error.startswith(f"cannot connect to http://127.0.0.1:{port}")
    assert "s3cr3t" not in outcome.error


# -- resolved ------------------------------------------------------------------------------


def test_resolved_message(receiver):
    robot_send(receiver, {"msgtype": "text"}, alerts=[alert("a", "resolved")], group_labels={"alertname": "a"})
    content = receiver.requests[0].json()["text"]["content"]
    assert content.startswith("[RESOLVED] a \n**Resolved**\n")


# -- responses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "result", "error"),
    [
        (Answer(200, b'{"errcode":93000,"errmsg":"invalid webhook url"}'), Result.SUCCESS, ""),  # errcode unchecked
        (Answer(400, b"bad"), Result.FAILED, "webhook response status 400 Bad Request: bad"),
        (Answer(502, b"gateway"), Result.RETRY, "webhook response status 502 Bad Gateway: gateway"),
    ],
)
def test_robot_responses(receiver, answer, result, error):
    receiver.answer_with(answer)
    outcome = robot_send(receiver)
    assert (outcome.result, outcome.error) == (result, error)


def test_message_errors_hide_the_token(receiver):
    receiver.answer_with(token_answer(), Answer(500, f"token {TOKEN} broke".encode()))
    outcome = app_send(receiver.url)
    assert (outcome.result, outcome.error) == (
        Result.RETRY,
        "webhook response status 500 Internal Server Error: token [REDACTED] broke",
    )
