"""Notification templates: a name, a syntax (Go or Jinja2) and content, checked by its engine before
it is saved, with a live preview against sample alerts that can be edited
(templates/admin/contactpoints/notificationtemplate/). Templates provisioned as code are read-only here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from contactpoints.admin.previews import TemplatePreviewAdminMixin, sample_alerts_json
from contactpoints.forms import MONOSPACE_ATTRS
from contactpoints.models import NotificationTemplate, Provenance, TemplateSyntax
from contactpoints.template_syntax import TemplateProblem, check_template, detect_syntax

DETECT = ""
MANAGED_PROVENANCES = (Provenance.API, Provenance.FILE)
SYNTAX_HELP = (
    "Go: Grafana's text/template (<code>{{ .CommonLabels.team }}</code>, "
    '<code>{{ template "default.title" . }}</code>); Jinja2: <code>{{ CommonLabels.team }}</code>, '
    '<code>template("default.title")</code>. "Detect" picks Go when the content uses a form only Go has '
    "(<code>.Field</code>, <code>$x</code>, <code>{{/* */}}</code>), parses as Go with a keyword "
    "(<code>define</code>, <code>if</code>, <code>range</code>…) or is Go and not Jinja2; else Jinja2."
)


class NotificationTemplateForm(forms.ModelForm):
    syntax = forms.ChoiceField(
        choices=[(DETECT, "Detect from the content"), *TemplateSyntax.choices], required=False, help_text=SYNTAX_HELP
    )

    class Meta:
        model = NotificationTemplate
        fields = ("name", "syntax", "content")
        widgets = {"content": forms.Textarea(attrs={**MONOSPACE_ATTRS, "rows": 24})}
        help_texts = {
            "content": "Over Grafana's data model. Other templates call it by name: "
            '<code>{{ template "name" . }}</code> in Go, <code>template("name")</code> in Jinja2.'
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        content = cleaned.get("content")
        if content is None:
            return cleaned
        cleaned["syntax"] = cleaned.get("syntax") or detect_syntax(content)
        try:
            check_template(cleaned.get("name") or "template", content, cleaned["syntax"])
        except TemplateProblem as exc:
            self.add_error("content", forms.ValidationError(str(exc), code="template"))
        return cleaned


def is_managed(obj: NotificationTemplate | None) -> bool:
    return obj is not None and obj.provenance in MANAGED_PROVENANCES


@admin.register(NotificationTemplate)
class NotificationTemplateAdmin(TemplatePreviewAdminMixin, admin.ModelAdmin):
    form = NotificationTemplateForm
    list_display = ("name", "syntax", "provenance", "updated_at")
    list_filter = ("syntax", "provenance")
    search_fields = ("name", "content")

    def has_change_permission(self, request: HttpRequest, obj: NotificationTemplate | None = None) -> bool:
        return not is_managed(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: NotificationTemplate | None = None) -> bool:
        return not is_managed(obj) and super().has_delete_permission(request, obj)

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        template = self.get_object(request, object_id) if object_id else None
        extra_context = {
            "sample_alerts_json": sample_alerts_json(),
            "preview_engine": template.get_syntax_display() if template else "detected from the content",
            "managed_note": _managed_note(template),
            **(extra_context or {}),
        }
        return super().changeform_view(request, object_id, form_url, extra_context)


def _managed_note(template: NotificationTemplate | None) -> str:
    if not is_managed(template):
        return ""
    return (
        f"Managed as code (provisioned through the {template.get_provenance_display()}): "
        "read-only here. Change it where it is provisioned."
    )
