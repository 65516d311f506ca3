"""Grafana's provisioning API for contact points (contract §5, spec §7)."""

from __future__ import annotations

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from contactpoints import provisioning
from contactpoints.api.errors import error_response
from contactpoints.models import Integration


def _provenance(request) -> str:
    return provisioning.provenance_from_header(request.headers.get("X-Disable-Provenance"))


class ContactPointCollection(APIView):
    def get(self, request):
        integrations = Integration.objects.select_related("contact_point").order_by(
            "contact_point__name", "position", "id"
        )
        if request.query_params.get("name"):
            integrations = integrations.filter(contact_point__name=request.query_params["name"])
        return Response([provisioning.to_embedded(i) for i in integrations])

    def post(self, request):
        try:
            integration = provisioning.save_integration(request.data, provenance=_provenance(request))
        except provisioning.ProvisioningError as exc:
            return error_response(status.HTTP_400_BAD_REQUEST, str(exc))
        return Response(provisioning.to_embedded(integration), status=status.HTTP_202_ACCEPTED)


class ContactPointItem(APIView):
    def put(self, request, uid: str):
        try:
            integration = provisioning.save_integration(request.data, provenance=_provenance(request), uid=uid)
        except provisioning.ProvisioningError as exc:
            return error_response(status.HTTP_400_BAD_REQUEST, str(exc))
        except LookupError:
            return error_response(status.HTTP_404_NOT_FOUND, f"contact point with uid {uid!r} not found")
        return Response(provisioning.to_embedded(integration), status=status.HTTP_202_ACCEPTED)

    def delete(self, request, uid: str):
        if not provisioning.delete_integration(uid):
            return error_response(status.HTTP_404_NOT_FOUND, f"contact point with uid {uid!r} not found")
        return Response({"message": "contactpoint deleted"}, status=status.HTTP_202_ACCEPTED)
