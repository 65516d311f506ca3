"""Template previews: output, errors with their line, given alerts, user templates."""

from __future__ import annotations

import pytest

from contactpoints.intake import IntakeError
from contactpoints.models import NotificationTemplate
from contactpoints.previews import render_preview

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ Status }}", {"output": "firing", "syntax": "jinja"}),
        (
            '{{ template("default.title") }}',
            {"output": "[FIRING:1, RESOLVED:1]  (HighCPU critical ops)", "syntax": "jinja"},
        ),
        ("line one\n{{ Alerts[0].Labels.alertname }}", {"output": "line one\nHighCPU", "syntax": "jinja"}),
        (
            "one\n{% if %}",
            {"error": "Expected an expression, got 'end of statement block'", "line": 2, "syntax": "jinja"},
        ),
        ('{{ template("nope") }}', {"error": 'template "nope" not defined', "line": None, "syntax": "jinja"}),
    ],
)
def test_preview_against_sample_alerts(template, expected):
    assert render_preview(template) == expected


def test_preview_against_given_alerts_and_user_templates():
    NotificationTemplate.objects.create(name="team.title", content="Team {{ CommonLabels.team }}")
    alerts = [{"labels": {"alertname": "Down", "team": "db"}}]
    assert render_preview('{{ template("team.title") }}: {{ Alerts|length }}', alerts) == {
        "output": "Team db: 1",
        "syntax": "jinja",
    }


def test_malformed_alerts_are_an_intake_error():
    with pytest.raises(IntakeError):
        render_preview("{{ Status }}", [{"labels": "nope"}])


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ .Status }}", {"output": "firing", "syntax": "go"}),
        (
            '{{ template "default.title" . }}',
            {"output": "[FIRING:1, RESOLVED:1]  (HighCPU critical ops)", "syntax": "go"},
        ),
        # A notification template being edited: each template it defines, under its name.
        (
            '{{ define "ops.title" }}{{ .CommonLabels.alertname }}{{ end }}'
            '{{ define "ops.count" }}{{ len .Alerts }}{{ end }}',
            {"output": "ops.title:\nHighCPU\n\nops.count:\n2", "syntax": "go"},
        ),
        (
            "one\n{{ .Status | nope }}",
            {
                "error": 'Go template: line 2, column 14: function "nope" not defined',
                "line": 2,
                "column": 14,
                "syntax": "go",
            },
        ),
    ],
)
def test_go_templates_preview_in_their_syntax(template, expected):
    assert render_preview(template) == expected
