"""Template previews in the admin: a JSON view that renders a template against sample alerts.

The template editor calls it as you type, and the Preview button of each templated setting of
an integration calls it for that field (contactpoints/static/contactpoints/admin.js). It speaks
the API's preview shapes: `{"output"}`, or `{"error", "line"}`.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path
from django.views.decorators.http import require_POST

from contactpoints.intake import IntakeError, TooManyAlerts
from contactpoints.json_limits import JSONTooDeep, load_json
from contactpoints.previews import render_preview
from integrations.alertdata import sample_alerts
from integrations.go_templates import GO, JINJA


def sample_alerts_json() -> str:
    """The editable sample alerts the editor starts from."""
    return json.dumps(sample_alerts(), indent=2, ensure_ascii=False)


def preview_answer(body: bytes) -> tuple[dict[str, Any], int]:
    """The preview for `{"template": "...", "alerts"?: [...]}`, with the HTTP status to answer."""
    try:
        payload = load_json(body or b"{}")
    except JSONTooDeep as exc:
        return {"error": f"{exc}."}, 400
    except ValueError:
        return {"error": "The request is not JSON."}, 400
    template = payload.get("template") if isinstance(payload, dict) else None
    if not isinstance(template, str):
        return {"error": "Send the template as a string."}, 400
    syntax = payload.get("syntax") if payload.get("syntax") in (GO, JINJA) else None  # else detected
    try:
        # No alerts (or an empty list) means the built-in sample alerts.
        return render_preview(template, payload.get("alerts") or None, syntax), 200
    except (IntakeError, TooManyAlerts) as exc:
        return {"error": f"The sample alerts are not usable: {exc}", "alerts": True}, 400


class TemplatePreviewAdminMixin:
    """Adds `<model>/preview/` (URL name `<app>_<model>_preview`) to a ModelAdmin."""

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_preview"
        view = self.admin_site.admin_view(require_POST(self.preview_view))  # admin_view checks CSRF
        return [path("preview/", view, name=name), *super().get_urls()]

    def preview_view(self: admin.ModelAdmin, request: HttpRequest) -> JsonResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        answer, status = preview_answer(request.body)
        return JsonResponse(answer, status=status)
