"""Grafana's provisioning files for contact points and templates (spec §6): read, check, apply.

A file is applied as a whole or not at all: every entry is checked (every integration built and
validated, every template parsed) before the first write, and the writes share one transaction.
An entry that matches what is stored is not written, so importing the same file twice changes
nothing. Sections: `contactPoints`, `deleteContactPoints`, `templates` ({orgId, name, template}),
`deleteTemplates` ({orgId, name}). Like Grafana, `$VAR` is interpolated everywhere but in a
template's own fields: a Go template's `$labels` is the template's, not the environment's.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

from contactpoints import provisioning, template_provisioning
from contactpoints.destination_rates import RATE_KEY
from contactpoints.models import ContactPoint, Integration, Provenance
from contactpoints.provisioning import FALLBACK_KEY, IntegrationSpec, ProvisioningError
from contactpoints.template_provisioning import TemplateSpec

SUPPORTED_API_VERSION = 1
FILE_SUFFIXES = (".yaml", ".yml", ".json")
# `$$` is a literal `$`; `${NAME}` and `$NAME` are the environment's value ("" when unset).
ENV_REFERENCE = re.compile(r"\$\$|\$\{([^}]*)\}|\$([A-Za-z0-9_]+)")
# strconv.ParseBool's words: Grafana reads disableResolveMessage with it.
GO_BOOLEANS = {
    **dict.fromkeys(("1", "t", "T", "true", "TRUE", "True"), True),
    **dict.fromkeys(("0", "f", "F", "false", "FALSE", "False"), False),
}


class ProvisioningFileError(ProvisioningError):
    """A file that cannot be applied; one line per bad entry: `<entry>: <error>`."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass
class ImportSummary:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    # Template names by outcome: created, updated, unchanged, deleted.
    templates: dict[str, list[str]] = field(
        default_factory=lambda: {"created": [], "updated": [], "unchanged": [], "deleted": []}
    )

    def __str__(self) -> str:
        text = (
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.deleted)} deleted"
        )
        if any(self.templates.values()):
            text += "; templates: " + ", ".join(f"{len(names)} {outcome}" for outcome, names in self.templates.items())
        return text


@dataclass
class FileEntries:
    """What a file asks for: integrations (with their position in the contact point), templates,
    and deletions of each."""

    receivers: list[tuple[IntegrationSpec, int]] = field(default_factory=list)
    # Our own `fallback` key beside Grafana's: contact point name → its fallback's name ("" unsets).
    fallbacks: dict[str, str] = field(default_factory=dict)
    deletions: list[str] = field(default_factory=list)
    templates: list[TemplateSpec] = field(default_factory=list)
    template_deletions: list[str] = field(default_factory=list)


# -- reading ---------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """YAML without implicit timestamps: `2024-01-01` stays the string a setting expects."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_text(text: str, *, is_json: bool = False) -> Any:
    """The document in a file's text (JSON for .json files, else YAML, which JSON also is)."""
    try:
        document = json.loads(text) if is_json else yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except (ValueError, yaml.YAMLError) as exc:
        raise ProvisioningFileError([f"invalid {'JSON' if is_json else 'YAML'}: {exc}"]) from None
    return _json_safe(document)


def _json_safe(value: Any) -> Any:
    """Only JSON's kinds (explicit YAML tags can make dates, bytes, sets, NaN)."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float) and value == value and value not in (float("inf"), float("-inf")):
        return value
    return str(value)


def read_path(path: str | Path) -> list[Any]:
    """The documents in one file, or in the .yaml/.yml/.json files of a folder (name order)."""
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.suffix in FILE_SUFFIXES) if path.is_dir() else [path]
    documents = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProvisioningFileError([f"{file}: cannot read it: {exc}"]) from None
        try:
            documents.append(parse_text(text, is_json=file.suffix == ".json"))
        except ProvisioningFileError as exc:
            raise ProvisioningFileError([f"{file}: {error}" for error in exc.errors]) from None
    return documents


def interpolate(value: Any, environ: dict[str, str] | None = None) -> Any:
    """`$VAR` and `${VAR}` in every string value (not in keys), as Grafana's provisioning does."""
    environ = os.environ if environ is None else environ
    if isinstance(value, str):
        return ENV_REFERENCE.sub(lambda m: "$" if m[0] == "$$" else environ.get(m[1] or m[2], ""), value)
    if isinstance(value, dict):
        return {key: interpolate(item, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, environ) for item in value]
    return value


# -- checking --------------------------------------------------------------------------------


def file_entries(documents: list[Any]) -> FileEntries:
    """Every entry of the documents, checked for shape; raises ProvisioningFileError with all errors."""
    entries = FileEntries()
    errors: list[str] = []
    for raw in documents:
        if raw is None:
            continue  # an empty file asks for nothing
        if not isinstance(raw, dict):
            errors.append("the file must hold an object with apiVersion and contactPoints")
            continue
        document = interpolate({key: value for key, value in raw.items() if key != "templates"})
        errors.extend(_check_api_version(document.get("apiVersion")))
        errors.extend(_read_contact_points(_list_of(document, "contactPoints", errors), entries))
        errors.extend(_read_deletions(_list_of(document, "deleteContactPoints", errors), entries))
        errors.extend(_read_templates(_list_of(raw, "templates", errors), entries))
        errors.extend(_read_template_deletions(_list_of(document, "deleteTemplates", errors), entries))
    errors.extend(_duplicate_uids(entries))
    if errors:
        raise ProvisioningFileError(errors)
    return entries


def _check_api_version(value: Any) -> list[str]:
    if value is None or str(value).strip() == str(SUPPORTED_API_VERSION):
        return []
    return [f"apiVersion {value!r} is not supported (use {SUPPORTED_API_VERSION})"]


def _list_of(document: dict[str, Any], key: str, errors: list[str]) -> list[Any]:
    value = document.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(f"{key} must be a list")
        return []
    return value


def _read_contact_points(contact_points: list[Any], entries: FileEntries) -> list[str]:
    errors = []
    for index, contact_point in enumerate(contact_points):
        where = f"contactPoints[{index}]"
        if not isinstance(contact_point, dict):
            errors.append(f"{where}: must be an object with name and receivers")
            continue
        name = contact_point.get("name")
        if not isinstance(name, str) or not name.strip():
            errors.append(f"{where}: no name is set")
            continue
        name = name.strip()
        if FALLBACK_KEY in contact_point:
            fallback = contact_point[FALLBACK_KEY]
            if fallback is not None and not isinstance(fallback, str):
                errors.append(f"{name}: {FALLBACK_KEY} must be the name of another contact point")
            else:
                entries.fallbacks[name] = (fallback or "").strip()
        receivers = contact_point.get("receivers") or []
        if not isinstance(receivers, list):
            errors.append(f"{name}: receivers must be a list")
            continue
        for position, receiver in enumerate(receivers):
            try:
                entries.receivers.append((_receiver_spec(name, receiver), position))
            except ProvisioningError as exc:
                errors.append(f"{name}: {exc}")
    return errors


def _receiver_spec(name: str, receiver: Any) -> IntegrationSpec:
    if not isinstance(receiver, dict):
        raise ProvisioningError("a receiver must be an object with uid, type and settings")
    uid = receiver.get("uid")
    if not isinstance(uid, str | int) or not str(uid).strip():
        raise ProvisioningError("no uid is set")
    name, kind, settings_in = provisioning.check_spec(name, receiver.get("type"), receiver.get("settings"))
    uid = str(uid).strip()
    provisioning.check_uid(uid)
    disable_resolve = receiver.get("disableResolveMessage", False)
    if disable_resolve is None:
        disable_resolve = False
    elif not isinstance(disable_resolve, bool):
        if str(disable_resolve) not in GO_BOOLEANS:
            raise ProvisioningError(f"disableResolveMessage must be true or false, not {disable_resolve!r}")
        disable_resolve = GO_BOOLEANS[str(disable_resolve)]
    # Our own key (absent in Grafana's files: the provider's default); `$VAR` leaves text.
    rate = provisioning.read_rate(receiver.get(RATE_KEY), from_text=True)
    return IntegrationSpec(name, kind, settings_in, disable_resolve, uid, rate)


def _read_deletions(deletions: list[Any], entries: FileEntries) -> list[str]:
    errors = []
    for index, deletion in enumerate(deletions):
        uid = deletion.get("uid") if isinstance(deletion, dict) else None
        if not isinstance(uid, str | int) or not str(uid).strip():
            errors.append(f"deleteContactPoints[{index}]: no uid is set")
            continue
        entries.deletions.append(str(uid).strip())
    return errors


def _read_templates(templates: list[Any], entries: FileEntries) -> list[str]:
    errors = []
    for index, entry in enumerate(templates):
        if not isinstance(entry, dict):
            errors.append(f"templates[{index}]: must be an object with name and template")
            continue
        name = entry.get("name")
        label = f"template {name}" if isinstance(name, str) and name.strip() else f"templates[{index}]"
        try:
            entries.templates.append(
                template_provisioning.template_spec(name, entry.get("template"), entry.get("syntax"))
            )
        except ProvisioningError as exc:
            errors.append(f"{label}: {exc}")
    return errors


def _read_template_deletions(deletions: list[Any], entries: FileEntries) -> list[str]:
    errors = []
    for index, deletion in enumerate(deletions):
        name = deletion.get("name") if isinstance(deletion, dict) else None
        if not isinstance(name, str | int) or not str(name).strip():
            errors.append(f"deleteTemplates[{index}]: delete template missing name")
            continue
        entries.template_deletions.append(str(name).strip())
    return errors


def _duplicate_uids(entries: FileEntries) -> list[str]:
    seen: dict[str, str] = {}
    errors = []
    for spec, _position in entries.receivers:
        if spec.uid in seen:
            errors.append(f"{spec.name}: uid '{spec.uid}' is also used in contact point '{seen[spec.uid]}'")
        seen.setdefault(spec.uid, spec.name)
    return errors


# -- applying --------------------------------------------------------------------------------


def import_documents(documents: list[Any]) -> ImportSummary:
    """Apply the documents in one transaction, or nothing when any entry is bad.

    Templates and receivers (by uid) are upserted with provenance `file`, then deleteContactPoints
    and deleteTemplates remove by uid and name (Grafana's order; an unknown one is already gone).
    """
    entries = file_entries(documents)
    summary = ImportSummary()
    with transaction.atomic():
        prepared = _prepare_all(entries)
        _apply_templates(entries.templates, summary)
        for item in prepared:
            changed = provisioning.apply(item)
            bucket = summary.created if item.is_new else summary.updated if changed else summary.unchanged
            bucket.append(item.integration.uid)
        _apply_fallbacks(entries.fallbacks)
        for uid in entries.deletions:
            if provisioning.delete_integration(uid):
                summary.deleted.append(uid)
        for name in entries.template_deletions:
            if template_provisioning.delete_template(name):
                summary.templates["deleted"].append(name)
    return summary


def _apply_templates(templates: list[TemplateSpec], summary: ImportSummary) -> None:
    """Inside the import's transaction: an error here (a provenance change) undoes the whole file."""
    errors = []
    for spec in templates:
        try:
            outcome = template_provisioning.apply_template(spec, provenance=Provenance.FILE)
        except ProvisioningError as exc:
            errors.append(f"template {spec.name}: {exc}")
            continue
        summary.templates[outcome].append(spec.name)
    if errors:
        raise ProvisioningFileError(errors)


def _apply_fallbacks(fallbacks: dict[str, str]) -> None:
    """Inside the import's transaction, once the file's contact points exist: each names another,
    in this file or already stored."""
    errors = []
    for name, fallback_name in fallbacks.items():
        contact_point = ContactPoint.objects.filter(name=name).first()
        fallback = ContactPoint.objects.filter(name=fallback_name).first() if fallback_name else None
        if contact_point is None:
            errors.append(f"{name}: {FALLBACK_KEY} is set on a contact point without receivers")
        elif fallback_name and fallback is None:
            errors.append(f"{name}: {FALLBACK_KEY} {fallback_name!r} is no contact point")
        elif fallback is not None and fallback.pk == contact_point.pk:
            errors.append(f"{name}: a contact point cannot be its own {FALLBACK_KEY}")
        elif contact_point.fallback_id != (fallback and fallback.pk):
            contact_point.fallback = fallback
            contact_point.save(update_fields=["fallback", "updated_at"])
    if errors:
        raise ProvisioningFileError(errors)


def _prepare_all(entries: FileEntries) -> list[provisioning.PreparedIntegration]:
    uids = [spec.uid for spec, _position in entries.receivers]
    stored = {
        integration.uid: integration
        for integration in Integration.objects.select_for_update().select_related("contact_point").filter(uid__in=uids)
    }
    prepared, errors = [], []
    for spec, position in entries.receivers:
        try:
            prepared.append(
                provisioning.prepare(spec, provenance=Provenance.FILE, existing=stored.get(spec.uid), position=position)
            )
        except ProvisioningError as exc:
            errors.append(f"{spec.name}: {exc}")
    if errors:
        raise ProvisioningFileError(errors)
    return prepared


def import_paths(paths: list[str | Path]) -> ImportSummary:
    """The command line's import: every file (or folder of files) as one change."""
    documents = [document for path in paths for document in read_path(path)]
    return import_documents(documents)
