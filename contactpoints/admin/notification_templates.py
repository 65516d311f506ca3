"""Notification templates: a name and Jinja2 content, checked before it is saved."""

from __future__ import annotations

from django.contrib import admin

from contactpoints.forms import NotificationTemplateForm
from contactpoints.models import NotificationTemplate


@admin.register(NotificationTemplate)
class NotificationTemplateAdmin(admin.ModelAdmin):
    form = NotificationTemplateForm
    list_display = ("name", "updated_at")
    search_fields = ("name", "content")
