"""Go-syntax settings and templates through the renderer every send uses (issue 10): which engine a
text is for, Grafana's built-ins by name, errors naming the engine, line and column."""

from __future__ import annotations

import re

import pytest

from integrations.base import SettingsError
from integrations.go_templates import GO, JINJA
from integrations.slack import Slack
from integrations.template_sandbox import render_budget
from integrations.templating import TemplateError, TemplateRenderer, TemplateTimeLimitError, syntax_of
from tests.integrations.test_templating import alert, data

FIRING = alert({"alertname": "HighCPU", "team": "ops"}, {"summary": "CPU at 97%"})
RESOLVED = alert({"alertname": "HighCPU", "team": "ops", "instance": "b"}, status="resolved")


def render(source: str, go_templates: dict[str, str] | None = None, jinja_templates: dict[str, str] | None = None):
    renderer = TemplateRenderer(jinja_templates, go_templates=go_templates, version="1.2.3")
    return renderer.render(source, data([FIRING, RESOLVED], group_labels={"alertname": "HighCPU"}))


@pytest.mark.parametrize(
    ("source", "syntax"),
    [
        ("{{ .CommonLabels.alertname }}", GO),
        ('{{ template "default.title" . }}', GO),
        ("{{ len .Alerts.Firing }} firing", GO),
        ("{{ $x := 1 }}{{ $x }}", GO),
        ("{{/* a comment */}}text", GO),
        ('{{ if eq .Status "firing" }}!{{ end }}', GO),
        ('{{ template("default.title") }}', JINJA),
        ("{{ CommonLabels.alertname }}", JINJA),
        ("{% for a in Alerts %}{{ a.Labels.alertname }}{% endfor %}", JINJA),
        ("{{ Alerts.Firing | length }}", JINJA),
        ("plain text", JINJA),
    ],
)
def test_which_engine_a_setting_is_for(source, syntax):
    assert syntax_of(source) == syntax


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # The three examples, which used to fail or render wrong.
        ("{{ .CommonLabels.alertname }}", "HighCPU"),
        ('{{ template "default.title" . }}', "[FIRING:1, RESOLVED:1] HighCPU (ops)"),
        ("{{ len .Alerts.Firing }} firing", "1 firing"),
        ("{{ range .Alerts.Resolved }}{{ .Labels.instance }}{{ end }}", "b"),
        ('{{ .CommonLabels.team | toUpper }} {{ printf "%05.1f" 3.14159 }}', "OPS 003.1"),
        ('{{ template "team.title" . }}', "Team ops"),  # a user's Go template
    ],
)
def test_go_settings_render_as_grafana_renders_them(source, expected):
    go_templates = {"team": '{{ define "team.title" }}Team {{ .CommonLabels.team }}{{ end }}'}
    assert render(source, go_templates) == expected


def test_both_syntaxes_give_grafanas_default_title():
    jinja = render('{{ template("default.title") }}')
    assert jinja == render('{{ template "default.title" . }}') == "[FIRING:1, RESOLVED:1] HighCPU (ops)"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ .Status | nope }}", 'Go template: line 1, column 14: function "nope" not defined'),
        ("line one\n{{ if .Status }}", "Go template: line 2"),
    ],
)
def test_go_errors_name_the_engine_line_and_column(source, message):
    with pytest.raises(TemplateError) as error:
        TemplateRenderer().check(source)
    assert str(error.value).startswith(message)
    assert error.value.lineno == int(message.split("line ")[1][0])


def test_a_go_template_out_of_time_fails_its_delivery_like_a_jinja_one():
    with render_budget(0.0), pytest.raises(TemplateTimeLimitError) as error:  # the delivery's budget is spent
        render("{{ .Status }}")
    assert "time limit" in str(error.value)


@pytest.mark.parametrize(
    "source", ['{{ printf "%50000s" "x" }}', '{{ printf "%.900000f" 1.5 }}', '{{ printf "%*d" 99999 1 }}']
)
def test_go_printf_widths_have_the_sandboxs_bound(source):
    with pytest.raises(TemplateError) as error:
        render(source)
    assert "exceeds the maximum of 10000" in str(error.value)


GENERATOR = "http://prom:9090/graph?g0.expr=up%7Bjob%3D%22api%22%7D+%3D%3D+0&g0.tab=1"
# Go's json.Marshal of Grafana's explore struct (field order, `>` escaped), then url.QueryEscape.
EXPLORE = (
    "http://grafana/explore?left=%7B%22range%22%3A%7B%22from%22%3A%22now-1h%22%2C%22to%22%3A%22now%22%7D%2C"
    "%22queries%22%3A%5B%7B%22datasource%22%3A%7B%22type%22%3A%22prometheus%22%2C%22uid%22%3A%22prom1%22%7D%2C"
    "%22expr%22%3A%22up+%5Cu003e+0%22%2C%22instant%22%3Afalse%2C%22range%22%3Atrue%2C%22refId%22%3A%22A%22%7D%5D%7D"
)


@pytest.mark.parametrize(
    ("go", "jinja", "expected"),
    [
        (
            f'{{{{ queryFromGeneratorURL "{GENERATOR}" }}}}',
            f'{{{{ queryFromGeneratorURL("{GENERATOR}") }}}}',
            'up{job="api"} == 0',
        ),
        (
            '{{ grafanaExploreURL "http://grafana" "prom1" "now-1h" "now" "up > 0" }}',
            '{{ grafanaExploreURL("http://grafana", "prom1", "now-1h", "now", "up > 0") }}',
            EXPLORE,
        ),
    ],
)
def test_grafanas_url_functions_in_both_syntaxes(go, jinja, expected):
    assert render(go) == render(jinja) == expected


def test_a_generator_url_without_a_query_is_a_template_error():
    with pytest.raises(TemplateError, match="query not found in the generator URL"):
        render('{{ queryFromGeneratorURL "http://prom:9090/graph" }}')


@pytest.mark.parametrize(
    ("title", "error"),
    [
        ("{{ .Status | nope }}", 'Go template: line 1, column 14: function "nope" not defined'),
        ('{{ template "ops.title" . }}', None),  # defined later in a notification template: fine
        ("{{ .CommonLabels.alertname }}", None),
        ("{{ Status | no_such_filter }}", None),  # Jinja2: Grafana's rule, blank at send time
    ],
)
def test_a_go_setting_with_an_unknown_function_is_refused_when_saved(title, error):
    settings = {"url": "https://hooks.slack.com/services/T0/B0/X", "title": title}
    if error is None:
        assert Slack.validate(settings)["title"] == title
        return
    with pytest.raises(SettingsError) as refused:
        Slack.validate(settings)
    assert refused.value.errors == [("title", error)]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('{{ (index .Alerts 0).StartsAt | tz "Mars/Olympus" }}', "unknown time zone Mars/Olympus"),
        ('{{ (index .Alerts 0).StartsAt | tz "../../etc/passwd" }}', "unknown time zone ../../etc/passwd"),
        ("{{ tz('Mars/Olympus', Alerts[0].StartsAt) }}", "unknown time zone 'Mars/Olympus'"),
        ("{{ tz('../../etc/passwd', Alerts[0].StartsAt) }}", "unknown time zone '../../etc/passwd'"),
    ],
)
def test_an_unknown_time_zone_is_a_template_error_in_both_syntaxes(source, message):
    with pytest.raises(TemplateError, match=re.escape(message)):
        render(source)
