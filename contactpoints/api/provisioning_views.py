"""Grafana's provisioning API for contact points (contract §5, spec §7)."""

from __future__ import annotations

import secrets

from django.http import HttpResponse
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from contactpoints import provisioning
from contactpoints.api.auth import acts_as_superuser
from contactpoints.api.errors import error_response
from contactpoints.models import Integration

# Grafana's permission for reading secrets in clear (its access-denied answer names it).
DECRYPT_PERMISSION = "alert.provisioning.secrets:read"
# strconv.ParseBool's true words: Grafana reads `decrypt` and `download` with it.
GO_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})


def _provenance(request) -> str:
    return provisioning.provenance_from_header(request.headers.get("X-Disable-Provenance"))


def _not_found(uid: str) -> Response:
    return error_response(status.HTTP_404_NOT_FOUND, f"contact point with uid '{uid}' not found")


# Grafana's provisioning items are integrations; a contact point comes and goes with them.
class ContactPointCollection(APIView):
    permission_model = Integration

    def get(self, request):
        integrations = provisioning.list_integrations(request.query_params.get("name"))
        return Response([provisioning.to_embedded(integration) for integration in integrations])

    def post(self, request):
        try:
            integration = provisioning.create_integration(request.data, provenance=_provenance(request))
        except provisioning.ProvisioningError as exc:
            return error_response(status.HTTP_400_BAD_REQUEST, str(exc))
        return Response(provisioning.to_embedded(integration), status=status.HTTP_202_ACCEPTED)


class ContactPointItem(APIView):
    permission_model = Integration

    def put(self, request, uid: str):
        try:
            provisioning.update_integration(uid, request.data, provenance=_provenance(request))
        except provisioning.UnknownIntegration:
            return _not_found(uid)
        except provisioning.ProvisioningError as exc:
            return error_response(status.HTTP_400_BAD_REQUEST, str(exc))
        return Response({"message": "contactpoint updated"}, status=status.HTTP_202_ACCEPTED)

    def delete(self, request, uid: str):
        if not provisioning.delete_integration(uid):
            return _not_found(uid)
        return Response({"message": "contactpoint deleted"}, status=status.HTTP_202_ACCEPTED)


class _AnyAccept(BaseContentNegotiation):
    """The export chooses YAML or JSON itself (`format`, then Accept): DRF must neither answer
    406 to `Accept: text/yaml` nor read `?format=yaml` as a renderer. Errors stay JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return JSONRenderer(), JSONRenderer.media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


def export_format(request) -> str:
    """Grafana's rule: YAML by default, JSON when Accept mentions json; `format` wins."""
    asked = request.query_params.get("format")
    if asked in ("yaml", "json"):
        return asked
    return "json" if "json" in request.headers.get("Accept", "") else "yaml"


def _access_denied(permission: str) -> Response:
    """Grafana's access-control answer."""
    return Response(
        {
            "accessErrorId": f"ACE{secrets.randbelow(10**10):010d}",
            "message": f"You'll need additional permissions to perform this action. Permissions needed: {permission}",
            "title": "Access denied",
        },
        status=status.HTTP_403_FORBIDDEN,
    )


class ContactPointExport(APIView):
    permission_model = Integration
    content_negotiation_class = _AnyAccept

    def get(self, request):
        params = request.query_params
        decrypt = params.get("decrypt") in GO_TRUE
        if decrypt and not acts_as_superuser(request):  # secrets in clear: superusers only
            return _access_denied(DECRYPT_PERMISSION)
        fmt = export_format(request)
        contact_points = provisioning.exported_contact_points(params.get("name"))
        text = provisioning.dump(provisioning.export_document(contact_points, decrypt=decrypt), fmt)
        if params.get("download") in GO_TRUE:
            response = HttpResponse(text, content_type=f"application/{fmt}")
            response["Content-Disposition"] = f'attachment;filename="export.{fmt}"'
            return response
        # text/yaml, not application/yaml: browsers download the latter whatever the headers say.
        return HttpResponse(text, content_type="application/json" if fmt == "json" else "text/yaml")
