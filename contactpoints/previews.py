"""Template previews (admin editor and API): render a template against sample or given alerts."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from contactpoints.intake import parse_intake
from contactpoints.sending import template_renderer
from integrations.alertbuilder import build_template_data
from integrations.alertdata import sample_alerts
from integrations.go_templates import GO
from integrations.templating import TemplateError, as_template_error, syntax_of

PREVIEW_RECEIVER = "preview"


def render_preview(
    template: str, alerts: list[dict[str, Any]] | None = None, syntax: str | None = None
) -> dict[str, Any]:
    """`{"output": text, "syntax": …}` or `{"error": message, "line": n, "column": n, "syntax": …}`;
    alerts in any intake alert shape. A Go notification template shows each template it defines.
    `syntax` None: the engine a templated setting with this text would use.

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
    syntax = syntax or syntax_of(template)
    try:
        if syntax == GO:
            with as_template_error():
                return {"output": renderer.go.preview(template, data), "syntax": syntax}
        return {"output": renderer.render(template, data, syntax=syntax), "syntax": syntax}
    except TemplateError as exc:
        answer = {"error": exc.message, "line": exc.lineno, "syntax": syntax}
        return answer | ({"column": exc.column} if exc.column else {})
