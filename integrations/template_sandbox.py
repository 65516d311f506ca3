"""The template sandbox's guards: deadline, size limits, and the guarded Jinja environment.

A template cannot reach settings, files, the database or the network (no loader, no imports,
sandboxed attribute access), and a runaway one is stopped: a deadline (on the render clock below)
checked on every attribute access, call, filter and loop step, a cap on the text it may produce,
and size checks wherever a value can grow (operators, literals, calls). integrations/templating.py
builds its environment on SandboxEnvironment and wraps its filters with guarded_filter.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import Undefined, nodes, pass_context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.visitor import NodeTransformer

MAX_OUTPUT_BYTES = 10 * 1024 * 1024  # spec §2.4: per rendered field
MAX_PRODUCED_CHARS = 8 * MAX_OUTPUT_BYTES  # all text produced in one render, nested output counted again
MAX_INT_BITS = 100_000
MAX_FORMAT_WIDTH = 10_000  # widths and precisions in %-formatting, str.format and the format filter
# Filters whose run time grows fast with their input and which run in one go, where the deadline
# cannot stop them (urlize on 10 MB took 6.6 s): their input is capped instead.
MAX_SLOW_FILTER_INPUT = 100_000
SLOW_FILTERS = frozenset({"urlize", "wordwrap", "title", "striptags", "wordcount", "urlencode"})
SLOW_FILTERS |= {"sort", "unique", "groupby", "dictsort", "min", "max"}
OUTPUT_TOO_LARGE = "template output exceeds maximum size"


class LimitExceeded(Exception):
    """A resource limit was hit inside a template; becomes a TemplateError."""


class TimeLimitExceeded(LimitExceeded):
    """The render ran out of time: the delivery's template budget is spent."""


# -- one render: deadline, depth and produced-text budget, shared by nested template() calls --------


def render_clock() -> float:
    """A render's time: the CPU time of its thread, so a template is limited by the work it does.

    A wall-clock limit also counted the time a render waited for a core or the GIL: on a loaded
    worker (two worker processes and the web on two cores) a webhook's url template that waited
    2 s behind the other sender threads "exceeded the time limit" and its notification failed for good.
    """
    return time.thread_time()


@dataclasses.dataclass(frozen=True)
class CpuDeadline:
    """A render's limit on render_clock(), cheap to check on every template step.

    A thread's CPU time cannot run ahead of the wall clock, so before `unchecked_until` (on
    time.monotonic(), a timeout after the deadline was set) it cannot be past, and the CPU clock
    (a system call, ten times the monotonic clock's cost: 4% of a busy worker's CPU) is read only
    after that.
    """

    at: float  # on render_clock()
    unchecked_until: float = 0.0  # on time.monotonic()

    @classmethod
    def after(cls, seconds: float) -> CpuDeadline:
        return cls(render_clock() + seconds, time.monotonic() + seconds)

    def passed(self) -> bool:
        return time.monotonic() > self.unchecked_until and render_clock() > self.at


# A render that keeps waiting anyway (starved, or blocked in a call) ends after this many times its
# limit in wall-clock time, so it cannot hold its sender thread or outlast its delivery's lease.
WALL_CLOCK_FACTOR = 5


@dataclasses.dataclass
class RenderSession:
    deadline: CpuDeadline
    timeout_seconds: float
    wall_deadline: float = float("inf")  # on time.monotonic()
    depth: int = 0
    produced: int = 0


RENDER_SESSION: contextvars.ContextVar[RenderSession | None] = contextvars.ContextVar("template_session", default=None)


@dataclasses.dataclass(frozen=True)
class RenderBudget:
    """The time every template of one delivery shares; a render started under it ends by its deadline."""

    deadline: CpuDeadline  # the thread that opened the budget renders under it
    timeout_seconds: float
    wall_deadline: float

    @classmethod
    def starting_now(cls, seconds: float) -> RenderBudget:
        return cls(CpuDeadline.after(seconds), seconds, time.monotonic() + seconds * WALL_CLOCK_FACTOR)


RENDER_BUDGET: contextvars.ContextVar[RenderBudget | None] = contextvars.ContextVar("template_budget", default=None)


@contextlib.contextmanager
def render_budget(seconds: float) -> Iterator[RenderBudget]:
    """One deadline for all templates rendered inside the block (all fields of one delivery).

    Without it each render gets its own timeout, so a delivery with six looping fields took six
    times as long. Opened inside another budget, the earlier deadline stays in force.
    """
    budget = RenderBudget.starting_now(seconds)
    outer = RENDER_BUDGET.get()
    if outer is not None and outer.deadline.at <= budget.deadline.at:
        budget = outer
    token = RENDER_BUDGET.set(budget)
    try:
        yield budget
    finally:
        RENDER_BUDGET.reset(token)


def new_session(timeout_seconds: float) -> RenderSession:
    """A render's session: under the open budget's deadline, else its own timeout from now."""
    budget = RENDER_BUDGET.get() or RenderBudget.starting_now(timeout_seconds)
    return RenderSession(budget.deadline, budget.timeout_seconds, budget.wall_deadline)


def time_limit_error(session: RenderSession | None = None, fallback_seconds: float = 0.0) -> TimeLimitExceeded:
    """The error of a render that ran out of time (the current one unless given)."""
    session = session or RENDER_SESSION.get()
    seconds = session.timeout_seconds if session else fallback_seconds
    return TimeLimitExceeded(f"template execution exceeded the time limit of {seconds:g}s")


def check_deadline() -> None:
    """Stop the current render once it is past its deadline (called on every step a template takes)."""
    session = RENDER_SESSION.get()
    if session is not None and (time.monotonic() > session.wall_deadline or session.deadline.passed()):
        raise time_limit_error(session)


def seconds_left(default: float) -> float:
    """What remains of the current render's time (for work that takes its own timeout, like regex)."""
    session = RENDER_SESSION.get()
    if session is None:
        return default
    left = min(session.deadline.at - render_clock(), session.wall_deadline - time.monotonic())
    if left <= 0:
        raise time_limit_error(session)
    return left


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


# What follows a `%` and its optional (mapping key): flags, width, precision (Python's printf-style).
_PERCENT_TAIL = re.compile(r"[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?")


def check_format_width(number: int) -> None:
    """Refuse a width or precision that would build a huge string, before anything is allocated."""
    if number > MAX_FORMAT_WIDTH:
        raise LimitExceeded(f"format width or precision {number} exceeds the maximum of {MAX_FORMAT_WIDTH}")


def _percent_specs(fmt: str) -> Iterator[tuple[str | None, str | None]]:
    """(width, precision) of each %-conversion, `%%` skipped; a (mapping key) may nest parentheses."""
    start = fmt.find("%")
    while start != -1:
        at = start + 1
        if fmt.startswith("%", at):
            start = fmt.find("%", at + 1)
            continue
        if fmt.startswith("(", at):
            depth, at = 1, at + 1
            while at < len(fmt) and depth:
                depth += {"(": 1, ")": -1}.get(fmt[at], 0)
                at += 1
        tail = _PERCENT_TAIL.match(fmt, at)
        yield tail.group(1), tail.group(2)
        start = fmt.find("%", tail.end() + 1)  # the conversion character is never a new spec


def _check_percent_format(fmt: str, args: Any) -> None:
    """Refuse %-format widths and precisions that would build huge strings (`%` and the format filter)."""
    values = list(args) if isinstance(args, tuple | list) else [args]
    for width, precision in _percent_specs(fmt):
        for number in (width, precision):
            if number == "*":  # taken from the arguments, in order
                value = values.pop(0) if values else 0
                check_format_width(value if isinstance(value, int) else 0)
            elif number:
                check_format_width(int(number))
        if values:
            values.pop(0)  # the converted value itself


def _check_brace_format(fmt: str) -> None:
    """The same for str.format and format_map."""
    for _text, field_name, spec, _conversion in string.Formatter().parse(fmt):
        if field_name is None or not spec:
            continue
        if "{" in spec:  # the width would come from an argument, possibly nested deep
            raise LimitExceeded("nested replacement fields in format specifications are not supported")
        for number in re.findall(r"\d+", spec):  # width, precision, or any number a __format__ reads
            check_format_width(int(number))


SLOW_INPUT_TOO_LARGE = "{name} accepts at most " + str(MAX_SLOW_FILTER_INPUT) + " characters of input"


def _check_slow_input(name: str, values: Iterable[Any]) -> None:
    if name in SLOW_FILTERS and any(_size(value, MAX_SLOW_FILTER_INPUT) > MAX_SLOW_FILTER_INPUT for value in values):
        raise LimitExceeded(SLOW_INPUT_TOO_LARGE.format(name=name))


def _drawn(name: str, iterable: Iterable[Any]) -> list[Any]:
    """A lazy sequence drawn into a list, under the deadline, only as far as the slow filter's input cap."""
    items, size = [], 2
    for item in _deadline_iter(iterable):
        size += 2 + _size(item, MAX_SLOW_FILTER_INPUT)
        if size > MAX_SLOW_FILTER_INPUT:
            raise LimitExceeded(SLOW_INPUT_TOO_LARGE.format(name=name))
        items.append(item)
    return items


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
    _check_slow_input(name, args)
    if name in _ESTIMATES:
        check_estimate(_ESTIMATES[name](*args, **kwargs))
    if name == "format" and args:
        _check_percent_format(str(args[0]), args[1:] or kwargs)


def _deadline_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        check_deadline()
        yield item


def guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps jinja's pass_context/pass_environment marker
    def guarded(*args: Any, **kwargs: Any) -> Any:
        lead = 1 if getattr(function, "jinja_pass_arg", None) else 0
        if name in SLOW_FILTERS and len(args) > lead and isinstance(args[lead], Iterator):
            args = (*args[:lead], _drawn(name, args[lead]), *args[lead + 1 :])  # measured before sorted
        _guard_call(name, args[lead:], kwargs)
        result = function(*args, **kwargs)
        _check_size(result)
        return result

    return guarded


# -- the sandbox -----------------------------------------------------------------------------------


@pass_context
def _loop_guard(context: Any, iterable: Any) -> Iterator[Any]:
    """Wrapped around every for-loop's iterable: the deadline is checked on each step."""
    return _deadline_iter(iterable)


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
            _check_percent_format(left, right)
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
            _check_brace_format(value.__self__)
            return formatter(*args, **kwargs)

        return guarded
