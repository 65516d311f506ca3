"""Grafana's documented notification-template examples render here as Grafana renders them (issue 10).

Each row: the documented `{{ define }}`s (a notification template), the setting that calls them, the
alerts, and the text. Where a page shows the output, the row asserts it; where the page's output is
only illustrative (it drops whitespace Go keeps, or its data disagrees with its template), the row
asserts what Go's text/template prints for the template as written, derived by hand from Go's rules
(`{{-`/`-}}` trim, missingkey=zero, fmt's %v) and spec §3; each such row says so in a comment.
Pages, newest first (the grafana/grafana repo's docs/sources/alerting/...):
  EXAMPLES  https://grafana.com/docs/grafana/latest/alerting/configure-notifications/template-notifications/examples/
  CREATE    .../template-notifications/create-notification-templates/ (email and Slack sections)
  LANGUAGE  .../template-notifications/language/ and the older .../using-go-templating-language/
  REFERENCE .../template-notifications/reference/ (data, KV methods, functions, time)
  GRAFANA8  https://grafana.com/docs/grafana/v8.4/alerting/unified-alerting/message-templating/
"""

from __future__ import annotations

import pytest

from integrations.alertbuilder import build_template_data
from integrations.templating import TemplateError, TemplateRenderer
from tests.integrations.test_templating import alert

STARTS = "2024-01-02T03:04:05Z"


def notification(alerts: list[dict], group_labels: dict | None = None, **options: str):
    return build_template_data(
        alerts,
        receiver=options.get("receiver", "cp"),
        group_key="{}:{}",
        group_labels=group_labels or {},
        external_url=options.get("external_url", "http://localhost"),
    )


def two_test_alerts():
    """Two firing alerts, the data of LANGUAGE's examples."""
    labels = [{"alertname": "Test", "grafana_folder": "Test alerts"}, {"alertname": "Test2", "grafana_folder": "X"}]
    return notification([alert(each, {"summary": "Disk full"}, startsAt=STARTS) for each in labels])


def one_test_alert():
    return notification([alert({"alertname": "Test", "grafana_folder": "Test alerts"})])


def db_and_web():
    """EXAMPLES' data: the database alert firing, the web server's resolved."""
    url = "https://example.com/grafana/alerting/grafana/view"
    db = {
        "summary": "The database server db1 has exceeded 75% of available disk space.",
        "description": "This alert fires when a database server is at risk of running out of disk space.",
        "runbook_url": "https://example.com/on-call/database_server_high_disk_usage",
    }
    web = {"summary": "The web server web1 has been responding to 5% of HTTP requests with 5xx errors."}
    return notification(
        [
            alert({"alertname": "database_high_disk_usage", "server": "db1"}, db, generatorURL=url),
            alert({"alertname": "web_server_high_5xx_rate", "server": "web1"}, web, "resolved", generatorURL=url),
        ],
        external_url="https://example.com/grafana",
    )


def email_tests():
    """CREATE's email data: Test 1 and Test 2 firing, Test 3 resolved, each with a value B."""
    alerts = [
        alert({"alertname": f"Test {n}", "grafana_folder": "GrafanaCloud"}, {"__values__": f'{{"B": {b}}}'}, status)
        for n, b, status in ((1, 1, "firing"), (2, 2, "firing"), (3, 0, "resolved"))
    ]
    return notification(alerts)


def slack_tests():
    """CREATE's Slack data: Test1 firing, Test2 resolved, a description and a dashboard each."""
    alerts = [
        alert(
            {"alertname": name, "grafana_folder": "GrafanaCloud"},
            {"description": description, "__dashboardUid__": "dlhdLqF4z"},
            status,
        )
        for name, description, status in (
            ("Test1", "This is a test alert", "firing"),
            ("Test2", "This is another test alert", "resolved"),
        )
    ]
    return notification(alerts, external_url="https://example.com")


def high_cpu():
    return notification(
        [
            alert({"alertname": "HighCPU", "instance": i}, {"__values__": f'{{"A": {v}}}'})
            for i, v in (("est-03", 79), ("wst-02", 74))
        ]
    )


def namespace(name: str):
    return lambda: notification([alert({"alertname": "CPU", "namespace": name})])


def servers():
    """The "Table" example: each alert's ServerInfo annotation is one `host<TAB>value<LF>` row."""
    rows = (("node1", "123"), ("node2", "456"))
    return notification([alert({"instance": h}, {"ServerInfo": f"{h}\t{v}\n", "summary": "s"}) for h, v in rows])


def resolved_with_dashboard():
    """REFERENCE's alert-data example: values, a value string, dashboard and panel; receiver regex-quoted."""
    annotations = {
        "ann1": "annv1",
        "__values__": '{"A": 1, "B": 2.5}',
        "__value_string__": "[ var='A' value=1 ]",
        "__dashboardUid__": "abcd",
        "__panelId__": "efgh",
    }
    labels = {"alertname": "alert1", "lbl1": "val1"}
    resolved = alert(labels, annotations, "resolved", startsAt=STARTS, endsAt="2024-01-02T04:00:00Z")
    return notification([resolved], {"alertname": "alert1"}, receiver="email.ops")


def no_alerts():
    return notification([])


def render(definitions: str, setting: str, data) -> str:
    return TemplateRenderer(go_templates={"docs": definitions} if definitions else {}).render(setting, data())


SUMMARIZE = """{{ define "alerts.message" -}}
{{ if .Alerts.Firing -}}
{{ len .Alerts.Firing }} firing alert(s)
{{ template "alerts.summarize" .Alerts.Firing }}
{{- end }}
{{- if .Alerts.Resolved -}}
{{ len .Alerts.Resolved }} resolved alert(s)
{{ template "alerts.summarize" .Alerts.Resolved }}
{{- end }}
{{- end }}
"""
DB = "The database server db1 has exceeded 75% of available disk space."
WEB = "The web server web1 has been responding to 5% of HTTP requests with 5xx errors."
DB_SILENCE = (
    "https://example.com/grafana/alerting/silence/new?alertmanager=grafana"
    "&matcher=alertname%3Ddatabase_high_disk_usage&matcher=server%3Ddb1"
)
VIEW = "https://example.com/grafana/alerting/grafana/view"
COUNTS = "{{ len .Alerts.Firing }} firing alert(s), {{ len .Alerts.Resolved }} resolved alert(s)"
SLACK = """{{ define "slack.print_alert" -}}
[{{.Status}}] {{ .Labels.alertname }}
Labels:
{{ range .Labels.SortedPairs -}}
- {{ .Name }}: {{ .Value }}
{{ end -}}
{{ if .Annotations -}}
Annotations:
{{ range .Annotations.SortedPairs -}}
- {{ .Name }}: {{ .Value }}
{{ end -}}
{{ end -}}
{{ if .SilenceURL -}}
  Silence: {{ .SilenceURL }}
{{ end -}}
{{ if .DashboardURL -}}
  Go to dashboard: {{ .DashboardURL }}
{{- end }}
{{- end }}

{{ define "slack.message" -}}
{{ if .Alerts.Firing -}}
{{ len .Alerts.Firing }} firing alert(s):
{{ range .Alerts.Firing }}
{{ template "slack.print_alert" . }}
{{ end -}}
{{ end }}
{{ if .Alerts.Resolved -}}
{{ len .Alerts.Resolved }} resolved alert(s):
{{ range .Alerts.Resolved }}
{{ template "slack.print_alert" .}}
{{ end -}}
{{ end }}
{{- end }}
"""


def slack_alert(name: str, status: str, description: str) -> str:
    silence = f"https://example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3D{name}"
    return (
        f"[{status}] {name}\nLabels:\n- alertname: {name}\n- grafana_folder: GrafanaCloud\n"
        f"Annotations:\n- description: {description}\nSilence: {silence}&matcher=grafana_folder%3DGrafanaCloud\n"
        "Go to dashboard: https://example.com/d/dlhdLqF4z"
    )


EMAIL = """{{- define "email.message_alert" -}}
{{- range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }} has value(s)
{{- range $k, $v := .Values }} {{ $k }}={{ $v }}{{ end }}
{{- end -}}

{{ define "email.message" }}
There are {{ len .Alerts.Firing }} firing alert(s), and {{ len .Alerts.Resolved }} resolved alert(s)

{{ if .Alerts.Firing -}}
Firing alerts:
{{- range .Alerts.Firing }}
- {{ template "email.message_alert" . }}
{{- end }}
{{- end }}

{{ if .Alerts.Resolved -}}
Resolved alerts:
{{- range .Alerts.Resolved }}
- {{ template "email.message_alert" . }}
{{- end }}
{{- end }}

{{ end }}
"""
MYALERT = """{{ define "myalert" }}
  [{{.Status}}] {{ .Labels.alertname }}

  Labels:
  {{ range .Labels.SortedPairs }}
    {{ .Name }}: {{ .Value }}
  {{ end }}

  {{ if gt (len .Annotations) 0 }}
  Annotations:
  {{ range .Annotations.SortedPairs }}
    {{ .Name }}: {{ .Value }}
  {{ end }}
  {{ end }}

  {{ if gt (len .SilenceURL ) 0 }}
    Silence alert: {{ .SilenceURL }}
  {{ end }}
  {{ if gt (len .DashboardURL ) 0 }}
    Go to dashboard: {{ .DashboardURL }}
  {{ end }}
{{ end }}

{{ define "mymessage" }}
  {{ if gt (len .Alerts.Firing) 0 }}
    {{ len .Alerts.Firing }} firing:
    {{ range .Alerts.Firing }} {{ template "myalert" .}} {{ end }}
  {{ end }}
  {{ if gt (len .Alerts.Resolved) 0 }}
    {{ len .Alerts.Resolved }} resolved:
    {{ range .Alerts.Resolved }} {{ template "myalert" .}} {{ end }}
  {{ end }}
{{ end }}
"""
NAMESPACES = """{{ define "my_conditional_notification" }}
{{ if eq .CommonLabels.namespace "namespace-a" }}
Alert: CPU limits have reached 80% in namespace-a.
{{ else if eq .CommonLabels.namespace "namespace-b" }}
Alert: CPU limits have reached 80% in namespace-b.
{{ else }}
Alert: CPU limits have reached 80% for {{ .CommonLabels.namespace }} namespace.
{{ end }}
{{ end }}"""
TABLE = """{{ define "Table" }}
{{- "\\nHost\\t\\tValue\\n" -}}
{{ range .Alerts -}}
{{ range .Annotations.SortedPairs -}}
{{ if (eq .Name  "ServerInfo") -}}
{{ .Value -}}
{{- end }}
{{- end }}
{{- end }}
{{ end }}"""
FUNCTIONS = """{{ define "custom_template" }}
  {{ title "hello, world!" }}
  {{ toUpper "Hello, world!" }}
  {{ toLower "Hello, world!" }}
  {{ trimSpace "Hello, world!" }}
  {{ match "a.*" "abc" }}
  {{ reReplaceAll "localhost:(.*)" "example.com:$1" "localhost:8080" }}
  {{ join "-" (stringSlice "a" "b" "c") }}
  {{ safeHtml "<b>Text</b>"}}
  {{ stringSlice "a" "b" "c" }}
{{ end }}"""
NOTIFICATION_DATA = """{{ define "custom_template" }}
  {{ .Receiver }}
  {{ .Status }}
  There are {{ len .Alerts }} alerts
  There are {{ len .Alerts.Firing }} firing alerts
  There are {{ len .Alerts.Resolved }} resolved alerts
  {{ .GroupLabels }}
  {{ .CommonLabels }}
  {{ .CommonAnnotations }}
  {{ .ExternalURL }}
{{ end }}"""
ALERT_DATA = """{{ define "custom_template" }}
{{ range .Alerts }}
  {{ .Status }}
  {{ .Labels }}
  {{ .Annotations }}
  {{ .Values }}
  {{ .StartsAt }}
  {{ .EndsAt }}
  {{ .GeneratorURL }}
  {{ .SilenceURL }}
  {{ .DashboardURL }}
  {{ .PanelURL }}
  {{ .Fingerprint }}
  {{ .ValueString }}
{{ end }}
{{ end }}"""
KV_METHODS = """{{ define "custom_template" }}
  {{ .CommonLabels.SortedPairs }}
  {{ .CommonLabels.Names }}
  {{ .CommonLabels.Values }}
  {{ .CommonLabels.Remove (stringSlice "grafana_folder") }}
{{ end }}"""
DASHBOARD = "http://localhost/d/abcd?from=1704161045000&to=1704168000000"  # StartsAt - 1h .. EndsAt, in ms (§3.3)
ALERT1_SILENCE = (
    "http://localhost/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Dalert1&matcher=lbl1%3Dval1"
)
CALL = '{{ template "custom_template" . }}'

DOCUMENTED = [
    # -- EXAMPLES: templating constructs (the same blocks are on LANGUAGE) --
    (
        "index",
        "",
        '{{ range .Alerts }}\nThe name of the alert is {{ index .Labels "alertname" }}\n{{ end }}',
        two_test_alerts,
        "\nThe name of the alert is Test\n\nThe name of the alert is Test2\n",
    ),
    (
        "if",
        "",
        "{{ if .Alerts }}\nThere are alerts\n{{ else }}\nThere are no alerts\n{{ end }}",
        two_test_alerts,
        "\nThere are alerts\n",
    ),
    (
        "if, no alerts",
        "",
        "{{ if .Alerts }}\nThere are alerts\n{{ else }}\nThere are no alerts\n{{ end }}",
        no_alerts,
        "\nThere are no alerts\n",
    ),
    (
        "with",
        "",
        "{{ with .Alerts }}\nThere are {{ len . }} alert(s)\n{{ else }}\nThere are no alerts\n{{ end }}",
        two_test_alerts,
        "\nThere are 2 alert(s)\n",
    ),
    (
        "variables",
        "",
        "{{ range .Alerts }}\n{{ $alert := . }}\n{{ range .Labels.SortedPairs }}\n{{ .Name }} = {{ .Value }}\n"
        "There are {{ len $alert.Labels }}\n{{ end }}\n{{ end }}",
        one_test_alert,
        "\n\n\nalertname = Test\nThere are 2\n\ngrafana_folder = Test alerts\nThere are 2\n\n",
    ),
    (
        "iterate over alerts: a KV prints as a=b, c=d",
        "",
        "{{ range .Alerts }}\n{{ .Labels }}\n{{ end }}",
        two_test_alerts,
        "\nalertname=Test, grafana_folder=Test alerts\n\nalertname=Test2, grafana_folder=X\n",
    ),
    (
        "iterate over labels and annotations",
        "",
        "{{ range .Alerts }}\n{{ range .Labels.SortedPairs }}\n"
        "The name of the label is {{ .Name }}, and the value is {{ .Value }}\n"
        "{{ end }}\n{{ range .Annotations.SortedPairs }}\nThe name of the annotation is {{ .Name }}, and the value is "
        "{{ .Value }}\n{{ end }}\n{{ end }}",
        lambda: notification([alert({"alertname": "Test"}, {"summary": "Disk full"})]),
        "\n\nThe name of the label is alertname, and the value is Test\n\n"
        "\nThe name of the annotation is summary, and the value is Disk full\n\n",
    ),
    (
        "range with index",
        "",
        "{{ $num_alerts := len .Alerts }}\n{{ range $index, $alert := .Alerts }}\nThis is alert {{ $index }} out of "
        "{{ $num_alerts }}\n{{ end }}",
        two_test_alerts,
        "\n\nThis is alert 0 out of 2\n\nThis is alert 1 out of 2\n",
    ),
    # -- EXAMPLES: common use cases. The page's outputs drop blank lines and trailing spaces Go keeps,
    # print "1 firing alert(s):" with a colon the template lacks and abbreviate the silence URL; the
    # rows assert Go's text for the templates as written, derived by hand. --
    (
        "multiple instances, a user's default.message replaces the built-in",
        '{{ define "default.message" }}\nThe following instances have high CPU usage:\n{{ range .Alerts.Firing }}\n'
        "  - Instance: {{ .Labels.instance }}, CPU Usage: {{ .Values.A }}%\n{{ end }}\n{{ end }}",
        '{{ template "default.message" . }}',
        high_cpu,
        "\nThe following instances have high CPU usage:\n\n  - Instance: est-03, CPU Usage: 79%\n\n"
        "  - Instance: wst-02, CPU Usage: 74%\n\n",
    ),
    (
        "firing and resolved, with summary",
        SUMMARIZE + '\n{{ define "alerts.summarize" -}}\n{{ range . -}}\n'
        '- {{ index .Annotations "summary" }}\n{{ end }}\n{{ end }}',
        '{{ template "alerts.message" . }}',
        db_and_web,
        f"1 firing alert(s)\n- {DB}\n\n1 resolved alert(s)\n- {WEB}\n\n",
    ),
    (
        "firing and resolved, with description and runbook when present",
        SUMMARIZE.replace("alerts.summarize", "alerts.summarize_large")
        + '\n{{ define "alerts.summarize_large" -}}\n{{ range . }}\nSummary: {{ index .Annotations "summary" }}\n'
        '{{- if index .Annotations "description" }}\nDescription: {{ index .Annotations "description" }}{{ end }}\n'
        '{{- if index .Annotations "runbook_url" }}\nRunbook: {{ index .Annotations "runbook_url" }}{{ end }}\n'
        "{{ end }}\n{{ end }}",
        '{{ template "alerts.message" . }}',
        db_and_web,
        f"1 firing alert(s)\n\nSummary: {DB}\n"
        "Description: This alert fires when a database server is at risk of running out of disk space.\nRunbook: https://example.com/on-call/database_server_high_disk_usage\n\n"
        f"1 resolved alert(s)\n\nSummary: {WEB}\n\n",
    ),
    (
        "firing and resolved, with labels, summary and silencing",
        SUMMARIZE.replace("alerts.summarize", "alerts.summarize_with_links")
        + '\n{{ define "alerts.summarize_with_links" -}}\n{{ range . -}}\n'
        "{{ range $k, $v := .Labels }}{{ $k }}={{ $v }} "
        '{{ end }}\n{{ index .Annotations "summary" }}\n{{- if eq .Status "firing" }}\n- Silence this alert: '
        "{{ .SilenceURL }}{{ end }}\n- View on Grafana: {{ .GeneratorURL }}\n{{ end }}\n{{ end }}",
        '{{ template "alerts.message" . }}',
        db_and_web,
        f"1 firing alert(s)\nalertname=database_high_disk_usage server=db1 \n{DB}\n- Silence this alert: {DB_SILENCE}\n"
        f"- View on Grafana: {VIEW}\n\n1 resolved alert(s)\nalertname=web_server_high_5xx_rate server=web1 \n{WEB}\n"
        f"- View on Grafana: {VIEW}\n\n",
    ),
    (
        "conditional: else if",
        NAMESPACES,
        '{{ template "my_conditional_notification" . }}',
        namespace("namespace-b"),
        "\n\nAlert: CPU limits have reached 80% in namespace-b.\n\n",
    ),
    (
        "conditional: else",
        NAMESPACES,
        '{{ template "my_conditional_notification" . }}',
        namespace("prod"),
        "\n\nAlert: CPU limits have reached 80% for prod namespace.\n\n",
    ),
    # -- CREATE and EXAMPLES: per-integration templates --
    (
        "email subject",
        f'{{{{ define "email.subject" }}}}\n{COUNTS}\n{{{{ end }}}}',
        '{{ template "email.subject" . }}',
        email_tests,
        "\n2 firing alert(s), 1 resolved alert(s)\n",
    ),
    (
        "slack title",
        f'{{{{ define "slack.title" }}}}\n{COUNTS}\n{{{{ end }}}}',
        '{{ template "slack.title" . }}',
        slack_tests,
        "\n1 firing alert(s), 1 resolved alert(s)\n",
    ),
    # The page's output joins labels with one space before "has": Go prints the range's trailing
    # space too, and keeps no blank line after "Firing alerts:" (hand-derived).
    (
        "email message",
        EMAIL,
        '{{ template "email.message" . }}',
        email_tests,
        "\nThere are 2 firing alert(s), and 1 resolved alert(s)\n\nFiring alerts:\n"
        "- alertname=Test 1 grafana_folder=GrafanaCloud  has value(s) B=1\n"
        "- alertname=Test 2 grafana_folder=GrafanaCloud  has value(s) B=2\n\nResolved alerts:\n"
        "- alertname=Test 3 grafana_folder=GrafanaCloud  has value(s) B=0\n\n",
    ),
    # The page's output shows "[firing] Test2" under the resolved alerts; Go prints its status.
    (
        "slack message",
        SLACK,
        '{{ template "slack.message" . }}',
        slack_tests,
        f"1 firing alert(s):\n\n{slack_alert('Test1', 'firing', 'This is a test alert')}\n\n"
        f"1 resolved alert(s):\n\n{slack_alert('Test2', 'resolved', 'This is another test alert')}\n",
    ),
    (
        "email table from an annotation",
        TABLE,
        '{{ template "Table" . }}',
        servers,
        "\nHost\t\tValue\nnode1\t123\nnode2\t456\n\n",
    ),
    # -- REFERENCE: the data, KV methods and functions (the page shows no output: hand-derived) --
    (
        "notification data",
        NOTIFICATION_DATA,
        CALL,
        resolved_with_dashboard,
        "\n  email\\.ops\n  resolved\n  There are 1 alerts\n  There are 0 firing alerts\n"
        "  There are 1 resolved alerts\n"
        "  alertname=alert1\n  alertname=alert1, lbl1=val1\n  ann1=annv1\n  http://localhost\n",
    ),
    (
        "alert data",
        ALERT_DATA,
        CALL,
        resolved_with_dashboard,
        "\n\n  resolved\n  alertname=alert1, lbl1=val1\n  ann1=annv1\n  map[A:1 B:2.5]\n"
        "  2024-01-02 03:04:05 +0000 UTC\n"
        f"  2024-01-02 04:00:00 +0000 UTC\n  \n  {ALERT1_SILENCE}\n  {DASHBOARD}\n  {DASHBOARD}&viewPanel=efgh\n"
        "  fac0861a85de433a\n  [ var='A' value=1 ]\n\n",
    ),
    (
        "KV methods",
        KV_METHODS,
        CALL,
        lambda: notification([alert({"alertname": "Test", "grafana_folder": "GrafanaCloud"})]),
        "\n  alertname=Test, grafana_folder=GrafanaCloud\n  [alertname grafana_folder]\n  [Test GrafanaCloud]\n"
        "  alertname=Test\n",
    ),
    (
        "string functions",
        FUNCTIONS,
        CALL,
        two_test_alerts,
        "\n  Hello, World!\n  HELLO, WORLD!\n  hello, world!\n  Hello, world!\n  true\n  example.com:8080\n  a-b-c\n"
        "  <b>Text</b>\n  [a b c]\n",
    ),
    (
        "date",
        '{{ define "custom_template" }}\n  {{ with (index .Alerts 0) }}\n    {{ .StartsAt | date "15:04:05 MST" }}\n'
        "  {{ end}}\n{{ end }}",
        CALL,
        two_test_alerts,
        "\n  \n    03:04:05 UTC\n  \n",
    ),
    (
        "tz",
        "",
        '{{ range .Alerts }}{{ .StartsAt | tz "Europe/Paris" | date "15:04:05 MST" }};{{ end }}',
        two_test_alerts,
        "04:04:05 CET;04:04:05 CET;",
    ),
    # -- LANGUAGE: variables, comments, indentation and trimming. The page's trimmed output leaves out
    # the indentation before the second label, which Go keeps (the text before `{{ end }}`). --
    (
        "redeclared variable",
        "",
        '{{ $variable := . }}\n{{ $variable := "This is a test" }}\n{{ $variable }}',
        two_test_alerts,
        "\n\nThis is a test",
    ),
    (
        "comments",
        "",
        "{{/* This is a comment */}}a\n{{- /* This is a comment with no leading or trailing line breaks */ -}}\nb",
        two_test_alerts,
        "ab",
    ),
    (
        "indentation kept",
        "",
        "{{ range .Alerts }}\n  {{ range .Labels.SortedPairs }}\n"
        "    {{ .Name }} = {{ .Value }}\n  {{ end }}\n{{ end }}",
        one_test_alert,
        "\n  \n    alertname = Test\n  \n    grafana_folder = Test alerts\n  \n",
    ),
    (
        "indentation trimmed",
        "",
        "{{ range .Alerts -}}\n  {{ range .Labels.SortedPairs -}}\n"
        "    {{ .Name }} = {{ .Value }}\n  {{ end }}\n{{ end }}",
        one_test_alert,
        "alertname = Test\n  grafana_folder = Test alerts\n  \n",
    ),
    # -- GRAFANA8: the first documented custom template, and its title and body settings --
    (
        "myalert/mymessage",
        MYALERT,
        'Alert summary:\n{{ template "mymessage" . }}',
        lambda: notification([alert({"alertname": "Test"}, {"summary": "s"})], external_url=""),
        # hand-derived: every newline and indent outside an action is printed (no silence or dashboard
        # URL without an external URL); myalert's text sits between the range body's spaces
        "Alert summary:\n"
        + "\n  "
        + "\n    1 firing:\n    "
        + " "
        + "\n  [firing] Test\n\n  Labels:\n  "
        + "\n    alertname: Test\n  "
        + "\n\n  "
        + "\n  Annotations:\n  "
        + "\n    summary: s\n  "
        + "\n  "
        + "\n\n  "
        + "\n  "
        + "\n"
        + " "
        + "\n  "
        + "\n  "
        + "\n",
    ),
    (
        "counts title",
        "",
        "{{ len .Alerts.Firing }} firing, {{ len .Alerts.Resolved }} resolved",
        email_tests,
        "2 firing, 1 resolved",
    ),
    (
        "status list body",
        "",
        "{{ range .Alerts }}{{ .Status }}: {{ .Labels.alertname }}\n{{end }}",
        slack_tests,
        "firing: Test1\nresolved: Test2\n",
    ),
]


@pytest.mark.parametrize(
    ("definitions", "setting", "data", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in DOCUMENTED],
)
def test_documented_examples_render_as_grafana_renders_them(definitions, setting, data, expected):
    assert render(definitions, setting, data) == expected


def without_values():
    """An alert whose rule sent no values: Grafana's Values is then a nil map[string]float64."""
    return notification([alert({"alertname": "HighCPU", "instance": "est-03"})])


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        # REFERENCE's alert-data example prints {{ .Values }}: a nil map prints as map[] in Go.
        ("{{ range .Alerts }}{{ .Values }}{{ end }}", "map[]"),
        # EXAMPLES' "CPU Usage: {{ .Values.A }}%": a missing refID reads as float64 0 (missingkey=zero).
        ("{{ range .Alerts.Firing }}CPU Usage: {{ .Values.A }}%{{ end }}", "CPU Usage: 0%"),
        ("{{ range .Alerts }}{{ len .Values }} {{ if .Values }}values{{ else }}none{{ end }}{{ end }}", "0 none"),
        ("{{ range .Alerts }}{{ range $k, $v := .Values }}{{ $k }}{{ else }}no values{{ end }}{{ end }}", "no values"),
    ],
)
def test_an_alert_without_values_reads_as_grafanas_nil_map(setting, expected):
    assert TemplateRenderer().render(setting, without_values()) == expected


# The Jinja2 form of a documented example (user templates, setting) renders its row's text too.
# Jinja2 drops a template's final newline (keep_trailing_newline=False): its sources end with one more.
JINJA_TWINS = {
    "index": ({}, "{% for a in Alerts %}\nThe name of the alert is {{ a.Labels['alertname'] }}\n{% endfor %}"),
    "if": ({}, "{% if Alerts %}\nThere are alerts\n{% else %}\nThere are no alerts\n{% endif %}"),
    "if, no alerts": ({}, "{% if Alerts %}\nThere are alerts\n{% else %}\nThere are no alerts\n{% endif %}"),
    "with": (
        {},
        "{% if Alerts %}\nThere are {{ Alerts|length }} alert(s)\n{% else %}\nThere are no alerts\n{% endif %}",
    ),
    "iterate over alerts: a KV prints as a=b, c=d": ({}, "{% for a in Alerts %}\n{{ a.Labels }}\n{% endfor %}"),
    "iterate over labels and annotations": (
        {},
        "{% for a in Alerts %}\n{% for p in a.Labels.SortedPairs() %}\nThe name of the label is {{ p.Name }}, and the "
        "value is {{ p.Value }}\n{% endfor %}\n{% for p in a.Annotations.SortedPairs() %}\nThe name of the annotation "
        "is {{ p.Name }}, and the value is {{ p.Value }}\n{% endfor %}\n{% endfor %}",
    ),
    "range with index": (
        {},
        "{% set num_alerts = Alerts|length %}\n{% for a in Alerts %}\nThis is alert {{ loop.index0 }} out of "
        "{{ num_alerts }}\n{% endfor %}",
    ),
    "firing and resolved, with summary": (
        {
            "alerts.summarize": "{% for a in dot -%}\n- {{ a.Annotations.summary }}\n{% endfor %}\n\n",
            "alerts.message": "{% if Alerts.Firing -%}\n{{ Alerts.Firing|length }} firing alert(s)\n"
            "{{ template('alerts.summarize', Alerts.Firing) }}\n{%- endif %}\n{%- if Alerts.Resolved -%}\n"
            "{{ Alerts.Resolved|length }} resolved alert(s)\n{{ template('alerts.summarize', Alerts.Resolved) }}\n"
            "{%- endif %}",
        },
        "{{ template('alerts.message') }}",
    ),
    "conditional: else if": (
        {
            "my_conditional_notification": "\n{% if CommonLabels.namespace == 'namespace-a' %}\nAlert: CPU limits have "
            "reached 80% in namespace-a.\n{% elif CommonLabels.namespace == 'namespace-b' %}\nAlert: CPU limits have "
            "reached 80% in namespace-b.\n{% else %}\n"
            "Alert: CPU limits have reached 80% for {{ CommonLabels.namespace }} namespace.\n{% endif %}\n\n"
        },
        "{{ template('my_conditional_notification') }}",
    ),
    "email subject": (
        {
            "email.subject": "\n{{ Alerts.Firing|length }} firing alert(s), "
            "{{ Alerts.Resolved|length }} resolved alert(s)\n\n"
        },
        "{{ template('email.subject') }}",
    ),
    "string functions": (
        {},
        "\n  {{ title('hello, world!') }}\n  {{ toUpper('Hello, world!') }}\n  {{ toLower('Hello, world!') }}\n"
        "  {{ trimSpace('Hello, world!') }}\n  {{ match('a.*', 'abc') }}\n"
        "  {{ reReplaceAll('localhost:(.*)', 'example.com:$1', 'localhost:8080') }}\n"
        "  {{ join('-', stringSlice('a', 'b', 'c')) }}\n  {{ safeHtml('<b>Text</b>') }}\n"
        "  {{ '[' ~ stringSlice('a', 'b', 'c')|join(' ') ~ ']' }}\n\n",
    ),
    "tz": ({}, "{% for a in Alerts %}{{ a.StartsAt|tz('Europe/Paris')|date('15:04:05 MST') }};{% endfor %}"),
    "counts title": ({}, "{{ Alerts.Firing|length }} firing, {{ Alerts.Resolved|length }} resolved"),
    "status list body": ({}, "{% for a in Alerts %}{{ a.Status }}: {{ a.Labels.alertname }}\n{% endfor %}"),
}
BY_ID = {row[0]: row[1:] for row in DOCUMENTED}


@pytest.mark.parametrize(("example", "jinja_templates", "jinja_setting"), [(k, *v) for k, v in JINJA_TWINS.items()])
def test_the_jinja2_form_of_an_example_renders_the_same_text(example, jinja_templates, jinja_setting):
    definitions, go_setting, data, expected = BY_ID[example]
    renderer = TemplateRenderer(jinja_templates, go_templates={"docs": definitions} if definitions else {})
    assert renderer.render(jinja_setting, data()) == renderer.render(go_setting, data()) == expected


@pytest.mark.parametrize(
    ("setting", "error"),
    [
        # LANGUAGE's "Print" shows alert-rule forms: humanize and $values exist in annotation
        # templates only; Grafana's notification templates reject them when saved, and so does this.
        ("{{ humanize 1000.0 }}", 'function "humanize" not defined'),
        ("{{ $values.A.Value }}", 'undefined variable "$values"'),
        ('{{ index $labels "instance" }}', 'undefined variable "$labels"'),  # CREATE's ServerInfo annotation
    ],
)
def test_alert_rule_only_forms_are_rejected_when_saved(setting, error):
    with pytest.raises(TemplateError) as failure:
        TemplateRenderer().check(setting)
    assert error in str(failure.value)
    assert str(failure.value).startswith("Go template: line 1")


@pytest.mark.parametrize(
    ("setting", "error"),
    [
        # LANGUAGE: "does not work, .Labels does not exist here" (dot is the notification, then a Pair).
        ("{{ range .Alerts }}{{ end }}{{ .Labels }}", "can't evaluate field Labels"),
        (
            "{{ range .Alerts }}{{ range .Labels.SortedPairs }}{{ len .Labels }}{{ end }}{{ end }}",
            "can't evaluate field Labels",
        ),
    ],
)
def test_what_the_docs_say_does_not_work_fails_here_too(setting, error):
    with pytest.raises(TemplateError) as failure:
        TemplateRenderer().render(setting, one_test_alert())
    assert error in str(failure.value)
