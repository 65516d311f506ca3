"""Small display helpers and list filters shared by the admin modules."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from contactpoints.models import Integration
from integrations import registry
from integrations.base import Kind
from integrations.values import get_path

SHORT_TEXT_CHARS = 80


def short(text: str | None, chars: int = SHORT_TEXT_CHARS) -> str:
    """One line of a long text (errors), for list columns."""
    return Truncator(" ".join((text or "").split())).chars(chars)


def pretty_json(value: Any) -> SafeString:
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False))


def integration_summary(integration: Integration) -> str:
    """What tells this integration apart at a glance: its first non-secret one-line setting.

    Required settings come first (the webhook URL, the email addresses); secrets never show.
    """
    try:
        declared = integration.integration_type.fields
    except registry.UnknownIntegrationType:
        return ""
    candidates = sorted(
        (field for field in declared if not field.secret and field.kind is Kind.STRING),
        key=lambda field: not field.required,
    )
    for field in candidates:
        value = get_path(integration.settings or {}, field.key)
        if isinstance(value, str) and value.strip():
            return short(value, 60)
    return ""


class IntegrationTypeFilter(admin.SimpleListFilter):
    """Filter by integration type, listing the registry's types (labels, not type strings)."""

    title = "integration type"
    parameter_name = "integration_type"
    field_path = "type"  # the lookup from the filtered model to Integration.type

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(name, cls.label) for name, cls in registry.all_types().items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if not self.value():
            return queryset
        try:
            cls = registry.get_type(self.value())
        except registry.UnknownIntegrationType:
            return queryset.none()
        # Stored types may be spelled as an alias (Grafana's lookup is lenient).
        return queryset.filter(**{f"{self.field_path}__in": [cls.type, *cls.aliases]})


class DeliveryIntegrationTypeFilter(IntegrationTypeFilter):
    field_path = "integration__type"
