"""Destinations (issue 11): which provider budget a delivery spends, keyed without secrets."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from integrations import destinations
from integrations.destinations import RULES, NoDestinationRule, destination_of, rate_within
from integrations.registry import UnknownIntegrationType, all_types, get_type

TYPES = sorted(all_types())


def destination(type_name: str, settings: dict, secure: dict | None = None, **options):
    return destination_of(type_name, get_type(type_name).validate(settings, secure), **options)


def example_destination(type_name: str):
    return destination(type_name, get_type(type_name).example)


# -- the contract: no type can be forgotten ------------------------------------------------------


def test_every_registered_type_has_a_destination_rule():
    assert set(RULES) == set(all_types())


def test_a_type_without_a_rule_is_refused_by_name(monkeypatch):
    monkeypatch.delitem(RULES, "webhook")
    with pytest.raises(NoDestinationRule, match="'webhook'"):
        example_destination("webhook")


def test_an_unknown_type_is_refused():
    with pytest.raises(UnknownIntegrationType):
        destination_of("carrier-pigeon", {})


def test_aliases_and_case_name_the_same_destination():
    config = get_type("LINE").validate(get_type("LINE").example)
    assert destination_of("line", config) == destination_of("LINE", config)


# -- every type's example: key shape and default rate ---------------------------------------------

SLACK_PAGE = "https://api.slack.com/docs/rate-limits"
TELEGRAM_PAGE = "https://telegra.ph/Hitting-limits-bot-FAQ"


@pytest.mark.parametrize(
    ("type_name", "kind", "rate_per_second", "burst", "source"),
    [
        ("prometheus-alertmanager", "api", None, 1, ""),
        ("dingding", "robot", 20 / 60, 1, "https://open.dingtalk.com/document/group/custom-robot-access"),
        ("discord", "webhook", 26 / 60, 4, "https://birdie0.github.io/discord-webhooks-guide/other/rate_limits.html"),
        ("email", "smtp", None, 1, ""),
        ("googlechat", "space", 1.0, 1, "https://developers.google.com/workspace/chat/limits"),
        ("kafka", "topic", None, 1, ""),
        ("LINE", "token", 1000 / 3600, 1, "https://notify-bot.line.me/doc/en/"),
        ("teams", "webhook", 147 / 7200, 3, destinations.TEAMS.source),
        ("opsgenie", "api", None, 1, "https://docs.opsgenie.com/docs/api-rate-limiting"),
        ("pagerduty", "routing", 2.0, 1, "https://community.pagerduty.com/forum/t/monitoring-api-rate-limiting/3318"),
        ("pushover", "user", None, 1, "https://support.pushover.net/i12-message-size-and-frequency-limitations"),
        ("sensugo", "namespace", None, 1, ""),
        ("slack", "chat", 1.0, 1, SLACK_PAGE),
        ("telegram", "group", 20 / 60, 1, TELEGRAM_PAGE),  # the example's chat id is a supergroup's
        ("threema", "gateway", None, 1, ""),
        ("victorops", "rest", None, 1, ""),
        ("webhook", "origin", None, 1, ""),
        ("webex", "room", None, 1, "https://developer.webex.com/blog/rate-limiting-and-the-webex-api"),
        ("wecom", "robot", 20 / 60, 1, "https://tencentcloud.com/jp/document/product/248/38208"),
    ],
)
def test_example_destination(type_name, kind, rate_per_second, burst, source):
    found = example_destination(type_name)
    assert re.fullmatch(rf"{re.escape(type_name)}:{kind}:[0-9a-f]{{16}}", found.key)
    assert found.rate_per_second == (None if rate_per_second is None else pytest.approx(rate_per_second))
    assert (found.burst, found.source) == (burst, source)


def test_the_table_above_covers_every_type():
    rows = test_example_destination.pytestmark[0].args[1]
    assert sorted(row[0] for row in rows) == TYPES


def secret_pieces(type_name: str) -> set[str]:
    """The example's secret values, and the path, query and credentials of every URL in it."""
    cls = get_type(type_name)
    config = cls.validate(cls.example)
    pieces = {str(config[key]) for key in cls.secret_keys() if config[key]}
    for value in cls.example.values():
        parts = urlsplit(str(value))
        if parts.scheme:
            pieces |= {parts.path, parts.query, parts.username or "", parts.password or ""}
            pieces |= set(re.split(r"[/?&=]", f"{parts.path}?{parts.query}"))
    return {piece for piece in pieces if len(piece) >= 4}


@pytest.mark.parametrize("type_name", TYPES)
def test_no_secret_is_in_the_key(type_name):
    # Beyond the fixed `type:kind:` prefix (whose words a URL path may share, "robot"), only a hash.
    hashed = example_destination(type_name).key.rsplit(":", 1)[1]
    assert re.fullmatch("[0-9a-f]{16}", hashed)
    assert [piece for piece in secret_pieces(type_name) if piece in hashed] == []


# -- same destination, same key; another destination, another key ---------------------------------

SLACK_HOOK = "https://hooks.slack.com/services/T000/B000/XXXX"
DISCORD_HOOK = "https://discord.com/api/webhooks/1/token-one"
CHAT_SPACE = "https://chat.googleapis.com/v1/spaces/AAAA/messages?key=k1&token=t1"


@pytest.mark.parametrize(
    ("type_name", "first", "second", "same"),
    [
        # The incoming webhook names the channel; the message settings do not matter.
        ("slack", {"url": SLACK_HOOK}, {"url": SLACK_HOOK, "title": "other", "username": "bot"}, True),
        ("slack", {"url": SLACK_HOOK}, {"url": SLACK_HOOK + "Y"}, False),
        ("slack", {"recipient": "#ops", "token": "xoxb-1"}, {"recipient": " #ops ", "token": "xoxb-1"}, True),
        ("slack", {"recipient": "#ops", "token": "xoxb-1"}, {"recipient": "#dev", "token": "xoxb-1"}, False),
        ("slack", {"recipient": "#ops", "token": "xoxb-1"}, {"recipient": "#ops", "token": "xoxb-2"}, False),
        ("discord", {"url": DISCORD_HOOK}, {"url": DISCORD_HOOK, "title": "other"}, True),
        ("discord", {"url": DISCORD_HOOK}, {"url": DISCORD_HOOK.replace("one", "two")}, False),
        ("telegram", {"bottoken": "1:A", "chatid": "42"}, {"bottoken": "1:A", "chatid": "42", "message": "x"}, True),
        ("telegram", {"bottoken": "1:A", "chatid": "42"}, {"bottoken": "1:A", "chatid": "43"}, False),
        ("teams", {"url": "https://t.example/hook/1"}, {"url": "https://t.example/hook/2"}, False),
        ("pagerduty", {"integrationKey": "k1"}, {"integrationKey": "k1", "severity": "info"}, True),
        ("pagerduty", {"integrationKey": "k1"}, {"integrationKey": "k2"}, False),
        # Webhooks are paced per server: paths share it, another port is another server.
        ("webhook", {"url": "https://Hooks.Example:443/a"}, {"url": "https://hooks.example/b?x=1"}, True),
        ("webhook", {"url": "https://hooks.example/a"}, {"url": "https://hooks.example:8443/a"}, False),
        ("webhook", {"url": "http://hooks.example/a"}, {"url": "https://hooks.example/a"}, False),
        # Google limits per space: two webhooks (keys, tokens) into one space share it.
        ("googlechat", {"url": CHAT_SPACE}, {"url": CHAT_SPACE.replace("t1", "t2")}, True),
        ("googlechat", {"url": CHAT_SPACE}, {"url": CHAT_SPACE.replace("AAAA", "BBBB")}, False),
        (
            "prometheus-alertmanager",
            {"url": "http://am1:9093,http://am2:9093"},
            {"url": "http://am2:9093/ , http://am1:9093"},
            True,
        ),
        ("prometheus-alertmanager", {"url": "http://am1:9093"}, {"url": "http://am1:9093,http://am2:9093"}, False),
        (
            "kafka",
            {"kafkaRestProxy": "http://k:8082", "kafkaTopic": "a"},
            {"kafkaRestProxy": "http://k:8082/", "kafkaTopic": "a"},
            True,
        ),
        (
            "kafka",
            {"kafkaRestProxy": "http://k:8082", "kafkaTopic": "a"},
            {"kafkaRestProxy": "http://k:8082", "kafkaTopic": "b"},
            False,
        ),
        ("wecom", {"url": "https://q.example/send?key=1"}, {"url": "https://q.example/send?key=2"}, False),
        (
            "wecom",
            {"secret": "s1", "corp_id": "c", "agent_id": "1"},
            {"secret": "s2", "corp_id": "c", "agent_id": "1"},
            True,
        ),
    ],
)
def test_same_destination_same_key(type_name, first, second, same):
    assert (destination(type_name, first).key == destination(type_name, second).key) is same


def test_email_is_paced_per_relay():
    settings = {"addresses": "oncall@example.com"}
    relay_a = destination("email", settings, smtp_relay="smtp.example:587")
    assert relay_a == destination("email", {"addresses": "other@example.com"}, smtp_relay="smtp.example:587")
    assert relay_a.key != destination("email", settings, smtp_relay="smtp.example:25").key


@pytest.mark.parametrize(
    ("chat_id", "kind", "rate_per_second"),
    [("123456", "chat", 1.0), ("-1001234567890", "group", 20 / 60), ("@alerts_channel", "group", 20 / 60)],
)
def test_telegram_groups_have_their_own_limit(chat_id, kind, rate_per_second):
    found = destination("telegram", {"bottoken": "1:A", "chatid": chat_id})
    assert found.key.startswith(f"telegram:{kind}:")
    assert found.rate_per_second == pytest.approx(rate_per_second)


def test_slack_webhook_and_chat_api_are_different_kinds():
    hook = destination("slack", {"url": SLACK_HOOK, "token": "xoxb-1", "recipient": "#ops"})
    chat = destination("slack", {"token": "xoxb-1", "recipient": "#ops"})
    assert (hook.key.split(":")[1], chat.key.split(":")[1]) == ("webhook", "chat")


# -- rates fitted to several documented windows stay inside every one ------------------------------


def max_sends_in_any_window(rate: float, burst: int, window_seconds: float, horizon_seconds: float) -> int:
    """A token bucket sending as fast as it may: `burst` at 0 s, then one each 1/rate seconds."""
    times = [0.0] * burst + [n / rate for n in range(1, int(horizon_seconds * rate) + 1)]
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window_seconds:
            start += 1
        most = max(most, end - start + 1)
    return most


@pytest.mark.parametrize(
    ("burst", "windows"),
    [
        (destinations.TEAMS_BURST, [(1, 4), (30, 60), (3600, 100), (7200, 150), (86400, 1800)]),
        (destinations.DISCORD_BURST, [(2, 5), (60, 30)]),
    ],
)
def test_fitted_rate_respects_every_window(burst, windows):
    rate = rate_within(burst, windows)
    for seconds, limit in windows:
        assert max_sends_in_any_window(rate, burst, seconds, 2 * max(s for s, _ in windows)) <= limit
