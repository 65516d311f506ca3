"""Go's predefined template functions (text/template/funcs.go), over Python values.

Comparison follows Go's rules: only basic kinds (bool, int, float, string) are ordered; comparing
different kinds is an error ("incompatible types for comparison"), so `eq 1 1.0` fails as in Go;
`eq` compares with nil without error and takes several operands (`eq .X "a" "b"`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote_plus

from integrations.gotemplate.printf import sprintf
from integrations.gotemplate.printing import go_type_name, is_list, is_struct, sprint, sprintln, value_text
from integrations.gotemplate.values import truth, zero_value

INCOMPATIBLE = "incompatible types for comparison"
INVALID_TYPE = "invalid type for comparison"


def _kind(value: Any) -> str | None:
    """Go's basicKind: None for nil, "other" for composite values."""
    if value is None:
        return None
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float"), (complex, "complex"), (str, "string")):
        if isinstance(value, kind):
            return name
    return "other"


def _comparable(value: Any) -> bool:
    if isinstance(value, Mapping) or is_list(value):
        return False
    if is_struct(value):
        return all(_comparable(getattr(value, name)) for name in value.__dataclass_fields__)
    return True


def eq(first: Any, *others: Any) -> bool:
    if not others:
        raise ValueError("missing argument for comparison")
    kind = _kind(first)
    for other in others:
        if kind != _kind(other):
            if first is not None and other is not None:
                raise ValueError(INCOMPATIBLE)
            continue  # nil against a value: unequal
        if kind == "other":
            for value in (first, other):
                if not _comparable(value):
                    raise ValueError(f"non-comparable type {value_text(value)}: {go_type_name(value)}")
        if first == other:
            return True
    return False


def ne(first: Any, second: Any) -> bool:
    return not eq(first, second)


def lt(first: Any, second: Any) -> bool:
    kinds = (_kind(first), _kind(second))
    for kind in kinds:
        if kind in (None, "other", "bool", "complex"):
            raise ValueError(INVALID_TYPE)
    if kinds[0] != kinds[1]:
        raise ValueError(INCOMPATIBLE)
    return first < second


def le(first: Any, second: Any) -> bool:
    return lt(first, second) or eq(first, second)


def gt(first: Any, second: Any) -> bool:
    return not le(first, second)


def ge(first: Any, second: Any) -> bool:
    return not lt(first, second)


def length(item: Any) -> int:
    if item is None:
        raise ValueError("len of untyped nil")
    if isinstance(item, str):
        return len(item.encode())  # Go counts bytes
    if isinstance(item, Mapping) or is_list(item):
        return len(item)
    raise ValueError(f"len of type {go_type_name(item)}")


def _position(index: Any, limit: int) -> int:
    """Go's indexArg: an integer in [0, limit]."""
    if index is None:
        raise ValueError("cannot index slice/array with nil")
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValueError(f"cannot index slice/array with type {go_type_name(index)}")
    if index < 0 or index > limit:
        raise ValueError(f"index out of range: {index}")
    return index


def index(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise ValueError("index of untyped nil")
    for key in indexes:
        if item is None:
            raise ValueError("index of nil pointer")
        if isinstance(item, str) or is_list(item):
            data = item.encode() if isinstance(item, str) else item
            position = _position(key, len(data))
            if position == len(data):
                raise ValueError(f"index out of range: {position}")
            item = data[position]
        elif isinstance(item, Mapping):
            item = item[key] if key in item else zero_value(item)
        else:
            raise ValueError(f"can't index item of type {go_type_name(item)}")
    return item


def slice_(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise ValueError("slice of untyped nil")
    if len(indexes) > 3:
        raise ValueError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise ValueError("cannot 3-index slice a string")
        data = item.encode()
    elif is_list(item):
        data = item
    else:
        raise ValueError(f"can't slice item of type {go_type_name(item)}")
    bounds = [0, len(data)]
    for position, key in enumerate(indexes[:2]):
        bounds[position] = _position(key, len(data))
    if bounds[0] > bounds[1]:
        raise ValueError(f"invalid slice index: {bounds[0]} > {bounds[1]}")
    if len(indexes) == 3:
        capacity = _position(indexes[2], len(data))
        if bounds[1] > capacity:
            raise ValueError(f"invalid slice index: {bounds[1]} > {capacity}")
    result = data[bounds[0] : bounds[1]]
    return result.decode(errors="replace") if isinstance(item, str) else list(result)


def _one_text(args: tuple[Any, ...]) -> str:
    """Go's evalArgs: a single string as is, anything else through fmt.Sprint."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(args)


_HTML = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\0": "\ufffd"}
_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}


def html_escape(*args: Any) -> str:
    return "".join(_HTML.get(char, char) for char in _one_text(args))


def _js_char(char: str) -> str:
    if char in _JS:
        return _JS[char]
    if char < " ":
        return f"\\u{ord(char):04X}"
    if char.isascii() or char.isprintable():
        return char
    return f"\\u{ord(char):04X}"


def js_escape(*args: Any) -> str:
    return "".join(_js_char(char) for char in _one_text(args))


def urlquery(*args: Any) -> str:
    return quote_plus(_one_text(args), safe="")


def call(function: Any, *args: Any) -> Any:
    if function is None:
        raise ValueError("call of nil")
    if not callable(function):
        raise ValueError(f"non-function of type {go_type_name(function)}")
    return function(*args)


def _and(*args: Any) -> Any:
    for value in args:
        if not truth(value):
            return value
    return args[-1]


def _or(*args: Any) -> Any:
    for value in args:
        if truth(value):
            return value
    return args[-1]


_and.short_circuit = _or.short_circuit = True  # type: ignore[attr-defined]  # evaluated lazily by execute.State

BUILTINS: dict[str, Callable[..., Any]] = {
    "and": _and,
    "or": _or,
    "not": lambda value: not truth(value),
    "len": length,
    "index": index,
    "slice": slice_,
    "print": lambda *args: sprint(args),
    "println": lambda *args: sprintln(args),
    "printf": lambda template, *args: sprintf(template, args),
    "eq": eq,
    "ne": ne,
    "lt": lt,
    "le": le,
    "gt": gt,
    "ge": ge,
    "html": html_escape,
    "js": js_escape,
    "urlquery": urlquery,
    "call": call,
}
