"""Every API error is JSON with a `message` (Grafana's shape), plus `errors` per field."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        return f"{key}: {_first_message(value)}"
    return str(detail)


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    body = {"message": _first_message(detail)}
    if isinstance(detail, dict):
        body["errors"] = detail
    response.data = body
    return response


def error_response(status: int, message: str, errors: dict | None = None, headers: dict | None = None) -> Response:
    body: dict = {"message": message}
    if errors:
        body["errors"] = errors
    return Response(body, status=status, headers=headers)
