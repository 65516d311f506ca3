"""POST /api/v1/intake/<contact_point_uid> (contract §4)."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from contactpoints import ratelimit, services
from contactpoints.api.auth import IntakeScope
from contactpoints.api.errors import error_response
from contactpoints.api.parsers import JSONTooDeep, load_json
from contactpoints.intake import IntakeError, TooManyAlerts, parse_intake
from contactpoints.models import ContactPoint
from contactpoints.rows import get_one
from contactpoints.storable import first_unstorable

# What storing a notification needs of its contact point.
CONTACT_POINT_FIELDS = ("id", "uid", "name", "paused")


@cache
def intake_rate() -> ratelimit.Rate:
    return ratelimit.Rate.parse(settings.INTAKE_RATE_LIMIT)


def _caller_identity(request) -> str:
    token_hash = getattr(request.auth, "token_hash", None)
    return f"token:{token_hash[:16]}" if token_hash else f"user:{request.user.pk}"


class IntakeView(APIView):
    permission_classes = [IntakeScope]
    parser_classes: list = []  # the body is read and limited here, not by DRF's parsers

    def post(self, request, contact_point_uid: str):
        retry_after = ratelimit.check(_caller_identity(request), intake_rate())
        if retry_after is not None:
            return error_response(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"rate limit of {settings.INTAKE_RATE_LIMIT} exceeded",
                headers={"Retry-After": str(int(retry_after + 0.999))},
            )
        content_type = request.content_type.split(";", 1)[0].strip().lower()
        if content_type != "application/json" and not content_type.endswith("+json"):
            return error_response(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                f"unsupported content type {content_type or '(none)'!r}: send application/json",
            )
        too_large = error_response(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"body larger than {settings.INTAKE_MAX_BYTES} bytes (INTAKE_MAX_BYTES)",
        )
        if int(request.META.get("CONTENT_LENGTH") or 0) > settings.INTAKE_MAX_BYTES:
            return too_large
        try:
            raw = request.body
        except RequestDataTooBig:
            return too_large
        if len(raw) > settings.INTAKE_MAX_BYTES:
            return too_large
        try:
            body = load_json(raw)
        except JSONTooDeep as exc:
            return error_response(status.HTTP_400_BAD_REQUEST, str(exc), {"body": str(exc)})
        except ValueError as exc:  # UnicodeDecodeError included
            return error_response(status.HTTP_400_BAD_REQUEST, f"malformed JSON: {exc}", {"body": "malformed JSON"})
        contact_point = get_one(ContactPoint, CONTACT_POINT_FIELDS, uid=contact_point_uid)
        if contact_point is None:
            return error_response(status.HTTP_404_NOT_FOUND, f"no contact point with uid {contact_point_uid!r}")
        try:
            parsed = parse_intake(body, max_alerts=settings.INTAKE_MAX_ALERTS)
        except TooManyAlerts as exc:
            return error_response(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, str(exc))
        except IntakeError as exc:
            return error_response(status.HTTP_400_BAD_REQUEST, f"invalid alert payload: {exc}", exc.errors)
        idempotency_key = request.headers.get("Idempotency-Key", "").strip()[:255]
        if first_unstorable(idempotency_key) is not None:
            return error_response(
                status.HTTP_400_BAD_REQUEST,
                "invalid Idempotency-Key header",
                {"Idempotency-Key": "must not contain NUL characters"},
            )
        answer = services.accept_notification(contact_point, parsed, idempotency_key=idempotency_key)
        return Response(answer, status=status.HTTP_202_ACCEPTED)
