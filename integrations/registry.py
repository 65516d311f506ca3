"""Every integration type, looked up by Grafana's type string (case-insensitive, aliases)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from integrations.base import IntegrationType

# One module per type, each defining exactly one IntegrationType subclass; in spec §0's order.
TYPE_MODULES = (
    "integrations.alertmanager",
    "integrations.dingding",
    "integrations.discord",
    "integrations.email",
    "integrations.googlechat",
    "integrations.kafka",
    "integrations.line",
    "integrations.teams",
    "integrations.opsgenie",
    "integrations.pagerduty",
    "integrations.pushover",
    "integrations.sensugo",
    "integrations.slack",
    "integrations.telegram",
    "integrations.threema",
    "integrations.victorops",
    "integrations.webhook",
    "integrations.webex",
    "integrations.wecom",
)


class UnknownIntegrationType(LookupError):
    pass


@cache
def all_types() -> dict[str, type[IntegrationType]]:
    """{type string: class}, in the order of TYPE_MODULES."""
    found: dict[str, type[IntegrationType]] = {}
    for module_name in TYPE_MODULES:
        module = importlib.import_module(module_name)
        classes = [
            value
            for value in vars(module).values()
            # type(value), not isinstance: a lazy object (django.conf.settings) must not be touched.
            if issubclass(type(value), type) and issubclass(value, IntegrationType) and value.__module__ == module_name
        ]
        if len(classes) != 1:
            raise RuntimeError(f"{module_name} must define exactly one integration type, found {len(classes)}")
        found[classes[0].type] = classes[0]
    return found


def get_type(name: str) -> type[IntegrationType]:
    """Exact match first, then an alias, then a case-folded match (Grafana's lookup order)."""
    types = all_types()
    if name in types:
        return types[name]
    for cls in types.values():
        if name in cls.aliases:
            return cls
    folded = name.casefold()
    for cls in types.values():
        if folded == cls.type.casefold() or folded in (alias.casefold() for alias in cls.aliases):
            return cls
    raise UnknownIntegrationType(f"unknown integration type {name!r}")


@dataclass(frozen=True)
class Preset:
    """A provider reached through another type: the picker offers it with settings pre-filled."""

    key: str
    type: str
    label: str
    description: str
    settings: dict[str, Any] = field(default_factory=dict)
    help: dict[str, str] = field(default_factory=dict)  # field key → help replacing the type's

    def describe(self) -> dict[str, Any]:
        base = get_type(self.type).describe()
        fields = [
            {**f, "help": self.help.get(f["key"], f["help"]), "default": self.settings.get(f["key"], f["default"])}
            for f in base["fields"]
        ]
        return {**base, "preset": self.key, "label": self.label, "description": self.description, "fields": fields}


# Zenduty has no type of its own: Grafana delivers to it with the native webhook (spec §4.20).
PRESETS: tuple[Preset, ...] = (
    Preset(
        key="zenduty",
        type="webhook",
        label="Zenduty",
        description="Creates and resolves Zenduty incidents through a webhook to Zenduty's Grafana integration.",
        settings={"httpMethod": "POST"},
        help={
            "url": "The webhook URL Zenduty shows when you add a Grafana integration to a service "
            "(Zenduty: Services → your service → Integrations → Add → Grafana).",
        },
    ),
)


def get_preset(key: str) -> Preset | None:
    return next((preset for preset in PRESETS if preset.key == key), None)
