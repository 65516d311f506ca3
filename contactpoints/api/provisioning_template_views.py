"""Grafana's provisioning API for notification templates: /api/v1/provisioning/templates[/<name>].

Bodies and answers are Grafana's (NotificationTemplateContent in, NotificationTemplate out); errors
have Grafana's shape (`message`, `messageId`, `statusCode`), with a message that says what to change.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from contactpoints import template_provisioning as templates
from contactpoints.api.auth import require_model_permission
from contactpoints.models import NotificationTemplate
from contactpoints.provisioning import ProvisioningError, provenance_from_header

# Grafana's message ids (pkg/services/ngalert/provisioning/errors.go).
NOT_FOUND_ID = "alerting.notifications.templates.notFound"
INVALID_ID = "alerting.notifications.templates.invalidFormat"
CONFLICT_ID = "alerting.notifications.conflict"


GRAFANA_TEMPLATE = {
    "type": "object",
    "description": "Grafana's NotificationTemplate: a Go template (its `{{ define }}`s).",
    "required": ["name", "template", "provenance", "version"],
    "properties": {
        "name": {"type": "string", "example": "team.message"},
        "template": {
            "type": "string",
            "example": '{{ define "team.message" }}{{ len .Alerts.Firing }} firing{{ end }}',
        },
        "provenance": {"type": "string", "enum": ["", "api", "file"]},
        "version": {
            "type": "string",
            "description": "Changes when the content changes; send it back to update safely.",
        },
    },
}
TEMPLATE_CONTENT = {
    "type": "object",
    "description": "Grafana's NotificationTemplateContent. Content without `{{ define }}` is wrapped in one "
    "named after the template, as Grafana does.",
    "required": ["template"],
    "properties": {
        "template": {"type": "string", "minLength": 1},
        "version": {"type": "string", "description": "The version last read; another one is a 409 conflict."},
    },
}
GRAFANA_ERROR = OpenApiResponse(
    {
        "type": "object",
        "required": ["message"],  # messageId and statusCode too, but for a body that is not JSON at all
        "properties": {
            "message": {"type": "string"},
            "messageId": {"type": "string"},
            "statusCode": {"type": "integer"},
        },
    },
    "Grafana's error shape; the message says what to change (for a template: engine, line and column).",
)
PROVENANCE_HEADER = OpenApiParameter(
    "X-Disable-Provenance",
    str,
    OpenApiParameter.HEADER,
    description="Present (any value but false): the template stays editable in the admin; "
    "else it is managed through the API.",
)
VERSION_QUERY = OpenApiParameter("version", str, description="Delete only if this is still the stored version.")


def grafana_error(status_code: int, message_id: str, message: str) -> Response:
    return Response({"message": message, "messageId": message_id, "statusCode": status_code}, status=status_code)


def _provenance(request) -> str:
    """X-Disable-Provenance, as for contact points: present → none (editable in the admin), else api."""
    return provenance_from_header(request.headers.get("X-Disable-Provenance"))


def _not_found(name: str) -> Response:
    return grafana_error(status.HTTP_404_NOT_FOUND, NOT_FOUND_ID, f"template '{name}' not found")


def _content_of(payload: Any) -> tuple[Any, str]:
    """NotificationTemplateContent: `template` (checked later, with the name) and an optional `version`."""
    if not isinstance(payload, dict):
        raise ProvisioningError('the body must be a JSON object: {"template": "...", "version"?: "..."}')
    version = payload.get("version", "")
    if not isinstance(version, str):
        raise ProvisioningError("version must be a string (the version a GET answered)")
    return payload.get("template"), version


class TemplateCollection(APIView):
    permission_model = NotificationTemplate

    @extend_schema(
        summary="List notification templates (Grafana provisioning)",
        responses={200: OpenApiResponse({"type": "array", "items": GRAFANA_TEMPLATE})},
    )
    def get(self, request) -> Response:
        # Grafana answers null when there are none; an empty list reads the same to its clients.
        return Response([templates.to_grafana(template) for template in NotificationTemplate.objects.order_by("name")])


class TemplateItem(APIView):
    permission_model = NotificationTemplate
    request_body_required = True

    @extend_schema(
        summary="Read a notification template (Grafana provisioning)",
        responses={200: OpenApiResponse(GRAFANA_TEMPLATE), 404: GRAFANA_ERROR},
    )
    def get(self, request, name: str) -> Response:
        template = templates.find_template(name)
        return Response(templates.to_grafana(template)) if template else _not_found(name)

    @extend_schema(
        summary="Create or replace a notification template (Grafana provisioning)",
        parameters=[PROVENANCE_HEADER],
        request={"application/json": TEMPLATE_CONTENT},
        responses={202: OpenApiResponse(GRAFANA_TEMPLATE), 400: GRAFANA_ERROR, 404: GRAFANA_ERROR, 409: GRAFANA_ERROR},
    )
    def put(self, request, name: str) -> Response:
        if templates.find_template(name) is None:
            require_model_permission(request, "add", NotificationTemplate)  # this PUT creates it
        try:
            content, version = _content_of(request.data)
            spec = templates.template_spec(name, content)
            with transaction.atomic():
                templates.apply_template(spec, provenance=_provenance(request), version=version)
        except templates.TemplateNotFound:
            return _not_found(name)
        except templates.VersionConflict as exc:
            return grafana_error(status.HTTP_409_CONFLICT, CONFLICT_ID, str(exc))
        except ProvisioningError as exc:
            return grafana_error(status.HTTP_400_BAD_REQUEST, INVALID_ID, str(exc))
        return Response(templates.to_grafana(templates.find_template(name)), status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Delete a notification template (Grafana provisioning)",
        description="204 also when there is no such template, as Grafana answers.",
        parameters=[VERSION_QUERY],
        responses={204: None, 409: GRAFANA_ERROR},
    )
    def delete(self, request, name: str) -> Response:
        try:
            with transaction.atomic():
                templates.delete_template(name, version=request.query_params.get("version", ""))
        except templates.VersionConflict as exc:
            return grafana_error(status.HTTP_409_CONFLICT, CONFLICT_ID, str(exc))
        return Response(status=status.HTTP_204_NO_CONTENT)  # Grafana: also when there was none
