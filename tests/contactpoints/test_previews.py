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
        ("{{ Status }}", {"output": "firing"}),
        ('{{ template("default.title") }}', {"output": "[FIRING:1, RESOLVED:1]  (HighCPU critical ops)"}),
        ("line one\n{{ Alerts[0].Labels.alertname }}", {"output": "line one\nHighCPU"}),
        ("one\n{% if %}", {"error": "Expected an expression, got 'end of statement block'", "line": 2}),
        ('{{ template("nope") }}', {"error": 'template "nope" not defined', "line": None}),
    ],
)
def test_preview_against_sample_alerts(template, expected):
    assert render_preview(template) == expected


def test_preview_against_given_alerts_and_user_templates():
    NotificationTemplate.objects.create(name="team.title", content="Team {{ CommonLabels.team }}")
    alerts = [{"labels": {"alertname": "Down", "team": "db"}}]
    assert render_preview('{{ template("team.title") }}: {{ Alerts|length }}', alerts) == {"output": "Team db: 1"}


def test_malformed_alerts_are_an_intake_error():
    with pytest.raises(IntakeError):
        render_preview("{{ Status }}", [{"labels": "nope"}])
