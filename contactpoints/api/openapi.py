"""How the OpenAPI schema (drf-spectacular) describes authentication and errors.

Errors every operation can give are added here once, not written on each view: 401/403 where
credentials are needed, 400/415 where a JSON body is read, 404 where the path names something.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions

from contactpoints.api.serializers import ErrorSerializer

ERROR_DESCRIPTIONS = {
    400: "The request is malformed; `errors` names each bad field.",
    401: "No credentials, or they are wrong or revoked.",
    403: (
        "The credentials do not allow this (a token of scope `intake`, a user who is not staff or lacks "
        "the model permission); the message says what is needed."
    ),
    404: "Nothing by that name or uid.",
    409: "The request conflicts with the current state.",
    413: "The body is too large (`INTAKE_MAX_BYTES`) or holds too many alerts (`INTAKE_MAX_ALERTS`).",
    415: "The body is not JSON (send `Content-Type: application/json`).",
    429: "Too many requests; wait the seconds that `Retry-After` says.",
}
BODY_METHODS = ("POST", "PUT", "PATCH")


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """`{code: the error shape}` for extend_schema(responses=...)."""
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in codes}


class AutoSchema(openapi.AutoSchema):
    def _implied_error_codes(self) -> list[int]:
        codes = []
        if not any(isinstance(p, permissions.AllowAny) for p in self.view.get_permissions()):
            codes += [401, 403]
        if self.method in BODY_METHODS and self.view.get_parsers():
            codes += [400, 415]
        if "{" in self.path:
            codes.append(404)
        return codes

    def _get_request_body(self, direction: str = "request") -> dict[str, Any] | None:
        body = super()._get_request_body(direction)
        if body and getattr(self.view, "request_body_required", False):
            body["required"] = True  # a body given as a raw schema is optional unless said so
        return body

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction == "response":
            for code, response in error_responses(*self._implied_error_codes()).items():
                if str(code) not in responses:
                    responses[str(code)] = self._get_response_for_code(response, str(code))
        return responses


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "contactpoints.api.auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (`cpt_...`). Scope `intake` may only post alerts; `admin` may use "
            "the whole API. Create one with `python manage.py create_api_token NAME --scope admin` "
            "or in the admin.",
        }


class StaffBasicScheme(OpenApiAuthenticationExtension):
    target_class = "contactpoints.api.auth.StaffBasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {"type": "http", "scheme": "basic", "description": "The username and password of a staff user."}
