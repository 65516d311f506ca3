"""POST /api/v1/intake/<contact_point_uid> (contract §4)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import resolve, reverse
from django.urls.converters import SlugConverter
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from contactpoints import ratelimit, services
from contactpoints.api.auth import IntakeScope, bearer_token
from contactpoints.api.errors import error_response
from contactpoints.api.outages import outage_response
from contactpoints.intake import IntakeError, ParsedIntake, TooManyAlerts, parse_intake
from contactpoints.json_limits import JSONTooDeep, load_json
from contactpoints.models import ContactPoint, hash_token
from contactpoints.rows import get_one
from contactpoints.storable import first_unstorable

# What storing a notification needs of its contact point.
CONTACT_POINT_FIELDS = ("id", "uid", "name", "paused")


@cache
def intake_rate() -> ratelimit.Rate:
    return ratelimit.Rate.parse(settings.INTAKE_RATE_LIMIT)


def _token_identity(token_hash: str) -> str:
    return f"token:{token_hash[:16]}"


def _caller_identity(request) -> str:
    token_hash = getattr(request.auth, "token_hash", None)
    return _token_identity(token_hash) if token_hash else f"user:{request.user.pk}"


class Refused(Exception):
    """A request the intake answers with an error (the API's JSON error shape)."""

    def __init__(self, status_code: int, message: str, errors: dict | None = None):
        super().__init__(message)
        self.status_code, self.message, self.errors = status_code, message, errors

    def response(self) -> Response:
        return error_response(self.status_code, self.message, self.errors)


def read_body(request: HttpRequest) -> Any:
    """The JSON body, within INTAKE_MAX_BYTES. Raises Refused (415, 413, 400)."""
    content_type = request.content_type.split(";", 1)[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise Refused(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"unsupported content type {content_type or '(none)'!r}: send application/json",
        )
    too_large = Refused(
        status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        f"body larger than {settings.INTAKE_MAX_BYTES} bytes (INTAKE_MAX_BYTES)",
    )
    if int(request.META.get("CONTENT_LENGTH") or 0) > settings.INTAKE_MAX_BYTES:
        raise too_large
    try:
        raw = request.body
    except RequestDataTooBig:
        raise too_large from None
    if len(raw) > settings.INTAKE_MAX_BYTES:
        raise too_large
    try:
        return load_json(raw)
    except JSONTooDeep as exc:
        raise Refused(status.HTTP_400_BAD_REQUEST, str(exc), {"body": str(exc)}) from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise Refused(status.HTTP_400_BAD_REQUEST, f"malformed JSON: {exc}", {"body": "malformed JSON"}) from None


def parse_alerts(body: Any) -> ParsedIntake:
    """Raises Refused (413 over INTAKE_MAX_ALERTS, 400 naming each bad field)."""
    try:
        return parse_intake(body, max_alerts=settings.INTAKE_MAX_ALERTS)
    except TooManyAlerts as exc:
        raise Refused(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, str(exc)) from None
    except IntakeError as exc:
        raise Refused(status.HTTP_400_BAD_REQUEST, f"invalid alert payload: {exc}", exc.errors) from None


def no_contact_point(contact_point_uid: str) -> str:
    return f"no contact point with uid {contact_point_uid!r}"


# Set on a request whose rate the hot path already counted: (seconds to wait, or None).
RATE_COUNTED = "intake_rate_counted"


def accept_on_the_hot_path(request: HttpRequest, contact_point_uid: str) -> HttpResponse | None:
    """The common request, answered without DRF's dispatch, in one database statement and a wait
    for the disk: a POST with a Bearer token and a valid body, on PostgreSQL, without Idempotency-Key.

    None hands the request to the full view, which authenticates first and then answers with the
    same checks in the same order: every refusal (a bad token, a bad body, the rate limit) is
    worded there, once.
    """
    if request.method != "POST" or "HTTP_IDEMPOTENCY_KEY" in request.META or not services.stores_in_one_statement():
        return None
    plain = bearer_token(request.META.get("HTTP_AUTHORIZATION", ""))
    if plain is None:
        return None
    token_hash = hash_token(plain)
    retry_after = ratelimit.check(_token_identity(token_hash), intake_rate())
    setattr(request, RATE_COUNTED, (retry_after,))
    if retry_after is not None:
        return None
    try:
        parsed = parse_alerts(read_body(request))
    except Refused:
        return None
    try:
        answer = services.accept_with_token(token_hash, contact_point_uid, parsed)
    except services.UnknownToken:
        return None
    except ContactPoint.DoesNotExist:
        not_found = JsonResponse({"message": no_contact_point(contact_point_uid)}, status=status.HTTP_404_NOT_FOUND)
        return _with_length(not_found)
    return _with_length(JsonResponse(answer, status=status.HTTP_202_ACCEPTED))


def _with_length(response: HttpResponse) -> HttpResponse:
    """Content-Length, as CommonMiddleware gives every other answer: without it, gunicorn would chunk
    the answer (or, to an HTTP/1.0 client, close the connection after it)."""
    response["Content-Length"] = str(len(response.content))
    return response


class IntakeHotPathMiddleware:
    """The intake's common request answered before the session, CSRF, authentication and message
    middleware, the URL resolver's walk and DRF's dispatch, none of which it uses: a fifth of the
    CPU of a request on the busiest path. Placed after the middleware whose headers every answer
    carries (settings.MIDDLEWARE); anything the hot path does not take goes down the whole stack.

    A database or Redis outage on the hot path answers 503 as the view's would (OutageMiddleware).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        # The intake's route, `<prefix><slug>` with or without a trailing slash (contactpoints.api.urls),
        # matched here without walking every route of the site.
        self.prefix = reverse("intake", args=["uid"]).removesuffix("uid")
        self.uid = re.compile(f"({SlugConverter.regex})/?")
        if getattr(resolve(f"{self.prefix}uid/").func, "view_class", None) is not IntakeView:
            raise ImproperlyConfigured(f"{self.prefix}<uid>/ is no longer the intake: update IntakeHotPathMiddleware")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path_info.startswith(self.prefix):
            uid = self.uid.fullmatch(request.path_info, len(self.prefix))
            if uid is not None:
                try:
                    answered = accept_on_the_hot_path(request, uid.group(1))
                except Exception as exc:
                    answered = outage_response(request, exc)
                    if answered is None:
                        raise
                if answered is not None:
                    return answered
        return self.get_response(request)


class IntakeView(APIView):
    """The whole intake: what the hot path (IntakeHotPathMiddleware) hands on, and every refusal."""

    permission_classes = [IntakeScope]
    parser_classes: list = []  # the body is read and limited here, not by DRF's parsers

    def post(self, request, contact_point_uid: str):
        counted = getattr(request, RATE_COUNTED, None)
        retry_after = counted[0] if counted else ratelimit.check(_caller_identity(request), intake_rate())
        if retry_after is not None:
            return error_response(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"rate limit of {settings.INTAKE_RATE_LIMIT} exceeded",
                headers={"Retry-After": str(int(retry_after + 0.999))},
            )
        try:
            body = read_body(request)
            contact_point = get_one(ContactPoint, CONTACT_POINT_FIELDS, uid=contact_point_uid)
            if contact_point is None:
                raise Refused(status.HTTP_404_NOT_FOUND, no_contact_point(contact_point_uid))
            parsed = parse_alerts(body)
        except Refused as refused:
            return refused.response()
        idempotency_key = request.headers.get("Idempotency-Key", "").strip()[:255]
        if first_unstorable(idempotency_key) is not None:
            return error_response(
                status.HTTP_400_BAD_REQUEST,
                "invalid Idempotency-Key header",
                {"Idempotency-Key": "must not contain NUL characters"},
            )
        answer = services.accept_notification(contact_point, parsed, idempotency_key=idempotency_key)
        return Response(answer, status=status.HTTP_202_ACCEPTED)
