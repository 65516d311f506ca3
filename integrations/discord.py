"""Discord: execute-webhook API, a POST of JSON with a rich embed.

https://discord.com/developers/docs/resources/webhook#execute-webhook
"""

from __future__ import annotations

from typing import Any

from integrations.alertbuilder import rule_url
from integrations.base import Field, IntegrationType, Kind, OutgoingRequest, SendContext, template_field
from integrations.values import go_json, trunc_runes

# Discord's limits: https://discord.com/developers/docs/resources/message#embed-object-embed-limits
MAX_CONTENT_RUNES = 2000
MAX_TITLE_RUNES = 256
# The spec's footer icon; only a URL string Discord fetches, kept so messages look as documented.
FOOTER_ICON_URL = "https://grafana.com/static/assets/img/fav32.png"
COLOR_FIRING = 14037554  # #D63232
COLOR_RESOLVED = 3581519  # #36a64f


class Discord(IntegrationType):
    type = "discord"
    label = "Discord"
    description = "Posts a message with a rich embed to a Discord channel through a channel webhook."
    example = {"url": "https://example.com/api/webhooks/123456/example-token"}
    fields = (
        Field(
            "url",
            "Webhook URL",
            required=True,
            secret=True,
            template=True,
            required_error="could not find webhook url property in settings",
            help="The channel webhook URL (Server Settings → Integrations → Webhooks). Templated.",
            placeholder="Discord webhook URL",
        ),
        template_field(
            "title",
            "Title",
            "default.title",
            help="Templated title of the message (the embed title, at most 256 characters).",
            kind=Kind.STRING,
        ),
        template_field(
            "message",
            "Message Content",
            "default.message",
            help="Templated message content (at most 2000 characters; longer text is cut with …).",
        ),
        Field(
            "avatar_url",
            "Avatar URL",
            template=True,
            help="Templated URL of an image to use as the webhook's avatar.",
        ),
        Field(
            "use_discord_username",
            "Use Discord's Webhook Username",
            Kind.BOOL,
            default=False,
            help="Use the username configured in Discord's webhook settings. "
            "Otherwise, the username will be this application's name.",
        ),
        Field(
            "use_embed_description",
            "Use Embed Description",
            Kind.BOOL,
            default=False,
            help="Send the message as the embed's description instead of the message content "
            "(the content is then left empty; the description is cut at 2000 characters with …, too).",
        ),
    )

    def build(self, ctx: SendContext) -> OutgoingRequest:
        # Template errors degrade to "" (Grafana logs them); the URL falls back to the raw setting.
        url = ctx.render_or_raw("url")
        body = go_json(self.message(ctx))
        return OutgoingRequest("POST", url, headers={"Content-Type": "application/json"}, body=body)

    def message(self, ctx: SendContext) -> dict[str, Any]:
        config = ctx.config
        text = ctx.render("message")
        message: dict[str, Any] = {}
        if not config["use_discord_username"]:
            message["username"] = ctx.product_name
        # Cut once: Grafana truncates the message to 2000 runes wherever it goes (content or description).
        text = trunc_runes(text, MAX_CONTENT_RUNES)
        message["content"] = "" if config["use_embed_description"] else text
        if config["avatar_url"] and (avatar_url := ctx.render_or_raw("avatar_url")):
            message["avatar_url"] = avatar_url
        # Key order and omitted empty values as in Grafana's Go structs.
        embed: dict[str, Any] = {"title": trunc_runes(ctx.render("title"), MAX_TITLE_RUNES), "type": "rich"}
        if not embed["title"]:
            del embed["title"]
        if config["use_embed_description"] and text:
            embed["description"] = text
        embed["url"] = rule_url(ctx.data.ExternalURL)
        embed["color"] = COLOR_FIRING if ctx.data.Status == "firing" else COLOR_RESOLVED
        embed["footer"] = {"text": ctx.product_with_version, "icon_url": FOOTER_ICON_URL}
        # Image embeds and attachment uploads (spec §3.6) are optional and not produced here.
        message["embeds"] = [embed]
        return message
