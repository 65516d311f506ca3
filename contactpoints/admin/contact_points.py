"""Contact points: the list with each integration's health, and the page with its integrations,
its tools (send a test, pause, duplicate, export, retry failed deliveries) and a paused banner.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from contactpoints.admin import operations
from contactpoints.admin.deliveries import plural, retry_deliveries
from contactpoints.admin.display import ago, badge, health, integration_lines, integration_state, integration_summary
from contactpoints.admin.filters import (
    ContactPointHealthFilter,
    ContactPointIntegrationTypeFilter,
    ContactPointPausedFilter,
)
from contactpoints.admin.send_test import send_test_view
from contactpoints.models import ContactPoint, Delivery, DeliveryStatus, Integration, Notification

# The row buttons post the page's second form (templates/admin/contactpoints/contactpoint/change_form.html):
# the change form itself cannot hold forms of its own.
ROW_ACTIONS_FORM = "cp-row-actions"


def admin_url(obj_or_model: Any, view: str, *args: Any) -> str:
    opts = obj_or_model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


class IntegrationInline(admin.TabularInline):
    """Integrations are edited on their own page (a form per type); here they are listed with health."""

    model = Integration
    template = "admin/contactpoints/contactpoint/integrations_inline.html"
    # Every column is read-only; the row's "Change" link leads to the integration's own form.
    # State, health and actions first: what someone paged at night looks for.
    fields = readonly_fields = ("type_label", "state", "health", "row_actions", "summary", "resolve_message_disabled")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: ContactPoint | None = None) -> bool:
        return False  # adding goes through the type picker (the link under the table)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Integration]:
        return super().get_queryset(request).select_related("contact_point")  # for the state column

    @admin.display(description="type")
    def type_label(self, obj: Integration) -> str:
        return obj.type_label

    @admin.display(description="summary")
    def summary(self, obj: Integration) -> str:
        return integration_summary(obj)

    @admin.display(description="state")
    def state(self, obj: Integration) -> SafeString:
        return integration_state(obj)

    @admin.display(description="disable resolved message", boolean=True)
    def resolve_message_disabled(self, obj: Integration) -> bool:
        return obj.disable_resolve_message

    @admin.display(description="health (last attempt)")
    def health(self, obj: Integration) -> SafeString:
        return health(obj)

    @admin.display(description="actions")
    def row_actions(self, obj: Integration) -> SafeString:
        test_url = admin_url(ContactPoint, "send_test", obj.contact_point_id) + f"?integration={obj.uid}"
        view = "resume" if obj.paused else "pause"
        return format_html(
            '<a href="{}">Send test</a> · '
            '<button type="submit" class="cp-link-button" form="{}" formaction="{}">{}</button>',
            test_url,
            ROW_ACTIONS_FORM,
            admin_url(obj, view, obj.pk),
            view.capitalize(),
        )


@admin.register(ContactPoint)
class ContactPointAdmin(admin.ModelAdmin):
    list_display = ("name_display", "uid", "integrations_health", "fallback", "last_notification")
    list_filter = (ContactPointIntegrationTypeFilter, ContactPointHealthFilter, ContactPointPausedFilter)
    search_fields = ("name", "uid")
    fields = ("name", "uid", "description", "fallback")
    inlines = (IntegrationInline,)
    actions = ("pause_selected", "resume_selected", "retry_failed_deliveries", "export_yaml", "export_json")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ContactPoint]:
        # Annotated and prefetched so the list costs the same few queries for any number of rows.
        last_received = (
            Notification.objects.filter(contact_point=OuterRef("pk")).order_by("-received_at").values("received_at")[:1]
        )
        return (
            super()
            .get_queryset(request)
            .annotate(last_notification_at=Subquery(last_received))
            .select_related("fallback")
            .prefetch_related("integrations")
        )

    def get_form(self, request: HttpRequest, obj: ContactPoint | None = None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.base_fields["uid"].help_text = "Leave blank to use the slug of the name (Ops Team → ops-team)."
        if "fallback" in form.base_fields and obj is not None:
            # Never itself: the choice is not offered, and a posted one is refused as not a choice.
            fallback = form.base_fields["fallback"]
            fallback.queryset = fallback.queryset.exclude(pk=obj.pk)
        return form

    # -- the list ------------------------------------------------------------------------------

    @admin.display(description="name", ordering="name")
    def name_display(self, obj: ContactPoint) -> SafeString:
        return format_html("{} {}", obj.name, badge("paused", "paused") if obj.paused else "")

    @admin.display(description="integrations and their health")
    def integrations_health(self, obj: ContactPoint) -> SafeString:
        return integration_lines(obj.integrations.all())

    @admin.display(description="last notification", ordering="last_notification_at", empty_value="never")
    def last_notification(self, obj: ContactPoint) -> SafeString | None:
        return ago(obj.last_notification_at) if obj.last_notification_at else None

    @admin.action(description="Pause selected contact points", permissions=["change"])
    def pause_selected(self, request: HttpRequest, queryset: QuerySet[ContactPoint]) -> None:
        operations.set_paused(self, request, queryset, paused=True)

    @admin.action(description="Resume selected contact points", permissions=["change"])
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[ContactPoint]) -> None:
        operations.set_paused(self, request, queryset, paused=False)

    @admin.action(description="Retry the failed deliveries of selected contact points", permissions=["change"])
    def retry_failed_deliveries(self, request: HttpRequest, queryset: QuerySet[ContactPoint]) -> None:
        failed = Delivery.objects.filter(integration__contact_point__in=queryset, status=DeliveryStatus.FAILED)
        self.message_user(request, f"Queued {plural(retry_deliveries(failed), 'failed delivery')} again.")

    @admin.action(description="Export selected as provisioning YAML")
    def export_yaml(self, request: HttpRequest, queryset: QuerySet[ContactPoint]) -> HttpResponse:
        return operations.export_response(queryset, "yaml", "contact-points")

    @admin.action(description="Export selected as provisioning JSON")
    def export_json(self, request: HttpRequest, queryset: QuerySet[ContactPoint]) -> HttpResponse:
        return operations.export_response(queryset, "json", "contact-points")

    # -- the page and its tools ----------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        # (path, view, URL name suffix, POST only): the ones that change something want POST.
        tools = [
            ("export/", self.export_all_view, "export_all", False),
            ("<path:object_id>/export/", self.export_view, "export", False),
            ("<path:object_id>/test/", self.send_test_view, "send_test", False),
            ("<path:object_id>/pause/", self.pause_view, "pause", True),
            ("<path:object_id>/resume/", self.resume_view, "resume", True),
            ("<path:object_id>/duplicate/", self.duplicate_view, "duplicate", True),
            ("<path:object_id>/retry-deliveries/", self.retry_view, "retry_deliveries", True),
        ]
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            *(
                path(
                    route,
                    self.admin_site.admin_view(require_POST(view) if post_only else view),
                    name=f"{prefix}_{name}",
                )
                for route, view, name, post_only in tools
            ),
            *super().get_urls(),
        ]

    def _changeable(self, request: HttpRequest, object_id: str) -> ContactPoint:
        contact_point = self.get_object(request, object_id)
        if contact_point is None:
            raise Http404("No such contact point.")
        if not self.has_change_permission(request, contact_point):
            raise PermissionDenied
        return contact_point

    def send_test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return send_test_view(self, request, object_id)

    def pause_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._set_paused(request, object_id, paused=True)

    def resume_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._set_paused(request, object_id, paused=False)

    def _set_paused(self, request: HttpRequest, object_id: str, paused: bool) -> HttpResponse:
        contact_point = self._changeable(request, object_id)
        operations.set_paused(self, request, ContactPoint.objects.filter(pk=contact_point.pk), paused)
        return operations.redirect_back(request, admin_url(contact_point, "change", contact_point.pk))

    def duplicate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        original = self._changeable(request, object_id)
        if not self.has_add_permission(request):
            raise PermissionDenied
        copy = operations.duplicate_contact_point(original)
        self.log_addition(request, copy, f"Duplicated from “{original}”.")
        self.message_user(
            request,
            f"Made “{copy}” from “{original}” with its {plural(copy.integrations.count(), 'integration')} and "
            "their secrets. Rename it and change what differs.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(admin_url(copy, "change", copy.pk))

    def retry_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        contact_point = self._changeable(request, object_id)
        status = DeliveryStatus.PAUSED if request.POST.get("status") == DeliveryStatus.PAUSED else DeliveryStatus.FAILED
        deliveries = Delivery.objects.filter(integration__contact_point=contact_point, status=status)
        noun = "held delivery" if status == DeliveryStatus.PAUSED else "failed delivery"
        self.message_user(request, f"Queued {plural(retry_deliveries(deliveries), noun)} again.", messages.SUCCESS)
        return HttpResponseRedirect(admin_url(contact_point, "change", contact_point.pk))

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        contact_point = self.get_object(request, object_id)
        if contact_point is None:
            raise Http404("No such contact point.")
        if not self.has_view_permission(request, contact_point):
            raise PermissionDenied
        queryset = ContactPoint.objects.filter(pk=contact_point.pk)
        return operations.export_response(
            queryset, request.GET.get("format", "yaml"), f"contact-point-{contact_point.uid}"
        )

    def export_all_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return operations.export_response(
            ContactPoint.objects.all(), request.GET.get("format", "yaml"), "contact-points"
        )

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None) -> HttpResponse:
        contact_point = self.get_object(request, object_id)
        if contact_point is not None:
            extra_context = {**self._page_context(contact_point), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context)

    @staticmethod
    def _page_context(contact_point: ContactPoint) -> dict[str, Any]:
        """What the banner and the tools say: paused parts, and deliveries worth sending again."""
        counts = dict(
            Delivery.objects.filter(
                integration__contact_point=contact_point, status__in=(DeliveryStatus.FAILED, DeliveryStatus.PAUSED)
            )
            .values_list("status")
            .annotate(count=Count("pk"))
            .order_by()
        )
        return {
            "paused_integrations": [i for i in contact_point.integrations.all() if i.paused],
            "failed_count": counts.get(DeliveryStatus.FAILED, 0),
            "held_count": counts.get(DeliveryStatus.PAUSED, 0),
            "paused_means": operations.PAUSED_MEANS,
            "row_actions_form": ROW_ACTIONS_FORM,
        }

    def response_add(self, request: HttpRequest, obj: ContactPoint, post_url_continue: str | None = None):
        # A contact point without integrations sends nothing: after "Save", stay to add one.
        if "_addanother" not in request.POST and IS_POPUP_VAR not in request.POST:
            self.message_user(request, f"Added “{obj}”. Now add an integration: how it should reach you.")
            return HttpResponseRedirect(admin_url(obj, "change", obj.pk))
        return super().response_add(request, obj, post_url_continue)
