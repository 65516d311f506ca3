"""The built-in notification templates in Go's syntax (templates/notifications/grafana_defaults.gotmpl).

Grafana's names (`default.title`, `default.message`, `teams.default.message`, `__subject`, ...)
render the text of spec §3.7, the same as the Jinja2 built-ins; user templates added afterwards
replace a built-in of the same name, as in Grafana.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from integrations.gotemplate.engine import DEFAULT_TIMEOUT_SECONDS, TemplateSet
from integrations.gotemplate.grafana_funcs import grafana_functions

DEFAULTS_PATH = (
    Path(__file__).resolve().parent.parent.parent / "templates" / "notifications" / "grafana_defaults.gotmpl"
)
DEFAULTS_SOURCE = DEFAULTS_PATH.read_text()


def grafana_template_set(
    user_templates: Mapping[str, str] | None = None,
    *,
    funcs: Mapping[str, Callable[..., Any]] | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    product_name: str = "ContactPoints",
) -> TemplateSet:
    """A set with Grafana's functions, the built-ins, then the user's templates (name -> source).

    `productName` is ours, for slack.default.footer: it names the product as Grafana's names Grafana.
    """
    ours = {"productName": lambda: product_name}
    templates = TemplateSet({**grafana_functions(), **ours, **(funcs or {})}, timeout_seconds=timeout_seconds)
    templates.add("__grafana_defaults", DEFAULTS_SOURCE)
    for name, source in (user_templates or {}).items():
        templates.add(name, source)
    return templates
