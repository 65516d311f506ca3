"""LINE: LINE Notify API (https://notify-bot.line.me/doc/en/), POST /api/notify with a form body."""

from __future__ import annotations

from urllib.parse import urlencode

from integrations.base import Field, IntegrationType, OutgoingRequest, SendContext, template_field
from integrations.values import trunc_runes

MAX_MESSAGE_RUNES = 1000  # LINE Notify's limit


class Line(IntegrationType):
    type = "LINE"  # Grafana's canonical spelling is upper-case
    label = "LINE"
    description = (
        "Sends notifications to LINE Notify. Deprecated: LINE has discontinued LINE Notify upstream, "
        "so new LINE integrations cannot be created; existing ones keep working as configured."
    )
    aliases = ("line",)
    deprecated = True
    can_create = False
    example = {"token": "example-line-notify-token"}
    fields = (
        Field(
            "token",
            "Token",
            required=True,
            secret=True,
            required_error="could not find token in settings",
            help="Your LINE Notify personal access token.",
        ),
        template_field("title", "Title", "default.title", help="Templated title of the message."),
        template_field(
            "description",
            "Description",
            "default.message",
            help="Templated description of the message. Title and description together are cut to 1000 characters.",
        ),
    )

    def build(self, ctx: SendContext) -> OutgoingRequest:
        message = trunc_runes(f"{ctx.render('title')}\n{ctx.render('description')}", MAX_MESSAGE_RUNES)
        # Imported here: at module level the registry's scan of the module would load Django settings.
        from django.conf import settings

        return OutgoingRequest(
            "POST",
            f"{settings.LINE_API_URL.rstrip('/')}/api/notify",
            headers={
                "Authorization": f"Bearer {ctx.config['token']}",
                "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
            },
            body=urlencode({"message": message}).encode(),
        )
