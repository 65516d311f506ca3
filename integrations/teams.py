"""Microsoft Teams: Adaptive Card to a Workflows webhook (or a legacy Office 365 connector).

https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from integrations.alertbuilder import rule_url
from integrations.base import (
    Field,
    HttpResponse,
    IntegrationType,
    Kind,
    Outcome,
    OutgoingRequest,
    SendContext,
    template_field,
)
from integrations.values import go_json

if TYPE_CHECKING:
    pass

ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# Legacy Office 365 connectors answer 200 even when they drop a message; only a body of "1"
# means it was posted (see the connectors page above, "Rate limiting for connectors").
LEGACY_CONNECTOR_HOST_SUFFIX = "webhook.office.com"


class Teams(IntegrationType):
    type = "teams"
    label = "Microsoft Teams"
    description = "Posts an Adaptive Card to a Microsoft Teams channel through a Workflows or connector webhook."
    error_prefix = "send notification to Teams: "
    example = {"url": "https://example.com/workflows/triggers/manual/paths/invoke?sig=example"}
    fields = (
        Field(
            "url",
            "URL",
            required=True,
            template=True,
            required_error="could not find url property in settings",
            help='The Teams webhook URL (a Workflows "Post to a channel when a webhook request is received" '
            "flow, or a legacy incoming-webhook connector). Templated.",
            placeholder="Teams incoming webhook url",
        ),
        template_field(
            "title", "Title", "default.title", help="Templated title of the Teams message.", kind=Kind.STRING
        ),
        Field(
            "sectiontitle",
            "Section Title",
            template=True,
            help="Accepted for compatibility with older message cards; the Adaptive Card does not use it.",
        ),
        template_field("message", "Message", "teams.default.message", help="Templated message body (Markdown)."),
    )

    def build(self, ctx: SendContext) -> OutgoingRequest:
        body = go_json(self.message(ctx))
        url = ctx.render_or_raw("url")
        return OutgoingRequest("POST", url, headers={"Content-Type": "application/json"}, body=body)

    @staticmethod
    def message(ctx: SendContext) -> dict[str, Any]:
        title = ctx.render("title")
        color = "attention" if ctx.data.Status == "firing" else "good"
        # The optional ImageSet (spec §3.6) is not produced here: images are skipped.
        body = [
            {"type": "TextBlock", "text": title, "color": color, "size": "large", "weight": "bolder", "wrap": True},
            {"type": "TextBlock", "text": ctx.render("message"), "wrap": True},
            {
                "type": "ActionSet",
                "actions": [{"type": "Action.OpenUrl", "title": "View URL", "url": rule_url(ctx.data.ExternalURL)}],
            },
        ]
        card = {
            "body": body,
            "$schema": ADAPTIVE_CARD_SCHEMA,
            "type": "AdaptiveCard",
            "version": "1.4",
            "msTeams": {"width": "Full"},
        }
        message: dict[str, Any] = {
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]
        }
        if title:  # the notification preview text; Grafana leaves it out when empty
            message["summary"] = title
        message["type"] = "message"
        return message

    def classify(self, response: HttpResponse, ctx: SendContext) -> Outcome:
        outcome = super().classify(response, ctx)
        if outcome.ok and is_legacy_connector(target_url(ctx)) and response.body != b"1":
            return self.http_error(response, f"webhook failed validation: {response.text}")
        return outcome


def is_legacy_connector(url: str) -> bool:
    """An Office 365 connector URL: its host (Go's URL.Host, port included) ends with webhook.office.com."""
    try:
        host = urlsplit(url).netloc.rpartition("@")[2]
    except ValueError:
        return False
    return host.endswith(LEGACY_CONNECTOR_HOST_SUFFIX)


def target_url(ctx: SendContext) -> str:
    """The URL the request went to, rendered again without logging its template error twice."""
    try:
        return ctx.render_template(ctx.config["url"])
    except Exception:  # noqa: BLE001 - build() already logged it and sent the raw setting
        return ctx.config["url"]
