"""Notification templates: a name and Jinja2 content, checked before it is saved, with a live
preview against sample alerts that can be edited (templates/admin/contactpoints/notificationtemplate/).
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from contactpoints.admin.previews import TemplatePreviewAdminMixin, sample_alerts_json
from contactpoints.forms import NotificationTemplateForm
from contactpoints.models import NotificationTemplate


@admin.register(NotificationTemplate)
class NotificationTemplateAdmin(TemplatePreviewAdminMixin, admin.ModelAdmin):
    form = NotificationTemplateForm
    list_display = ("name", "updated_at")
    search_fields = ("name", "content")

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        extra_context = {"sample_alerts_json": sample_alerts_json(), **(extra_context or {})}
        return super().changeform_view(request, object_id, form_url, extra_context)
