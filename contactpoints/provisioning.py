"""Grafana's provisioning model (spec §6, §7): one integration = one EmbeddedContactPoint."""

from __future__ import annotations

import json
import re
from typing import Any

from django.db import transaction

from contactpoints.models import ContactPoint, Integration, Provenance, uid_from_name
from integrations.base import SettingsError
from integrations.registry import UnknownIntegrationType, get_type
from integrations.values import set_path

REDACTED = "[REDACTED]"
UID_PATTERN = re.compile(r"^[a-zA-Z0-9\-_]{1,40}$")


class ProvisioningError(ValueError):
    """A request or file entry that cannot be applied; the message is Grafana's text."""


def to_embedded(integration: Integration) -> dict[str, Any]:
    """The API's view of one integration; set secrets read "[REDACTED]"."""
    return {
        "uid": integration.uid,
        "name": integration.contact_point.name,
        "type": integration.type,
        "settings": integration.settings_with_secrets_masked(REDACTED),
        "disableResolveMessage": integration.disable_resolve_message,
        "provenance": integration.provenance,
    }


def _checked(payload: Any) -> tuple[str, str, dict[str, Any], bool]:
    if not isinstance(payload, dict):
        raise ProvisioningError("the body must be a JSON object")
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ProvisioningError("no name is set")
    kind = payload.get("type")
    if not isinstance(kind, str) or not kind.strip():
        raise ProvisioningError("no type is set")
    settings_in = payload.get("settings")
    if not isinstance(settings_in, dict) or not settings_in:
        raise ProvisioningError("no settings are set")
    disable_resolve = payload.get("disableResolveMessage", False)
    if not isinstance(disable_resolve, bool):
        raise ProvisioningError("disableResolveMessage must be a boolean")
    try:
        kind = get_type(kind).type
    except UnknownIntegrationType:
        raise ProvisioningError(f'invalid integration type "{kind}"') from None
    return name.strip(), kind, settings_in, disable_resolve


def _contact_point_named(name: str) -> ContactPoint:
    found = ContactPoint.objects.filter(name=name).first()
    if found:
        return found
    uid = base = uid_from_name(name)
    suffix = 1
    while ContactPoint.objects.filter(uid=uid).exists():
        suffix += 1
        uid = f"{base[:36]}-{suffix}"
    return ContactPoint.objects.create(name=name, uid=uid)


def save_integration(payload: Any, *, provenance: str, uid: str | None = None) -> Integration:
    """Create (uid None) or update one integration from an EmbeddedContactPoint body."""
    name, kind, settings_in, disable_resolve = _checked(payload)
    with transaction.atomic():
        if uid is None:
            new_uid = payload.get("uid") or ""
            if new_uid and not UID_PATTERN.match(str(new_uid)):
                raise ProvisioningError("uid must be 1-40 characters of letters, digits, '-' and '_'")
            if new_uid and Integration.objects.filter(uid=new_uid).exists():
                raise ProvisioningError(f"an integration with uid {new_uid!r} already exists")
            integration = Integration(type=kind, **({"uid": new_uid} if new_uid else {}))
        else:
            integration = Integration.objects.select_for_update().filter(uid=uid).first()
            if integration is None:
                raise LookupError(uid)
            if integration.type != kind:
                integration.type = kind
                integration.secure_settings = {}  # secrets of another type mean nothing here
            _check_provenance_change(integration.provenance, provenance)
        previous_contact_point = integration.contact_point if integration.pk else None
        integration.assign_settings(settings_in, keep_secret=REDACTED)
        try:
            integration.validated_config()
        except SettingsError as exc:
            raise ProvisioningError(exc.message) from None
        integration.contact_point = _contact_point_named(name)
        integration.disable_resolve_message = disable_resolve
        integration.provenance = provenance
        integration.save()
        if previous_contact_point and previous_contact_point.pk != integration.contact_point_id:
            _drop_if_empty(previous_contact_point)
    return integration


def _check_provenance_change(stored: str, requested: str) -> None:
    if stored and requested and stored != requested:
        raise ProvisioningError(f"cannot change provenance from '{stored}' to '{requested}'")


def _drop_if_empty(contact_point: ContactPoint) -> None:
    """A contact point exists while it has integrations (Grafana's model)."""
    if not contact_point.integrations.exists():
        contact_point.delete()


def delete_integration(uid: str) -> bool:
    with transaction.atomic():
        integration = Integration.objects.select_related("contact_point").filter(uid=uid).first()
        if integration is None:
            return False
        contact_point = integration.contact_point
        integration.delete()
        _drop_if_empty(contact_point)
    return True


def provenance_from_header(value: str | None) -> str:
    return Provenance.NONE if (value or "").strip().lower() == "true" else Provenance.API


# -- Grafana's provisioning file format (spec §6) ------------------------------------------------


def export_settings(integration: Integration, *, decrypt: bool) -> dict[str, Any]:
    """Plain settings with each set secret in place: its value when decrypting, else "[REDACTED]"."""
    if not decrypt:
        return integration.settings_with_secrets_masked(REDACTED)
    import copy

    merged = copy.deepcopy(integration.settings or {})
    for key, value in (integration.secure_settings or {}).items():
        set_path(merged, key, value)
    return merged


def export_document(contact_points, *, decrypt: bool = False) -> dict[str, Any]:
    """`{apiVersion: 1, contactPoints: [...]}` for the given contact points (with integrations)."""
    return {
        "apiVersion": 1,
        "contactPoints": [
            {
                "orgId": 1,
                "name": contact_point.name,
                "receivers": [
                    {
                        "uid": integration.uid,
                        "type": integration.type,
                        "settings": export_settings(integration, decrypt=decrypt),
                        "disableResolveMessage": integration.disable_resolve_message,
                    }
                    for integration in contact_point.integrations.all()
                ],
            }
            for contact_point in contact_points
        ],
    }


def dump(document: dict[str, Any], fmt: str = "yaml") -> str:
    """The document as YAML (Grafana's default) or JSON."""
    if fmt == "json":
        return json.dumps(document, indent=2) + "\n"
    import yaml

    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
