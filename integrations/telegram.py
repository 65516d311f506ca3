"""Telegram: Bot API sendMessage (https://core.telegram.org/bots/api#sendmessage), multipart form."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

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
from integrations.values import scrub, trunc_runes

MAX_MESSAGE_RUNES = 4096  # https://limits.tginfo.me/en
# Accepted spellings (case-insensitive) → the value Telegram takes; None leaves the field out.
PARSE_MODES = {"none": "", "html": "HTML", "markdown": "Markdown", "markdownv2": "MarkdownV2"}
INT64_RANGE = range(-(2**63), 2**63)
INT32_RANGE = range(-(2**31), 2**31)
# Go's strconv.Atoi: an optional sign and ASCII digits, nothing else (no spaces, no underscores).
GO_INTEGER = re.compile(r"[+-]?[0-9]+")


def number_text(value: Any) -> str:
    """A setting given as a JSON number or a string, as the text Grafana keeps (`5`, `"5"` → 5)."""
    return value if isinstance(value, str) else json.dumps(value)


class Telegram(IntegrationType):
    type = "telegram"
    label = "Telegram"
    description = "Sends notifications to a Telegram chat, group, channel or topic through a bot."
    example = {"bottoken": "123456789:AAExampleBotToken", "chatid": "-1001234567890"}
    fields = (
        Field(
            "bottoken",
            "BOT API Token",
            required=True,
            secret=True,
            required_error="could not find Bot Token in settings",
            help="The token BotFather gave your bot, like 123456789:AA…",
        ),
        Field(
            "chatid",
            "Chat ID",
            required=True,
            required_error="could not find Chat Id in settings",
            help="Integer Telegram chat identifier (e.g. -1001234567890) or @channelusername.",
        ),
        Field(
            "message_thread_id",
            "Message Thread ID",
            Kind.INT,
            help="Integer Telegram message thread identifier: sends to that topic of a forum supergroup.",
        ),
        template_field("message", "Message", "default.message", help="Templated message text; cut to 4096 characters."),
        Field(
            "parse_mode",
            "Parse Mode",
            Kind.CHOICE,
            default="HTML",
            choices=("None", "HTML", "Markdown", "MarkdownV2"),
            help="How Telegram formats the message text. Default is HTML; None sends plain text.",
        ),
        Field(
            "disable_web_page_preview",
            "Disable Web Page Preview",
            Kind.BOOL,
            default=False,
            help="Disables link previews for links in this message.",
        ),
        Field(
            "protect_content",
            "Protect Content",
            Kind.BOOL,
            default=False,
            help="Protects the contents of the sent message from forwarding and saving.",
        ),
        Field(
            "disable_notifications",
            "Disable Notification",
            Kind.BOOL,
            default=False,
            help="Sends the message silently. Users will receive a notification with no sound.",
        ),
    )

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        errors: list[tuple[str | None, str]] = []
        thread_id = config["message_thread_id"]
        config["message_thread_id"] = "" if thread_id is None else number_text(thread_id)
        if error := thread_id_error(config["message_thread_id"]):
            errors.append(("message_thread_id", error))
        parse_mode = PARSE_MODES.get(str(config["parse_mode"]).lower())
        if parse_mode is None:
            errors.append(("parse_mode", "unknown parse_mode, must be Markdown, MarkdownV2, HTML or None"))
        else:
            config["parse_mode"] = parse_mode  # Telegram's spelling; "" for None
        if errors:
            raise SettingsError(errors)

    def build(self, ctx: SendContext) -> OutgoingRequest:
        config = ctx.config
        fields = [("chat_id", config["chatid"])]
        if config["message_thread_id"]:
            fields.append(("message_thread_id", config["message_thread_id"]))
        if config["disable_notifications"]:
            fields.append(("disable_notification", "true"))
        fields.append(("text", trunc_runes(ctx.render("message"), MAX_MESSAGE_RUNES)))
        if config["parse_mode"]:
            fields.append(("parse_mode", config["parse_mode"]))
        if config["disable_web_page_preview"]:
            fields.append(("disable_web_page_preview", "true"))
        if config["protect_content"]:
            fields.append(("protect_content", "true"))
        # Grafana then posts each alert image to sendPhoto; images are optional (spec §3.6) and
        # not produced here, so only the message is sent.
        return OutgoingRequest("POST", self.api_url(config["bottoken"], "sendMessage"), multipart=fields)

    @staticmethod
    def api_url(bot_token: str, method: str) -> str:
        # Imported here: at module level the registry's scan of the module would load Django settings.
        from django.conf import settings

        # Escaping changes nothing for real tokens (digits, letters, `:`, `-`, `_`) and keeps an
        # odd one from reshaping the path.
        return f"{settings.TELEGRAM_API_URL.rstrip('/')}/bot{quote(bot_token, safe=':')}/{method}"

    def classify(self, response: HttpResponse, ctx: SendContext) -> Outcome:
        """The shared rules; an answer that echoes the URL (proxies do) must not leak the token."""
        outcome = super().classify(response, ctx)
        token = ctx.config["bottoken"]
        outcome.error = scrub(outcome.error, {token, quote(token, safe=":"), quote(token, safe="")})
        return outcome


def thread_id_error(text: str) -> str | None:
    """Grafana parses it with strconv.Atoi (64-bit), then requires it to fit in an int32."""
    if not text:
        return None
    if not GO_INTEGER.fullmatch(text) or int(text) not in INT64_RANGE:
        return "message thread id must be an integer"
    if int(text) not in INT32_RANGE:
        return "message thread id must be an int32"
    return None
