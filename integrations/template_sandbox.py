"""The template sandbox's guards: deadline, size limits, and the guarded Jinja environment.

A template cannot reach settings, files, the database or the network (no loader, no imports,
sandboxed attribute access), and a runaway one is stopped: a wall-clock deadline checked on every
attribute access, call, filter and loop step, a cap on the text it may produce, and size checks
wherever a value can grow (operators, literals, calls). integrations/templating.py builds its
environment on SandboxEnvironment and wraps its filters with guarded_filter.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from jinja2 import Undefined, nodes, pass_context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.visitor import NodeTransformer

MAX_OUTPUT_BYTES = 10 * 1024 * 1024  # spec §2.4: per rendered field
MAX_PRODUCED_CHARS = 8 * MAX_OUTPUT_BYTES  # all text produced in one render, nested output counted again
MAX_INT_BITS = 100_000
OUTPUT_TOO_LARGE = "template output exceeds maximum size"


class LimitExceeded(Exception):
    """A resource limit was hit inside a template; becomes a TemplateError."""


# -- one render: deadline, depth and produced-text budget, shared by nested template() calls --------


@dataclasses.dataclass
class RenderSession:
    deadline: float
    timeout_seconds: float
    depth: int = 0
    produced: int = 0


RENDER_SESSION: contextvars.ContextVar[RenderSession | None] = contextvars.ContextVar("template_session", default=None)


def check_deadline() -> None:
    """Stop the current render once it is past its deadline (called on every step a template takes)."""
    session = RENDER_SESSION.get()
    if session is not None and time.monotonic() > session.deadline:
        raise LimitExceeded(f"template execution exceeded the time limit of {session.timeout_seconds:g}s")


def _size(value: Any, budget: int = MAX_OUTPUT_BYTES) -> int:
    """Approximate printed size of a value, walking containers; stops counting past `budget`."""
    total, stack = 0, [value]
    while stack and total <= budget:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            if total <= budget:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            if total <= budget:
                stack.extend(item)
        else:
            total += 8
    return total


def _check_size(*values: Any) -> None:
    if sum(_size(value) for value in values) > MAX_OUTPUT_BYTES:
        raise LimitExceeded(f"value exceeds maximum size ({MAX_OUTPUT_BYTES} bytes)")


def check_estimate(estimate: int) -> None:
    if estimate > MAX_OUTPUT_BYTES:
        raise LimitExceeded(f"value exceeds maximum size ({MAX_OUTPUT_BYTES} bytes)")


_PERCENT_SPEC = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*?:([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")


def _check_format(fmt: str, args: Any) -> None:
    """Refuse format widths that would build huge strings (`%` and str.format)."""
    for spec in [spec for match in _PERCENT_SPEC.finditer(fmt) for spec in match.groups() if spec]:
        if spec == "*":  # the width is the next argument
            values = args if isinstance(args, tuple | list) else [args]
            check_estimate(max([value for value in values if isinstance(value, int)], default=0))
        else:
            check_estimate(int(spec))
    for match in _BRACE_SPEC.finditer(fmt):
        if "{" in match.group(1):  # the width would come from an argument, possibly nested deep
            raise LimitExceeded("nested replacement fields in format specifications are not supported")
        for number in re.findall(r"\d+", match.group(1)):
            check_estimate(int(number))


def _estimate_replace(text: str, old: str, new: str, count: int | None = None, *_: Any) -> int:
    hits = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(len(new) - len(old), 0)


def estimate_join(items: Any, separator: str = "", *_: Any, **__: Any) -> int:
    return len(separator) * len(items) if hasattr(items, "__len__") else 0


def _estimate_width(text: Any, width: Any = 0, *_: Any, **__: Any) -> int:
    return width if isinstance(width, int) else 0


# Filters ("name") and str methods ("str.name") whose result can be far larger than their inputs.
_ESTIMATES: dict[str, Callable[..., int]] = {
    "replace": lambda text, old, new, count=None, *_, **__: _estimate_replace(str(text), str(old), str(new), count),
    "str.replace": lambda text, old, new, count=-1, *_: _estimate_replace(text, str(old), str(new), count),
    "join": estimate_join,
    "str.join": lambda separator, items, *_: estimate_join(items, separator),
    "center": _estimate_width,
    "str.center": _estimate_width,
    "str.ljust": _estimate_width,
    "str.rjust": _estimate_width,
    "str.zfill": _estimate_width,
    "str.expandtabs": lambda text, tabsize=8, *_: len(text) + text.count("\t") * int(tabsize),
    "indent": lambda text, width=4, *_, **__: (
        len(str(text)) + (str(text).count("\n") + 1) * (width if isinstance(width, int) else len(str(width)))
    ),
    "wordwrap": lambda text, width=79, _b=True, wrapstring=None, *_, **__: (
        len(str(text)) + (len(str(text)) // max(int(width), 1) + 1) * len(wrapstring or "\n")
    ),
    "batch": lambda value, linecount, *_, **__: int(linecount) * 8,
    "slice": lambda value, slices, *_, **__: int(slices) * 8,
}


def _guard_call(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    check_deadline()
    _check_size(*args, *kwargs.values())
    if name in _ESTIMATES:
        check_estimate(_ESTIMATES[name](*args, **kwargs))
    if name == "format" and args:
        _check_format(str(args[0]), args[1:] or kwargs)


def guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps jinja's pass_context/pass_environment marker
    def guarded(*args: Any, **kwargs: Any) -> Any:
        values = args[1:] if getattr(function, "jinja_pass_arg", None) else args
        _guard_call(name, values, kwargs)
        result = function(*args, **kwargs)
        _check_size(result)
        return result

    return guarded


# -- the sandbox -----------------------------------------------------------------------------------


@pass_context
def _loop_guard(context: Any, iterable: Any) -> Iterator[Any]:
    """Wrapped around every for-loop's iterable: the deadline is checked on each step."""
    for item in iterable:
        check_deadline()
        yield item


@pass_context
def _account(context: Any, value: Any) -> Any:
    """Wrapped around every piece of output: counts all text produced, in buffers and macros too."""
    check_deadline()
    session = RENDER_SESSION.get()
    if session is not None:
        session.produced += len(value) if isinstance(value, str) else _size(value)
        if session.produced > MAX_PRODUCED_CHARS:
            raise LimitExceeded(OUTPUT_TOO_LARGE)
    return value


def _guard_value(value: Any) -> Any:
    _check_size(value)
    return value


def _wrap(node: nodes.Expr, filter_name: str) -> nodes.Filter:
    return nodes.Filter(node, filter_name, [], [], None, None, lineno=node.lineno)


class _GuardTransformer(NodeTransformer):
    """Rewrites a parsed template so loops, output and built values pass through the guards."""

    def visit_For(self, node: nodes.For) -> nodes.For:
        node = self.generic_visit(node)
        node.iter = _wrap(node.iter, "__loop_guard")
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Output:
        node = self.generic_visit(node)
        node.nodes = [_wrap(child, "__account") for child in node.nodes]
        return node

    def _built_value(self, node: nodes.Expr) -> nodes.Expr:
        node = self.generic_visit(node)
        return _wrap(node, "__guard_value") if getattr(node, "ctx", "load") == "load" else node

    visit_List = visit_Dict = visit_Tuple = visit_Concat = _built_value


# The filters _GuardTransformer wraps around loops, output and built values, under the names it uses.
GUARD_FILTERS: dict[str, Callable[..., Any]] = {
    "__loop_guard": _loop_guard,
    "__account": _account,
    "__guard_value": _guard_value,
}


class SandboxEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the guards hooked into parsing, attribute access, calls and operators."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return _GuardTransformer().visit(super()._parse(source, name, filename))

    def getattr(self, obj: Any, attribute: str) -> Any:
        check_deadline()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        check_deadline()
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            _guard_call(f"str.{getattr(__obj, '__name__', '')}", (owner, *args), kwargs)
        else:
            _guard_call("", args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        _check_size(result)
        return result

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_deadline()
        if operator == "%" and isinstance(left, str):
            _check_format(left, right)
        elif operator in ("*", "**") and isinstance(left, int) and isinstance(right, int):
            bits = left.bit_length() * right if operator == "**" else left.bit_length() + right.bit_length()
            if abs(left) > 1 and bits > MAX_INT_BITS:
                raise LimitExceeded("number exceeds maximum size")
        elif operator == "*":
            sequence, times = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(times, int) and not isinstance(sequence, int | float):
                check_estimate(_size(sequence) * times)
        result = super().call_binop(context, operator, left, right)
        _check_size(result)
        return result

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None

        def guarded(*args: Any, **kwargs: Any) -> str:
            _check_format(value.__self__, ())
            return formatter(*args, **kwargs)

        return guarded
