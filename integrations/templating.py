"""Notification templates: a sandboxed Jinja2 engine over Grafana's template data (contract §8).

Templates see the data's fields as top-level variables (`Alerts`, `Status`, `CommonLabels`, ...),
`dot` (Go's `.`: the data, or what `template(name, value)` passed) and `template("name")`, which
renders a built-in or user template with the same data. Built-ins live in
templates/notifications/*.j2 and are read once at import; user templates share their namespace
and override a built-in of the same name. A template cannot reach settings, files, the database
or the network (no loader, no imports, sandboxed attribute access), and a runaway one is stopped:
a wall-clock deadline checked on every attribute access, call, filter and loop step, a cap on the
text it may produce, and size checks wherever a value can grow (operators, literals, calls).
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import json
import re
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import ChainableUndefined, TemplateSyntaxError, Undefined, nodes, pass_context
from jinja2.filters import do_title
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from integrations.alertdata import (
    KV,
    Alert,
    AlertList,
    Pair,
    Pairs,
    TemplateData,
    Time,
    build_template_data,
    rule_url,
    sample_alerts,
    test_alert,
    to_plain,
)

__all__ = [
    "KV",
    "Alert",
    "AlertList",
    "EmailBody",
    "Pair",
    "Pairs",
    "TemplateData",
    "TemplateError",
    "TemplateRenderer",
    "build_template_data",
    "rule_url",
    "sample_alerts",
    "test_alert",
]

MAX_OUTPUT_BYTES = 10 * 1024 * 1024  # spec §2.4: per rendered field
MAX_PRODUCED_CHARS = 8 * MAX_OUTPUT_BYTES  # all text produced in one render, nested output counted again
MAX_DEPTH = 25  # nested template() calls
DEFAULT_TIMEOUT_SECONDS = 2.0
MAX_INT_BITS = 100_000
OUTPUT_TOO_LARGE = "template output exceeds maximum size"
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "templates" / "notifications"
BUILTIN_TEMPLATES: dict[str, str] = {path.name[:-3]: path.read_text() for path in sorted(BUILTIN_DIR.glob("*.j2"))}


class TemplateError(Exception):
    """A template that does not parse or does not render; says where and what went wrong."""

    def __init__(self, message: str, lineno: int | None = None, template_name: str | None = None):
        self.message = message
        self.lineno = lineno
        self.template_name = template_name
        where = [f'template "{template_name}"'] if template_name else []
        where += [f"line {lineno}"] if lineno else []
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class _Limit(Exception):
    """A resource limit was hit inside a template; becomes a TemplateError."""


# -- one render: deadline, depth and produced-text budget, shared by nested template() calls --------


@dataclasses.dataclass
class _Session:
    deadline: float
    timeout_seconds: float
    depth: int = 0
    produced: int = 0


_SESSION: contextvars.ContextVar[_Session | None] = contextvars.ContextVar("template_session", default=None)


def _tick() -> None:
    session = _SESSION.get()
    if session is not None and time.monotonic() > session.deadline:
        raise _Limit(f"template execution exceeded the time limit of {session.timeout_seconds:g}s")


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
        raise _Limit(f"value exceeds maximum size ({MAX_OUTPUT_BYTES} bytes)")


def _check_estimate(estimate: int) -> None:
    if estimate > MAX_OUTPUT_BYTES:
        raise _Limit(f"value exceeds maximum size ({MAX_OUTPUT_BYTES} bytes)")


_PERCENT_SPEC = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*?:([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")


def _check_format(fmt: str, args: Any) -> None:
    """Refuse format widths that would build huge strings (`%` and str.format)."""
    for spec in [spec for match in _PERCENT_SPEC.finditer(fmt) for spec in match.groups() if spec]:
        if spec == "*":  # the width is the next argument
            values = args if isinstance(args, tuple | list) else [args]
            _check_estimate(max([value for value in values if isinstance(value, int)], default=0))
        else:
            _check_estimate(int(spec))
    for match in _BRACE_SPEC.finditer(fmt):
        if "{" in match.group(1):  # the width would come from an argument, possibly nested deep
            raise _Limit("nested replacement fields in format specifications are not supported")
        for number in re.findall(r"\d+", match.group(1)):
            _check_estimate(int(number))


def _estimate_replace(text: str, old: str, new: str, count: int | None = None, *_: Any) -> int:
    hits = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(len(new) - len(old), 0)


def _estimate_join(items: Any, separator: str = "", *_: Any, **__: Any) -> int:
    return len(separator) * len(items) if hasattr(items, "__len__") else 0


def _estimate_width(text: Any, width: Any = 0, *_: Any, **__: Any) -> int:
    return width if isinstance(width, int) else 0


# Filters ("name") and str methods ("str.name") whose result can be far larger than their inputs.
_ESTIMATES: dict[str, Callable[..., int]] = {
    "replace": lambda text, old, new, count=None, *_, **__: _estimate_replace(str(text), str(old), str(new), count),
    "str.replace": lambda text, old, new, count=-1, *_: _estimate_replace(text, str(old), str(new), count),
    "join": _estimate_join,
    "str.join": lambda separator, items, *_: _estimate_join(items, separator),
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
    _tick()
    _check_size(*args, *kwargs.values())
    if name in _ESTIMATES:
        _check_estimate(_ESTIMATES[name](*args, **kwargs))
    if name == "format" and args:
        _check_format(str(args[0]), args[1:] or kwargs)


def _guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
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
        _tick()
        yield item


@pass_context
def _account(context: Any, value: Any) -> Any:
    """Wrapped around every piece of output: counts all text produced, in buffers and macros too."""
    _tick()
    session = _SESSION.get()
    if session is not None:
        session.produced += len(value) if isinstance(value, str) else _size(value)
        if session.produced > MAX_PRODUCED_CHARS:
            raise _Limit(OUTPUT_TOO_LARGE)
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


def _finalize(value: Any) -> Any:
    """Print values the way Go's text/template does where Python differs."""
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class _SandboxEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return _GuardTransformer().visit(super()._parse(source, name, filename))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
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
        _tick()
        if operator == "%" and isinstance(left, str):
            _check_format(left, right)
        elif operator in ("*", "**") and isinstance(left, int) and isinstance(right, int):
            bits = left.bit_length() * right if operator == "**" else left.bit_length() + right.bit_length()
            if abs(left) > 1 and bits > MAX_INT_BITS:
                raise _Limit("number exceeds maximum size")
        elif operator == "*":
            sequence, times = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(times, int) and not isinstance(sequence, int | float):
                _check_estimate(_size(sequence) * times)
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


# -- functions and filters (spec §3.5, in Jinja form) ----------------------------------------------


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    # Python's re backtracks; refuse the classic catastrophic shape (a repeated group that repeats).
    if re.search(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]", pattern):
        raise ValueError(f"regular expression {pattern!r} repeats a repeated group")
    return re.compile(pattern)


def _go_expand(replacement: str, match: re.Match[str]) -> str:
    """Go's Regexp.Expand: $1, ${1}, $name, ${name}, $$; unknown groups expand to ""."""

    def group(ref: re.Match[str]) -> str:
        if ref.group(0) == "$$":
            return "$"
        name = ref.group(1) or ref.group(2)
        try:
            return match.group(int(name) if name.isdigit() else name) or ""
        except IndexError:
            return ""

    return re.sub(r"\$\{(\w+)\}|\$(\w+)|\$\$", group, replacement)


def _re_replace_all(pattern: str, replacement: str, text: str) -> str:
    pieces, size, last = [], 0, 0
    for match in _regex(pattern).finditer(str(text)):
        _tick()
        piece = str(text)[last : match.start()] + _go_expand(replacement, match)
        size += len(piece)
        _check_estimate(size)
        pieces.append(piece)
        last = match.end()
    return "".join(pieces) + str(text)[last:]


def _join(separator: Any, items: Any) -> str:
    _check_estimate(_estimate_join(items, str(separator)))
    return str(separator).join(str(item) for item in items)


def _as_time(value: Any) -> Time:
    return Time.parse(value) if not isinstance(value, Time) else value


def _tz(name: str, value: Any) -> Time:
    if not re.fullmatch(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*", name or ""):
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return Time.of(_as_time(value).astimezone(ZoneInfo(name)))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _json_plain(value: Any) -> Any:
    return to_plain(value, lambda other: None if isinstance(other, Undefined) else str(other))


def _go_json(value: Any, indent: str | None = None) -> str:
    """Go's encoding/json: compact (or indented), HTML characters escaped."""
    separators = (",", ": ") if indent is not None else (",", ":")
    text = json.dumps(_json_plain(value), ensure_ascii=False, indent=indent, separators=separators)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        text = text.replace(char, escaped)
    return text.replace("\u2029", "\\u2029")


def _from_json(text: str) -> Any:
    return json.loads(str(text))


# Go argument order; as filters the last argument (the piped value) comes first.
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "toUpper": lambda text: str(text).upper(),
    "toLower": lambda text: str(text).lower(),
    "title": lambda text: do_title(str(text)),
    "trimSpace": lambda text: str(text).strip(),
    "join": lambda separator, items: _join(separator, items),
    "match": lambda pattern, text: _regex(pattern).search(str(text)) is not None,
    "reReplaceAll": _re_replace_all,
    "safeHtml": lambda text: Markup(text),  # noqa: S704 - marking text safe is this function's job
    "date": lambda layout, value: _as_time(value).Format(layout),
    "tz": _tz,
    "toJson": _go_json,
    "toJsonPretty": lambda indent, value: _go_json(value, indent),
    "fromJson": _from_json,
    "stringSlice": lambda *items: [str(item) for item in items],
}


def _as_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    return lambda value, *args: function(*args, value)


def _make_environment() -> _SandboxEnvironment:
    env = _SandboxEnvironment(undefined=ChainableUndefined, finalize=_finalize, autoescape=False)
    del env.globals["lipsum"]  # its size argument is unbounded
    env.globals.update(_FUNCTIONS)
    env.globals["now"] = lambda: Time.of(datetime.now(UTC))
    filters = {name: _as_filter(function) for name, function in _FUNCTIONS.items() if name not in ("join", "title")}
    env.filters.update(filters)
    env.filters = {name: _guarded_filter(name, function) for name, function in env.filters.items()}
    env.filters.update({"__loop_guard": _loop_guard, "__account": _account, "__guard_value": _guard_value})
    env.policies["json.dumps_function"] = lambda value, **_: _go_json(value)
    env.policies["json.dumps_kwargs"] = {}
    return env


_ENV = _make_environment()


@functools.lru_cache(maxsize=512)
def _compile(source: str, name: str | None) -> Any:
    """Compile once per (source, name); compiled templates are immutable and thread-safe."""
    try:
        code = _ENV.compile(source, name=name, filename=name or "<template>")
    except TemplateSyntaxError as exc:
        raise TemplateError(exc.message or str(exc), exc.lineno, name) from None
    return _ENV.template_class.from_code(_ENV, code, _ENV.make_globals(None), None)


def _error_line(exc: BaseException, filename: str) -> int | None:
    lines = [lineno for frame, lineno in traceback.walk_tb(exc.__traceback__) if frame.f_code.co_filename == filename]
    return lines[-1] if lines else None


# -- the renderer ----------------------------------------------------------------------------------


_NO_DOT = object()


@dataclasses.dataclass
class EmailBody:
    html: str
    text: str


class TemplateRenderer:
    """Renders template text against one notification's data; built-ins plus the user's templates."""

    def __init__(
        self,
        user_templates: Mapping[str, str] | None = None,
        *,
        product_name: str = "ContactPoints",
        version: str = "",
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ):
        self.templates: dict[str, str] = {**BUILTIN_TEMPLATES, **(user_templates or {})}
        self.product_name = product_name
        self.version = version
        self.timeout_seconds = timeout_seconds

    def render(self, source: str, data: TemplateData, *, extra: Mapping[str, Any] | None = None) -> str:
        """Render template text; raises TemplateError."""
        return self._render(_compile(source, None), None, data, _NO_DOT, dict(extra or {}))

    def render_named(self, name: str, data: TemplateData, *, extra: Mapping[str, Any] | None = None) -> str:
        """Render a built-in or user template by name (e.g. "default.title")."""
        return self._render(self._named(name), name, data, _NO_DOT, dict(extra or {}))

    def check(self, source: str) -> None:
        """Syntax check only (unknown filters and tags included); raises TemplateError with the line."""
        _compile(source, None)

    def render_email(self, data: TemplateData, *, subject: str, message: str = "") -> EmailBody:
        """The email body pair (spec §4.4 ng_alert_notification data): HTML and plain text."""
        rule = rule_url(data.ExternalURL)
        extra = {
            "Title": subject,
            "Subject": subject,
            "Message": message,
            "RuleUrl": rule,
            "AlertPageUrl": rule + ("&" if "?" in rule else "?") + "alertState=firing&view=state",
            "AppUrl": data.ExternalURL,
            "SentBy": f"{self.product_name} v{self.version}" if self.version else self.product_name,
        }
        return EmailBody(
            self.render_named("email.html", data, extra=extra), self.render_named("email.txt", data, extra=extra)
        )

    def _named(self, name: str) -> Any:
        if name not in self.templates:
            raise TemplateError(f'template "{name}" not defined')
        return _compile(self.templates[name], name)

    def _render(self, template: Any, name: str | None, data: TemplateData, dot: Any, extra: dict[str, Any]) -> str:
        session = _SESSION.get()
        if session is None:
            session = _Session(time.monotonic() + self.timeout_seconds, self.timeout_seconds)
            token = _SESSION.set(session)
            try:
                return self._execute(template, name, self._variables(data, dot, extra))
            finally:
                _SESSION.reset(token)
        if session.depth >= MAX_DEPTH:
            raise TemplateError(f"exceeded maximum template depth ({MAX_DEPTH})", template_name=name)
        session.depth += 1
        try:
            return self._execute(template, name, self._variables(data, dot, extra))
        finally:
            session.depth -= 1

    def _variables(self, data: TemplateData, dot: Any, extra: dict[str, Any]) -> dict[str, Any]:
        def template(name: str, value: Any = _NO_DOT) -> str:
            inner = value if isinstance(value, TemplateData) else data
            return self._render(self._named(str(name)), str(name), inner, value, extra)

        variables = {f.name: getattr(data, f.name) for f in dataclasses.fields(data)}
        variables.update(ProductName=self.product_name, ProductVersion=self.version, **extra)
        variables.update(dot=data if dot is _NO_DOT else dot, template=template)
        return variables

    def _execute(self, template: Any, name: str | None, variables: dict[str, Any]) -> str:
        pieces, size = [], 0
        try:
            for chunk in template.generate(variables):
                size += len(chunk) if chunk.isascii() else len(chunk.encode())
                if size > MAX_OUTPUT_BYTES:
                    raise _Limit(OUTPUT_TOO_LARGE)
                pieces.append(chunk)
        except TemplateError:
            raise
        except RecursionError:
            raise TemplateError("template recursion too deep", template_name=name) from None
        except Exception as exc:  # noqa: BLE001 - any failure inside a user template is a template error
            message = str(exc) if isinstance(exc, _Limit | SecurityError) else f"{type(exc).__name__}: {exc}"
            raise TemplateError(message, _error_line(exc, name or "<template>"), name) from None
        return "".join(pieces)
