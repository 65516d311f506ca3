"""GET contact-points (with each integration's health), PATCH contact-points/<uid> (our own settings)
and POST contact-points/<uid>/test."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from contactpoints import sending
from contactpoints.api.errors import error_response
from contactpoints.api.openapi import error_responses
from contactpoints.api.serializers import (
    ContactPointChangeSerializer,
    ContactPointSerializer,
    TestNotificationSerializer,
    TestResultSerializer,
)
from contactpoints.models import ContactPoint, Integration


@extend_schema(
    summary="List contact points",
    description="Every contact point, ordered by name, with its integrations: settings without secrets, "
    "`secureFields` saying which secrets are set, and each integration's health "
    "(`lastNotifyAttempt`, `lastNotifyAttemptDuration`, `lastNotifyAttemptError`, as in Grafana). Our own "
    "keys: `fallback` (a contact point's uid) and `unhealthySince` (self-monitoring's mark).",
)
class ContactPointList(generics.ListAPIView):
    permission_model = (ContactPoint, Integration)  # each with its integrations
    serializer_class = ContactPointSerializer
    pagination_class = None  # a handful of contact points; one query for them, one for integrations
    queryset = (
        ContactPoint.objects.order_by("name")
        .select_related("fallback")
        .prefetch_related(Prefetch("integrations", queryset=Integration.objects.order_by("position", "id")))
    )


class ContactPointChange(APIView):
    permission_model = ContactPoint

    @extend_schema(
        summary="Change a contact point's own settings",
        description="Sets what is ours beside Grafana's provisioning shape: `fallback`, the uid of the contact "
        "point that also gets a notification, with the failure in its text, when an integration here fails for "
        "good (null: none). Fields left out keep their value.",
        request=ContactPointChangeSerializer,
        responses={200: ContactPointChangeSerializer, **error_responses(400, 404)},
    )
    def patch(self, request, uid: str) -> Response:
        contact_point = ContactPoint.objects.filter(uid=uid).first()
        if contact_point is None:
            return error_response(status.HTTP_404_NOT_FOUND, f"no contact point with uid {uid!r}")
        body = ContactPointChangeSerializer(contact_point, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        body.save()
        return Response(body.data)


@extend_schema(
    summary="Send a test notification",
    description="Sends a test alert (optionally with the given labels and annotations) to every integration "
    "of the contact point now, and answers with one result per integration. Nothing is stored.",
    parameters=[
        OpenApiParameter("integration", str, description="Test only the integration with this uid.", required=False)
    ],
    request=TestNotificationSerializer,
    responses={200: TestResultSerializer(many=True), **error_responses(400, 404)},
)
class ContactPointTest(APIView):
    permission_model = ContactPoint
    # As in the admin: a test pages real people, so viewing is not enough.
    permission_actions = {"POST": "change"}

    def post(self, request, uid: str) -> Response:
        contact_point = ContactPoint.objects.filter(uid=uid).first()
        if contact_point is None:
            return error_response(status.HTTP_404_NOT_FOUND, f"no contact point with uid {uid!r}")
        body = TestNotificationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        integrations = contact_point.integrations.all()
        only = request.query_params.get("integration")
        if only is not None:
            integrations = integrations.filter(uid=only)
            if not integrations:
                return error_response(
                    status.HTTP_404_NOT_FOUND, f"contact point {uid!r} has no integration with uid {only!r}"
                )
        results = sending.send_test_notification(
            contact_point,
            integrations=integrations,
            labels=body.validated_data.get("labels"),
            annotations=body.validated_data.get("annotations"),
        )
        return Response(TestResultSerializer(results, many=True).data)
