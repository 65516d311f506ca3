"""The default title and message written out in Python (integrations/builtin_texts.py) print exactly
what the built-in templates print, over many alert shapes; a user template of one of their names
sends the setting back through the engine."""

from __future__ import annotations

import json
import random

import pytest

from integrations import builtin_texts
from integrations.alertbuilder import build_template_data
from integrations.template_sandbox import render_budget
from integrations.templating import BUILTIN_TEMPLATES, TemplateRenderer, TemplateTimeLimitError

NAMES = ["alertname", "instance", "job", "severity", "team", "Zone", "émoji", "a", "__alert_rule_uid__"]
VALUES = ["", "x", "db-1", "Ünïcode ✓", "with space", "line\nbreak", "{{ 7*7 }}", "a=b, c=d", "95%"]


def random_alert(rng: random.Random, shared: dict[str, str]) -> dict:
    labels = {**shared, **{rng.choice(NAMES): rng.choice(VALUES) for _ in range(rng.randint(0, 4))}}
    labels.setdefault("alertname", "Disk")
    annotations = {rng.choice(["summary", "description", "runbook_url", "Z"]): rng.choice(VALUES) for _ in range(3)}
    if rng.random() < 0.4:  # Grafana's values and dashboard/panel links
        values = {
            rng.choice(["A", "B", "b", "C0", "ref"]): rng.choice([1, 2.5, 1e21, -0.0, 3, 10**20, None])
            for _ in range(3)
        }
        annotations["__values__"] = json.dumps(values)
    if rng.random() < 0.3:
        annotations.update(__dashboardUid__="dash-1", __panelId__=str(rng.randint(1, 9)))
    status = rng.choice(["firing", "firing", "resolved"])
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": "2026-12-01T10:00:00Z",
        "endsAt": "2026-12-01T11:00:00Z" if status == "resolved" else "",
        "generatorURL": rng.choice(
            ["", "http://prometheus/graph?g0.expr=up", "http://grafana/alerting/grafana/x/view"]
        ),
    }


def random_data(seed: int):
    rng = random.Random(seed)
    shared = {"team": rng.choice(VALUES), "job": "api"} if rng.random() < 0.6 else {}
    alerts = [random_alert(rng, shared) for _ in range(rng.randint(1, 6))]
    group_labels = rng.choice([{}, {"alertname": "Disk"}, dict(list(shared.items())[:1]), shared])
    return build_template_data(
        alerts,
        receiver="cp",
        group_key="{}:{}",
        group_labels=group_labels,
        external_url=rng.choice(["http://localhost:3000/", "https://grafana.example.com/sub/"]),
        merged_notifications=rng.choice([0, 0, 2, 17]),
    )


@pytest.mark.parametrize("seed", range(300))
@pytest.mark.parametrize("setting", [builtin_texts.TITLE_SETTING, builtin_texts.MESSAGE_SETTING])
def test_it_prints_what_the_template_prints(seed, setting):
    data = random_data(seed)
    renderer = TemplateRenderer()
    fast = renderer.render(setting, data)
    name = "default.title" if setting == builtin_texts.TITLE_SETTING else "default.message"
    assert fast == renderer.render_named(name, data)  # the named template goes through the engine
    assert builtin_texts.render_default(setting, data, renderer.templates, BUILTIN_TEMPLATES, str) is not None


@pytest.mark.parametrize("overridden", ["default.title", "__subject", "default.message", "__text_values_list"])
def test_a_user_template_of_one_of_their_names_takes_over(overridden):
    renderer = TemplateRenderer({overridden: "mine"})
    data = random_data(1)
    setting = (
        builtin_texts.TITLE_SETTING if overridden in ("default.title", "__subject") else builtin_texts.MESSAGE_SETTING
    )
    assert builtin_texts.render_default(setting, data, renderer.templates, BUILTIN_TEMPLATES, str) is None
    text = renderer.render(setting, data)
    assert "mine" in text if overridden != "__text_values_list" else "Value: mine" in text


def test_other_settings_go_through_the_engine():
    renderer = TemplateRenderer()
    data = random_data(2)
    for source in ['{{ template("default.title") }} ', '{{template("default.title")}}', "{{ Status }}"]:
        assert builtin_texts.render_default(source, data, renderer.templates, BUILTIN_TEMPLATES, str) is None
    assert (
        renderer.render('{{ template("default.title") }}!', data) == renderer.render_named("default.title", data) + "!"
    )


def test_a_spent_budget_fails_a_default_text_too():
    renderer = TemplateRenderer()
    with render_budget(0.0), pytest.raises(TemplateTimeLimitError, match="time limit"):
        renderer.render(builtin_texts.MESSAGE_SETTING, random_data(3))
