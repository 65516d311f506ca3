"""Notification templates: list, create, read, replace, delete, and preview (contract §6)."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from contactpoints.api.auth import require_model_permission
from contactpoints.api.errors import error_response
from contactpoints.api.openapi import error_responses
from contactpoints.api.serializers import (
    TEMPLATE_NAME_SCHEMA,
    NotificationTemplateSerializer,
    PreviewErrorSerializer,
    PreviewOutputSerializer,
    TemplateContentSerializer,
    TemplateErrorSerializer,
    TemplatePreviewSerializer,
)
from contactpoints.intake import IntakeError, TooManyAlerts
from contactpoints.models import NotificationTemplate
from contactpoints.previews import render_preview
from contactpoints.template_syntax import TemplateProblem, check_template, detect_syntax

TEMPLATE_ERROR = OpenApiResponse(
    TemplateErrorSerializer,
    description="The body is malformed, or the template does not parse (with its engine, line and column).",
)


def _checked(name: str, content: str, syntax: str | None) -> tuple[str, Response | None]:
    """The template's syntax (detected when the client did not say), and a 400 naming the engine,
    line and column when it does not parse (else None)."""
    syntax = syntax or detect_syntax(content)
    try:
        check_template(name, content, syntax)
    except TemplateProblem as exc:
        response = error_response(status.HTTP_400_BAD_REQUEST, f"content: {exc}", {"content": [str(exc)]})
        response.data.update(line=exc.line, column=exc.column)
        return syntax, response
    return syntax, None


def _not_found(name: str) -> Response:
    return error_response(status.HTTP_404_NOT_FOUND, f"no template named {name!r}")


def _shown(template: NotificationTemplate) -> dict:
    return NotificationTemplateSerializer(template).data


class TemplateList(APIView):
    permission_model = NotificationTemplate

    @extend_schema(summary="List notification templates", responses={200: NotificationTemplateSerializer(many=True)})
    def get(self, request) -> Response:
        templates = NotificationTemplate.objects.order_by("name")
        return Response(NotificationTemplateSerializer(templates, many=True).data)

    @extend_schema(
        summary="Create a notification template",
        request=NotificationTemplateSerializer,
        responses={201: NotificationTemplateSerializer, 400: TEMPLATE_ERROR, **error_responses(409)},
    )
    def post(self, request) -> Response:
        body = NotificationTemplateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        name, content = body.validated_data["name"], body.validated_data["content"]
        syntax, invalid = _checked(name, content, body.validated_data.get("syntax"))
        if invalid:
            return invalid
        conflict = error_response(
            status.HTTP_409_CONFLICT, f"a template named {name!r} exists; PUT templates/{name} to change it"
        )
        if NotificationTemplate.objects.filter(name=name).exists():
            return conflict
        try:
            with transaction.atomic():
                template = NotificationTemplate.objects.create(name=name, content=content, syntax=syntax)
        except IntegrityError:  # created by a concurrent request since the check above
            return conflict
        return Response(_shown(template), status=status.HTTP_201_CREATED)


# GET, PUT and DELETE templates/preview reach the preview, not a template: the name is reserved.
NAME_IN_PATH = OpenApiParameter("name", TEMPLATE_NAME_SCHEMA, OpenApiParameter.PATH)


@extend_schema_view(**{method: extend_schema(parameters=[NAME_IN_PATH]) for method in ("get", "put", "delete")})
class TemplateDetail(APIView):
    permission_model = NotificationTemplate

    @extend_schema(
        summary="Read a notification template",
        responses={200: NotificationTemplateSerializer, **error_responses(404)},
    )
    def get(self, request, name: str) -> Response:
        template = NotificationTemplate.objects.filter(name=name).first()
        return Response(_shown(template)) if template else _not_found(name)

    @extend_schema(
        summary="Create or replace a notification template",
        description="Sets the content of the template with this name, creating it when there is none.",
        request=TemplateContentSerializer,
        responses={200: NotificationTemplateSerializer, 201: NotificationTemplateSerializer, 400: TEMPLATE_ERROR},
    )
    def put(self, request, name: str) -> Response:
        if not NotificationTemplate.objects.filter(name=name).exists():
            require_model_permission(request, "add", NotificationTemplate)  # this PUT creates it
        body = TemplateContentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        named = NotificationTemplateSerializer(data={"name": name, **body.validated_data})
        named.is_valid(raise_exception=True)
        content = named.validated_data["content"]
        syntax, invalid = _checked(name, content, named.validated_data.get("syntax"))
        if invalid:
            return invalid
        with transaction.atomic():
            template, created = NotificationTemplate.objects.update_or_create(
                name=name, defaults={"content": content, "syntax": syntax}
            )
        return Response(_shown(template), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(summary="Delete a notification template", responses={204: None, **error_responses(404)})
    def delete(self, request, name: str) -> Response:
        deleted, _ = NotificationTemplate.objects.filter(name=name).delete()
        return Response(status=status.HTTP_204_NO_CONTENT) if deleted else _not_found(name)


@extend_schema(
    summary="Preview a template",
    description="Renders the template against the given alerts (or sample ones) with the stored user "
    "templates. A template that does not render is a normal answer here: 200 with the error and its line.",
    request=TemplatePreviewSerializer,
    responses={
        200: PolymorphicProxySerializer(
            component_name="TemplatePreviewResult",
            serializers=[PreviewOutputSerializer, PreviewErrorSerializer],
            resource_type_field_name=None,
        ),
        **error_responses(400),
    },
)
class TemplatePreview(APIView):
    permission_model = NotificationTemplate
    permission_actions = {"POST": "view"}  # renders, stores nothing (as the admin's preview)

    def post(self, request) -> Response:
        body = TemplatePreviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            result = render_preview(
                body.validated_data["template"], body.validated_data.get("alerts"), body.validated_data.get("syntax")
            )
        except IntakeError as exc:
            errors = {f"alerts{path}": message for path, message in exc.errors.items()}
            return error_response(status.HTTP_400_BAD_REQUEST, f"invalid alerts: {exc}", errors)
        except TooManyAlerts:
            limit = settings.INTAKE_MAX_ALERTS
            return error_response(
                status.HTTP_400_BAD_REQUEST, f"at most {limit} alerts", {"alerts": f"at most {limit}"}
            )
        return Response(result)
