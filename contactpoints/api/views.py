"""The API besides intake and provisioning: deliveries, integration types, health, metrics."""

from __future__ import annotations

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from rest_framework import generics, status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from contactpoints import delivery, metrics
from contactpoints.api.errors import error_response
from contactpoints.api.serializers import DeliveryDetailSerializer, DeliverySerializer
from contactpoints.models import Delivery
from contactpoints.redis_client import REDIS_ERRORS, get_redis
from integrations.registry import PRESETS, all_types


class DeliveryList(generics.ListAPIView):
    serializer_class = DeliverySerializer

    def get_queryset(self):
        queryset = Delivery.objects.select_related("integration__contact_point").order_by("-created_at")
        params = self.request.query_params
        if params.get("contact_point"):
            queryset = queryset.filter(integration__contact_point__uid=params["contact_point"])
        if params.get("status"):
            queryset = queryset.filter(status=params["status"])
        if params.get("integration_type"):
            queryset = queryset.filter(integration__type=params["integration_type"])
        return queryset


class DeliveryDetail(generics.RetrieveAPIView):
    serializer_class = DeliveryDetailSerializer
    queryset = Delivery.objects.select_related("integration__contact_point").prefetch_related("attempt_set")


@api_view(["POST"])
def retry_delivery(request, pk):
    found = get_object_or_404(Delivery, pk=pk)
    if found.status not in delivery.RETRYABLE_BY_HAND:
        return error_response(
            status.HTTP_409_CONFLICT, f"only failed or paused deliveries can be retried; this one is {found.status}"
        )
    delivery.retry_failed(found)
    found.refresh_from_db()
    return Response(DeliverySerializer(found).data, status=status.HTTP_202_ACCEPTED)


@api_view(["GET"])
def integration_types(request):
    """Every type with its fields, then the presets (types offered under a provider's name)."""
    return Response([cls.describe() for cls in all_types().values()] + [preset.describe() for preset in PRESETS])


def healthz(request):
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


def metrics_view(request):
    return HttpResponse(metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")
