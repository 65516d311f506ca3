"""Webhook: Grafana's generic JSON webhook (POST/PUT, version "1" payload, optional HMAC signature)."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from integrations.alertdata import KV, AlertList, TemplateData
from integrations.base import (
    BuildFailure,
    Field,
    IntegrationType,
    Kind,
    OutgoingRequest,
    SendContext,
    SettingsError,
    TlsOptions,
    template_field,
)
from integrations.values import as_int, go_json, go_quote_list

NOOP_URL = "grafana://noop"  # renders everything, sends nothing (Grafana's test sink)
DEFAULT_SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
IDEMPOTENCY_HEADER = "Webhook-Id"

# Names a user may not set as custom headers (compared case-insensitively), as in Grafana.
RESTRICTED_HEADERS = frozenset(
    name.lower()
    for name in (
        "Host",
        "Accept-Encoding",
        "Accept-Charset",
        "Content-Encoding",
        "Content-Length",
        "Authorization",
        "User-Agent",
        "Transfer-Encoding",
        "Connection",
        "Upgrade",
        "Trailer",
        "TE",
        "Proxy-Authorization",
        "Proxy-Authenticate",
        "Cookie",
        "Set-Cookie",
        "Referer",
        "Origin",
        "X-Forwarded-For",
        "X-Real-IP",
        "Via",
        "Forwarded",
        "Expect",
        "Keep-Alive",
        "Date",
        "Max-Forwards",
    )
)


def set_header(headers: dict[str, str], name: str, value: str) -> None:
    """Set a header, replacing any spelling of the same name (HTTP names are case-insensitive)."""
    for existing in [key for key in headers if key.lower() == name.lower()]:
        del headers[existing]
    headers[name] = value


def has_header(headers: dict[str, str], name: str) -> bool:
    return any(key.lower() == name.lower() for key in headers)


class Webhook(IntegrationType):
    type = "webhook"
    label = "Webhook"
    description = "Sends an HTTP request with the notification as JSON (or a custom templated payload)."
    example = {"url": "https://example.com/alerts", "httpMethod": "POST"}
    fields = (
        Field(
            "url",
            "URL",
            required=True,
            template=True,
            required_error="required field 'url' is not specified",
            help="Templated. `grafana://noop` renders the notification without sending it.",
        ),
        Field("httpMethod", "HTTP Method", Kind.CHOICE, default="POST", choices=("POST", "PUT")),
        Field("username", "HTTP Basic Authentication - Username"),
        Field("password", "HTTP Basic Authentication - Password", secret=True),
        Field(
            "authorization_scheme",
            "Authorization Header - Scheme",
            help="Optionally provide a scheme for the Authorization Request Header. Default is Bearer.",
            placeholder="Bearer",
        ),
        Field(
            "authorization_credentials",
            "Authorization Header - Credentials",
            secret=True,
            help="Credentials for the Authorization Request header. "
            "Only one of HTTP Basic Authentication or Authorization Request Header can be set.",
        ),
        Field("headers", "Extra Headers", Kind.MAP, help="Optionally provide extra headers to be used in the request."),
        Field(
            "maxAlerts",
            "Max Alerts",
            Kind.INT,
            default=0,
            help="Max alerts to include in a notification. Remaining alerts in the same batch will be ignored "
            "above this number. 0 means no limit.",
        ),
        template_field("title", "Title", "default.title", help="Templated title of the message."),
        template_field(
            "message",
            "Message",
            "default.message",
            help='Templated message to be used in the payload\'s "message" field.',
        ),
        Field(
            "payload.template",
            "Payload Template",
            Kind.TEXT,
            template=True,
            help="Custom payload template; replaces the default JSON body (and so Title and Message).",
            placeholder='{{ template("webhook.default.payload") }}',
        ),
        Field(
            "payload.vars",
            "Payload Variables",
            Kind.MAP,
            help="Variables for the payload template, available as `.Vars.<name>`.",
        ),
        Field("tlsConfig.insecureSkipVerify", "Disable certificate verification", Kind.BOOL, default=False),
        Field("tlsConfig.caCertificate", "CA Certificate", Kind.TEXT, secret=True, help="PEM encoded."),
        Field("tlsConfig.clientCertificate", "Client Certificate", Kind.TEXT, secret=True, help="PEM encoded."),
        Field("tlsConfig.clientKey", "Client Key", Kind.TEXT, secret=True, help="PEM encoded."),
        Field("hmacConfig.secret", "HMAC Secret", secret=True, help="Signs the body with HMAC-SHA256."),
        Field(
            "hmacConfig.header",
            "HMAC Header",
            help="The header in which the HMAC signature will be included.",
            placeholder=DEFAULT_SIGNATURE_HEADER,
        ),
        Field(
            "hmacConfig.timestampHeader",
            "HMAC Timestamp Header",
            help="If set, the timestamp will be included in the HMAC signature. "
            "The value should be the name of the header to use.",
        ),
    )

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        config["maxAlerts"] = as_int(config["maxAlerts"])  # non-numeric silently means "no limit"
        if config["authorization_credentials"] and not config["authorization_scheme"]:
            config["authorization_scheme"] = "Bearer"
        if config["username"] and config["password"] and config["authorization_credentials"]:
            raise SettingsError.single(
                "authorization_credentials",
                "both HTTP Basic Authentication and Authorization Header are set, only 1 is permitted",
            )
        restricted = sorted(name for name in config["headers"] or {} if name.lower() in RESTRICTED_HEADERS)
        if restricted:
            raise SettingsError.single("headers", f"custom headers {go_quote_list(restricted)} are not allowed")

    def build(self, ctx: SendContext) -> OutgoingRequest | None:
        config = ctx.config
        truncate_alerts(ctx.data, config["maxAlerts"])
        url = ctx.render_strict("url")  # Grafana fails the notification when the URL cannot render
        ctx.data.Vars = dict(config["payload.vars"] or {})
        if config["payload.template"]:
            body = ctx.render_strict("payload.template").encode()
        else:
            body = go_json(self.default_payload(ctx))
        method = config["httpMethod"] or "POST"
        if method not in ("POST", "PUT"):
            raise BuildFailure(f"webhook only supports HTTP methods PUT or POST: {method}")
        headers = self.headers(ctx, body)
        if url == NOOP_URL:
            return None
        basic_auth = (config["username"], config["password"]) if config["username"] and config["password"] else None
        return OutgoingRequest(method, url, headers=headers, body=body, basic_auth=basic_auth, tls=self.tls(config))

    @staticmethod
    def default_payload(ctx: SendContext) -> dict[str, Any]:
        """The version "1" body: the template data, then Grafana's webhook fields, in Go's key order."""
        data = ctx.data.to_json()
        payload = {key: value for key, value in data.items() if key not in ("groupKey", "truncatedAlerts")}
        payload.update(
            version="1",
            groupKey=ctx.data.GroupKey,
            truncatedAlerts=ctx.data.TruncatedAlerts,
            orgId=1,  # a single organisation owns every contact point here
            title=ctx.render("title"),
            state="alerting" if ctx.data.Status == "firing" else "ok",
            message=ctx.render("message"),
        )
        return payload

    @staticmethod
    def headers(ctx: SendContext, body: bytes) -> dict[str, str]:
        """Content type, custom headers, Authorization, the delivery id and the HMAC signature."""
        config = ctx.config
        headers = {"Content-Type": "application/json"}
        for name, value in (config["headers"] or {}).items():
            set_header(headers, name, value)
        if config["authorization_scheme"] and config["authorization_credentials"]:
            headers["Authorization"] = f"{config['authorization_scheme']} {config['authorization_credentials']}"
        if not has_header(headers, IDEMPOTENCY_HEADER):
            # Stable across retries of one delivery, so a receiver can drop a duplicate (contract §7).
            headers[IDEMPOTENCY_HEADER] = ctx.idempotency_key
        if config["hmacConfig.secret"] or config["hmacConfig.header"] or config["hmacConfig.timestampHeader"]:
            sign(headers, body, config)
        return headers

    @staticmethod
    def tls(config: dict[str, Any]) -> TlsOptions | None:
        options = TlsOptions(
            insecure_skip_verify=config["tlsConfig.insecureSkipVerify"],
            ca_certificate=config["tlsConfig.caCertificate"],
            client_certificate=config["tlsConfig.clientCertificate"],
            client_key=config["tlsConfig.clientKey"],
        )
        return options if options != TlsOptions() else None


def sign(headers: dict[str, str], body: bytes, config: dict[str, Any]) -> None:
    """HMAC-SHA256 of the body (prefixed by `<unix seconds>:` when a timestamp header is set)."""
    secret = config["hmacConfig.secret"]
    if not secret:
        raise BuildFailure("secret must be provided")
    message = body
    if config["hmacConfig.timestampHeader"]:
        timestamp = str(int(time.time()))
        set_header(headers, config["hmacConfig.timestampHeader"], timestamp)
        message = f"{timestamp}:".encode() + body
    signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    set_header(headers, config["hmacConfig.header"] or DEFAULT_SIGNATURE_HEADER, signature)


def truncate_alerts(data: TemplateData, max_alerts: int) -> None:
    """Keep the first `max_alerts` alerts; the data then describes those alone, as in Grafana.

    Changes `data` in place: the context's renderer holds this very object.
    """
    dropped = max(len(data.Alerts) - max_alerts, 0) if max_alerts > 0 else 0
    # Grafana counts only its own cut; alerts already dropped before intake are counted too.
    data.TruncatedAlerts = (data.TruncatedAlerts or 0) + dropped
    if not dropped:
        return
    data.Alerts = AlertList(data.Alerts[:max_alerts])
    data.Status = "firing" if data.Alerts.Firing else "resolved"
    data.CommonLabels = common_pairs([alert.Labels for alert in data.Alerts])
    data.CommonAnnotations = common_pairs([alert.Annotations for alert in data.Alerts])


def common_pairs(sets: list[KV]) -> KV:
    """The pairs equal across all sets (private names are already gone from alerts' sets)."""
    common = dict(sets[0]) if sets else {}
    for other in sets[1:]:
        common = {name: value for name, value in common.items() if other.get(name, "") == value}
    return KV(common)
