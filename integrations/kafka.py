"""Kafka: Confluent REST Proxy produce API, v2 and v3 (https://docs.confluent.io/platform/current/kafka-rest/api.html)."""

from __future__ import annotations

import json
from typing import Any

from integrations.alertbuilder import rule_url
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
from integrations.values import go_json

API_VERSIONS = ("v2", "v3")
V2_HEADERS = {"Content-Type": "application/vnd.kafka.json.v2+json", "Accept": "application/vnd.kafka.v2+json"}
V3_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def v3_response_error(body: bytes) -> str | None:
    """A v3 produce answer is 2xx even when the record was refused: its error_code must be 2xx too."""
    try:
        answer = json.loads(body)
    except ValueError as exc:
        return f"invalid JSON response: {exc}"
    if answer is None:
        answer = {}
    if not isinstance(answer, dict):
        return f"json: cannot unmarshal {type(answer).__name__} into the produce response object"
    code = answer.get("error_code")
    if code is None:
        code = 0
    if isinstance(code, bool) or not isinstance(code, int):
        return f"json: cannot unmarshal {json.dumps(code)} into the integer field error_code"
    if not 200 <= code <= 299:
        return f"failed to publish message to Kafka. response: {body.decode('utf-8', 'replace')}"
    return None


class Kafka(IntegrationType):
    type = "kafka"
    label = "Kafka REST Proxy"
    description = "Publishes the notification as a JSON record to a Kafka topic through a REST Proxy."
    example = {"kafkaRestProxy": "https://example.com:8082", "kafkaTopic": "alerts"}
    fields = (
        Field(
            "kafkaRestProxy",
            "Kafka REST Proxy",
            required=True,
            required_error="could not find kafka rest proxy endpoint property in settings",
            help="Hint: If you are directly using v3 APIs hosted on a Confluent Kafka Server, you must append "
            "/kafka to the URL here. Example: https://localhost:8082/kafka",
            placeholder="http://localhost:8082",
        ),
        Field(
            "kafkaTopic",
            "Topic",
            required=True,
            template=True,
            required_error="could not find kafka topic property in settings",
            placeholder="topic1",
        ),
        Field("username", "Username"),
        Field(
            "password", "Password", secret=True, help="The password to use when making a call to the Kafka REST Proxy"
        ),
        template_field(
            "description", "Description", "default.title", help="Templated description of the Kafka message"
        ),
        template_field("details", "Details", "default.message", help="Custom details to include with the message"),
        Field(
            "apiVersion",
            "API version",
            Kind.CHOICE,
            default="v2",
            choices=API_VERSIONS,
            help="The API version to use when contacting the Kafka REST Server. By default v2 will be used.",
        ),
        Field(
            "kafkaClusterId",
            "Cluster ID",
            template=True,
            help="v3 APIs require a clusterID to be specified.",
        ),
    )

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        config["kafkaRestProxy"] = config["kafkaRestProxy"].rstrip("/")
        version = config["apiVersion"]
        if version not in API_VERSIONS:
            raise SettingsError.single("apiVersion", f"unsupported api version: {version}")
        if version == "v3" and not config["kafkaClusterId"]:
            raise SettingsError.single("kafkaClusterId", "kafka cluster id must be provided when using api version 3")

    def build(self, ctx: SendContext) -> OutgoingRequest:
        config = ctx.config
        record = self.record(ctx)
        topic = ctx.render("kafkaTopic")
        if config["apiVersion"] == "v3":
            url = f"{config['kafkaRestProxy']}/v3/clusters/{ctx.render('kafkaClusterId')}/topics/{topic}/records"
            headers, body = dict(V3_HEADERS), {"value": {"type": "JSON", "data": record}}
        else:
            url = f"{config['kafkaRestProxy']}/topics/{topic}"
            headers, body = dict(V2_HEADERS), {"records": [{"value": record}]}
        auth = (config["username"], config["password"]) if config["username"] and config["password"] else None
        return OutgoingRequest("POST", url, headers=headers, body=go_json(body), basic_auth=auth)

    @staticmethod
    def record(ctx: SendContext) -> dict[str, Any]:
        """The record; empty optional fields are left out (description is always sent)."""
        record = {
            "description": ctx.render("description"),
            "client": ctx.product_name,
            "details": ctx.render("details"),
            "alert_state": "ok" if ctx.data.Status == "resolved" else "alerting",
            "client_url": rule_url(ctx.data.ExternalURL),
            # Images (spec §3.6) are skipped: no "contexts" list.
            "incident_key": ctx.dedup_key,
        }
        return {key: value for key, value in record.items() if value or key == "description"}

    def classify(self, response: HttpResponse, ctx: SendContext) -> Outcome:
        outcome = super().classify(response, ctx)
        if not outcome.ok or ctx.config["apiVersion"] != "v3":
            return outcome
        error = v3_response_error(response.body)
        if error is None:
            return outcome
        return self.http_error(response, f"webhook failed validation: {error}")
