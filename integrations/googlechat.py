"""Google Chat: incoming webhook with a legacy cards v1 message.

https://developers.google.com/workspace/chat/quickstart/webhooks
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from integrations.alertbuilder import rule_url
from integrations.base import Field, IntegrationType, Kind, OutgoingRequest, SendContext, template_field
from integrations.goformat import go_format_time
from integrations.values import go_json

GO_RFC822 = "02 Jan 06 15:04 MST"


class GoogleChat(IntegrationType):
    type = "googlechat"
    label = "Google Chat"
    description = "Posts a card message to a Google Chat space through an incoming webhook."
    example = {"url": "https://example.com/v1/spaces/AAAA/messages?key=example-key&token=example-token"}
    fields = (
        Field(
            "url",
            "URL",
            required=True,
            secret=True,
            template=True,
            required_error="could not find url property in settings",
            help="The space's incoming webhook URL (Apps & integrations → Webhooks). Templated.",
            placeholder="Google Chat incoming webhook url",
        ),
        template_field(
            "title",
            "Title",
            "default.title",
            help="Templated title of the message (the card header).",
            kind=Kind.STRING,
        ),
        template_field(
            "message",
            "Message",
            "default.message",
            help="Templated message body; left out of the card when it renders empty.",
        ),
        Field(
            "hide_open_button",
            "Hide open button",
            Kind.BOOL,
            default=False,
            help="Leave out the button that opens the alert list in this application.",
        ),
        Field(
            "hide_version_info",
            "Hide version info",
            Kind.BOOL,
            default=False,
            help="Leave out the line with this application's name, version and the time of sending.",
        ),
    )

    def build(self, ctx: SendContext) -> OutgoingRequest:
        body = go_json(self.message(ctx))
        url = ctx.render_or_raw("url")
        return OutgoingRequest("POST", url, headers={"Content-Type": "application/json; charset=UTF-8"}, body=body)

    def message(self, ctx: SendContext) -> dict[str, Any]:
        widgets: list[dict[str, Any]] = []
        if text := ctx.render("message"):
            widgets.append(text_paragraph(text))  # Google Chat rejects an empty text property
        link = rule_url(ctx.data.ExternalURL)
        # A relative link (no external URL known) would make Google show an empty message.
        if not ctx.config["hide_open_button"] and is_absolute(link):
            button_text = f"OPEN IN {ctx.product_name.upper()}"
            widgets.append({"buttons": [{"textButton": {"text": button_text, "onClick": {"openLink": {"url": link}}}}]})
        if not ctx.config["hide_version_info"]:
            now = go_format_time(datetime.now(UTC), GO_RFC822)
            widgets.append(text_paragraph(f"{ctx.product_with_version} | {now}"))
        title = ctx.render("title")
        # The "Screenshots" card (spec §3.6) is optional and not produced: images are skipped.
        return {
            "previewText": title,
            "fallbackText": title,
            # Go sends `null` for a card left without widgets (everything hidden, empty message).
            "cards": [{"header": {"title": title}, "sections": [{"widgets": widgets or None}]}],
        }


def text_paragraph(text: str) -> dict[str, Any]:
    return {"textParagraph": {"text": text}}


def is_absolute(url: str) -> bool:
    """Go's URL.IsAbs: the URL has a scheme."""
    try:
        return bool(urlsplit(url).scheme)
    except ValueError:
        return False
