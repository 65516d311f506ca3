"""Where a delivery goes, as the provider counts it: one key per rate-limited destination.

Pacing (issue 11) is shared by every delivery to the same destination, whichever integration or
contact point it comes from: two Slack integrations posting to the same incoming webhook share
Slack's one-message-per-second budget. `destination_of()` derives that key from a type and its
validated config (what `IntegrationType.validate()` returns), with the provider's documented
default rate.

Keys are `<type>:<kind>:<sha256[:16]>` over the identifying parts, never the parts themselves:
webhook URLs, tokens and routing keys are secrets, and keys end up in Redis, logs and the admin.
Templated settings (a URL or channel written as a template) are keyed by their template text: all
deliveries of one integration then share one destination, which paces at most too carefully.

Each rate cites the page it comes from. Where a provider documents no number (a generic webhook,
Kafka, Alertmanager, self-hosted Sensu, ...), the rate is None: no pacing until the destination
itself answers 429, which pauses it for Retry-After anyway.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from integrations.alertmanager import alertmanager_urls
from integrations.registry import get_type
from integrations.slack import Slack
from integrations.values import sha256_hex

KEY_HASH_LENGTH = 16  # 64 bits: collisions between an instance's destinations are negligible
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Destination:
    """What one provider rate-limits, and how fast it may be sent to by default."""

    key: str  # `<type>:<kind>:<hash>`: stable, free of secrets
    rate_per_second: float | None  # sustained rate; None: not paced (no documented limit)
    burst: int  # requests the provider takes at once before the rate applies
    source: str  # the page documenting the rate, "" when there is none


@dataclass(frozen=True)
class Rate:
    """A provider's documented limit for one kind of destination."""

    per_second: float | None
    burst: int = 1  # 1 where the provider does not say how large a burst it tolerates
    source: str = ""


UNLIMITED = Rate(None)


def rate_within(burst: int, windows: Iterable[tuple[float, int]]) -> float:
    """The highest sustained rate whose token bucket (of `burst`) stays within every documented
    (seconds, max requests) window: at most burst + rate x seconds requests fit in any window."""
    return min((limit - burst) / seconds for seconds, limit in windows)


# -- documented limits, one per destination kind ------------------------------------------------

# "Posting messages: 1 per second, short bursts >1 allowed", incoming webhooks included; the size
# of a tolerated burst is not given.
SLACK_WEBHOOK = Rate(1.0, source="https://api.slack.com/docs/rate-limits")
# "chat.postMessage generally allows posting one message per second per channel".
SLACK_CHAT = Rate(1.0, source="https://api.slack.com/docs/rate-limits")
# Discord publishes no fixed numbers (clients must read X-RateLimit-* headers); webhooks answer
# with 5 requests per 2 s per webhook, and 30 messages a minute per channel is the limit widely
# reported (https://wisechecker.com/discord-webhook-rate-limit-requests-per-minute/).
DISCORD_BURST = 4
DISCORD = Rate(
    rate_within(DISCORD_BURST, [(2, 5), (60, 30)]),
    DISCORD_BURST,
    "https://birdie0.github.io/discord-webhooks-guide/other/rate_limits.html",
)
# Telegram's Bot FAQ: "avoid sending more than one message per second" in a chat, "not more than
# 20 messages per minute to the same group" (core.telegram.org/bots/faq, read at this copy).
TELEGRAM_CHAT = Rate(1.0, source="https://telegra.ph/Hitting-limits-bot-FAQ")
TELEGRAM_GROUP = Rate(20 / 60, source="https://telegra.ph/Hitting-limits-bot-FAQ")
# Teams counts per webhook in fixed windows: 4 per second, 60 per 30 s, 100 per hour, 150 per
# 2 hours, 1800 per day; over any of them the webhook is throttled until that window ends (hours).
TEAMS_BURST = 3
TEAMS = Rate(
    rate_within(TEAMS_BURST, [(1, 4), (30, 60), (3600, 100), (7200, 150), (86400, 1800)]),
    TEAMS_BURST,
    "https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/"
    "connectors-using#rate-limiting-for-connectors",
)
# Events API: 120 events per minute per integration (routing) key, PagerDuty's support says.
PAGERDUTY = Rate(120 / 60, source="https://community.pagerduty.com/forum/t/monitoring-api-rate-limiting/3318")
# Opsgenie limits per request domain with a token bucket whose size depends on the plan and the
# number of users; no number applies to every account, so none is assumed: its 429 pauses.
OPSGENIE = Rate(None, source="https://docs.opsgenie.com/docs/api-rate-limiting")
# Per space, 60 writes a minute shared by every app, incoming webhooks included.
GOOGLE_CHAT = Rate(60 / 60, source="https://developers.google.com/workspace/chat/limits")
# LINE Notify: 1000 API calls per hour per access token (X-RateLimit-Limit: 1000, hourly reset).
LINE = Rate(1000 / 3600, source="https://notify-bot.line.me/doc/en/")
# Pushover limits messages per month (10,000 free), not per second.
PUSHOVER = Rate(None, source="https://support.pushover.net/i12-message-size-and-frequency-limitations")
# Webex: limits "vary depending on the calls being made" and are not published; 429 + Retry-After.
WEBEX = Rate(None, source="https://developer.webex.com/blog/rate-limiting-and-the-webex-api")
# WeCom group robot: "每个机器人发送的消息不能超过20条/分钟" (developer.work.weixin.qq.com/document/path/91770,
# quoted in Tencent Cloud's alarm guide).
WECOM_ROBOT = Rate(20 / 60, source="https://tencentcloud.com/jp/document/product/248/38208")
# DingTalk custom robot: at most 20 messages a minute per robot, else throttled for 10 minutes.
DINGDING = Rate(20 / 60, source="https://open.dingtalk.com/document/group/custom-robot-access")


# -- key parts ----------------------------------------------------------------------------------


def key(type_name: str, kind: str, *parts: str) -> str:
    """`type:kind:hash`; the parts are joined with NUL, which no setting contains."""
    return f"{type_name}:{kind}:{sha256_hex(chr(0).join(parts))[:KEY_HASH_LENGTH]}"


def origin(url: str) -> str:
    """scheme://host:port, lower-cased with the default port filled in (credentials dropped);
    the text itself when it is no absolute URL (a template), so it still names one destination."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return url
    if not parts.scheme or not parts.hostname:
        return url
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}:{port}"


GOOGLE_CHAT_SPACE = re.compile(r"/v1/spaces/([^/?#]+)")


def google_chat_space(url: str) -> str:
    """Google limits per space: webhooks into one space share it (`/v1/spaces/<id>/messages`)."""
    found = GOOGLE_CHAT_SPACE.search(url)
    return f"{origin(url)}/spaces/{found.group(1)}" if found else url


# -- one rule per type ---------------------------------------------------------------------------

Rule = Callable[[dict[str, Any], str], Destination]


def _destination(kind_key: str, rate: Rate) -> Destination:
    return Destination(kind_key, rate.per_second, rate.burst, rate.source)


def _slack(config: dict[str, Any], smtp_relay: str) -> Destination:
    if config["url"]:  # incoming webhook: the URL names the channel
        return _destination(key("slack", "webhook", config["url"]), SLACK_WEBHOOK)
    endpoint = Slack.effective_url(config)  # the type's own rule for where it posts
    return _destination(key("slack", "chat", endpoint, config["token"], config["recipient"]), SLACK_CHAT)


def _telegram(config: dict[str, Any], smtp_relay: str) -> Destination:
    chat = str(config["chatid"]).strip()
    # Groups, supergroups and channels have negative ids, public channels an @username.
    group = chat.startswith(("-", "@"))
    kind, rate = ("group", TELEGRAM_GROUP) if group else ("chat", TELEGRAM_CHAT)
    return _destination(key("telegram", kind, config["bottoken"], chat), rate)


def _wecom(config: dict[str, Any], smtp_relay: str) -> Destination:
    if config["url"]:
        return _destination(key("wecom", "robot", config["url"]), WECOM_ROBOT)
    # APIAPP: the application (corp + agent) is what WeCom meters; no per-app number is published.
    return _destination(key("wecom", "app", config["endpointUrl"], config["corp_id"], config["agent_id"]), UNLIMITED)


def _alertmanager(config: dict[str, Any], smtp_relay: str) -> Destination:
    # One delivery posts to every listed Alertmanager: the set of their origins is its destination.
    origins = sorted({origin(url) for url in alertmanager_urls(config["url"])})
    return _destination(key("prometheus-alertmanager", "api", *origins), UNLIMITED)


def _email(config: dict[str, Any], smtp_relay: str) -> Destination:
    # Every email goes through the one relay of the settings (EMAIL_URL): integrations cannot read
    # Django settings, so the caller passes "host:port"; no relay publishes a limit we could assume.
    return _destination(key("email", "smtp", smtp_relay or "default"), UNLIMITED)


def _simple(type_name: str, kind: str, rate: Rate, *fields: str, part: Callable[[str], str] = str) -> Rule:
    """A rule keyed by some settings, the first one optionally reduced (to its origin, ...)."""

    def rule(config: dict[str, Any], smtp_relay: str) -> Destination:
        values = [str(config[field] or "") for field in fields]
        return _destination(key(type_name, kind, part(values[0]), *values[1:]), rate)

    return rule


RULES: dict[str, Rule] = {
    "prometheus-alertmanager": _alertmanager,
    "dingding": _simple("dingding", "robot", DINGDING, "url"),
    "discord": _simple("discord", "webhook", DISCORD, "url"),
    "email": _email,
    "googlechat": _simple("googlechat", "space", GOOGLE_CHAT, "url", part=google_chat_space),
    # Topic as written (a template renders per delivery); the REST proxy is the shared server.
    "kafka": _simple("kafka", "topic", UNLIMITED, "kafkaRestProxy", "kafkaTopic", part=origin),
    "LINE": _simple("LINE", "token", LINE, "token"),
    "teams": _simple("teams", "webhook", TEAMS, "url"),
    "opsgenie": _simple("opsgenie", "api", OPSGENIE, "apiUrl", "apiKey", part=origin),
    "pagerduty": _simple("pagerduty", "routing", PAGERDUTY, "integrationKey"),
    "pushover": _simple("pushover", "user", PUSHOVER, "userKey", "apiToken"),
    "sensugo": _simple("sensugo", "namespace", UNLIMITED, "url", "namespace", part=origin),
    "slack": _slack,
    "telegram": _telegram,
    "threema": _simple("threema", "gateway", UNLIMITED, "gateway_id"),
    "victorops": _simple("victorops", "rest", UNLIMITED, "url"),
    "webhook": _simple("webhook", "origin", UNLIMITED, "url", part=origin),
    "webex": _simple("webex", "room", WEBEX, "bot_token", "room_id"),
    "wecom": _wecom,
}


class NoDestinationRule(LookupError):
    """A registered type without a rule here: add one to RULES (the contract test says so)."""


def destination_of(type_name: str, config: dict[str, Any], *, smtp_relay: str = "") -> Destination:
    """The destination a delivery of this type and validated config goes to.

    `type_name` is looked up as the registry does (aliases, any case; an unknown one raises
    UnknownIntegrationType); `smtp_relay` ("host:port") names the relay email goes through.
    """
    registered = get_type(type_name).type
    try:
        rule = RULES[registered]
    except KeyError:
        raise NoDestinationRule(f"no destination rule for integration type {registered!r}") from None
    return rule(config, smtp_relay)
