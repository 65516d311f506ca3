"""Contact points: the list, and the change page with its integrations as a read-only table."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import HttpRequest

from contactpoints.admin.display import integration_summary, short
from contactpoints.models import ContactPoint, Integration, Notification


class IntegrationInline(admin.TabularInline):
    """Integrations are edited on their own page (a form per type); here they are listed with health."""

    model = Integration
    template = "admin/contactpoints/contactpoint/integrations_inline.html"
    # Every column is read-only; the row's "Change" link leads to the integration's own form.
    fields = readonly_fields = (
        "type_label",
        "summary",
        "enabled",
        "resolve_message_disabled",
        "last_attempt",
        "duration_ms",
        "last_error",
    )
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: ContactPoint | None = None) -> bool:
        return False  # adding goes through the type picker (the link under the table)

    @admin.display(description="type")
    def type_label(self, obj: Integration) -> str:
        return obj.type_label

    @admin.display(description="summary")
    def summary(self, obj: Integration) -> str:
        return integration_summary(obj)

    @admin.display(description="disable resolved message", boolean=True)
    def resolve_message_disabled(self, obj: Integration) -> bool:
        return obj.disable_resolve_message

    # The last three columns are Grafana's contact point health.
    @admin.display(description="last attempt", empty_value="never")
    def last_attempt(self, obj: Integration):
        return obj.last_attempt_at

    @admin.display(description="duration (ms)")
    def duration_ms(self, obj: Integration) -> int | None:
        return obj.last_attempt_duration_ms

    @admin.display(description="last error")
    def last_error(self, obj: Integration) -> str:
        return short(obj.last_attempt_error)


@admin.register(ContactPoint)
class ContactPointAdmin(admin.ModelAdmin):
    list_display = ("name", "uid", "integration_types", "integration_count", "last_notification")
    search_fields = ("name", "uid")
    fields = ("name", "uid", "description")
    inlines = (IntegrationInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ContactPoint]:
        # Annotated and prefetched so the list costs the same few queries for any number of rows.
        last_received = (
            Notification.objects.filter(contact_point=OuterRef("pk")).order_by("-received_at").values("received_at")[:1]
        )
        return (
            super()
            .get_queryset(request)
            .annotate(integration_total=Count("integrations"), last_notification_at=Subquery(last_received))
            .prefetch_related("integrations")
        )

    def get_form(self, request: HttpRequest, obj: ContactPoint | None = None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.base_fields["uid"].help_text = "Leave blank to use the slug of the name (Ops Team → ops-team)."
        return form

    @admin.display(description="integrations")
    def integration_types(self, obj: ContactPoint) -> str:
        return ", ".join(integration.type_label for integration in obj.integrations.all())

    @admin.display(description="count", ordering="integration_total")
    def integration_count(self, obj: ContactPoint) -> int:
        return obj.integration_total

    @admin.display(description="last notification", ordering="last_notification_at", empty_value="never")
    def last_notification(self, obj: ContactPoint):
        return obj.last_notification_at
