"""Go's fmt for template values: %v printing, Sprint/Sprintln spacing, and Go's type names.

Templates written for Grafana print values the way Go's fmt does: `[a b]` for lists, `map[a:1 b:2]`
for maps (keys sorted), `1e+06` for a large float, `<nil>` for nil inside a value. This module maps
the Python data model (integrations/alertdata.py) onto those rules; printf lives in printf.py.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from integrations.goformat import Time
from integrations.template_sandbox import MAX_OUTPUT_BYTES

NO_VALUE = "<no value>"  # what text/template prints for a missing value at the top level
NIL = "<nil>"  # what fmt prints for nil


def is_list(value: Any) -> bool:
    """A Go slice: any sequence but text."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def is_struct(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def stringer(value: Any) -> Any:
    """The value's Go String() method (fmt's Stringer), bound, or None."""
    method = getattr(type(value), "String", None)
    return value.String if callable(method) else None


_TYPE_NAMES = {bool: "bool", int: "int", float: "float64", str: "string", type(None): "<nil>"}


def go_type_name(value: Any) -> str:
    """Go's %T of a value in our data model (approximate for composite types)."""
    if type(value) in _TYPE_NAMES:
        return _TYPE_NAMES[type(value)]
    if isinstance(value, datetime):
        return "time.Time"
    if type(value) is dict:
        return "map[string]interface {}"
    if type(value) in (list, tuple):
        return "[]interface {}"
    for kind in (bool, int, float, str):
        if isinstance(value, kind) and not callable(getattr(type(value), "String", None)):
            return _TYPE_NAMES[kind]
    return _qualified(value)


def _qualified(value: Any) -> str:
    return f"template.{type(value).__name__}"


# -- floats ---------------------------------------------------------------------------------------


def shortest_digits(number: float) -> tuple[str, int]:
    """The shortest decimal digits that read back as `number` and the decimal point position."""
    _, digits, exponent = Decimal(repr(abs(number))).as_tuple()
    text = "".join(map(str, digits)).rstrip("0")
    if not text:
        return "", 0
    stripped = len("".join(map(str, digits))) - len(text)
    return text, len(text) + int(exponent) + stripped


def format_e(digits: str, point: int, upper: bool = False) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exponent = point - 1
    return f"{mantissa}{'E' if upper else 'e'}{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def format_f(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def float_text(number: float, upper: bool = False) -> str:
    """Go's %v (shortest %g) of a float64: `1e+06`, `123456`, `0.0001`, `1e-05`, `+Inf`, `NaN`."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, number) < 0 else ""
    digits, point = shortest_digits(number)
    if not digits:
        return sign + "0"
    exponent = point - 1
    if exponent < -4 or exponent >= 6:  # strconv's 'g' with shortest precision decides at 6
        return sign + format_e(digits, point, upper)
    return sign + format_f(digits, point)


# -- %v --------------------------------------------------------------------------------------------


def value_text(value: Any, plus: bool = False) -> str:
    """fmt's %v (or %+v) of a value nested anywhere: nil is `<nil>`."""
    if value is None:
        return NIL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, datetime):
        return str(value if isinstance(value, Time) else Time.of(value))
    method = stringer(value)
    if method is not None:
        return str(method())
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{value_text(k)}:{value_text(value[k], plus)}" for k in sorted_keys(value)) + "]"
    if is_list(value):
        return "[" + " ".join(value_text(item, plus) for item in value) + "]"
    if is_struct(value):
        return struct_text(value, lambda item: value_text(item, plus), plus)
    return str(value)


def struct_text(value: Any, render: Any, plus: bool = False) -> str:
    parts = []
    for field in dataclasses.fields(value):
        text = render(getattr(value, field.name))
        parts.append(f"{field.name}:{text}" if plus else text)
    return "{" + " ".join(parts) + "}"


def sorted_keys(mapping: Mapping) -> list[Any]:
    """Map keys in fmt's order: numbers numerically, text lexically (mixed kinds by kind first)."""

    def key(item: Any) -> tuple[int, Any]:
        if isinstance(item, bool):
            return (0, item)
        if isinstance(item, int | float):
            return (1, item)
        return (2, str(item))

    return sorted(mapping, key=key)


def check_printable(*values: Any) -> None:
    """Refuse values whose text would pass the output cap before building it: a list holding one
    big string a thousand times is small in memory but prints a thousand times its size."""
    total, stack = 0, list(values)
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, Mapping) or is_list(item):
            total += 2 + 2 * len(item)
            if total <= MAX_OUTPUT_BYTES:
                stack.extend([*item.keys(), *item.values()] if isinstance(item, Mapping) else item)
        elif is_struct(item):
            total += 2
            stack.extend(getattr(item, field.name) for field in dataclasses.fields(item))
        else:
            total += 8
        if total > MAX_OUTPUT_BYTES:
            raise ValueError(f"value too large to print (over {MAX_OUTPUT_BYTES} bytes)")


def sprint(args: Sequence[Any]) -> str:
    """fmt.Sprint: a space between operands when neither side is a string."""
    check_printable(*args)
    out = []
    for i, arg in enumerate(args):
        if i > 0 and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(value_text(arg))
    return "".join(out)


def sprintln(args: Sequence[Any]) -> str:
    """fmt.Sprintln: always a space between operands, and a newline at the end."""
    check_printable(*args)
    return " ".join(value_text(arg) for arg in args) + "\n"
