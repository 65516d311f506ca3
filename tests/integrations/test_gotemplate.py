"""Go's text/template as Grafana uses it (integrations/gotemplate): every construct, as tables.

Each row is a Go template, its data and the text Go prints for it (Go's rules: %v printing, missing
keys, comparison kinds, error texts `template: name:line:col: ...` with Go's 0-based column).
"""

from __future__ import annotations

import re
import time

import pytest

from integrations import template_sandbox
from integrations.alertbuilder import build_template_data
from integrations.gotemplate import GoTemplateError, TemplateSet, is_go_template
from integrations.gotemplate.defaults import grafana_template_set
from integrations.gotemplate.grafana_funcs import grafana_functions
from integrations.templating import TemplateRenderer

PLAIN = {
    "Name": "web",
    "N": 3,
    "F": 2.5,
    "Big": 1e6,
    "Zero": 0,
    "Empty": "",
    "List": ["a", "b", "c"],
    "Grid": [[1, 2], [3, 4]],
    "Map": {"b": 2, "a": 1},
    "Nested": {"Inner": {"Key": "v"}},
    "Nil": None,
    "WithNil": ["a", None],
    "Html": "<b>&'\"",
    "Add": lambda a, b: a + b,
}


def alert(labels: dict, annotations: dict | None = None, status: str = "firing", **times: str) -> dict:
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations or {},
        "startsAt": times.get("startsAt", "2024-01-02T03:04:05Z"),
        "endsAt": times.get("endsAt", ""),
        "generatorURL": times.get("generatorURL", ""),
    }


def alert_data():
    """Two alerts of one group, the way tests/integrations/test_templating.py builds them."""
    alerts = [
        alert({"alertname": "alert1", "lbl1": "val1", "team": "ops"}, {"summary": "disk full"}),
        alert({"alertname": "alert1", "lbl1": "val2", "team": "ops"}, status="resolved", endsAt="2024-01-02T04:00:00Z"),
    ]
    return build_template_data(
        alerts,
        receiver="cp",
        group_key='{}:{alertname="alert1"}',
        group_labels={"alertname": "alert1"},
        external_url="http://localhost",
    )


def render(source: str, data, *, timeout_seconds: float = 2.0) -> str:
    return TemplateSet(grafana_functions(), timeout_seconds=timeout_seconds).render(source, data, name="t")


LANGUAGE = [
    ("plain text", "hello", "hello"),
    ("field", "{{ .Name }}", "web"),
    ("field chain", "{{ .Nested.Inner.Key }}", "v"),
    ("root variable", "{{ $.Name }}", "web"),
    ("declare", "{{ $x := .Name }}{{ $x }}!", "web!"),
    ("assign in a block", "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"),
    ("variable field", "{{ $n := .Nested }}{{ $n.Inner.Key }}", "v"),
    ("pipeline", '{{ .Name | printf "%s!" }}', "web!"),
    ("pipeline into pipeline", '{{ .N | printf "%d" | printf "<%s>" }}', "<3>"),
    ("parenthesised", "{{ (index .List 1) }}", "b"),
    ("field of parenthesised", '{{ (index .Nested "Inner").Key }}', "v"),
    ("if", "{{ if .N }}yes{{ end }}", "yes"),
    ("if else", "{{ if .Zero }}yes{{ else }}no{{ end }}", "no"),
    ("else if", "{{ if eq .N 1 }}one{{ else if eq .N 3 }}three{{ else }}many{{ end }}", "three"),
    (
        "truthiness",
        "{{ if .Zero }}t{{ else }}f{{ end }}{{ if .Empty }}t{{ else }}f{{ end }}"
        "{{ if .List }}t{{ else }}f{{ end }}{{ if .Nil }}t{{ else }}f{{ end }}{{ if .Map }}t{{ else }}f{{ end }}",
        "fftft",
    ),
    ("range list", "{{ range .List }}{{ . }}{{ end }}", "abc"),
    ("range index and element", "{{ range $i, $v := .List }}{{ $i }}{{ $v }} {{ end }}", "0a 1b 2c "),
    ("range one variable is the element", "{{ range $v := .List }}{{ $v }}{{ end }}", "abc"),
    ("range map in key order", "{{ range $k, $v := .Map }}{{ $k }}={{ $v }};{{ end }}", "a=1;b=2;"),
    ("range else", "{{ range .Nil }}x{{ else }}empty{{ end }}", "empty"),
    ("range int", "{{ range 3 }}{{ . }}{{ end }}", "012"),
    ("range $ inside", "{{ range .List }}{{ $.N }}{{ end }}", "333"),
    (
        "break and continue",
        "{{ range $i, $v := .List }}{{ if eq $i 0 }}{{ continue }}{{ end }}"
        '{{ if eq $v "c" }}{{ break }}{{ end }}{{ $v }}{{ end }}',
        "b",
    ),
    ("with", "{{ with .Nested.Inner }}{{ .Key }}{{ end }}", "v"),
    ("with else", "{{ with .Empty }}x{{ else }}none{{ end }}", "none"),
    ("else with", "{{ with .Zero }}z{{ else with .N }}n{{ . }}{{ end }}", "n3"),
    ("define and template", '{{ define "t1" }}[{{ . }}]{{ end }}{{ template "t1" .Name }}', "[web]"),
    ("template without data", '{{ define "t1" }}{{ . }}{{ end }}{{ template "t1" }}', "<no value>"),
    ("template's own $", '{{ define "t1" }}{{ $ }}{{ end }}{{ template "t1" .N }}', "3"),
    ("block", '{{ block "b1" .Name }}<{{ . }}>{{ end }}', "<web>"),
    ("trim markers", "a  {{- .Name -}}  b", "awebb"),
    ("trim newlines", "line\n  {{- /* gone */ -}}\n  next", "linenext"),
    ("comment", "a{{/* a comment */}}b", "ab"),
    ("action across lines", '{{ printf\n  "%s"\n  .Name }}', "web"),
    ("raw string", "{{ `a\\nb` }}", "a\\nb"),
    ("string escapes", '{{ "t\\tq\\"\\u00e9" }}', 't\tq"é'),
    ("char constant", "{{ 'a' }}", "97"),
    ("numbers", "{{ 0x1F }} {{ 017 }} {{ 1e3 }} {{ 1.50 }} {{ -2 }} {{ 1_000 }}", "31 15 1000 1.5 -2 1000"),
    ("booleans", "{{ true }} {{ false }}", "true false"),
    ("nil as argument", "{{ print nil }}", "<nil>"),
    ("missing key of a plain map is <no value>", "{{ .Map.zzz }}", "<no value>"),
    # Go's %v of a float64 switches to an exponent from 1e+06 on (strconv's shortest 'g').
    ("%v of floats", "{{ .F }} {{ .Big }} {{ 0.00001 }} {{ 123456.0 }}", "2.5 1e+06 1e-05 123456"),
    (
        "%v of maps and lists",
        "{{ .Map }} {{ .List }} {{ .Grid }} {{ .WithNil }}",
        "map[a:1 b:2] [a b c] [[1 2] [3 4]] [a <nil>]",
    ),
]

BUILTINS = [
    ("and returns the deciding value", "{{ and 1 0 2 }} {{ and 1 2 }}", "0 2"),
    ("or returns the deciding value", '{{ or 0 "" "x" }} {{ or 0 false }}', "x false"),
    ("and short-circuits", "{{ and false (index .List 99) }}", "false"),
    ("or short-circuits", "{{ or true (index .List 99) }}", "true"),
    ("and as a pipeline stage", "{{ 0 | and 1 }}", "0"),
    ("not", "{{ not .Empty }} {{ not 1 }}", "true false"),
    ("len", '{{ len .List }} {{ len .Map }} {{ len "héllo" }}', "3 2 6"),
    ("index lists and maps", '{{ index .Grid 1 0 }} {{ index .Nested "Inner" "Key" }} {{ index .Map "b" }}', "3 v 2"),
    ("index of a string is a byte", '{{ index "abc" 1 }}', "98"),
    ("slice", '{{ slice .List 1 }} {{ slice .List 0 2 }} {{ slice "hello" 1 4 }}', "[b c] [a b] ell"),
    ("print spaces only between non-strings", '{{ print 1 2 "a" "b" 3 }}', "1 2ab3"),
    ("println", '{{ println "a" 1 }}', "a 1\n"),
    ("printf integers", '{{ printf "%d|%5d|%-5d|%05d|%+d" 42 42 42 -42 7 }}', "42|   42|42   |-0042|+7"),
    ("printf bases", '{{ printf "%x|%X|%o|%b|%#x|%c|%U" 255 255 8 5 255 65 65 }}', "ff|FF|10|101|0xff|A|U+0041"),
    (
        "printf strings",
        '{{ printf "%s|%q|%v|%6s|%-4s|%.2s|%x" "go" "go" "go" "go" "go" "golang" "go" }}',
        'go|"go"|go|    go|go  |go|676f',
    ),
    (
        "printf floats",
        '{{ printf "%e|%f|%.2f|%g|%8.3f|%+.1f|%.3g" 1234.5678 1234.5678 1234.5678 1234.5678 3.14159 2.0 1234.5678 }}',
        "1.234568e+03|1234.567800|1234.57|1234.5678|   3.142|+2.0|1.23e+03",
    ),
    ("printf %t %v %T", '{{ printf "%t|%v|%T|%T|%T" true nil 1 "s" 1.5 }}', "true|<nil>|int|string|float64"),
    ("printf composite values", '{{ printf "%v|%v|%d" .List .Map .Grid }}', "[a b c]|map[a:1 b:2]|[[1 2] [3 4]]"),
    ("printf mistakes print inline", '{{ printf "%d|%d %s" "x" }}', "%!d(string=x)|%!d(MISSING) %!s(MISSING)"),
    ("printf extra arguments", '{{ printf "a" 1 "b" }}', "a%!(EXTRA int=1, string=b)"),
    ("printf argument indexes", '{{ printf "%[2]s %[1]s" "a" "b" }}', "b a"),
    ("printf * width and precision", '{{ printf "%*d|%.*f|%%" 4 7 1 3.14159 }}', "   7|3.1|%"),
    ("eq with several operands", '{{ eq .Name "x" "web" }} {{ eq 1 2 }} {{ ne "a" "b" }}', "true false true"),
    ("eq with nil", "{{ eq .Nil nil }} {{ eq .Name nil }}", "true false"),
    ("ordering", '{{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1.5 2.5 }}', "true true true false"),
    ("html", "{{ html .Html }}", "&lt;b&gt;&amp;&#39;&#34;"),
    ("js", '{{ js "it\'s <x> = \\"y\\"" }}', 'it\\\'s \\u003Cx\\u003E \\u003D \\"y\\"'),
    ("urlquery", '{{ urlquery "a b&c=d/é" }}', "a+b%26c%3Dd%2F%C3%A9"),
    ("call", "{{ call .Add 2 3 }}", "5"),
]

GRAFANA_DATA = [
    ("missing label is empty (map[string]string)", "[{{ .CommonLabels.nope }}]", "[]"),
    ("common label", "{{ .CommonLabels.alertname }}", "alert1"),
    ("len of firing alerts", "{{ len .Alerts.Firing }} firing", "1 firing"),
    ("len as a pipeline stage", "{{ .Alerts.Resolved | len }} resolved", "1 resolved"),
    ("label set prints as pairs", "{{ .CommonLabels }}", "alertname=alert1, team=ops"),
    (
        "SortedPairs.Values",
        "{{ range .Alerts }}{{ .Labels.SortedPairs.Values }};{{ end }}",
        "[alert1 val1 ops];[alert1 val2 ops];",
    ),
    ("Names", "{{ .CommonLabels.Names }}", "[alertname team]"),
    (
        "ranging over pairs",
        "{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}",
        "alertname=alert1 team=ops ",
    ),
    ("Remove with an argument", '{{ (.CommonLabels.Remove (stringSlice "team")).Names }}', "[alertname]"),
    ("Remove with the piped value", '{{ stringSlice "alertname" | .CommonLabels.Remove }}', "team=ops"),
    ("method on time", '{{ (index .Alerts 0).StartsAt.Format "2006-01-02 15:04" }}', "2024-01-02 03:04"),
    ("time prints like Go", "{{ (index .Alerts 0).StartsAt }}", "2024-01-02 03:04:05 +0000 UTC"),
    ("date and tz", '{{ (index .Alerts 0).StartsAt | tz "Europe/Paris" | date "15:04 MST" }}', "04:04 CET"),
    ("annotations of firing alerts", "{{ range .Alerts.Firing }}{{ .Annotations.summary }}{{ end }}", "disk full"),
    (
        "string functions",
        '{{ toUpper "ab" }} {{ toLower "AB" }} {{ title "hello wORLD" }} [{{ trimSpace "  x " }}]',
        "AB ab Hello World [x]",
    ),
    ("join", '{{ join ", " .CommonLabels.Values }}', "alert1, ops"),
    (
        "match and reReplaceAll",
        '{{ match "^al" .CommonLabels.alertname }} {{ reReplaceAll "(\\\\d)" "<$1>" "a1b2" }}',
        "true a<1>b<2>",
    ),
    (
        "coll.Dict with a dotted function name",
        '{{ (coll.Dict "a" 1 "b" "x").b }} {{ coll.Dict "k" "v" }}',
        "x map[k:v]",
    ),
    ("coll.Slice and coll.Append", '{{ coll.Slice "a" 1 | coll.Append "z" }}', "[a 1 z]"),
    (
        "data.JSON numbers are float64",
        '{{ $d := data.JSON "{\\"n\\": 2, \\"s\\": [1]}" }}{{ $d.n }} {{ printf "%T" $d.n }}',
        "2 float64",
    ),
    ("data.ToJSON", '{{ data.ToJSON (coll.Dict "b" "<x>" "a" 1) }}', '{"a":1,"b":"\\u003cx\\u003e"}'),
    ("tmpl.Exec", '{{ define "x" }}X{{ . }}{{ end }}{{ tmpl.Exec "x" "y" | toLower }}', "xy"),
    ("tmpl.Inline", '{{ tmpl.Inline "{{ .Status }}!" . }}', "firing!"),
]


@pytest.mark.parametrize(
    ("source", "expected"), [row[1:] for row in LANGUAGE + BUILTINS], ids=[row[0] for row in LANGUAGE + BUILTINS]
)
def test_go_template_renders_what_go_prints(source, expected):
    assert render(source, PLAIN) == expected


@pytest.mark.parametrize(
    ("source", "expected"), [row[1:] for row in GRAFANA_DATA], ids=[row[0] for row in GRAFANA_DATA]
)
def test_go_template_over_grafana_data(source, expected):
    assert render(source, alert_data()) == expected


ERRORS = [
    ("unclosed action", "{{ .Name ", "template: t:1:9: unclosed action"),
    ("unexpected EOF", "{{ if .N }}a", "template: t:1:12: unexpected EOF"),
    ("stray end", "a{{ end }}", "template: t:1:4: unexpected {{end}}"),
    ("unknown function at parse time", "x\n{{ nope .N }}", 'template: t:2:3: function "nope" not defined'),
    ("undefined variable", "{{ $x }}", 'template: t:1:3: undefined variable "$x"'),
    ("break outside range", "{{ break }}", "template: t:1:3: {{break}} outside {{range}}"),
    ("bad character", "{{ .N+1 }}", "template: t:1:5: bad character U+002B '+'"),
    (
        "missing template",
        '{{ template "missing" . }}',
        'template: t:1:12: executing "t" at <{{template "missing"...>: template "missing" not defined',
    ),
    (
        "index out of range",
        "{{ index .List 5 }}",
        'template: t:1:3: executing "t" at <index .List 5>: error calling index: index out of range: 5',
    ),
    (
        "field of a string",
        "line\n{{ .Name.Foo }}",
        'template: t:2:3: executing "t" at <.Name.Foo>: can\'t evaluate field Foo in type string',
    ),
    (
        "int against float",
        "{{ eq 1 1.5 }}",
        'template: t:1:3: executing "t" at <eq 1 1.5>: error calling eq: incompatible types for comparison',
    ),
    (
        "ordering a list",
        "{{ lt .List 1 }}",
        'template: t:1:3: executing "t" at <lt .List 1>: error calling lt: invalid type for comparison',
    ),
    ("len of an int", "{{ len 3 }}", 'template: t:1:3: executing "t" at <len 3>: error calling len: len of type int'),
    (
        "wrong number of args",
        '{{ toUpper "a" "b" }}',
        'template: t:1:3: executing "t" at <toUpper "a" "b">: wrong number of args for toUpper: want 1 got 2',
    ),
    (
        "no Python internals",
        "{{ .Name.upper }}",
        'template: t:1:3: executing "t" at <.Name.upper>: can\'t evaluate field upper in type string',
    ),
    (
        "no dunder attributes",
        "{{ .List.__class__ }}",
        'template: t:1:3: executing "t" at <.List.__class__>: can\'t evaluate field __class__ in type []interface {}',
    ),
    (
        "recursion is bounded",
        '{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}',
        'template: t:1:28: executing "r" at <{{template "r" .}}>: exceeded maximum template depth (100)',
    ),
]


@pytest.mark.parametrize(("source", "message"), [row[1:] for row in ERRORS], ids=[row[0] for row in ERRORS])
def test_errors_say_where_and_what_like_go(source, message):
    with pytest.raises(GoTemplateError) as raised:
        render(source, PLAIN)
    assert str(raised.value) == message


def test_a_runaway_range_stops_at_the_deadline():
    started = time.monotonic()
    with pytest.raises(GoTemplateError, match="time limit"):
        render("{{ range .Huge }}{{ . }}{{ end }}", {"Huge": range(10**12)}, timeout_seconds=0.2)
    assert time.monotonic() - started < 2


def test_the_shared_render_session_deadline_stops_it_too():
    session = template_sandbox.RenderSession(template_sandbox.CpuDeadline(template_sandbox.render_clock() + 0.2), 0.2)
    token = template_sandbox.RENDER_SESSION.set(session)
    try:
        with pytest.raises(GoTemplateError, match=r"exceeded the time limit of 0\.2s"):
            render("{{ range $i := .Huge }}{{ end }}", {"Huge": range(10**12)}, timeout_seconds=60)
    finally:
        template_sandbox.RENDER_SESSION.reset(token)


def test_a_backtracking_regular_expression_stops_at_the_render_deadline():
    session = template_sandbox.RenderSession(template_sandbox.CpuDeadline(template_sandbox.render_clock() + 0.3), 0.3)
    token = template_sandbox.RENDER_SESSION.set(session)
    started = time.monotonic()
    try:
        with pytest.raises(GoTemplateError, match="time limit"):
            render('{{ match "(a|aa)+$" "' + "a" * 40 + '!" }}', PLAIN, timeout_seconds=60)
    finally:
        template_sandbox.RENDER_SESSION.reset(token)
    assert time.monotonic() - started < 2


def test_output_is_capped():
    blob = "x" * (template_sandbox.MAX_OUTPUT_BYTES // 4)
    with pytest.raises(GoTemplateError, match="template output exceeds maximum size"):
        render("{{ range 5 }}{{ $.Blob }}{{ end }}", {"Blob": blob})


def test_later_definitions_replace_earlier_ones_and_empty_ones_do_not():
    templates = TemplateSet()
    templates.add("first", '{{ define "title" }}old{{ end }}{{ define "body" }}kept{{ end }}')
    templates.add("second", '{{ define "title" }}new{{ end }}{{ define "body" }} {{ end }}')
    assert templates.execute("title", None) + templates.execute("body", None) == "newkept"
    assert templates.execute("second", None) == ""  # a define-only source adds an empty template


ENGINE_CHOICE = [
    ("{{ .CommonLabels.alertname }}", True),
    ('{{ template "default.title" . }}', True),
    ("{{ len .Alerts.Firing }} firing", True),
    ("{{ $ }}", True),
    ("{{ if .X }}a{{ end }}", True),
    ("{{/* a comment */}}text", True),
    ('{{ template("default.title") }}', False),
    ("{{ CommonLabels.alertname }}", False),
    ("{% if x %}{{ .X }}{% endif %}", False),
    ("{{ Status | upper }}", False),
    ('{{- "x" -}}', False),
    ("plain text", False),
    ("{{ .Unclosed ", False),
]


@pytest.mark.parametrize(("source", "is_go"), ENGINE_CHOICE)
def test_a_setting_is_go_when_it_parses_as_go_and_uses_gos_forms(source, is_go):
    assert is_go_template(source) is is_go


SAME_AS_JINJA = [
    ("{{ .CommonLabels.alertname }}", "{{ CommonLabels.alertname }}"),
    ("{{ len .Alerts.Firing }} firing", "{{ Alerts.Firing | length }} firing"),
    ("{{ range .Alerts }}{{ .Labels.lbl1 }} {{ end }}", "{% for a in Alerts %}{{ a.Labels.lbl1 }} {% endfor %}"),
    ("{{ .Status | toUpper }}", "{{ Status | toUpper }}"),
    ('{{ join ", " .CommonLabels.Names }}', '{{ join(", ", CommonLabels.Names()) }}'),
    (
        "{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }};{{ end }}",
        "{% for p in CommonLabels.SortedPairs() %}{{ p.Name }}={{ p.Value }};{% endfor %}",
    ),
    ("{{ (index .Alerts 0).StartsAt }}", "{{ Alerts[0].StartsAt }}"),
]


@pytest.mark.parametrize(("go_source", "jinja_source"), SAME_AS_JINJA)
def test_go_and_jinja_render_the_same_text(go_source, jinja_source):
    data = alert_data()
    assert render(go_source, data) == TemplateRenderer().render(jinja_source, data)


# -- the built-ins in Go's syntax: the same text as the Jinja2 built-ins (spec §3.7) -------------------

WORKED_EXAMPLE = alert(
    {"alertname": "alert1", "lbl1": "val1"},
    {"ann1": "annv1", "__dashboardUid__": "abcd", "__panelId__": "efgh", "__values__": '{"B": 2.5, "A": 93}'},
    generatorURL="http://localhost/rule",
    startsAt="",
)
RESOLVED = alert(
    {"alertname": "alert1", "lbl1": "val2", "severity": "warning"}, status="resolved", endsAt="2024-01-01T00:00:00Z"
)
GROUPS = {
    "one firing, empty group value": ([WORKED_EXAMPLE], {"alertname": ""}),
    "firing and resolved": ([WORKED_EXAMPLE, RESOLVED], {"alertname": "alert1"}),
    "all resolved": ([RESOLVED], {"alertname": "alert1"}),
}
BUILT_INS = ["default.title", "default.message", "teams.default.message", "default.message_color"]
BUILT_INS += ["webhook.default.payload.state", "jira.default.priority", "slack.default.footer"]
BUILT_INS += ["webhook.default.payload"]


@pytest.mark.parametrize("name", BUILT_INS)
@pytest.mark.parametrize("group", GROUPS)
def test_go_built_ins_render_the_jinja_built_ins_text(group, name):
    alerts, group_labels = GROUPS[group]
    data = build_template_data(
        alerts,
        receiver="cp",
        group_key="k",
        group_labels=group_labels,
        external_url="http://localhost",
        app_version="1.2",
    )
    assert grafana_template_set().execute(name, data) == TemplateRenderer().render_named(name, data)


def test_grafana_template_call_renders_the_worked_example():
    data = build_template_data(
        [WORKED_EXAMPLE], receiver="cp", group_key="k", group_labels={"alertname": ""}, external_url="http://localhost"
    )
    user = {"mine": '{{ define "custom.title" }}{{ template "default.title" . }}!{{ end }}'}
    templates = grafana_template_set(user)
    assert templates.render('{{ template "default.title" . }}', data) == "[FIRING:1]  (val1)"
    assert templates.render('{{ template "custom.title" . }}', data) == "[FIRING:1]  (val1)!"
    assert templates.render('{{ template "__text_values_list" index .Alerts 0 }}', data) == "A=93, B=2.5"


def test_user_templates_replace_a_built_in_of_the_same_name():
    templates = grafana_template_set({"mine": '{{ define "default.title" }}mine{{ end }}'})
    assert templates.execute("default.title", None) == "mine"


# -- limits: what a template may not do to the worker ------------------------------------------------

# About 5 MB, doubled up from ten characters (printf's widths stop at the sandbox's 10,000).
BIG_STRING = '{{ $big := "xxxxxxxxxx" }}{{ range 19 }}{{ $big = print $big $big }}{{ end }}'

LIMITS = [
    (
        "one big string listed a thousand times is not printed",
        BIG_STRING + "{{ $list := coll.Slice }}"
        "{{ range 1000 }}{{ $list = coll.Append $big $list }}{{ end }}{{ print $list }}",
        "error calling print: value too large to print",
    ),
    (
        "YAML aliases (billion laughs) are refused",
        '{{ data.JSON "a: &a [x, x]\\nb: [*a, *a]" }}',
        "YAML aliases are not supported",
    ),
    (
        "nesting is bounded at parse time",
        "{{ " + "(" * 101 + "1" + ")" * 101 + " }}",
        "max nesting depth of 100 exceeded",
    ),
    (
        "fresh big strings kept in a list stop at the produced-bytes budget",
        BIG_STRING
        + '{{ $list := coll.Slice }}{{ range 100 }}{{ $list = coll.Append (print "x" $big) $list }}{{ end }}',
        "the template built more than 83886080 bytes of values",
    ),
]


@pytest.mark.parametrize(("source", "message"), [row[1:] for row in LIMITS], ids=[row[0] for row in LIMITS])
def test_limits_stop_a_template_with_a_clear_error(source, message):
    with pytest.raises(GoTemplateError, match=re.escape(message)):
        render(source, PLAIN)
