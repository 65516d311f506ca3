"""Grafana's provisioning model (spec §6, §7): one integration = one EmbeddedContactPoint.

The API and the file import both go through `prepare` (check and build one integration, no
writes) and `apply` (place it in its contact point and save it only when something changed), so
the two speak the same rules: secrets, `[REDACTED]`, provenance, renames.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from contactpoints.destination_rates import RATE_KEY, InvalidRate, parse_rate
from contactpoints.models import UID_MAX_LENGTH, ContactPoint, Integration, Provenance, uid_from_name
from contactpoints.storable import first_unstorable
from integrations.base import SettingsError
from integrations.registry import UnknownIntegrationType, get_type
from integrations.values import REDACTED, get_path, is_blank, set_path

UID_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
NAME_MAX_LENGTH = ContactPoint._meta.get_field("name").max_length


class ProvisioningError(ValueError):
    """A request or file entry that cannot be applied; the message is Grafana's text."""


class UnknownIntegration(LookupError):
    """No integration has this uid."""


@dataclass(frozen=True)
class IntegrationSpec:
    """One EmbeddedContactPoint (API body) or one receiver of a file, its shape checked."""

    name: str
    type: str
    settings: dict[str, Any]
    disable_resolve_message: bool = False
    uid: str = ""
    rate_per_second: float | None = None  # our own `ratePerSecond`; None: the provider's default


# -- reading ---------------------------------------------------------------------------------


def to_embedded(integration: Integration) -> dict[str, Any]:
    """The API's view of one integration; set secrets read "[REDACTED]"."""
    return {
        "uid": integration.uid,
        "name": integration.contact_point.name,
        "type": integration.type,
        "settings": integration.settings_with_secrets_masked(REDACTED),
        "disableResolveMessage": integration.disable_resolve_message,
        **own_rate(integration),
        "provenance": integration.provenance,
    }


FALLBACK_KEY = "fallback"  # our own key on a contact point in provisioning files: the fallback's name


def own_rate(integration: Integration) -> dict[str, float]:
    """`{"ratePerSecond": rate}` when the integration sets its own, else nothing: what Grafana
    wrote reads back unchanged, and our key only appears where it means something."""
    return {} if integration.rate_per_second is None else {RATE_KEY: integration.rate_per_second}


def read_rate(value: Any, *, from_text: bool = False) -> float | None:
    """`ratePerSecond` → the stored rate; ProvisioningError naming the field when it is none."""
    try:
        return parse_rate(value, from_text=from_text)
    except InvalidRate as exc:
        raise ProvisioningError(str(exc)) from None


def list_integrations(name: str | None = None):
    """Every integration sorted by contact point name (Grafana's order), optionally one name's."""
    integrations = Integration.objects.select_related("contact_point").order_by("contact_point__name", "position", "id")
    if name:
        integrations = integrations.filter(contact_point__name=name) if "\x00" not in name else integrations.none()
    return integrations


# -- checking --------------------------------------------------------------------------------


def check_uid(uid: str) -> None:
    """Grafana's UID rule: 1-40 characters of letters, digits, '-' and '_'."""
    if not uid:
        raise ProvisioningError("UID is empty")
    if len(uid) > UID_MAX_LENGTH:
        raise ProvisioningError(f"UID is longer than {UID_MAX_LENGTH} symbols")
    if not set(uid) <= UID_CHARACTERS:
        raise ProvisioningError("invalid format of UID. Only letters, numbers, '-' and '_' are allowed")


def check_spec(name: Any, kind: Any, settings_in: Any) -> tuple[str, str, dict[str, Any]]:
    """The checks every entry gets, in Grafana's order and words; returns the cleaned values."""
    if not isinstance(name, str) or not name.strip():
        raise ProvisioningError("no name is set")
    name = name.strip()
    if len(name) > NAME_MAX_LENGTH:
        raise ProvisioningError(f"name is longer than {NAME_MAX_LENGTH} characters")
    if not isinstance(kind, str) or not kind.strip():
        raise ProvisioningError("no type is set")
    if not isinstance(settings_in, dict) or not settings_in:
        raise ProvisioningError("no settings are set")
    if first_unstorable([name, kind, settings_in]) is not None:
        raise ProvisioningError("values may not contain NUL characters, lone surrogates or infinite numbers")
    try:
        kind = get_type(kind.strip()).type
    except UnknownIntegrationType:
        raise ProvisioningError(f'invalid integration type "{kind.strip()}"') from None
    return name, kind, settings_in


def parse_embedded(payload: Any) -> IntegrationSpec:
    """An EmbeddedContactPoint request body → IntegrationSpec, or Grafana's error."""
    if not isinstance(payload, dict):
        raise ProvisioningError("the body must be a JSON object")
    name, kind, settings_in = check_spec(payload.get("name"), payload.get("type"), payload.get("settings"))
    disable_resolve = payload.get("disableResolveMessage", False)
    if not isinstance(disable_resolve, bool):
        raise ProvisioningError("disableResolveMessage must be a boolean")
    uid = payload.get("uid")
    uid = "" if uid is None else uid
    if not isinstance(uid, str):
        raise ProvisioningError("uid must be a string")
    # Absent means the provider's default, as an absent disableResolveMessage means false: PUT replaces.
    rate = read_rate(payload.get(RATE_KEY))
    return IntegrationSpec(name, kind, settings_in, disable_resolve, uid.strip(), rate)


def check_provenance_change(stored: str, requested: str) -> None:
    """`file` and `api` may become none (X-Disable-Provenance), never each other."""
    if stored and requested and stored != requested:
        raise ProvisioningError(f"cannot change provenance from '{stored}' to '{requested}'")


def provenance_from_header(value: str | None) -> str:
    """Grafana looks only at the header's presence; an explicit "false" is read as asked."""
    if value is None or value.strip().lower() == "false":
        return Provenance.API
    return Provenance.NONE


# -- preparing and applying ------------------------------------------------------------------


@dataclass
class PreparedIntegration:
    """An integration built from a spec and validated, not yet saved."""

    integration: Integration
    name: str
    position: int | None  # None: keep it, or append when new or moved
    stored_state: tuple | None = field(default=None)  # before the change; None for a new one

    @property
    def is_new(self) -> bool:
        return self.stored_state is None


def _state(integration: Integration, name: str) -> tuple:
    return (
        name,
        integration.type,
        integration.settings,
        integration.secure_settings or {},
        integration.disable_resolve_message,
        integration.rate_per_second,
        integration.provenance,
        integration.position,
    )


def _take_settings(integration: Integration, settings_in: dict[str, Any]) -> None:
    """Grafana's update: the settings are replaced whole; a secret sent as "[REDACTED]" keeps
    its stored value, one left out is removed."""
    kept = {
        key: value
        for key, value in (integration.secure_settings or {}).items()
        if not is_blank(get_path(settings_in, key))
    }
    integration.secure_settings = kept
    integration.assign_settings(settings_in, keep_secret=REDACTED)


def prepare(
    spec: IntegrationSpec, *, provenance: str, existing: Integration | None, position: int | None = None
) -> PreparedIntegration:
    """Build and validate the integration `spec` describes; raises ProvisioningError."""
    if existing is None:
        integration = Integration(type=spec.type, uid=spec.uid) if spec.uid else Integration(type=spec.type)
        stored_state = None
    else:
        integration = existing
        stored_state = copy.deepcopy(_state(existing, existing.contact_point.name))
        check_provenance_change(existing.provenance, provenance)
        if integration.type != spec.type:
            integration.type = spec.type
            integration.secure_settings = {}  # secrets of another type mean nothing here
    _take_settings(integration, spec.settings)
    try:
        integration.validated_config()
    except SettingsError as exc:
        raise ProvisioningError(exc.message) from None
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        # A value of a kind the type's rules did not expect: bad input, never a server error.
        raise ProvisioningError(f"invalid settings for {spec.type}: {type(exc).__name__}") from None
    integration.disable_resolve_message = spec.disable_resolve_message
    integration.rate_per_second = spec.rate_per_second
    integration.provenance = provenance
    return PreparedIntegration(integration, spec.name, position, stored_state)


def apply(prepared: PreparedIntegration) -> bool:
    """Place the integration in the contact point named in its spec and save it; False when
    nothing changed (no write, no updated_at churn)."""
    integration = prepared.integration
    previous = integration.contact_point if integration.contact_point_id else None
    target = _target_contact_point(integration, prepared.name)
    moved = previous is None or previous.pk != target.pk
    if prepared.position is not None:
        integration.position = prepared.position
    elif moved:
        integration.position = _next_position(target)
    integration.contact_point = target
    if not prepared.is_new and _state(integration, target.name) == prepared.stored_state:
        return False
    integration.save()
    if previous is not None and moved:
        drop_if_empty(previous)
    return True


def _target_contact_point(integration: Integration, name: str) -> ContactPoint:
    current = integration.contact_point if integration.contact_point_id else None
    if current is not None and current.name == name:
        return current
    named = ContactPoint.objects.filter(name=name).first()
    if named is not None:
        return named
    if current is not None and not current.integrations.exclude(pk=integration.pk).exists():
        # Grafana renames a contact point whose only integration is renamed; the uid (and so
        # the intake URL and the history) stays.
        current.name = name
        current.save(update_fields=["name", "updated_at"])
        return current
    return _new_contact_point(name)


def _new_contact_point(name: str) -> ContactPoint:
    uid = base = uid_from_name(name)
    suffix = 1
    while ContactPoint.objects.filter(uid=uid).exists():
        suffix += 1
        uid = f"{base[:36]}-{suffix}"
    return ContactPoint.objects.create(name=name, uid=uid)


def _next_position(contact_point: ContactPoint) -> int:
    highest = contact_point.integrations.aggregate(highest=Max("position"))["highest"]
    return 0 if highest is None else highest + 1


def drop_if_empty(contact_point: ContactPoint) -> None:
    """A contact point exists while it has integrations (Grafana's model)."""
    if not contact_point.integrations.exists():
        contact_point.delete()


def check_new_uid(uid: str, taken_by: Integration | None) -> None:
    check_uid(uid)
    if taken_by is not None:
        raise ProvisioningError(
            f"receiver configuration with UID '{uid}' already exist in contact point "
            f"'{taken_by.contact_point.name}'. Please use unique identifiers for receivers across all contact points"
        )


def _locked(uid: str) -> Integration | None:
    return Integration.objects.select_for_update().select_related("contact_point").filter(uid=uid).first()


def create_integration(payload: Any, *, provenance: str) -> Integration:
    """POST: a new integration from an EmbeddedContactPoint; the uid is generated when empty."""
    spec = parse_embedded(payload)
    try:
        with transaction.atomic():
            if spec.uid:
                check_new_uid(spec.uid, _locked(spec.uid))
            prepared = prepare(spec, provenance=provenance, existing=None)
            apply(prepared)
    except IntegrityError:
        # A concurrent request took the same uid or contact point name between check and save.
        raise ProvisioningError("a concurrent change took this uid or name; send the request again") from None
    return prepared.integration


def update_integration(uid: str, payload: Any, *, provenance: str) -> Integration:
    """PUT: replace one integration (the path's uid wins over the body's); raises
    UnknownIntegration or ProvisioningError."""
    with transaction.atomic():
        existing = _locked(uid) if _is_valid_uid(uid) else None
        if existing is None:
            raise UnknownIntegration(uid)
        prepared = prepare(parse_embedded(payload), provenance=provenance, existing=existing)
        apply(prepared)
    return prepared.integration


def delete_integration(uid: str) -> bool:
    """Delete one integration (and its contact point when it was the last); False when unknown."""
    with transaction.atomic():
        integration = _locked(uid) if _is_valid_uid(uid) else None
        if integration is None:
            return False
        contact_point = integration.contact_point
        integration.delete()
        drop_if_empty(contact_point)
    return True


def _is_valid_uid(uid: str) -> bool:
    try:
        check_uid(uid)
    except ProvisioningError:
        return False
    return True


# -- Grafana's provisioning file format (spec §6) ------------------------------------------------


def export_settings(integration: Integration, *, decrypt: bool) -> dict[str, Any]:
    """Plain settings with each set secret in place: its value when decrypting, else "[REDACTED]"."""
    if not decrypt:
        return integration.settings_with_secrets_masked(REDACTED)
    merged = copy.deepcopy(integration.settings or {})
    for key, value in (integration.secure_settings or {}).items():
        set_path(merged, key, value)
    return merged


def escape_dollars(value: Any) -> Any:
    """`$` → `$$` in every string, so that the import's `$VAR` interpolation gives it back."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {key: escape_dollars(item) for key, item in value.items()}
    if isinstance(value, list):
        return [escape_dollars(item) for item in value]
    return value


def export_document(contact_points, *, decrypt: bool = False) -> dict[str, Any]:
    """`{apiVersion: 1, contactPoints: [...]}` for the given contact points (with integrations).

    Strings are written with `$` doubled: the file re-imports to the same values.
    """
    return {
        "apiVersion": 1,
        "contactPoints": [
            {
                "orgId": 1,
                "name": escape_dollars(contact_point.name),
                "receivers": [
                    {
                        "uid": integration.uid,
                        "type": integration.type,
                        "settings": escape_dollars(export_settings(integration, decrypt=decrypt)),
                        "disableResolveMessage": integration.disable_resolve_message,
                        **own_rate(integration),
                    }
                    for integration in contact_point.integrations.all()
                ],
                # Ours, only when set: Grafana's files read back unchanged.
                **({FALLBACK_KEY: escape_dollars(contact_point.fallback.name)} if contact_point.fallback else {}),
            }
            for contact_point in contact_points
        ],
    }


def exported_contact_points(name: str | None = None):
    """The contact points an export covers: those with integrations, by name."""
    contact_points = (
        ContactPoint.objects.filter(integrations__isnull=False)
        .distinct()
        .select_related("fallback")
        .prefetch_related("integrations")
    )
    if name:
        contact_points = contact_points.filter(name=name) if "\x00" not in name else contact_points.none()
    return contact_points.order_by("name")


def dump(document: dict[str, Any], fmt: str = "yaml") -> str:
    """The document as YAML (Grafana's default) or JSON."""
    if fmt == "json":
        return json.dumps(document, indent=2) + "\n"
    import yaml

    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
