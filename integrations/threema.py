"""Threema Gateway: Basic mode send_simple (https://gateway.threema.ch/en/developer/api), form body."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from integrations.alertbuilder import rule_url
from integrations.base import Field, IntegrationType, OutgoingRequest, SendContext, SettingsError, template_field

FIRING_EMOJI = "\u26a0\ufe0f "  # warning sign
RESOLVED_EMOJI = "\u2705 "  # check mark button
ID_LENGTH = 8


def byte_length(text: str) -> int:
    """Go's len(): Grafana counts the bytes of an ID, not its characters."""
    return len(text.encode())


class Threema(IntegrationType):
    type = "threema"
    label = "Threema Gateway"
    description = "Sends end-to-end encrypted Threema messages through a Threema Gateway Basic ID."
    example = {"gateway_id": "*3MAGWID", "recipient_id": "YOUR3MID", "api_secret": "example-api-secret"}
    # Declared in Grafana's order of checks: the first error is the one reported.
    fields = (
        Field(
            "gateway_id",
            "Gateway ID",
            required=True,
            required_error="could not find Threema Gateway ID in settings",
            help="Your 8 character Threema Gateway Basic ID (starting with a *).",
            placeholder="*3MAGWID",
        ),
        Field(
            "recipient_id",
            "Recipient ID",
            required=True,
            required_error="could not find Threema Recipient ID in settings",
            help="The 8 character Threema ID that should receive the alerts.",
            placeholder="YOUR3MID",
        ),
        Field(
            "api_secret",
            "API Secret",
            required=True,
            secret=True,
            required_error="could not find Threema API secret in settings",
            help="Your Threema Gateway API secret.",
        ),
        template_field("title", "Title", "default.title", help="Templated title of the message."),
        template_field("description", "Description", "default.message", help="Templated description of the message."),
    )

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        errors: list[tuple[str | None, str]] = []
        if not config["gateway_id"].startswith("*"):
            errors.append(("gateway_id", "invalid Threema Gateway ID: Must start with a *"))
        elif byte_length(config["gateway_id"]) != ID_LENGTH:
            errors.append(("gateway_id", "invalid Threema Gateway ID: Must be 8 characters long"))
        if byte_length(config["recipient_id"]) != ID_LENGTH:
            errors.append(("recipient_id", "invalid Threema Recipient ID: Must be 8 characters long"))
        if errors:
            raise SettingsError(errors)

    def build(self, ctx: SendContext) -> OutgoingRequest:
        config = ctx.config
        form = {  # keys sorted, as Go's url.Values.Encode writes them
            "from": config["gateway_id"],
            "secret": config["api_secret"],
            "text": self.text(ctx),
            "to": config["recipient_id"],
        }
        # Imported here: at module level the registry's scan of the module would load Django settings.
        from django.conf import settings

        return OutgoingRequest(
            "POST",
            f"{settings.THREEMA_API_URL.rstrip('/')}/send_simple",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=urlencode(form).encode(),
            credentials_in_body=True,
        )

    @staticmethod
    def text(ctx: SendContext) -> str:
        emoji = RESOLVED_EMOJI if ctx.data.Status == "resolved" else FIRING_EMOJI
        # Grafana joins the URL with path.Join on the whole string, which turns `http://host` into
        # `http:/host/alerting/list`. That link is broken, so this sends the correct rule URL instead.
        url = rule_url(ctx.data.ExternalURL)
        # Grafana appends `*Image:* <url>` lines for alert images with a public URL; images are
        # optional (spec §3.6) and not produced here.
        return f"{emoji}{ctx.render('title')}\n\n*Message:*\n{ctx.render('description')}\n*URL:* {url}\n"
