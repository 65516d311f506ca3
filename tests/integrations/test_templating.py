"""The template engine and Grafana's template data: spec §2.7, §3 and contract §8, as tables."""

from __future__ import annotations

import json
import time
from urllib.parse import quote_plus

import pytest

from integrations import alertbuilder, templating
from integrations.alertdata import KV, fingerprint
from integrations.goformat import go_float_text
from integrations.templating import TemplateError, TemplateRenderer, build_template_data, rule_url
from integrations.values import sha256_hex

EXTERNAL_URL = "http://localhost"
SILENCE_1 = "http://localhost/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Dalert1&matcher=lbl1%3Dval1"


def alert(labels: dict, annotations: dict | None = None, status: str = "firing", **times: str) -> dict:
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations or {},
        "startsAt": times.get("startsAt", ""),
        "endsAt": times.get("endsAt", ""),
        "generatorURL": times.get("generatorURL", ""),
    }


def data(alerts: list[dict], group_labels: dict | None = None, receiver: str = "cp", external_url: str = EXTERNAL_URL):
    return build_template_data(
        alerts,
        receiver=receiver,
        group_key='{}:{alertname="alert1"}',
        group_labels={"alertname": "alert1"} if group_labels is None else group_labels,
        external_url=external_url,
    )


def render(source: str, template_data=None, **user_templates: str) -> str:
    renderer = TemplateRenderer(user_templates, version="1.2.3")
    return renderer.render(source, template_data or data([alert({"alertname": "alert1"})]))


# -- spec §3.7: the built-in templates -----------------------------------------------------------------

WORKED_EXAMPLE = [
    alert(
        {"alertname": "alert1", "lbl1": "val1"},
        {"ann1": "annv1", "__dashboardUid__": "abcd", "__panelId__": "efgh"},
    )
]


def test_worked_example_renders_the_spec_text():
    example = data(WORKED_EXAMPLE, group_labels={"alertname": ""})
    renderer = TemplateRenderer()
    assert renderer.render('{{ template("default.title") }}', example) == "[FIRING:1]  (val1)"
    assert renderer.render('{{ template("default.message") }}', example) == (
        "**Firing**\n\nValue: [no value]\nLabels:\n - alertname = alert1\n - lbl1 = val1\n"
        f"Annotations:\n - ann1 = annv1\nSilence: {SILENCE_1}\n"
        "Dashboard: http://localhost/d/abcd\nPanel: http://localhost/d/abcd?viewPanel=efgh\n"
    )


def test_teams_message_adds_blank_lines_and_markdown_links():
    example = data(WORKED_EXAMPLE, group_labels={"alertname": ""})
    dashboard, panel = "http://localhost/d/abcd", "http://localhost/d/abcd?viewPanel=efgh"
    assert TemplateRenderer().render_named("teams.default.message", example) == (
        "**Firing**\n\nValue: [no value]\nLabels:\n - alertname = alert1\n - lbl1 = val1\n\n"
        f"Annotations:\n - ann1 = annv1\n\nSilence: [{SILENCE_1}]({SILENCE_1})\n\n"
        f"Dashboard: [{dashboard}]({dashboard})\n\nPanel: [{panel}]({panel})\n\n\n"
    )


FIRING_1 = alert({"alertname": "alert1", "lbl1": "val1"})
FIRING_2 = alert({"alertname": "alert1", "lbl1": "val1", "instance": "b"})
RESOLVED_1 = alert({"alertname": "alert1", "lbl1": "val2"}, status="resolved", endsAt="2024-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("alerts", "group_labels", "title"),
    [
        ([FIRING_1], {"alertname": "alert1"}, "[FIRING:1] alert1 (val1)"),
        ([FIRING_1, FIRING_2], {"alertname": "alert1"}, "[FIRING:2] alert1 (val1)"),
        ([FIRING_1, RESOLVED_1], {"alertname": "alert1"}, "[FIRING:1, RESOLVED:1] alert1 "),
        ([RESOLVED_1], {"alertname": "alert1"}, "[RESOLVED] alert1 (val2)"),
        ([FIRING_1], {"alertname": "alert1", "lbl1": "val1"}, "[FIRING:1] alert1 val1 "),
        ([FIRING_2], {}, "[FIRING:1]  (alert1 b val1)"),
    ],
)
def test_default_title(alerts, group_labels, title):
    assert TemplateRenderer().render_named("default.title", data(alerts, group_labels)) == title


def test_default_message_lists_firing_then_resolved():
    message = TemplateRenderer().render_named("default.message", data([RESOLVED_1, FIRING_1]))
    assert message.startswith("**Firing**\n\nValue: [no value]\nLabels:\n - alertname = alert1\n - lbl1 = val1\n")
    assert "\n\n\n**Resolved**\n\nValue: [no value]\nLabels:\n - alertname = alert1\n - lbl1 = val2\n" in message


@pytest.mark.parametrize(
    ("values", "line"),
    [
        ('{"B": 22, "A": 1.5}', "Value: A=1.5, B=22"),
        ('{"A": 1e21, "B": 0.00001}', "Value: A=1e+21, B=1e-05"),
        ("{}", "Value: [no value]"),
        ("not json", "Value: [no value]"),
    ],
)
def test_values_list(values, line):
    message = TemplateRenderer().render_named("default.message", data([alert({"a": "b"}, {"__values__": values})]))
    assert message.splitlines()[2] == line


@pytest.mark.parametrize(
    ("name", "alerts", "expected"),
    [
        ("default.message_color", [FIRING_1], "#D63232"),
        ("default.message_color", [RESOLVED_1], "#36a64f"),
        ("webhook.default.payload.state", [FIRING_1], "alerting"),
        ("webhook.default.payload.state", [RESOLVED_1], "ok"),
        ("slack.default.footer", [FIRING_1], "ContactPoints v1.2.3"),
        ("jira.default.priority", [alert({"severity": "warning"}), alert({"severity": "info"})], "Medium"),
        ("jira.default.priority", [alert({"severity": "critical"}, status="resolved")], "High"),
        ("jira.default.priority", [alert({"severity": "other"})], ""),
    ],
)
def test_small_builtins(name, alerts, expected):
    assert TemplateRenderer(version="1.2.3").render_named(name, data(alerts)) == expected


def test_slack_footer_without_version_is_the_product_name():
    assert TemplateRenderer(product_name="Acme").render_named("slack.default.footer", data([FIRING_1])) == "Acme"


def test_webhook_default_payload():
    payload = json.loads(TemplateRenderer().render_named("webhook.default.payload", data([FIRING_1, RESOLVED_1])))
    assert payload["version"] == "1"
    assert payload["state"] == "alerting"
    assert payload["title"] == "[FIRING:1, RESOLVED:1] alert1 "
    assert payload["message"].startswith("**Firing**")
    assert [a["status"] for a in payload["alerts"]] == ["firing", "resolved"]
    assert set(payload) == {
        "receiver", "status", "alerts", "groupLabels", "commonLabels", "commonAnnotations", "externalURL",
        "version", "orgId", "truncatedAlerts", "groupKey", "state", "title", "message",
    }  # fmt: skip


def test_email_bodies():
    renderer = TemplateRenderer(version="1.2.3")
    body = renderer.render_email(data([FIRING_1, alert({"alertname": "alert1", "x": "<b>"})]), subject="Subj")
    assert "You have 2 firing alert(s), and 0 resolved alert(s) for alertname=alert1" in body.text
    assert "(2) FIRING" in body.text
    assert "Go to the Alerts page: http://localhost/alerting/list?alertState=firing&view=state" in body.text
    assert body.text.rstrip().endswith("Sent by ContactPoints v1.2.3")
    assert "<title>Subj</title>" in body.html
    assert "&lt;b&gt;" in body.html and "<b>" not in body.html
    assert "Sent by ContactPoints v1.2.3" in body.html
    custom = renderer.render_email(data([FIRING_1]), subject="S", message="hello\nworld")
    assert "hello\nworld" in custom.text and "You have" not in custom.text
    assert "hello<br>" in custom.html


# -- spec §3.1-§3.3: the data model -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"alertname": "alert1", "lbl1": "val1"}, "fac0861a85de433a"),
        ({"alertname": "alert1", "lbl1": "val2"}, "fab6861a85d5eeb5"),
        ({}, "cbf29ce484222325"),
    ],
)
def test_fingerprint_vectors(labels, expected):
    assert fingerprint(labels) == expected
    if labels:
        assert data([alert(labels)]).Alerts[0].Fingerprint == expected


def test_group_key_hash_vector():
    assert sha256_hex("alertname") == "6e3538104c14b583da237e9693b76debbc17f0f8058ef20492e5853096cf8733"


@pytest.mark.parametrize(
    ("labels", "annotations", "times", "field", "url"),
    [
        (
            {"alertname": "alert1", "lbl1": "val1"},
            {"__orgId__": "1"},
            {},
            "SilenceURL",
            "http://localhost/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Dalert1&matcher=lbl1%3Dval1&orgId=1",
        ),
        (
            {"alertname": "a", "grafana_folder": "f", "__alert_rule_uid__": "r1", "team": "x y"},
            {},
            {},
            "SilenceURL",
            "http://localhost/alerting/silence/new?alertmanager=grafana&matcher=__alert_rule_uid__%3Dr1&matcher=team%3Dx+y",
        ),
        (
            {"alertname": "a"},
            {"__dashboardUid__": "abcd", "__panelId__": "2", "__orgId__": "3"},
            {"startsAt": "2024-01-01T01:00:00Z", "endsAt": "2024-01-01T02:00:00Z"},
            "PanelURL",
            "http://localhost/d/abcd?from=1704067200000&orgId=3&to=1704074400000&viewPanel=2",
        ),
        ({"alertname": "a"}, {}, {"generatorURL": "http://g/x?b=1"}, "GeneratorURL", "http://g/x?b=1"),
        (
            {"alertname": "a"},
            {"__orgId__": "7"},
            {"generatorURL": "http://g/x?b=1"},
            "GeneratorURL",
            "http://g/x?b=1&orgId=7",
        ),
        ({"alertname": "a"}, {}, {}, "DashboardURL", ""),
    ],
)
def test_generated_urls(labels, annotations, times, field, url):
    status = "resolved" if "endsAt" in times else "firing"
    extended = data([alert(labels, annotations, status=status, **times)]).Alerts[0]
    assert getattr(extended, field) == url


def test_silence_urls_under_a_sub_path_with_a_query_differ_per_organisation_and_alert():
    """The silence page of a base is worked out once (cached); each alert still gets its own matchers."""
    base = "https://x.example/grafana/?theme=dark"
    alerts = [alert({"alertname": "a"}, {"__orgId__": "2"}), alert({"alertname": "b"}), alert({"alertname": "a"})]
    urls = [extended.SilenceURL for extended in data(alerts, external_url=base).Alerts]
    assert urls == [
        "https://x.example/grafana/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Da&orgId=2&theme=dark",
        "https://x.example/grafana/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Da&theme=dark",
        "https://x.example/grafana/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Db&theme=dark",
    ]


@pytest.mark.parametrize(
    "text",
    ["".join(chr(code) for code in range(128)), "alertname=Disk full", "a+b&c=d/e?f#g", "été ☃", "", "~_.-09azAZ"],
)
def test_a_silence_link_escapes_a_label_as_gos_query_escape_does(text):
    """The one-pass escape of ASCII text (silence links) gives what quote_plus gives, character for character."""
    assert alertbuilder._query_escape(text) == quote_plus(text, safe="")


@pytest.mark.parametrize(
    "source",
    [
        "http://127.0.0.1:9/hook?a=1&b=%20",
        "Disk full on db-1",
        "two\nlines",
        "ends with a newline\n",
        "crlf\r\nline",
        "",
    ],
)
def test_plain_text_prints_as_the_engine_prints_it(source):
    """Text without delimiters skips the engine; what comes out is what Jinja2 gives for it."""
    renderer, template_data = TemplateRenderer(), data(WORKED_EXAMPLE)
    assert renderer.render(source, template_data) == templating._compile(source, None).render()


@pytest.mark.parametrize(
    ("source", "engine"),
    [("http://127.0.0.1:9/hook", False), ("{{ Status }}", True), ("ends with a newline\n", True), ("a\rb", True)],
)
def test_only_text_with_delimiters_or_rewritten_line_breaks_goes_through_the_engine(monkeypatch, source, engine):
    compiled = []
    real_compile = templating._compile
    monkeypatch.setattr(templating, "_compile", lambda *args: compiled.append(args) or real_compile(*args))
    TemplateRenderer().render(source, data(WORKED_EXAMPLE))
    assert bool(compiled) == engine


def test_a_spent_budget_fails_a_plain_text_too():
    with templating.render_budget(0.0), pytest.raises(templating.TemplateTimeLimitError, match="time limit"):
        TemplateRenderer().render("http://127.0.0.1:9/hook", data(WORKED_EXAMPLE))


def test_no_external_url_means_no_generated_urls():
    extended = data(WORKED_EXAMPLE, external_url="").Alerts[0]
    assert (extended.SilenceURL, extended.DashboardURL, extended.PanelURL) == ("", "", "")


@pytest.mark.parametrize(
    ("external_url", "expected"),
    [
        ("http://grafana.local", "http://grafana.local/alerting/list"),
        ("http://grafana.local/", "http://grafana.local/alerting/list"),
        ("https://x.example/grafana/?a=b", "https://x.example/grafana/alerting/list?a=b"),
    ],
)
def test_rule_url(external_url, expected):
    assert rule_url(external_url) == expected


@pytest.mark.parametrize(
    ("receiver", "quoted"),
    [
        ("a.b", r"a\.b"),
        ("x+y(z)", r"x\+y\(z\)"),
        ("[a]{1}^$|*?\\", r"\[a\]\{1\}\^\$\|\*\?\\"),
        ("ops-team 1", "ops-team 1"),
    ],
)
def test_receiver_is_regex_quoted(receiver, quoted):
    assert data([FIRING_1], receiver=receiver).Receiver == quoted


def test_alerts_are_sorted_by_job_then_instance_then_labels():
    alerts = [
        alert({"alertname": "c"}),
        alert({"alertname": "b", "instance": "2"}),
        alert({"alertname": "a", "job": "z"}),
        alert({"alertname": "b", "instance": "1"}),
        alert({"alertname": "a"}),
    ]
    names = [(a.Labels["alertname"], a.Labels.get("instance", "")) for a in data(alerts).Alerts]
    assert names == [("a", ""), ("b", "1"), ("b", "2"), ("a", ""), ("c", "")]
    assert data(alerts).Alerts[0].Labels.get("job") == "z"


def test_common_labels_and_private_items():
    template_data = data(
        [
            alert({"alertname": "a", "team": "x", "__private__": "1"}, {"summary": "s", "__values__": '{"A": 1}'}),
            alert({"alertname": "a", "team": "y", "__private__": "1"}, {"summary": "s"}),
        ],
        group_labels={"alertname": "a", "__grouped__": "g"},
    )
    assert template_data.CommonLabels == {"alertname": "a"}
    assert template_data.CommonAnnotations == {"summary": "s"}
    assert template_data.GroupLabels == {"alertname": "a", "__grouped__": "g"}  # not filtered, as Grafana
    assert "__private__" not in template_data.Alerts[0].Labels
    assert "__values__" not in template_data.Alerts[0].Annotations


def test_to_json_shape():
    template_data = data(
        [
            alert(
                {"alertname": "a", "__alert_rule_uid__": "r1"},
                {"__values__": '{"B": 2, "A": 0.5}', "__value_string__": "vs", "__orgId__": "1"},
                startsAt="2024-01-01T00:00:00.5+00:00",
            ),
            alert({"alertname": "b"}, status="resolved", endsAt="2024-01-02T03:04:05Z"),
        ]
    )
    body = template_data.to_json()
    assert list(body)[:7] == [
        "receiver", "status", "alerts", "groupLabels", "commonLabels", "commonAnnotations", "externalURL",
    ]  # fmt: skip
    assert body["status"] == "firing"
    firing, resolved = sorted(body["alerts"], key=lambda item: item["status"])
    assert firing["startsAt"] == "2024-01-01T00:00:00.5Z"
    assert firing["endsAt"] == "0001-01-01T00:00:00Z"
    assert firing["values"] == {"A": 0.5, "B": 2}
    assert (firing["valueString"], firing["orgId"], firing["ruleUID"]) == ("vs", 1, "r1")
    assert firing["labels"] == {"alertname": "a"}
    assert resolved["endsAt"] == "2024-01-02T03:04:05Z"
    assert resolved["values"] is None
    assert "orgId" not in resolved and "imageURL" not in resolved
    json.dumps(body)  # plain JSON types only


def test_kv_helpers():
    kv = KV({"b": "2", "alertname": "x", "a": "1"})
    assert [(p.Name, p.Value) for p in kv.SortedPairs()] == [("alertname", "x"), ("a", "1"), ("b", "2")]
    assert kv.Names() == ["alertname", "a", "b"]
    assert kv.Values() == ["x", "1", "2"]
    assert kv.Remove(["a", "zz"]) == {"b": "2", "alertname": "x"}
    assert kv.String() == str(kv) == "alertname=x, a=1, b=2"
    assert kv.SortedPairs().Names() == ["alertname", "a", "b"]


@pytest.mark.parametrize(
    ("number", "text"),
    [(1.0, "1"), (1.5, "1.5"), (1e20, "100000000000000000000"), (1e21, "1e+21"), (0.0001, "0.0001"), (1e-05, "1e-05")],
)
def test_go_float_text(number, text):
    assert go_float_text(number) == text


def test_test_alert_merges_user_labels_and_annotations():
    test = templating.test_alert({"team": "ops", "instance": "me"}, {"summary": "hi"})
    assert test["status"] == "firing"
    assert test["labels"] == {"alertname": "TestAlert", "instance": "me", "team": "ops"}
    assert test["annotations"] == {
        "summary": "hi",
        "__value_string__": "[ metric='foo' labels={instance=bar} value=10 ]",
    }


def test_sample_alerts_render():
    renderer = TemplateRenderer()
    assert renderer.render_named("default.title", data(templating.sample_alerts())).startswith("[FIRING:1, RESOLVED:1]")


# -- the engine: variables, functions, named templates --------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ Status }} {{ Receiver }} {{ Alerts|length }} {{ Alerts.Firing|length }}", "firing cp 1 1"),
        ("{{ CommonLabels }}|{{ CommonLabels.SortedPairs() }}", "alertname=alert1|alertname=alert1"),
        ("{{ Nope }}{{ Nope.deeper.still }}{{ CommonLabels.missing }}{{ none }}", ""),
        ("{{ Status == 'firing' }}", "true"),
        (
            "{{ Status|toUpper }} {{ toLower('AB') }} {{ ' x '|trimSpace }} {{ 'hello world'|title }}",
            "FIRING ab x Hello World",
        ),
        ("{{ join(', ', ['a', 'b']) }} {{ ['c', 'd']|join('-') }}", "a, b c-d"),
        ("{{ match('^al', 'alert') }} {{ 'alert'|match('x') }}", "true false"),
        ("{{ reReplaceAll('(a)(?P<n>b)', '${n}$1$$', 'xaby') }}", "xba$y"),
        ("{{ toJson({'b': '<&>', 'a': 1.0}) }}", '{"a":1,"b":"\\u003c\\u0026\\u003e"}'),
        ("{{ fromJson('[1, 2]')|sum }}", "3"),
        ("{{ '2024-03-04T05:06:07Z'|date('2006-01-02 15:04:05 MST Mon Jan') }}", "2024-03-04 05:06:07 UTC Mon Mar"),
        ("{{ date('3:04PM Z07:00', tz('Asia/Kolkata', '2024-03-04T05:06:07Z')) }}", "10:36AM +05:30"),
        ("{{ Alerts[0].EndsAt }} {{ Alerts[0].EndsAt.IsZero() }}", "0001-01-01 00:00:00 +0000 UTC true"),
        ("{{ dot.Status }} {{ ProductName }} {{ ProductVersion }}", "firing ContactPoints 1.2.3"),
    ],
)
def test_engine_variables_and_functions(source, expected):
    assert render(source) == expected


@pytest.mark.parametrize(
    ("user_templates", "source", "expected"),
    [
        ({"mine": "Alert: {{ template('default.title') }}!"}, "{{ template('mine') }}", "Alert: [FIRING:1] alert1 !"),
        (
            {"default.title": "custom {{ Status }}"},
            "{{ template('default.message')[:10] }}|{{ template('default.title') }}",
            "**Firing**|custom firing",
        ),
        (
            {"list": "{% for a in dot %}{{ a.Labels.alertname }};{% endfor %}"},
            "{{ template('list', Alerts.Firing) }}",
            "alert1;",
        ),
        ({}, "{{ template('__text_alert_list', Alerts.Resolved) }}", ""),
        ({}, "{{ template('__text_alert_list', Alerts.Firing)[:20] }}", "\nValue: [no value]\nL"),
    ],
)
def test_named_templates(user_templates, source, expected):
    assert render(source, **user_templates) == expected


# -- the engine: sandbox, limits, errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ ''.__class__ }}", "access to attribute '__class__' of 'str' object is unsafe"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "unsafe"),
        ("{{ dot.to_json.__globals__ }}", "unsafe"),
        ("{{ Alerts[0].Labels.pop('alertname') }}", "unsafe"),
        ("{{ Vars.update({'a': 1}) }}", "unsafe"),
        ("{% include 'settings.py' %}", "no loader"),
        ("{% import 'os' as os %}", "no loader"),
        ("{{ lipsum(10) }}", "undefined"),
        ("{{ template('nope') }}", 'template "nope" not defined'),
    ],
)
def test_sandbox_refuses(source, message):
    with pytest.raises(TemplateError) as caught:
        render(source)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    ],
)
def test_runaway_loops_are_stopped(source):
    started = time.monotonic()
    with pytest.raises(TemplateError, match="time limit"):
        render(source)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% for i in range(20) %}{{ 'x' * 1000000 }}{% endfor %}", "template output exceeds maximum size"),
        ("{{ 'x' * 100000000 }}", "maximum size"),
        ("{{ ['x'] * 100000000 }}", "maximum size"),
        ("{{ 10 ** 100000000 }}", "maximum size"),
        ("{{ 'x'|center(1000000000) }}", "maximum size"),
        ("{{ 'x'.ljust(1000000000) }}", "maximum size"),
        ("{{ '{:>1000000000}'.format(1) }}", "format width or precision 1000000000 exceeds the maximum"),
        ("{{ '%1000000000d' % 1 }}", "format width or precision 1000000000 exceeds the maximum"),
        ("{{ '%*d' % (1000000000, 1) }}", "format width or precision 1000000000 exceeds the maximum"),
        ("{{ '{:>{}}'.format(1, 1000000000) }}", "nested replacement fields"),
        ("{{ '{a:>{w}}'.format_map({'a': 1, 'w': 1000000000}) }}", "nested replacement fields"),
        ("{{ 'ab'|replace('', 'y' * 9000000) }}", "maximum size"),
        ("{% set s = 'x' * 6000000 %}{% set a = [s] %}{{ [a, a] }}", "maximum size"),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "maximum size",
        ),
        (
            "{% set s = 'x' * 9000000 %}{% macro m() %}{% for i in range(1000) %}{{ s }}{% endfor %}{% endmacro %}"
            "{{ m()|length }}",
            "maximum size",
        ),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recursion"),
        ("{{ template('loop') }}", "maximum template depth"),
        ("{{ match('(a{1000}){1000}', 'a') }}", "regular expression is too large"),
    ],
)
def test_resource_limits(source, message):
    with pytest.raises(TemplateError) as caught:
        render(source, loop="{{ template('loop') }}")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("source", "lineno"),
    [
        ("line one\n{% if %}", 2),
        ("{{ Status }", 1),
        ("a\nb\n{% for x in y %}", 3),
        ("a\n{{ x|nosuchfilter }}", 2),
    ],
)
def test_check_reports_syntax_errors_with_line(source, lineno):
    with pytest.raises(TemplateError) as caught:
        TemplateRenderer().check(source)
    assert caught.value.lineno == lineno
    assert f"line {lineno}" in str(caught.value)


def test_check_accepts_valid_source():
    TemplateRenderer().check("{% for a in Alerts %}{{ a.Labels.alertname }}{% endfor %}")


@pytest.mark.parametrize(
    ("source", "lineno", "message"),
    [
        ("ok\nok\n{{ 1 / 0 }}", 3, "ZeroDivisionError"),
        ("{% for a in Alerts %}\n{{ a.Labels.__class__ }}{% endfor %}", 2, "unsafe"),
    ],
)
def test_render_errors_carry_the_line(source, lineno, message):
    with pytest.raises(TemplateError) as caught:
        render(source)
    assert caught.value.lineno == lineno
    assert message in caught.value.message


def test_error_in_a_named_template_names_it():
    with pytest.raises(TemplateError) as caught:
        render("{{ template('broken') }}", broken="ok\n{% if %}")
    assert (caught.value.template_name, caught.value.lineno) == ("broken", 2)
