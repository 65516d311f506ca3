"""Go's rules for values in our data model: truth, zero values of missing keys, exported names,
argument counts of Python functions."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from integrations.alertdata import KV, Alert
from integrations.goformat import GoMap
from integrations.gotemplate.printing import is_list


def zero_value(mapping: Mapping) -> Any:
    """What a missing key reads as: Go's zero value of the map's element type (missingkey=zero).

    Label and annotation sets are Go's map[string]string, so a missing label is "" (Grafana's
    Alertmanager runs with missingkey=zero); alert values are map[string]float64, so 0; any other
    map (coll.Dict, data.JSON, plain dicts) is map[string]interface{}: nil, printed `<no value>`.
    """
    if isinstance(mapping, KV):
        return ""
    if isinstance(mapping, GoMap):
        return 0
    return None


def field_value(struct: Any, name: str) -> Any:
    """A field of the data as Go holds it. An alert whose rule sent no values has a nil
    map[string]float64 in Grafana, not a nil interface: it prints `map[]`, has length 0 and reads a
    missing refID as 0, where None would print `<no value>` and fail `.Values.A` and `len`."""
    value = getattr(struct, name)
    if value is None and name == "Values" and isinstance(struct, Alert):
        return GoMap()
    return value


def exported(name: str) -> bool:
    return name[:1].isupper()


def with_state(function: Callable[..., Any]) -> Callable[..., Any]:
    """Marks a function that receives the running execution first (tmpl.Exec needs the set)."""
    function.needs_state = True  # type: ignore[attr-defined]
    return function


def check_arity(name: str, function: Callable[..., Any], count: int) -> str | None:
    """Go's "wrong number of args" check, from the Python function's signature."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    params = [p for p in signature.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = sum(p.default is p.empty for p in params)
    variadic = any(p.kind == p.VAR_POSITIONAL for p in signature.parameters.values())
    if count < required or (not variadic and count > len(params)):
        want = f"at least {required}" if variadic else str(required if count < required else len(params))
        return f"wrong number of args for {name}: want {want} got {count}"
    return None


def truth(value: Any) -> bool:
    """Go's truth: false, 0, nil and empty strings, lists and maps are false; anything else true."""
    if value is None:
        return False
    if isinstance(value, bool | int | float | complex | str | bytes):
        return bool(value)
    if isinstance(value, Mapping) or is_list(value):
        return len(value) > 0
    return True
