"""The default title and message, written out in Python.

Almost every delivery renders `{{ template("default.title") }}` and `{{ template("default.message") }}`
(the defaults of Slack, Teams, webhook, Telegram and most other types): through the sandbox
they were the largest cost of a webhook delivery (about a third of the worker's time under load).
These functions print exactly what templates/notifications/default.title.j2 and default.message.j2
(with __subject, __text_alert_list and __text_values_list) print, which
tests/integrations/test_builtin_texts.py checks against the templates over many alert shapes.
They are used only while none of those templates is overridden by a user template of the same name;
the .j2 files stay the definition, and what users call from their own templates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from integrations.alertdata import Alert, TemplateData
from integrations.template_sandbox import MAX_OUTPUT_BYTES, MAX_SLOW_FILTER_INPUT

TITLE_SETTING = '{{ template("default.title") }}'
MESSAGE_SETTING = '{{ template("default.message") }}'
# The built-in templates each default text uses: a user template of one of these names changes it.
USES = {
    TITLE_SETTING: ("default.title", "__subject"),
    MESSAGE_SETTING: ("default.message", "__text_alert_list", "__text_values_list"),
}
DEFAULT_SETTINGS = frozenset(USES)


def render_default(
    source: str, data: TemplateData, templates: Mapping[str, str], builtins: Mapping[str, str], printed: Callable
) -> str | None:
    """The text of a default title or message setting, or None when the template engine must render
    it: `source` is not one of them, a template it uses is not the built-in one, or the text breaks
    a limit (the engine words that error).

    `printed` turns a value into text as `{{ value }}` does (the environment's finalize, then str).
    """
    uses = USES.get(source)
    if uses is None or any(templates.get(name) is not builtins[name] for name in uses):
        return None
    if source == TITLE_SETTING:
        text = subject(data)
    else:
        if any(alert.Values and len(alert.Values) > MAX_SLOW_FILTER_INPUT for alert in data.Alerts):
            return None  # dictsort refuses such input
        text = message(data, printed)
    if len(text) > MAX_OUTPUT_BYTES // 4 and len(text.encode()) > MAX_OUTPUT_BYTES:  # 4 bytes a character at most
        return None
    return text


def subject(data: TemplateData) -> str:
    """__subject: `[FIRING:2, RESOLVED:1] group label values (other common label values)`."""
    status = data.Status.upper()
    if data.Status == "firing":
        status += f":{len(data.Alerts.Firing)}"
        if len(data.Alerts.Resolved) > 0:
            status += f", RESOLVED:{len(data.Alerts.Resolved)}"
    text = f"[{status}] {' '.join(str(value) for value in data.GroupLabels.SortedPairs().Values())} "
    if len(data.CommonLabels) > len(data.GroupLabels):
        others = data.CommonLabels.Remove(data.GroupLabels.Names()).Values()
        text += f"({' '.join(str(value) for value in others)})"
    return text


def message(data: TemplateData, printed: Callable[[Any], str]) -> str:
    """default.message: the firing, then the resolved alerts, each with values, labels,
    annotations and links; a digest says how many notifications it merged first."""
    parts = []
    if data.MergedNotifications:
        parts.append(f"{printed(data.MergedNotifications)} notifications merged into this digest\n\n")
    firing, resolved = data.Alerts.Firing, data.Alerts.Resolved
    if firing:
        parts.append("**Firing**\n")
        parts.append(alert_list(firing, printed))
        if resolved:
            parts.append("\n\n")
    if resolved:
        parts.append("**Resolved**\n")
        parts.append(alert_list(resolved, printed))
    return "".join(parts)


def alert_list(alerts: Iterable[Alert], printed: Callable[[Any], str]) -> str:
    """__text_alert_list (its trailing newline dropped, as the template loader drops it)."""
    parts = []
    for alert in alerts:
        parts.append(f"\nValue: {values_list(alert, printed)}\nLabels:\n")
        parts.extend(f" - {pair.Name} = {printed(pair.Value)}\n" for pair in alert.Labels.SortedPairs())
        parts.append("Annotations:\n")
        parts.extend(f" - {pair.Name} = {printed(pair.Value)}\n" for pair in alert.Annotations.SortedPairs())
        for label, url in (
            ("Source", alert.GeneratorURL),
            ("Silence", alert.SilenceURL),
            ("Dashboard", alert.DashboardURL),
            ("Panel", alert.PanelURL),
        ):
            if url:
                parts.append(f"{label}: {printed(url)}\n")
    return "".join(parts)


def values_list(alert: Alert, printed: Callable[[Any], str]) -> str:
    """__text_values_list: `A=1, B=2` in key order, or `[no value]`."""
    if not alert.Values:
        return "[no value]"
    return ", ".join(f"{printed(ref_id)}={printed(value)}" for ref_id, value in sorted(alert.Values.items()))
