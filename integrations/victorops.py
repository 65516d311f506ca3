"""VictorOps (Splunk On-Call): REST endpoint integration (https://help.victorops.com/knowledge-base/rest-endpoint-integration-guide/)."""

from __future__ import annotations

import time
from typing import Any

from integrations.alertbuilder import rule_url
from integrations.base import Field, IntegrationType, OutgoingRequest, SendContext, template_field
from integrations.values import go_json, trunc_runes

DEFAULT_MESSAGE_TYPE = "CRITICAL"  # VictorOps' word for an alerting incident
RECOVERY = "RECOVERY"
MAX_STATE_MESSAGE_RUNES = 20480  # https://help.victorops.com/knowledge-base/incident-fields-glossary/


class VictorOps(IntegrationType):
    type = "victorops"
    label = "VictorOps (Splunk On-Call)"
    description = "Opens and recovers Splunk On-Call (VictorOps) incidents through a REST endpoint."
    example = {"url": "https://example.com/integrations/generic/20131114/alert/0000/routing-key"}
    fields = (
        Field(
            "url",
            "URL",
            required=True,
            secret=True,
            template=True,
            required_error="could not find victorops url property in settings",
            help="The REST endpoint URL of the VictorOps integration, routing key included.",
            placeholder="VictorOps url",
        ),
        Field(
            "messageType",
            "Message Type",
            default=DEFAULT_MESSAGE_TYPE,
            template=True,
            help="CRITICAL or WARNING. Templated and upper-cased; empty means CRITICAL. "
            "Resolved notifications are always sent as RECOVERY.",
            placeholder=DEFAULT_MESSAGE_TYPE,
        ),
        template_field("title", "Title", "default.title", help="Templated title to display"),
        template_field(
            "description",
            "Description",
            "default.message",
            help="Templated description of the message; cut to 20480 characters.",
        ),
    )

    def build(self, ctx: SendContext) -> OutgoingRequest:
        try:
            url = ctx.render_template(ctx.config["url"])
        except Exception:  # noqa: BLE001 - Grafana falls back to the URL as written
            url = ctx.config["url"]
        return OutgoingRequest("POST", url, headers={"Content-Type": "application/json"}, body=go_json(self.body(ctx)))

    def body(self, ctx: SendContext) -> dict[str, Any]:
        body = {
            "message_type": self.message_type(ctx),
            "entity_id": ctx.dedup_key,
            "entity_display_name": ctx.render("title"),
            "timestamp": int(time.time()),
            "state_message": trunc_runes(ctx.render("description"), MAX_STATE_MESSAGE_RUNES),
            "monitoring_tool": ctx.product_with_version,
            # Images (spec §3.6) are skipped: no "image_url".
            "alert_url": rule_url(ctx.data.ExternalURL),
        }
        return dict(sorted(body.items()))  # Grafana sends a Go map: keys sorted

    @staticmethod
    def message_type(ctx: SendContext) -> str:
        if ctx.data.Status == "resolved":
            return RECOVERY
        return ctx.render("messageType").upper() or DEFAULT_MESSAGE_TYPE
