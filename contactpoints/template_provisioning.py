"""Notification templates as code, Grafana's way: the provisioning API and the files' `templates:`.

Grafana's rules (pkg/services/ngalert/provisioning/templates.go): content is trimmed and, when it
has no `{{ define }}`, wrapped in one named after the template; it must parse as a Go template;
`version` is a fingerprint of the content (FNV-1 64, hex), and a write that names a version other
than the stored one is a conflict. Provenance follows our contact points' rule
(`provisioning.check_provenance_change`). Templates provisioned this way are Go templates; a file
may say `syntax: jinja` (our extension) to carry a Jinja2 template through export and import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from contactpoints.models import NotificationTemplate, TemplateSyntax
from contactpoints.provisioning import ProvisioningError, check_provenance_change
from contactpoints.storable import first_unstorable
from contactpoints.template_syntax import TemplateProblem, check_template

NAME_MAX_LENGTH = NotificationTemplate._meta.get_field("name").max_length
HAS_DEFINE = re.compile(r"\{\{\s*define")
FNV64_OFFSET, FNV64_PRIME, U64 = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1


class TemplateNotFound(LookupError):
    """No template has this name (or a versioned write names one that does not exist)."""


class VersionConflict(ValueError):
    """The request's version is not the stored content's: someone changed it since it was read."""


@dataclass(frozen=True)
class TemplateSpec:
    """One template to provision, checked: its name, its content as stored, its syntax."""

    name: str
    content: str
    syntax: str = TemplateSyntax.GO


# -- reading ---------------------------------------------------------------------------------


def template_version(content: str) -> str:
    """Grafana's fingerprint of a template's content (FNV-1, 64 bits, 16 hex digits)."""
    value = FNV64_OFFSET
    for byte in content.encode():
        value = ((value * FNV64_PRIME) & U64) ^ byte
    return f"{value:016x}"


def to_grafana(template: NotificationTemplate) -> dict[str, Any]:
    """Grafana's NotificationTemplate: name, template, provenance, version."""
    return {
        "name": template.name,
        "template": template.content,
        "provenance": template.provenance,
        "version": template_version(template.content),
    }


def find_template(name: str) -> NotificationTemplate | None:
    return NotificationTemplate.objects.filter(name=name).first() if "\x00" not in name else None


# -- checking --------------------------------------------------------------------------------


def grafana_content(name: str, content: str) -> str:
    """Trimmed, and wrapped in `{{ define "<name>" }}` (lines indented) when it defines nothing."""
    content = content.strip()
    if HAS_DEFINE.search(content):
        return content
    indented = "\n".join("  " + line for line in content.split("\n"))
    return f'{{{{ define "{name}" }}}}\n{indented}\n{{{{ end }}}}'


def template_spec(name: Any, content: Any, syntax: Any = None) -> TemplateSpec:
    """Check one template as Grafana does (and parse it with its engine); raises ProvisioningError."""
    if not isinstance(name, str) or not name.strip():
        raise ProvisioningError("template must have a name")
    if not isinstance(content, str) or not content:
        raise ProvisioningError("template must have content")
    if len(name) > NAME_MAX_LENGTH:
        raise ProvisioningError(f"template name is longer than {NAME_MAX_LENGTH} characters")
    if first_unstorable([name, content]) is not None:
        raise ProvisioningError("values may not contain NUL characters, lone surrogates or infinite numbers")
    syntax = TemplateSyntax.GO if syntax is None else syntax
    if syntax not in TemplateSyntax.values:
        raise ProvisioningError(f"syntax must be one of {', '.join(TemplateSyntax.values)}, not {syntax!r}")
    if syntax == TemplateSyntax.GO:
        content = grafana_content(name, content)
    try:
        check_template(name, content, syntax)
    except TemplateProblem as exc:
        raise ProvisioningError(str(exc)) from None
    return TemplateSpec(name, content, syntax)


def check_version(template: NotificationTemplate, version: str) -> None:
    """An empty version skips the check (Grafana: optimistic concurrency is optional)."""
    current = template_version(template.content)
    if version and version != current:
        raise VersionConflict(
            f"provided version {version} of template {template.name} does not match current version {current}"
        )


# -- writing (callers hold a transaction) ---------------------------------------------------


def apply_template(spec: TemplateSpec, *, provenance: str, version: str = "") -> str:
    """Create or replace one template: "created", "updated" or "unchanged" (no write).

    Raises TemplateNotFound (a versioned write to no template), VersionConflict, ProvisioningError.
    """
    existing = NotificationTemplate.objects.select_for_update().filter(name=spec.name).first()
    if existing is None:
        if version:
            raise TemplateNotFound(spec.name)
        NotificationTemplate.objects.create(
            name=spec.name, content=spec.content, syntax=spec.syntax, provenance=provenance
        )
        return "created"
    check_provenance_change(existing.provenance, provenance)
    check_version(existing, version)
    wanted = (spec.content, spec.syntax, provenance)
    if (existing.content, existing.syntax, existing.provenance) == wanted:
        return "unchanged"
    existing.content, existing.syntax, existing.provenance = wanted
    existing.save()
    return "updated"


def delete_template(name: str, *, version: str = "") -> bool:
    """Delete by name; False when there is none (Grafana answers 204 either way)."""
    template = (
        NotificationTemplate.objects.select_for_update().filter(name=name).first() if "\x00" not in name else None
    )
    if template is None:
        return False
    check_version(template, version)
    template.delete()
    return True


# -- the file format -------------------------------------------------------------------------


def export_templates() -> list[dict[str, Any]]:
    """The `templates:` section: Go templates in Grafana's shape; a Jinja2 one adds `syntax: jinja`.

    `$` is written as is: the import does not interpolate `$VAR` in templates (nor does Grafana). A Go
    template is written as the import will store it (trimmed, in a `{{ define }}`), so that export,
    import, export gives the same file.
    """
    entries = []
    for template in NotificationTemplate.objects.order_by("name"):
        entry: dict[str, Any] = {"orgId": 1, "name": template.name}
        if template.syntax == TemplateSyntax.GO:
            entry["template"] = grafana_content(template.name, template.content)
        else:
            entry.update(template=template.content, syntax=template.syntax)
        entries.append(entry)
    return entries
