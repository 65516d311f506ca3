"""List filters: integration type, contact point, paused, health and time.

Each filter costs one indexed condition (an EXISTS or a join), whatever the number of rows, so
the list pages stay fast with thousands of contact points and a long delivery history.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from contactpoints.models import ContactPoint, Integration
from integrations import registry


class IntegrationTypeFilter(admin.SimpleListFilter):
    """Filter by integration type, listing the registry's types (labels, not type strings)."""

    title = "integration type"
    parameter_name = "integration_type"
    field_path = "type"  # the lookup from the filtered model to Integration.type

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        # Only the types in use: twenty links of which two matter would hide the two.
        # One DISTINCT over integrations, a small table even with a long delivery history.
        stored = set(Integration.objects.order_by().values_list("type", flat=True).distinct())
        return [
            (name, cls.label)
            for name, cls in registry.all_types().items()
            if stored & {cls.type, *cls.aliases} or self.value() == name
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if not self.value():
            return queryset
        try:
            cls = registry.get_type(self.value())
        except registry.UnknownIntegrationType:
            return queryset.none()
        # Stored types may be spelled as an alias (Grafana's lookup is lenient).
        return self.filter_by_types(queryset, [cls.type, *cls.aliases])

    def filter_by_types(self, queryset: QuerySet, types: list[str]) -> QuerySet:
        return queryset.filter(**{f"{self.field_path}__in": types})


class DeliveryIntegrationTypeFilter(IntegrationTypeFilter):
    field_path = "integration__type"


class ContactPointIntegrationTypeFilter(IntegrationTypeFilter):
    """Contact points with at least one integration of the type (EXISTS: no duplicate rows)."""

    def filter_by_types(self, queryset: QuerySet, types: list[str]) -> QuerySet:
        return queryset.filter(Exists(Integration.objects.filter(contact_point=OuterRef("pk"), type__in=types)))


def _integrations_where(condition: Q) -> Exists:
    return Exists(Integration.objects.filter(condition, contact_point=OuterRef("pk")))


class ContactPointPausedFilter(admin.SimpleListFilter):
    title = "paused"
    parameter_name = "paused"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Paused (all or some integrations)"), ("no", "Active")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        paused = Q(paused=True) | _integrations_where(Q(paused=True))
        if self.value() == "yes":
            return queryset.filter(paused)
        if self.value() == "no":
            return queryset.exclude(paused)
        return queryset


class ContactPointHealthFilter(admin.SimpleListFilter):
    """Grafana's contact point status: did the last attempt of an integration fail? And
    self-monitoring's: is an integration marked unhealthy?"""

    title = "health"
    parameter_name = "health"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            ("failing", "Failing (last attempt of an integration failed)"),
            ("unhealthy", "Unhealthy (an integration failed repeatedly)"),
            ("ok", "OK"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        failing = _integrations_where(~Q(last_attempt_error=""))
        if self.value() == "failing":
            return queryset.filter(failing)
        if self.value() == "unhealthy":
            return queryset.filter(_integrations_where(Q(unhealthy_since__isnull=False)))
        if self.value() == "ok":
            return queryset.exclude(failing)
        return queryset


class ContactPointFilter(admin.SimpleListFilter):
    """One contact point, by uid, chosen from a drop-down: a list of links would not fit a thousand."""

    title = "contact point"
    parameter_name = "contact_point"
    template = "admin/contactpoints/filters/select.html"
    field_path = "contact_point"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(ContactPoint.objects.order_by("name").values_list("uid", "name"))

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if not self.value():
            return queryset
        return queryset.filter(**{f"{self.field_path}__uid": self.value()})


class DeliveryContactPointFilter(ContactPointFilter):
    field_path = "integration__contact_point"


class RecentFilter(admin.SimpleListFilter):
    """Time, in the windows an on-call engineer looks back over."""

    title = "time"
    parameter_name = "since"
    field_path = "created_at"
    WINDOWS = {
        "1h": ("Last hour", timedelta(hours=1)),
        "24h": ("Last 24 hours", timedelta(hours=24)),
        "7d": ("Last 7 days", timedelta(days=7)),
        "30d": ("Last 30 days", timedelta(days=30)),
    }

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _) in self.WINDOWS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        window = self.WINDOWS.get(self.value() or "")
        if window is None:
            return queryset
        return queryset.filter(**{f"{self.field_path}__gte": timezone.now() - window[1]})


class NotificationRecentFilter(RecentFilter):
    field_path = "received_at"
