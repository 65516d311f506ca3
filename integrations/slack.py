"""Slack: chat.postMessage Web API (bot token) or an incoming webhook, with legacy attachments."""

from __future__ import annotations

import json
import time
from typing import Any

from integrations.alertbuilder import rule_url
from integrations.base import (
    Field,
    HttpResponse,
    IntegrationType,
    Kind,
    Outcome,
    OutgoingRequest,
    SendContext,
    SettingsError,
    template_field,
)
from integrations.gourl import go_url_parse_fails
from integrations.values import go_json, go_quote, trunc_runes

API_URL = "https://slack.com/api/chat.postMessage"
# The spec's footer icon; only a URL string that Slack fetches, kept so messages look as documented.
FOOTER_ICON_URL = "https://grafana.com/static/assets/img/fav32.png"
MAX_TITLE_RUNES = 1024  # https://api.slack.com/reference/messaging/attachments#legacy_fields
MAX_FOOTER_RUNES = 300

# Incoming webhooks answer with a plain-text code; https://api.slack.com/messaging/webhooks#handling_errors
INCOMING_WEBHOOK_ERRORS = {
    "user_not_found": "the user does not exist or is invalid",
    "channel_not_found": "the channel does not exist or is invalid",
    "channel_is_archived": "cannot send an incoming webhook for an archived channel",
    "posting_to_general_channel_denied": "cannot send an incoming webhook to the #general channel",
    "no_service": "the incoming webhook is either disabled, removed, or invalid",
    "no_text": "cannot send an incoming webhook without a message",
}


def split_mentions(value: str) -> list[str]:
    """Grafana's comma-separated strings: split on `,`, trimmed, empty pieces dropped."""
    return [piece.strip() for piece in (value or "").split(",") if piece.strip()]


class Slack(IntegrationType):
    type = "slack"
    label = "Slack"
    description = "Posts a message to a Slack channel with a bot token or through an incoming webhook."
    example = {"recipient": "#alerts", "token": "xoxb-example-token"}
    fields = (
        Field(
            "recipient",
            "Recipient",
            template=True,
            help="Specify channel, private group, or IM channel (can be an encoded ID or a name) "
            "- required unless you provide a webhook",
        ),
        Field(
            "token",
            "Token",
            secret=True,
            help='Provide a Slack API token (starts with "xoxb") - required unless you provide a webhook',
        ),
        Field(
            "username",
            "Username",
            template=True,
            help="Set the username for the bot's message. Defaults to this application's name.",
        ),
        Field(
            "icon_emoji",
            "Icon emoji",
            template=True,
            help="Provide an emoji to use as the icon for the bot's message. Overrides the icon URL.",
        ),
        Field(
            "icon_url",
            "Icon URL",
            template=True,
            help="Provide a URL to an image to use as the icon for the bot's message",
        ),
        Field(
            "mentionUsers",
            "Mention Users",
            template=True,
            help="Mention one or more users (comma separated) when notifying in a channel, by ID",
        ),
        Field(
            "mentionGroups",
            "Mention Groups",
            template=True,
            help="Mention one or more groups (comma separated) when notifying in a channel",
        ),
        Field(
            "mentionChannel",
            "Mention Channel",
            Kind.CHOICE,
            default="",
            choices=("", "here", "channel"),
            help="Mention whole channel or just active members when notifying",
        ),
        Field(
            "url",
            "Webhook URL",
            secret=True,
            help="Optionally provide a Slack incoming webhook URL for sending messages, "
            "in this case the token isn't necessary",
            placeholder="Slack incoming webhook URL",
        ),
        Field(
            "endpointUrl",
            "Endpoint URL",
            default=API_URL,
            help="Optionally provide a custom Slack message API endpoint for non-webhook requests, "
            f"default is {API_URL}",
            placeholder="Slack endpoint url",
        ),
        template_field(
            "color", "Color", "default.message_color", help="Templated color of the slack message", kind=Kind.STRING
        ),
        template_field(
            "title", "Title", "default.title", help="Templated title of the slack message", kind=Kind.STRING
        ),
        template_field("text", "Text Body", "default.message", help="Body of the slack message"),
        template_field(
            "footer", "Footer", "slack.default.footer", help="Templated footer of the slack message", kind=Kind.STRING
        ),
    )

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        # Grafana's order of checks: URL, recipient, mentionChannel, token.
        effective_url = cls.effective_url(config)
        if go_url_parse_fails(effective_url):
            raise SettingsError.single(
                "url" if config["url"] else "endpointUrl", f"invalid URL {go_quote(effective_url)}"
            )
        config["recipient"] = config["recipient"].strip()
        uses_chat_api = effective_url == API_URL
        if uses_chat_api and not config["recipient"]:
            raise SettingsError.single("recipient", "recipient must be specified when using the Slack chat API")
        if config["mentionChannel"] not in ("", "here", "channel"):
            raise SettingsError.single(
                "mentionChannel", f"invalid value for mentionChannel: {go_quote(config['mentionChannel'])}"
            )
        if uses_chat_api and not config["token"]:
            raise SettingsError.single("token", "token must be specified when using the Slack chat API")

    @staticmethod
    def effective_url(config: dict[str, Any]) -> str:
        """The incoming-webhook URL (a secret) when set, else the Web API endpoint."""
        return config["url"] or config["endpointUrl"] or API_URL

    def build(self, ctx: SendContext) -> OutgoingRequest:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if ctx.config["token"]:  # Web API mode; without a token it is an incoming webhook
            headers["Authorization"] = f"Bearer {ctx.config['token']}"
        return OutgoingRequest("POST", self.effective_url(ctx.config), headers=headers, body=go_json(self.message(ctx)))

    def message(self, ctx: SendContext) -> dict[str, Any]:
        """The chat.postMessage body; empty optional keys are left out as Slack's Go client does."""
        config = ctx.config
        title = trunc_runes(ctx.render("title"), MAX_TITLE_RUNES)
        attachment: dict[str, Any] = {
            "title": title,
            "title_link": self.title_link(ctx),
            "text": ctx.render("text"),
            "fallback": title,
            "footer": trunc_runes(ctx.render("footer"), MAX_FOOTER_RUNES),
            "footer_icon": FOOTER_ICON_URL,
            "color": ctx.render("color"),
            "ts": int(time.time()),
        }
        # Images (spec §3.6) are optional and not produced here: no image_url, no file uploads.
        mentions = self.mentions(ctx)
        if mentions:
            attachment["pretext"] = mentions
            attachment["mrkdwn_in"] = ["pretext"]
        message = {
            "channel": ctx.render("recipient"),
            "username": ctx.render("username") if config["username"] else ctx.product_name,
            "icon_emoji": ctx.render("icon_emoji"),
            "icon_url": ctx.render("icon_url"),
        }
        message = {key: value for key, value in message.items() if value}
        message["attachments"] = [{k: v for k, v in attachment.items() if v or k in ("text", "fallback", "footer")}]
        return message

    @staticmethod
    def title_link(ctx: SendContext) -> str:
        """The alerts' common generator URL when they share one, else the alert list page."""
        urls = {alert.GeneratorURL for alert in ctx.data.Alerts}
        if len(urls) == 1 and (common := urls.pop()):
            return common
        return rule_url(ctx.data.ExternalURL)

    @staticmethod
    def mentions(ctx: SendContext) -> str:
        """`<!here|here>`, then `<!subteam^ID>…`, then `<@USER>…`, the parts separated by a space."""
        parts = []
        if channel := ctx.config["mentionChannel"].strip():
            parts.append(f"<!{channel}|{channel}>")
        groups = split_mentions(ctx.config["mentionGroups"])
        if groups:
            parts.append("".join(f"<!subteam^{ctx.render(g, is_key=False)}>" for g in groups))
        users = split_mentions(ctx.config["mentionUsers"])
        if users:
            parts.append("".join(f"<@{ctx.render(u, is_key=False)}>" for u in users))
        return " ".join(parts)

    def classify(self, response: HttpResponse, ctx: SendContext) -> Outcome:
        status = response.status
        if status < 200 or 300 <= status < 400 or status >= 500:
            return self.http_error(response, f"unexpected {status // 100}xx status code: {status}")
        # 2xx and 4xx: the body says whether Slack took the message.
        error = self.response_error(response)
        if error is None:
            return Outcome.success(status)
        return self.http_error(response, error)

    @staticmethod
    def response_error(response: HttpResponse) -> str | None:
        if response.content_type.startswith("application/json"):
            if not response.body:
                return "unexpected empty response"
            try:
                result = json.loads(response.body)
            except ValueError as exc:
                return f"failed to unmarshal response: {exc}"
            if not isinstance(result, dict):
                return "failed to unmarshal response: not a JSON object"
            if result.get("ok") is not True:
                return f"failed to send request: {result.get('error') or ''}"
            return None
        body = response.text
        if body == "ok":
            return None
        return INCOMING_WEBHOOK_ERRORS.get(body, f"failed incoming webhook: {body}")
