"""OpenAPI descriptions of the views DRF cannot describe itself: the intake, whose body is read
by hand on the hot path, and Grafana's provisioning API, whose shapes have no serializers.

Each schema mirrors its parser field by field: what the view accepts, the schema allows; what it
refuses, the schema forbids. Schemathesis (tests/api/test_schema_fuzz.py) holds both to that.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers

from contactpoints.api.openapi import error_responses
from contactpoints.models import ContactPoint, Provenance


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def described(view: type, **methods: Any) -> type:
    """A subclass of `view` with `extend_schema` per method, for the schema only: requests still
    reach `view` itself. A request body, where there is one, is required."""
    return extend_schema_view(**methods)(type(view.__name__, (view,), {"request_body_required": True}))


# -- the intake's three body shapes (contract §4) -------------------------------------------------

# One character that Python's str.strip() keeps (the intake strips the title so): \S would not
# do, ECMAScript's \s and Python's disagree on a few characters.
PYTHON_NON_SPACE = "[^\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
TIMESTAMP = {
    "type": "string",
    "nullable": True,
    "anyOf": [{"maxLength": 0}, {"format": "date-time"}],
    "description": "RFC 3339; empty, null or Go's zero time (0001-01-01T00:00:00Z) mean unset.",
}


def alert_schemas() -> dict[str, dict[str, Any]]:
    """The components the intake and the template preview refer to."""
    max_alerts = settings.INTAKE_MAX_ALERTS
    return {
        "Alert": {
            "type": "object",
            "description": "An alert in Alertmanager's API v2 or webhook shape. Without `status`, it is "
            "resolved when `endsAt` lies in the past, else firing.",
            "required": ["labels"],
            "properties": {
                "labels": {**STRING_MAP, "minProperties": 1},
                "annotations": {**STRING_MAP, "nullable": True},
                "startsAt": TIMESTAMP,
                "endsAt": TIMESTAMP,
                "generatorURL": {"type": "string", "nullable": True},
                "status": {"type": "string", "enum": ["firing", "resolved", None], "nullable": True},
                # Grafana's extras: kept when of the right type, else ignored.
                "values": {"description": "Grafana's evaluated values, an object (shown as .Values)."},
                "valueString": {"description": "Grafana's value string (shown as .ValueString)."},
            },
        },
        "WebhookPayload": {
            "type": "object",
            "title": "Alertmanager or Grafana webhook payload",
            "description": 'What an Alertmanager `webhook_config` (version "4") or a Grafana webhook contact '
            'point (version "1") sends. Common labels and annotations are recomputed from the alerts.',
            "required": ["alerts"],
            "properties": {
                "version": {"type": "string", "nullable": True},
                "status": {"type": "string", "nullable": True},
                "receiver": {"type": "string", "nullable": True},
                "groupKey": {"type": "string", "nullable": True},
                "groupLabels": {**STRING_MAP, "nullable": True},
                "commonLabels": {**STRING_MAP, "nullable": True},
                "commonAnnotations": {**STRING_MAP, "nullable": True},
                "externalURL": {"type": "string", "nullable": True},
                "truncatedAlerts": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "nullable": True},
                "alerts": {"type": "array", "items": _ref("Alert"), "minItems": 1, "maxItems": max_alerts},
            },
        },
        "AlertList": {
            "type": "array",
            "title": "Alertmanager API v2 alerts",
            "items": _ref("Alert"),
            "minItems": 1,
            "maxItems": max_alerts,
        },
        "SimpleMessage": {
            "type": "object",
            "title": "Simple message",
            "description": "One alert: `alertname` and annotation `summary` are the title, `description` the message.",
            "required": ["title"],
            "properties": {
                "title": {"type": "string", "pattern": PYTHON_NON_SPACE},
                "message": {"type": "string"},
                "status": {"type": "string", "enum": ["firing", "resolved"], "default": "firing"},
                "labels": {**STRING_MAP, "nullable": True},
            },
            # With `alerts`, a body is a webhook payload whatever else it carries.
            "not": {"required": ["alerts"]},
        },
    }


INTAKE_ANSWER = inline_serializer(
    "IntakeAccepted",
    {
        "id": serializers.UUIDField(help_text="The notification's id."),
        "alerts": serializers.IntegerField(min_value=0),
        "deliveries": serializers.IntegerField(min_value=0, help_text="One per enabled integration."),
    },
)


class IntakeSchema(OpenApiViewExtension):
    """Describes contactpoints.api.intake_view.IntakeView, whose body DRF never parses."""

    target_class = "contactpoints.api.intake_view.IntakeView"

    def view_replacement(self) -> type:
        return described(
            self.target_class,
            post=extend_schema(
                summary="Send alerts to a contact point",
                description="One request is one notification: one delivery per enabled integration, sent in the "
                "background. A trailing slash is accepted too. Scope `intake` suffices.",
                request={
                    "application/json": {
                        "oneOf": [_ref("WebhookPayload"), _ref("AlertList"), _ref("SimpleMessage")],
                    }
                },
                parameters=[
                    OpenApiParameter("contact_point_uid", {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"}, "path"),
                    OpenApiParameter(
                        "Idempotency-Key",
                        str,
                        OpenApiParameter.HEADER,
                        description="A repeat within 24 hours answers as the first request did, creating nothing.",
                    ),
                ],
                responses={
                    202: OpenApiResponse(INTAKE_ANSWER, "Stored; the deliveries are under way."),
                    **error_responses(400, 404, 413, 415, 429),
                },
            ),
        )


# -- Grafana's provisioning API (contract §5) ------------------------------------------------------

EMBEDDED_FIELDS = {
    "uid": {
        "type": "string",
        "nullable": True,
        "description": "1-40 letters, digits, '-' and '_'; generated when empty. PUT takes the path's.",
        "example": "ops-webhook",
    },
    "name": {
        "type": "string",
        "maxLength": ContactPoint._meta.get_field("name").max_length,
        "pattern": PYTHON_NON_SPACE,
        "description": "The contact point: integrations sharing a name form one.",
        "example": "Ops Team",
    },
    "type": {
        "type": "string",
        "pattern": PYTHON_NON_SPACE,
        "description": "An integration type (GET /api/v1/integration-types), e.g. webhook.",
        "example": "webhook",
    },
    "settings": {
        "type": "object",
        "minProperties": 1,
        "description": 'The type\'s settings; a secret given as "[REDACTED]" keeps its stored value.',
        "example": {"url": "https://example.com/hook"},
    },
    "disableResolveMessage": {"type": "boolean", "default": False},
}
# Our own keys beside Grafana's: optional both ways, answered only when set.
OWN_FIELDS = {
    "ratePerSecond": {
        "type": "number",
        "minimum": 0,
        "nullable": True,
        "description": "Our own: the integration's pace in messages per second. Absent or null: its provider's "
        "documented limit; 0: not paced. Answered and exported only when set.",
        "example": 0.5,
    },
}


def provisioning_schemas() -> dict[str, dict[str, Any]]:
    return {
        "EmbeddedContactPointRequest": {
            "type": "object",
            "description": "One integration, in Grafana's EmbeddedContactPoint shape.",
            "required": ["name", "type", "settings"],
            "properties": {**EMBEDDED_FIELDS, **OWN_FIELDS},
        },
        "EmbeddedContactPoint": {
            "type": "object",
            "required": [*EMBEDDED_FIELDS, "provenance"],
            "properties": {
                **EMBEDDED_FIELDS,
                **OWN_FIELDS,
                "uid": {"type": "string"},
                "settings": {"type": "object", "description": 'Secrets that are set read "[REDACTED]".'},
                "provenance": {"type": "string", "enum": [value for value, _ in Provenance.choices]},
            },
        },
        "AccessDenied": {
            "type": "object",
            "description": "Grafana's access-control answer.",
            "required": ["message"],
            "properties": {
                "accessErrorId": {"type": "string"},
                "message": {"type": "string"},
                "title": {"type": "string"},
            },
        },
    }


def add_components(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook (SPECTACULAR_SETTINGS): register the hand-written schemas above."""
    result.setdefault("components", {}).setdefault("schemas", {}).update({**alert_schemas(), **provisioning_schemas()})
    return result


PROVENANCE_HEADER = OpenApiParameter(
    "X-Disable-Provenance",
    str,
    OpenApiParameter.HEADER,
    description="Present (any value but false): the integration stays editable in the admin; "
    "else it is marked as managed through the API.",
)
DONE = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}
PROVISIONING_400 = OpenApiResponse(_ref("Error"), "Grafana's validation error for the type, in `message`.")


class ProvisioningCollectionSchema(OpenApiViewExtension):
    target_class = "contactpoints.api.provisioning_views.ContactPointCollection"

    def view_replacement(self) -> type:
        return described(
            self.target_class,
            get=extend_schema(
                summary="List integrations (Grafana provisioning)",
                parameters=[OpenApiParameter("name", str, description="Only the contact point with this name.")],
                responses={200: OpenApiResponse({"type": "array", "items": _ref("EmbeddedContactPoint")})},
            ),
            post=extend_schema(
                summary="Create an integration (Grafana provisioning)",
                parameters=[PROVENANCE_HEADER],
                request={"application/json": _ref("EmbeddedContactPointRequest")},
                responses={202: OpenApiResponse(_ref("EmbeddedContactPoint")), 400: PROVISIONING_400},
            ),
        )


class ProvisioningItemSchema(OpenApiViewExtension):
    target_class = "contactpoints.api.provisioning_views.ContactPointItem"

    def view_replacement(self) -> type:
        return described(
            self.target_class,
            put=extend_schema(
                summary="Replace an integration (Grafana provisioning)",
                parameters=[PROVENANCE_HEADER],
                request={"application/json": _ref("EmbeddedContactPointRequest")},
                responses={202: OpenApiResponse(DONE, '{"message": "contactpoint updated"}'), 400: PROVISIONING_400},
            ),
            delete=extend_schema(
                summary="Delete an integration (Grafana provisioning)",
                description="The contact point goes with its last integration.",
                responses={202: OpenApiResponse(DONE, '{"message": "contactpoint deleted"}')},
            ),
        )


EXPORT_DOCUMENT = {
    "type": "object",
    "description": "Grafana's provisioning file: `{apiVersion: 1, contactPoints: [{orgId, name, receivers}]}`.",
    "required": ["apiVersion", "contactPoints"],
    "properties": {"apiVersion": {"type": "integer"}, "contactPoints": {"type": "array", "items": {"type": "object"}}},
}


EXPORT_ANSWER = "The file: YAML by default (application/yaml with download=true), or JSON."


class ProvisioningExportSchema(OpenApiViewExtension):
    target_class = "contactpoints.api.provisioning_views.ContactPointExport"

    def view_replacement(self) -> type:
        return described(
            self.target_class,
            get=extend_schema(
                summary="Export contact points as a provisioning file (Grafana provisioning)",
                parameters=[
                    OpenApiParameter(
                        "format",
                        str,
                        description="yaml or json; else Accept decides (json if it names json), else yaml.",
                    ),
                    OpenApiParameter(
                        "decrypt",
                        str,
                        description='Secrets in clear when true ("1", "t", "true", ...); '
                        'else "[REDACTED]". Admin scope or a superuser only.',
                    ),
                    OpenApiParameter("download", str, description="true: served as an attachment (export.yaml)."),
                    OpenApiParameter("name", str, description="Only the contact point with this name."),
                ],
                responses={
                    (200, "text/yaml"): OpenApiResponse(EXPORT_DOCUMENT, EXPORT_ANSWER),
                    (200, "application/yaml"): OpenApiResponse(EXPORT_DOCUMENT, EXPORT_ANSWER),
                    (200, "application/json"): OpenApiResponse(EXPORT_DOCUMENT, EXPORT_ANSWER),
                    403: OpenApiResponse(
                        _ref("AccessDenied"), "A token without the admin scope, or decrypt=true without the right."
                    ),
                },
            ),
        )
