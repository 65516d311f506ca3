"""Template previews (admin editor and API): render a template against sample or given alerts."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from contactpoints.intake import parse_intake
from contactpoints.sending import template_renderer
from integrations.alertbuilder import build_template_data
from integrations.alertdata import sample_alerts
from integrations.templating import TemplateError

PREVIEW_RECEIVER = "preview"


def render_preview(template: str, alerts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """`{"output": text}` or `{"error": message, "line": n}`; alerts in any intake alert shape.

    Raises IntakeError when the given alerts are malformed (the caller answers 400).
    """
    stored = sample_alerts() if not alerts else parse_intake(alerts, max_alerts=settings.INTAKE_MAX_ALERTS).alerts
    data = build_template_data(
        stored,
        receiver=PREVIEW_RECEIVER,
        group_key='{}/{contact_point="preview"}:{}',
        group_labels={},
        external_url=settings.PUBLIC_URL,
        app_version=settings.VERSION,
    )
    renderer = template_renderer()
    try:
        return {"output": renderer.render(template, data)}
    except TemplateError as exc:
        return {"error": exc.message, "line": exc.lineno}
