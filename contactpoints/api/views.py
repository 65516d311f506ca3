"""The API besides intake, provisioning, contact points and templates: deliveries, integration
types, health, metrics, and JSON answers for unknown API URLs."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views import defaults
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, generics, permissions, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from contactpoints import metrics, queue
from contactpoints.api.errors import error_response
from contactpoints.api.openapi import error_responses
from contactpoints.api.serializers import (
    DeliveryDetailSerializer,
    DeliveryFilterSerializer,
    DeliverySerializer,
    IntegrationTypeSerializer,
)
from contactpoints.models import Delivery, Integration
from contactpoints.redis_client import REDIS_ERRORS, get_redis
from integrations.registry import PRESETS, all_types


class StrictLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset pages, but a limit or offset that is not a number is a 400 naming it,
    not silently the first page; a limit above MAX is cut down to MAX."""

    max_limit = 1000
    MAX_OFFSET = 2**63 - 1  # PostgreSQL's bigint: anything beyond is an error there

    def get_limit(self, request) -> int:
        given = request.query_params.get(self.limit_query_param)
        return (
            self.default_limit if given is None else min(self._number(given, self.limit_query_param, 1), self.max_limit)
        )

    def get_offset(self, request) -> int:
        given = request.query_params.get(self.offset_query_param)
        return 0 if given is None else self._number(given, self.offset_query_param, 0)

    def _number(self, given: str, name: str, minimum: int) -> int:
        try:
            number = int(given)
        except ValueError:
            number = None
        if number is None or not minimum <= number <= self.MAX_OFFSET:
            raise exceptions.ValidationError({name: [f"must be a whole number of at least {minimum}"]})
        return number

    def get_schema_operation_parameters(self, view) -> list[dict]:
        minimums = {self.limit_query_param: 1, self.offset_query_param: 0}
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"].update(minimum=minimums[parameter["name"]], maximum=self.MAX_OFFSET)
            if parameter["name"] == self.limit_query_param:
                parameter["description"] = (
                    f"Items per page: {self.default_limit} unless given, at most {self.max_limit}."
                )
        return parameters


@extend_schema(
    summary="List deliveries",
    description="Delivery history, newest first: one delivery per notification and integration.",
    parameters=[DeliveryFilterSerializer],
    responses={200: DeliverySerializer(many=True), **error_responses(400)},
)
class DeliveryList(generics.ListAPIView):
    permission_model = Delivery
    serializer_class = DeliverySerializer
    pagination_class = StrictLimitOffsetPagination

    def get_queryset(self):
        query = DeliveryFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)  # an unknown status is a mistake, not an empty page
        filters = {
            "integration__contact_point__uid": query.validated_data.get("contact_point"),
            "status": query.validated_data.get("status"),
            "integration__type": query.validated_data.get("integration_type"),
        }
        queryset = Delivery.objects.select_related("integration__contact_point").order_by("-created_at")
        return queryset.filter(**{lookup: value for lookup, value in filters.items() if value})


@extend_schema(summary="Read a delivery with its attempts")
class DeliveryDetail(generics.RetrieveAPIView):
    serializer_class = DeliveryDetailSerializer
    queryset = Delivery.objects.select_related("integration__contact_point").prefetch_related("attempt_set")


class DeliveryRetry(APIView):
    permission_model = Delivery
    permission_actions = {"POST": "change"}  # a retry changes the delivery; it adds nothing

    @extend_schema(
        summary="Send a failed or paused delivery again",
        description="Starts a fresh budget of attempts. Only failed or paused deliveries can be retried.",
        request=None,
        responses={202: DeliverySerializer, **error_responses(409)},
    )
    def post(self, request, pk) -> Response:
        found = get_object_or_404(Delivery, pk=pk)
        if found.status not in queue.RETRYABLE_BY_HAND:
            return error_response(
                status.HTTP_409_CONFLICT,
                f"only failed or paused deliveries can be retried; this one is {found.status}",
            )
        queue.retry_failed(found)
        found.refresh_from_db()
        return Response(DeliverySerializer(found).data, status=status.HTTP_202_ACCEPTED)


class IntegrationTypes(APIView):
    permission_model = Integration  # the catalogue of integration types: for who may see integrations

    @extend_schema(
        summary="List integration types",
        description="Every type with its fields, then the presets (types offered under a provider's name): "
        "the catalogue that forms are built from.",
        responses={200: IntegrationTypeSerializer(many=True)},
    )
    def get(self, request) -> Response:
        return Response([cls.describe() for cls in all_types().values()] + [preset.describe() for preset in PRESETS])


# -- outside /api/v1/: health and metrics, for load balancers and Prometheus --------------------


class AnswerAsIs(BaseContentNegotiation):
    """These answers have one format; a client's Accept header must not turn them into 406."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class PublicView(APIView):
    authentication_classes = ()
    permission_classes = (permissions.AllowAny,)
    content_negotiation_class = AnswerAsIs


HEALTH = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "unavailable"]),
        "database": serializers.CharField(help_text='"ok" or "failed: <reason>"'),
        "redis": serializers.CharField(help_text='"ok" or "failed: <reason>"'),
    },
)


class Healthz(PublicView):
    @extend_schema(
        summary="Health", tags=["health"], responses={200: HEALTH, 503: OpenApiResponse(HEALTH, "Something failed.")}
    )
    def get(self, request) -> JsonResponse:
        """200 when the database and Redis answer, else 503 naming what failed."""
        checks = {}
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure is "not healthy"
            checks["database"] = f"failed: {type(exc).__name__}"
        try:
            get_redis().ping()
            checks["redis"] = "ok"
        except REDIS_ERRORS as exc:
            checks["redis"] = f"failed: {type(exc).__name__}"
        healthy = all(value == "ok" for value in checks.values())
        return JsonResponse({"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503)


def _has_metrics_token(request) -> bool:
    """True when METRICS_TOKEN is unset, or the request carries it as a Bearer token."""
    expected = settings.METRICS_TOKEN
    if not expected:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Compared in constant time: how long a wrong token took must not tell how much of it was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


class Metrics(PublicView):
    @extend_schema(
        summary="Prometheus metrics",
        description="Open unless METRICS_TOKEN is set; then it needs `Authorization: Bearer <METRICS_TOKEN>`.",
        tags=["health"],
        responses={
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, "Prometheus text format 0.0.4."),
            401: OpenApiResponse(description="METRICS_TOKEN is set and the request does not carry it."),
        },
    )
    def get(self, request) -> HttpResponse:
        if not _has_metrics_token(request):
            refused = JsonResponse({"message": "metrics need `Authorization: Bearer <METRICS_TOKEN>`"}, status=401)
            refused["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return refused
        return HttpResponse(metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")


healthz = Healthz.as_view()
metrics_view = Metrics.as_view()


# -- answers for URLs that match nothing, or break ---------------------------------------------


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception):
    if _is_api(request):
        return JsonResponse({"message": f"no API endpoint at {request.path}"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse({"message": "internal server error"}, status=500)
    return defaults.server_error(request)
