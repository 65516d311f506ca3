"""Notifications, deliveries and attempts: a read-only record of what was sent and how it went.

The one thing done here is sending a failed (or held) delivery again, through
`queue.retry_failed`, the same path as the API's retry.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from contactpoints import queue
from contactpoints.admin.display import ago, badge, pretty_json, short, status_badge
from contactpoints.admin.filters import (
    ContactPointFilter,
    DeliveryContactPointFilter,
    DeliveryIntegrationTypeFilter,
    NotificationRecentFilter,
    RecentFilter,
)
from contactpoints.models import Attempt, Delivery, Notification


def retry_deliveries(deliveries: QuerySet[Delivery]) -> int:
    """Send each failed or held delivery again; returns how many were queued."""
    return queue.retry_many(deliveries.select_related(None).prefetch_related(None))


def plural(count: int, noun: str) -> str:
    """`1 delivery`, `2 deliveries`, `2 integrations`."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {noun[:-1]}ies" if noun.endswith("y") else f"{count} {noun}s"


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
        "created",
        "contact_point",
        "integration_type",
        "status_display",
        "attempts",
        "http_status",
        "short_error",
    )
    list_filter = ("status", DeliveryIntegrationTypeFilter, DeliveryContactPointFilter, RecentFilter)
    # Two queries for the page's integrations and contact points, rather than a join: the join
    # would widen every row that PostgreSQL sorts, and the history has no end.
    list_select_related = ()
    actions = ("retry_selected",)
    show_facets = admin.ShowFacets.NEVER  # counts per filter choice over the whole history: too slow
    fields = readonly_fields = (
        "id",
        "notification",
        "integration",
        "status_display",
        "digest",
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).prefetch_related("integration__contact_point")

    # -- retrying by hand: the one change allowed, to those who may change deliveries -----------

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.action(description="Retry selected failed or paused deliveries", permissions=["retry"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        retried = retry_deliveries(queryset)
        skipped = queryset.count() - retried
        note = f"; {plural(skipped, 'delivery')} skipped: only failed or paused ones are retried" if skipped else ""
        self.message_user(request, f"Queued {plural(retried, 'delivery')} again{note}.", messages.SUCCESS)

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_retry"
        retry = self.admin_site.admin_view(require_POST(self.retry_view))
        return [path("<path:object_id>/retry/", retry, name=name), *super().get_urls()]

    def retry_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        delivery = self.get_object(request, object_id)
        if delivery is None:
            raise Http404("No such delivery.")
        if not self.has_retry_permission(request):
            raise PermissionDenied
        if queue.retry_failed(delivery):
            self.message_user(request, "Queued again: the delivery is pending.", messages.SUCCESS)
        else:
            self.message_user(
                request, f"Not retried: the delivery is {delivery.status}, not failed or paused.", messages.WARNING
            )
        return HttpResponseRedirect(
            reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[delivery.pk])
        )

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None) -> HttpResponse:
        delivery = self.get_object(request, object_id)
        retryable = delivery is not None and delivery.status in queue.RETRYABLE_BY_HAND
        extra_context = {**(extra_context or {}), "can_retry": retryable and self.has_retry_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    # -- columns ------------------------------------------------------------------------------

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Delivery) -> SafeString:
        return ago(obj.created_at)

    @admin.display(description="contact point", ordering="integration__contact_point__name")
    def contact_point(self, obj: Delivery) -> str:
        return obj.integration.contact_point.name

    @admin.display(description="HTTP", ordering="last_http_status")
    def http_status(self, obj: Delivery) -> int | None:
        return obj.last_http_status

    @admin.display(description="status", ordering="status")
    def status_display(self, obj: Delivery) -> str:
        if obj.coalesced_into_id is not None:
            return format_html("{} {}", status_badge(obj.status), badge("in a digest", "muted"))
        return status_badge(obj.status)

    @admin.display(description="digest")
    def digest(self, obj: Delivery) -> SafeString:
        """Which delivery carried this one's alerts in a digest, or how many this one carried."""
        if obj.coalesced_into_id is not None:
            link = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[obj.coalesced_into_id])
            return format_html('sent in the digest of <a href="{}">{}</a>', link, obj.coalesced_into_id)
        merged = obj.coalesced.count()
        if merged:
            return format_html("carried a digest of its own and {} other notifications", merged)
        return SafeString("—")

    @admin.display(description="type", ordering="integration__type")
    def integration_type(self, obj: Delivery) -> str:
        return obj.integration.type_label

    @admin.display(description="last error")
    def short_error(self, obj: Delivery) -> str:
        return short(obj.last_error)


class DeliveryInline(ReadOnlyMixin, admin.TabularInline):
    model = Delivery
    fields = readonly_fields = (
        "integration",
        "status_display",
        "attempts",
        "last_http_status",
        "short_error",
        "delivered_at",
    )
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).select_related("integration__contact_point")

    @admin.display(description="status")
    def status_display(self, obj: Delivery) -> str:
        return status_badge(obj.status)

    @admin.display(description="last error")
    def short_error(self, obj: Delivery) -> str:
        return short(obj.last_error)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("received_at", "contact_point", "status", "alert_count", "source")
    list_filter = ("status", "source", ContactPointFilter, NotificationRecentFilter)
    show_facets = admin.ShowFacets.NEVER
    list_select_related = ()  # as for deliveries: prefetched, not joined

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        return super().get_queryset(request).prefetch_related("contact_point")

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
