"""Sensu Go: the backend's core/v2 events API (https://docs.sensu.io/sensu-go/latest/api/core/events/)."""

from __future__ import annotations

import time
from typing import Any

from integrations.alertbuilder import rule_url
from integrations.base import Field, IntegrationType, OutgoingRequest, SendContext, template_field
from integrations.values import go_json

CHECK_INTERVAL_SECONDS = 86400  # Sensu wants an interval; one day, as Grafana sends
STATUS_CRITICAL = 2
STATUS_OK = 0
DEFAULT_NAME = "default"  # entity, check and namespace when left empty (or rendered empty)


class SensuGo(IntegrationType):
    type = "sensugo"
    label = "Sensu Go"
    description = "Creates or updates a Sensu Go event: critical while firing, OK once resolved."
    example = {"url": "https://sensu.example.com:8080", "apikey": "example-api-key"}
    fields = (
        Field(
            "url",
            "Backend URL",
            required=True,
            required_error="could not find URL property in settings",
            help="The Sensu Go backend API URL; `/api/core/v2/namespaces/<namespace>/events` is appended.",
            placeholder="http://sensu-api.local:8080",
        ),
        Field(
            "apikey",
            "API Key",
            required=True,
            secret=True,
            required_error="could not find the API key property in settings",
            help="A Sensu Go API key, sent as `Authorization: Key <apikey>`.",
        ),
        Field(
            "entity",
            "Proxy entity name",
            template=True,
            help="Templated. The entity the event belongs to; `default` when empty.",
            placeholder=DEFAULT_NAME,
        ),
        Field(
            "check",
            "Check name",
            template=True,
            help="Templated. The check the event reports; `default` when empty.",
            placeholder=DEFAULT_NAME,
        ),
        Field(
            "namespace",
            "Namespace",
            template=True,
            help="Templated. The Sensu namespace; `default` when empty.",
            placeholder=DEFAULT_NAME,
        ),
        Field(
            "handler",
            "Handler",
            template=True,
            help="Templated. A Sensu handler to run for the event; none when empty.",
        ),
        template_field("message", "Message", "default.message", help="Templated. The check output."),
    )

    def build(self, ctx: SendContext) -> OutgoingRequest:
        namespace = ctx.render("namespace") or DEFAULT_NAME
        # Not escaped, as Grafana builds it: a namespace is a plain Sensu name.
        url = f"{ctx.config['url'].removesuffix('/')}/api/core/v2/namespaces/{namespace}/events"
        headers = {"Content-Type": "application/json", "Authorization": f"Key {ctx.config['apikey']}"}
        return OutgoingRequest("POST", url, headers=headers, body=go_json(self.event(ctx, namespace)))

    @staticmethod
    def event(ctx: SendContext, namespace: str) -> dict[str, Any]:
        """The event body, keys in Go's map order (sorted)."""
        link = rule_url(ctx.data.ExternalURL)
        # The handler list is null unless the setting is set (even if it renders empty).
        handlers = [ctx.render("handler")] if ctx.config["handler"] else None
        # Images (spec §3.6, the `imageURL` check label) are not produced here.
        labels = {"ruleURL": link}
        return {
            "check": {
                "handlers": handlers,
                "interval": CHECK_INTERVAL_SECONDS,
                "issued": int(time.time()),
                "metadata": {"labels": labels, "name": ctx.render("check") or DEFAULT_NAME},
                "output": ctx.render("message"),
                "status": STATUS_CRITICAL if ctx.data.Status == "firing" else STATUS_OK,
            },
            "entity": {"metadata": {"name": ctx.render("entity") or DEFAULT_NAME, "namespace": namespace}},
            "ruleUrl": link,
        }
