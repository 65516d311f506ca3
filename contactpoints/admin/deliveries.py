"""Notifications, deliveries and attempts: a read-only record of what was sent and how it went."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from contactpoints.admin.display import DeliveryIntegrationTypeFilter, pretty_json, short
from contactpoints.models import Attempt, Delivery, Notification


class ReadOnlyMixin:
    """History is written by the delivery pipeline only; the admin looks, never touches."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class AttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = Attempt
    fields = readonly_fields = ("number", "started_at", "duration_ms", "outcome", "http_status", "error")
    extra = 0
    can_delete = False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "contact_point",
        "integration_type",
        "status",
        "attempts",
        "last_http_status",
        "short_error",
    )
    list_filter = ("status", DeliveryIntegrationTypeFilter, "integration__contact_point")
    date_hierarchy = "created_at"
    # One join instead of two queries per row.
    list_select_related = ("integration__contact_point",)
    fields = readonly_fields = (
        "id",
        "notification",
        "integration",
        "status",
        "firing_only",
        "attempts",
        "next_attempt_at",
        "lease_expires_at",
        "last_http_status",
        "last_error",
        "created_at",
        "updated_at",
        "delivered_at",
    )
    inlines = (AttemptInline,)

    @admin.display(description="contact point", ordering="integration__contact_point__name")
    def contact_point(self, obj: Delivery) -> str:
        return obj.integration.contact_point.name

    @admin.display(description="integration type", ordering="integration__type")
    def integration_type(self, obj: Delivery) -> str:
        return obj.integration.type_label

    @admin.display(description="last error")
    def short_error(self, obj: Delivery) -> str:
        return short(obj.last_error)


class DeliveryInline(ReadOnlyMixin, admin.TabularInline):
    model = Delivery
    fields = readonly_fields = ("integration", "status", "attempts", "last_http_status", "short_error", "delivered_at")
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).select_related("integration__contact_point")

    @admin.display(description="last error")
    def short_error(self, obj: Delivery) -> str:
        return short(obj.last_error)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("received_at", "contact_point", "status", "alert_count", "source")
    list_filter = ("status", "source", "contact_point")
    date_hierarchy = "received_at"
    list_select_related = ("contact_point",)
    fields = readonly_fields = (
        "id",
        "contact_point",
        "status",
        "source",
        "received_at",
        "receiver",
        "group_key",
        "group_labels_json",
        "external_url",
        "truncated_alerts",
        "alerts_json",
    )
    inlines = (DeliveryInline,)

    @admin.display(description="alerts")
    def alert_count(self, obj: Notification) -> int:
        return len(obj.alerts or [])

    @admin.display(description="group labels")
    def group_labels_json(self, obj: Notification) -> str:
        return pretty_json(obj.group_labels)

    @admin.display(description="alerts")
    def alerts_json(self, obj: Notification) -> str:
        return pretty_json(obj.alerts)
