"""WeCom: group-robot webhooks and the app message API (https://developer.work.weixin.qq.com/document/path/90236)."""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from integrations.base import (
    Field,
    HttpResponse,
    IntegrationType,
    Kind,
    Outcome,
    OutgoingRequest,
    Result,
    SendContext,
    SettingsError,
    TransportError,
    template_field,
)
from integrations.values import go_json, scrub, sha256_hex, status_text

if TYPE_CHECKING:
    from integrations.http import HttpTransport

DEFAULT_ENDPOINT_URL = "https://qyapi.weixin.qq.com"
MSG_TYPES = ("markdown", "text")
DEFAULT_TO_USER = "@all"
# Renew a token five minutes before WeCom says it expires (Grafana's intent, too).
TOKEN_EARLY_RENEWAL_SECONDS = 300
# gettoken errcodes worth a retry: -1 system busy, 45009 API rate limit, 45033 concurrency limit.
TRANSIENT_ERRCODES = frozenset({-1, 45009, 45033})
# message/send errcodes meaning the access token itself was refused (invalid, expired).
TOKEN_REFUSED_ERRCODES = frozenset({40014, 42001})


class TokenCache:
    """Access tokens per (endpoint, corp_id, secret), kept in this process until they expire.

    Grafana caches by the JSON key `expire_in`, which WeCom never sends (it sends
    `expires_in`), so Grafana fetches a token for every notification. This cache reads
    `expires_in` as WeCom documents it (https://developer.work.weixin.qq.com/document/path/91039).
    Keys are hashes: the secret itself is not kept here.
    """

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(config: dict[str, Any]) -> str:
        return sha256_hex("\x00".join((config["endpointUrl"], config["corp_id"], config["secret"])))

    def get(self, config: dict[str, Any]) -> str | None:
        with self._lock:
            token, expires_at = self._tokens.get(self.key(config), ("", 0.0))
        return token if token and time.monotonic() < expires_at else None

    def put(self, config: dict[str, Any], token: str, expires_in_seconds: Any) -> None:
        if isinstance(expires_in_seconds, bool) or not isinstance(expires_in_seconds, int):
            return
        lifetime = expires_in_seconds - TOKEN_EARLY_RENEWAL_SECONDS
        if token and lifetime > 0:
            with self._lock:
                self._tokens[self.key(config)] = (token, time.monotonic() + lifetime)

    def forget(self, config: dict[str, Any]) -> None:
        with self._lock:
            self._tokens.pop(self.key(config), None)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


TOKENS = TokenCache()


def transport_failure(exc: TransportError, *secrets: str) -> Outcome:
    return Outcome.failure(scrub(str(exc), secrets), retryable=exc.retryable)


class WeCom(IntegrationType):
    type = "wecom"
    label = "WeCom"
    description = "Posts to a WeCom group robot, or sends an application message (APIAPP) to WeCom users."
    example = {"url": "https://example.com/cgi-bin/webhook/send?key=example-key"}
    fields = (
        Field(
            "url",
            "Webhook URL",
            secret=True,
            help="Required if using GroupRobot.",
            placeholder="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=xxxxxxxx",
        ),
        Field("secret", "Secret", secret=True, help="Required if using APIAPP: the application's secret."),
        Field("agent_id", "Agent ID", help="Required if using APIAPP: the application's AgentId."),
        Field("corp_id", "Corp ID", help="Required if using APIAPP: your company's CorpID."),
        Field(
            "endpointUrl",
            "Endpoint URL",
            default=DEFAULT_ENDPOINT_URL,
            help=f"APIAPP only: the WeCom API base URL, default {DEFAULT_ENDPOINT_URL}.",
        ),
        Field(
            "msgtype",
            "Message type",
            Kind.CHOICE,
            default="markdown",
            choices=MSG_TYPES,
            help="markdown (the default; any other value means markdown) or text.",
        ),
        template_field("message", "Message", "default.message", help="Templated message body."),
        template_field("title", "Title", "default.title", help="Templated message title.", kind=Kind.STRING),
        Field(
            "touser",
            "To User",
            default=DEFAULT_TO_USER,
            help="APIAPP only: recipients' user IDs separated by `|`, or @all.",
            placeholder=DEFAULT_TO_USER,
        ),
    )

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        if config["msgtype"] not in MSG_TYPES:
            config["msgtype"] = "markdown"
        if not config["url"] and not config["secret"]:
            raise SettingsError.single("url", "either url or secret is required")
        if config["url"]:
            return  # group robot mode
        errors: list[tuple[str | None, str]] = []
        if not config["agent_id"]:
            errors.append(("agent_id", "could not find AgentID in settings"))
        if not config["corp_id"]:
            errors.append(("corp_id", "could not find CorpID in settings"))
        if errors:
            raise SettingsError(errors)

    def message(self, ctx: SendContext) -> dict[str, Any]:
        """`{"msgtype": t, t: {"content": …}}`, plus agentid and touser for APIAPP; keys sorted as Go's map."""
        msg_type = ctx.config["msgtype"]
        title, text = ctx.render("title"), ctx.render("message")
        content = f"# {title}\n{text}\n" if msg_type == "markdown" else f"{title}\n{text}"
        body: dict[str, Any] = {"msgtype": msg_type, msg_type: {"content": content}}
        if not ctx.config["url"]:
            body.update(agentid=ctx.config["agent_id"], touser=ctx.config["touser"])
        return dict(sorted(body.items()))

    def send(self, ctx: SendContext, transport: HttpTransport) -> Outcome:
        config = ctx.config
        body = go_json(self.message(ctx))
        if config["url"]:  # group robot: one POST to the (secret) webhook URL
            return self.post(ctx, transport, config["url"], body)[0]
        token = TOKENS.get(config)
        cached = token is not None
        if token is None:
            token, failure = self.fetch_token(config, transport)
            if failure is not None:
                return failure
        outcome, refused = self.post_message(ctx, transport, token, body)
        if refused:
            TOKENS.forget(config)
            if cached:  # revoked or expired early: do what a fresh token (Grafana's way) would have done
                token, failure = self.fetch_token(config, transport)
                if failure is not None:
                    return failure
                outcome, _ = self.post_message(ctx, transport, token, body)
        return outcome

    def post_message(self, ctx: SendContext, transport: HttpTransport, token: str, body: bytes) -> tuple[Outcome, bool]:
        """APIAPP message/send; also says whether WeCom refused the token (a 2xx with its errcode)."""
        url = f"{ctx.config['endpointUrl']}/cgi-bin/message/send?access_token={quote(token, safe='')}"
        outcome, response = self.post(ctx, transport, url, body, token)
        return outcome, outcome.ok and _errcode(response) in TOKEN_REFUSED_ERRCODES

    def post(
        self, ctx: SendContext, transport: HttpTransport, url: str, body: bytes, token: str = ""
    ) -> tuple[Outcome, HttpResponse | None]:
        """The shared webhook sender's rules: 2xx succeeds (WeCom's errcode is not checked)."""
        secrets = (token, ctx.config["secret"], ctx.config["url"])
        request = OutgoingRequest("POST", url, headers={"Content-Type": "application/json"}, body=body)
        try:
            response = transport.send(request)
        except TransportError as exc:
            return transport_failure(exc, *secrets), None
        outcome = self.classify(response, ctx)
        outcome.error = scrub(outcome.error, secrets)
        return outcome, response

    def fetch_token(self, config: dict[str, Any], transport: HttpTransport) -> tuple[str, Outcome | None]:
        """POST gettoken; the token, or the outcome that ends this attempt."""
        secret = config["secret"]
        url = (
            f"{config['endpointUrl']}/cgi-bin/gettoken"
            f"?corpid={quote(config['corp_id'], safe='')}&corpsecret={quote(secret, safe='')}"
        )
        request = OutgoingRequest("POST", url, headers={"Content-Type": "application/json"})
        try:
            response = transport.send(request)
        except TransportError as exc:
            return "", transport_failure(exc, secret)
        if not 200 <= response.status <= 299:
            status = status_text(response.status, response.reason)
            return "", self.http_error(response, f"WeCom returned statuscode invalid status code: {status}")
        try:
            answer = json.loads(response.body)
            if not isinstance(answer, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            error = scrub(f"failed to decode the WeCom access token response: {exc}", [secret])
            return "", Outcome(Result.FAILED, error=error, http_status=response.status)
        errcode = answer.get("errcode") or 0
        if errcode != 0:
            error = scrub(f"WeCom returned errmsg: {answer.get('errmsg') or ''}", [secret])
            result = Result.RETRY if errcode in TRANSIENT_ERRCODES else Result.FAILED
            return "", Outcome(result, error=error, http_status=response.status)
        token = str(answer.get("access_token") or "")
        TOKENS.put(config, token, answer.get("expires_in"))
        return token, None


def _errcode(response: HttpResponse | None) -> Any:
    if response is None:
        return None
    try:
        answer = json.loads(response.body)
    except ValueError:
        return None
    return answer.get("errcode") if isinstance(answer, dict) else None
