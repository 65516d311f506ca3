"""Cisco Webex: Messages API, a bot creates a Markdown message in a room.

https://developer.webex.com/docs/api/v1/messages/create-a-message
"""

from __future__ import annotations

from typing import Any

from integrations.base import Field, IntegrationType, OutgoingRequest, SendContext, SettingsError, template_field
from integrations.gourl import go_url_parse_fails
from integrations.values import go_json, go_quote, trunc_bytes

DEFAULT_API_URL = "https://webexapis.com/v1/messages"
MAX_MARKDOWN_BYTES = 4096  # Grafana cuts the markdown at this many bytes (spec §4.18)


class Webex(IntegrationType):
    type = "webex"
    label = "Cisco Webex Teams"
    description = "Posts a Markdown message to a Webex room as a bot."
    example = {"room_id": "Y2lzY29zcGFyazovL3VzL1JPT00vZXhhbXBsZQ", "bot_token": "example-bot-token"}
    fields = (
        Field(
            "api_url",
            "API URL",
            default=DEFAULT_API_URL,
            template=True,
            help=f"The Messages API endpoint. Defaults to {DEFAULT_API_URL}. Templated; "
            "a template error fails the notification.",
            placeholder=DEFAULT_API_URL,
        ),
        Field(
            "room_id",
            "Room ID",
            help="The ID of the Webex room to post to (required by Webex).",
        ),
        Field(
            "bot_token",
            "Bot Token",
            secret=True,
            help="The access token of the Webex bot that posts the message (required by Webex); "
            "sent as `Authorization: Bearer <token>`.",
        ),
        template_field(
            "message",
            "Message",
            "default.message",
            help="Templated Markdown message (at most 4096 bytes; longer text is cut with …).",
        ),
    )

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        # room_id and bot_token are not checked: Grafana's backend accepts them empty.
        if go_url_parse_fails(config["api_url"]):
            raise SettingsError.single("api_url", f"invalid URL {go_quote(config['api_url'])}")

    def build(self, ctx: SendContext) -> OutgoingRequest:
        message: dict[str, Any] = {}
        if ctx.config["room_id"]:
            message["roomId"] = ctx.config["room_id"]
        message["markdown"] = trunc_bytes(ctx.render("message"), MAX_MARKDOWN_BYTES)
        # "files" would carry the first alert image's public URL (spec §3.6); images are skipped.
        url = ctx.render_strict("api_url")  # Grafana fails the notification when the URL cannot render
        headers = {"Content-Type": "application/json"}
        if ctx.config["bot_token"]:
            headers["Authorization"] = f"Bearer {ctx.config['bot_token']}"
        return OutgoingRequest("POST", url, headers=headers, body=go_json(message))
