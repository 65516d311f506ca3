"""Every integration type, looked up by Grafana's type string (case-insensitive, aliases)."""

from __future__ import annotations

import importlib
from functools import cache

from integrations.base import IntegrationType

# One module per type; each defines exactly one IntegrationType subclass.
TYPE_MODULES = (
    "integrations.webhook",
    "integrations.email",
    "integrations.slack",
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
            if isinstance(value, type) and issubclass(value, IntegrationType) and value.__module__ == module_name
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
