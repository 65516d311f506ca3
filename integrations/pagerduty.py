"""PagerDuty: Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/)."""

from __future__ import annotations

import socket
from typing import Any

from integrations.base import (
    Field,
    IntegrationType,
    Kind,
    OutgoingRequest,
    SendContext,
    TemplateFailure,
    template_field,
)
from integrations.values import go_json, go_quote, trunc_runes

API_URL = "https://events.pagerduty.com/v2/enqueue"
DEFAULT_SEVERITY = "critical"
KNOWN_SEVERITIES = frozenset({"critical", "error", "warning", "info"})
MAX_SUMMARY_RUNES = 1024  # https://developer.pagerduty.com/docs/send-alert-event
MAX_EVENT_BYTES = 512000  # https://developer.pagerduty.com/docs/events-api-v2-overview#size-limits
OVERSIZED_DETAILS = {
    "error": "Custom details have been removed because the original event exceeds the maximum size of 512KB"
}
# Merged under the user's details (user keys win); each value is a template.
DEFAULT_DETAILS = {
    "firing": '{{ template("__text_alert_list", Alerts.Firing) }}',
    "resolved": '{{ template("__text_alert_list", Alerts.Resolved) }}',
    "num_firing": "{{ Alerts.Firing | length }}",
    "num_resolved": "{{ Alerts.Resolved | length }}",
}


def host_name() -> str:
    """The server's host name, "" when it cannot be found (the client name is used then)."""
    try:
        return socket.gethostname()
    except OSError:
        return ""


class PagerDuty(IntegrationType):
    type = "pagerduty"
    label = "PagerDuty"
    description = "Triggers and resolves PagerDuty incidents through the Events API v2."
    error_prefix = "send notification to Pagerduty: "
    example = {"integrationKey": "0123456789abcdef0123456789abcdef", "severity": "critical"}
    fields = (
        Field(
            "integrationKey",
            "Integration Key",
            required=True,
            secret=True,
            required_error="could not find integration key property in settings",
            help="The Integration Key (routing key) of an Events API v2 integration on a PagerDuty service.",
        ),
        Field(
            "severity",
            "Severity",
            default=DEFAULT_SEVERITY,
            template=True,
            help="Severity of the event: critical, error, warning or info. Templated; any other value "
            "becomes critical.",
            placeholder=DEFAULT_SEVERITY,
        ),
        Field(
            "class",
            "Class",
            default="default",
            template=True,
            help="The class/type of the event, for example 'ping failure' or 'cpu load'.",
        ),
        Field(
            "component",
            "Component",
            template=True,
            help="Component of the source machine that is responsible for the event, for example mysql or eth0. "
            "Defaults to this application's name.",
        ),
        Field(
            "group",
            "Group",
            default="default",
            template=True,
            help="Logical grouping of components of a service, for example 'app-stack'.",
        ),
        template_field("summary", "Summary", "default.title", help="A summary of the event; cut to 1024 characters."),
        Field(
            "source",
            "Source",
            template=True,
            help="The unique location of the affected system, preferably a hostname or FQDN. "
            "Defaults to this server's host name.",
        ),
        Field(
            "client",
            "Client",
            template=True,
            help="The name of the monitoring client that is triggering this event. "
            "Defaults to this application's name.",
        ),
        Field(
            "client_url",
            "Client URL",
            default="{{ ExternalURL }}",
            template=True,
            help="The URL of the monitoring client that is triggering this event.",
        ),
        Field(
            "details",
            "Details",
            Kind.MAP,
            default=DEFAULT_DETAILS,
            template=True,
            help="Custom details sent with the event. Merged over the defaults (firing, resolved, num_firing, "
            "num_resolved); each value is a template, and one that fails to render fails the notification.",
        ),
        Field(
            "url",
            "API URL",
            default=API_URL,
            help=f"The Events API v2 endpoint. Default is {API_URL}",
            placeholder=API_URL,
        ),
    )

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        config["details"] = {**DEFAULT_DETAILS, **(config["details"] or {})}

    def build(self, ctx: SendContext) -> OutgoingRequest:
        event = self.event(ctx)
        body = go_json(event) + b"\n"  # Go's json.Encoder ends the document with a newline
        if len(body) > MAX_EVENT_BYTES:
            event["payload"]["custom_details"] = OVERSIZED_DETAILS  # the last payload key either way
            body = go_json(event) + b"\n"
        return OutgoingRequest("POST", ctx.config["url"], headers={"Content-Type": "application/json"}, body=body)

    def event(self, ctx: SendContext) -> dict[str, Any]:
        """The event in the Events API's field order; empty optional fields are left out."""
        details = self.details(ctx)
        severity = ctx.render("severity").lower()
        if severity not in KNOWN_SEVERITIES:
            severity = DEFAULT_SEVERITY
        client = ctx.render("client") if ctx.config["client"] else ctx.product_name
        payload = {
            "summary": trunc_runes(ctx.render("summary"), MAX_SUMMARY_RUNES),
            "source": ctx.render("source") if ctx.config["source"] else (host_name() or client),
            "severity": severity,
            "class": ctx.render("class"),
            "component": ctx.render("component") if ctx.config["component"] else ctx.product_name,
            "group": ctx.render("group"),
            "custom_details": details,
        }
        event = {
            "routing_key": ctx.config["integrationKey"],
            "dedup_key": ctx.dedup_key,
            "event_action": "resolve" if ctx.data.Status == "resolved" else "trigger",
            "payload": {k: v for k, v in payload.items() if v or k in ("summary", "source", "severity")},
            "client": client,
            "client_url": ctx.render("client_url"),
            # Images (spec §3.6) are not produced here, so no "images" list.
            "links": [{"href": ctx.data.ExternalURL, "text": "External URL"}],
        }
        return {k: v for k, v in event.items() if v or k in ("event_action", "payload")}

    @staticmethod
    def details(ctx: SendContext) -> dict[str, str]:
        """Each detail rendered; unlike the other fields, a template error fails the notification."""
        rendered = {}
        for key, source in sorted(ctx.config["details"].items()):  # Go encodes map keys sorted
            try:
                rendered[key] = ctx.render_template(source) if source else ""
            except Exception as exc:  # any template failure fails the notification
                raise TemplateFailure(
                    f"build pagerduty message: {go_quote(key)}: failed to template {go_quote(source)}: {exc}"
                ) from exc
        return rendered
