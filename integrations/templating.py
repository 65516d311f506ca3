"""Notification templates: a sandboxed Jinja2 engine over Grafana's template data (contract §8).

Templates see the data's fields as top-level variables (`Alerts`, `Status`, `CommonLabels`, ...),
`dot` (Go's `.`: the data, or what `template(name, value)` passed) and `template("name")`, which
renders a built-in or user template with the same data. Built-ins live in
templates/notifications/*.j2 and are read once at import; user templates share their namespace
and override a built-in of the same name. Templates run in the sandbox of
integrations/template_sandbox.py: no settings, files, database or network, and a deadline and
size limits that stop a runaway one. This module holds the renderer and the function table.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import re
import traceback
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, Undefined
from jinja2.filters import do_title
from jinja2.sandbox import SecurityError
from markupsafe import Markup

from integrations.alertbuilder import build_template_data, rule_url
from integrations.alertdata import (
    KV,
    Alert,
    AlertList,
    Pair,
    Pairs,
    TemplateData,
    sample_alerts,
    test_alert,
    to_plain,
)
from integrations.builtin_texts import DEFAULT_SETTINGS, render_default
from integrations.go_templates import GO, JINJA, GoRenderer, GoTemplateFailure, GoTimeLimitFailure, parses_as_go
from integrations.goformat import Time, in_time_zone
from integrations.gotemplate import is_go_template
from integrations.gotemplate.grafana_funcs import grafana_explore_url, query_from_generator_url
from integrations.template_regex import regex_match, regex_replace_all
from integrations.template_sandbox import (
    GUARD_FILTERS,
    MAX_FORMAT_WIDTH,
    MAX_OUTPUT_BYTES,
    OUTPUT_TOO_LARGE,
    RENDER_SESSION,
    LimitExceeded,
    SandboxEnvironment,
    TimeLimitExceeded,
    check_deadline,
    check_estimate,
    estimate_join,
    guarded_filter,
    new_session,
    render_budget,
)
from integrations.values import escape_like_go_json

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
    "TemplateTimeLimitError",
    "build_template_data",
    "render_budget",
    "rule_url",
    "sample_alerts",
    "test_alert",
]

MAX_DEPTH = 25  # nested template() calls
# The time all templates of one delivery share (contactpoints.sending opens it as a render_budget);
# a render outside any budget (a preview) gets it alone.
DEFAULT_TIMEOUT_SECONDS = 2.0
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "templates" / "notifications"
BUILTIN_TEMPLATES: dict[str, str] = {path.name[:-3]: path.read_text() for path in sorted(BUILTIN_DIR.glob("*.j2"))}


class TemplateError(Exception):
    """A template that does not parse or does not render; says where and what went wrong."""

    def __init__(self, message: str, lineno: int | None = None, template_name: str | None = None):
        self.message = message
        self.lineno = lineno
        self.column: int | None = None  # Go's errors know it
        self.template_name = template_name
        where = [f'template "{template_name}"'] if template_name else []
        where += [f"line {lineno}"] if lineno else []
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class TemplateTimeLimitError(TemplateError, TimeLimitExceeded):
    """The render ran out of its delivery's template time: the delivery fails rather than send blanks."""


@contextlib.contextmanager
def as_template_error() -> Iterator[None]:
    """A Go template's failure as the TemplateError every caller handles (its text names the
    engine, the line and the column)."""
    try:
        yield
    except GoTemplateFailure as failure:
        error_class = TemplateTimeLimitError if isinstance(failure, GoTimeLimitFailure) else TemplateError
        error = error_class(str(failure))
        error.lineno, error.column = failure.line, failure.column
        raise error from None


def _finalize(value: Any) -> Any:
    """Print values the way Go's text/template does where Python differs."""
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _printed(value: Any) -> str:
    """What `{{ value }}` prints."""
    return str(_finalize(value))


# -- functions and filters (spec §3.5, in Jinja form) ----------------------------------------------


def _join(separator: Any, items: Any) -> str:
    check_estimate(estimate_join(items, str(separator)))
    return str(separator).join(str(item) for item in items)


def _as_time(value: Any) -> Time:
    return Time.parse(value) if not isinstance(value, Time) else value


def _tz(name: str, value: Any) -> Time:
    try:
        return in_time_zone(_as_time(value), name)
    except ValueError as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _json_plain(value: Any) -> Any:
    return to_plain(value, lambda other: None if isinstance(other, Undefined) else str(other))


def _go_json(value: Any, indent: str | None = None) -> str:
    """Go's encoding/json: compact (or indented), HTML characters escaped."""
    if indent is None:
        text = json.dumps(_json_plain(value), ensure_ascii=False, separators=(",", ":"))
    else:
        text = _indented_json(_json_plain(value), indent)
    return escape_like_go_json(text)


def _indented_json(plain: Any, indent: Any) -> str:
    """Indented JSON, measured as it grows: the indent repeats on every line at every depth."""
    width = indent if isinstance(indent, int) else len(str(indent))  # a number means that many spaces
    if width > MAX_FORMAT_WIDTH:
        raise LimitExceeded(f"toJsonPretty indent is longer than {MAX_FORMAT_WIDTH} characters")
    indent = " " * indent if isinstance(indent, int) else str(indent)
    encoder = json.JSONEncoder(ensure_ascii=False, indent=indent, separators=(",", ": "))
    pieces, size = [], 0
    for piece in encoder.iterencode(plain):
        size += len(piece)
        check_estimate(size)
        check_deadline()
        pieces.append(piece)
    return "".join(pieces)


_LINK_SCHEME = re.compile(r"(?:https?|mailto):", re.IGNORECASE)


def _link_url(value: Any) -> str:
    """The URL when a reader may follow it as a link (http, https, mailto), else "" (no javascript:)."""
    url = "" if value is None or isinstance(value, Undefined) else str(value)
    return url if _LINK_SCHEME.match(url) else ""


def _from_json(text: str) -> Any:
    return json.loads(str(text))


# Go argument order; as filters the last argument (the piped value) comes first.
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "toUpper": lambda text: str(text).upper(),
    "toLower": lambda text: str(text).lower(),
    "title": lambda text: do_title(str(text)),
    "trimSpace": lambda text: str(text).strip(),
    "join": lambda separator, items: _join(separator, items),
    "match": regex_match,
    "reReplaceAll": regex_replace_all,
    "safeHtml": lambda text: Markup(text),  # noqa: S704 - marking text safe is this function's job
    "date": lambda layout, value: _as_time(value).Format(layout),
    "tz": _tz,
    "toJson": _go_json,
    "toJsonPretty": lambda indent, value: _go_json(value, indent),
    "fromJson": _from_json,
    "stringSlice": lambda *items: [str(item) for item in items],
    "grafanaExploreURL": grafana_explore_url,
    "queryFromGeneratorURL": query_from_generator_url,
}


def _as_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    return lambda value, *args: function(*args, value)


def _make_environment() -> SandboxEnvironment:
    env = SandboxEnvironment(undefined=ChainableUndefined, finalize=_finalize, autoescape=False)
    del env.globals["lipsum"]  # its size argument is unbounded
    env.globals.update(_FUNCTIONS)
    env.globals["title"] = guarded_filter("title", env.globals["title"])  # the filter's input cap
    env.globals["now"] = lambda: Time.of(datetime.now(UTC))
    filters = {name: _as_filter(function) for name, function in _FUNCTIONS.items() if name not in ("join", "title")}
    env.filters.update(filters, linkUrl=_link_url)
    env.filters = {name: guarded_filter(name, function) for name, function in env.filters.items()}
    env.filters.update(GUARD_FILTERS)
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
    # A plain dict, not Jinja's ChainMap over the environment's globals: every render (and each
    # nested `template` call) copies the globals into its context, and copying a ChainMap of this
    # many functions took a tenth of a webhook delivery's CPU. The environment is complete here.
    return _ENV.template_class.from_code(_ENV, code, dict(_ENV.globals), None)


def _error_line(exc: BaseException, filename: str) -> int | None:
    lines = [lineno for frame, lineno in traceback.walk_tb(exc.__traceback__) if frame.f_code.co_filename == filename]
    return lines[-1] if lines else None


def _prints_as_written(source: str) -> bool:
    """Text the engine would print unchanged: no delimiter of either syntax (a URL setting, a plain
    title), and nothing Jinja2 rewrites (it turns every line break into \\n and drops one final
    newline); short enough that the output limit cannot apply (4 bytes a character at most)."""
    return (
        "{" not in source and "\r" not in source and not source.endswith("\n") and len(source) <= MAX_OUTPUT_BYTES // 4
    )


@functools.lru_cache(maxsize=4096)
def syntax_of(source: str) -> str:
    """`go` or `jinja`: the engine a templated setting is written for (integrations/go_templates.py
    gives the rule). Settings repeat, so the answer is cached."""
    if is_go_template(source):
        return GO
    try:
        _ENV.parse(source)  # grammar only: an unknown filter is still Jinja2, with Jinja2's error
    except TemplateSyntaxError:
        jinja_tags = "{%" in source or "{#" in source
        return GO if not jinja_tags and parses_as_go(source) else JINJA
    return JINJA


def go_template_problems(source: str) -> list[str]:
    """A Go-syntax setting Grafana could render but this engine cannot (an unknown function) is
    refused when it is saved, not sent blank. Jinja2 settings keep Grafana's rule: a template error
    at send time leaves the field empty."""
    if syntax_of(source) != GO:
        return []
    try:
        GoRenderer(None, DEFAULT_TIMEOUT_SECONDS).check("setting", source)
    except GoTemplateFailure as failure:
        return [str(failure)]
    return []


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
        go_templates: Mapping[str, str] | None = None,
        product_name: str = "ContactPoints",
        version: str = "",
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ):
        self.templates: dict[str, str] = {**BUILTIN_TEMPLATES, **(user_templates or {})}
        self.product_name = product_name
        self.version = version
        self.timeout_seconds = timeout_seconds
        # Go-syntax text: integrations/go_templates.py
        self.go = GoRenderer(go_templates, timeout_seconds, product_name)

    def render(
        self, source: str, data: TemplateData, *, extra: Mapping[str, Any] | None = None, syntax: str | None = None
    ) -> str:
        """Render template text in its syntax (given, or the one it is written in); raises TemplateError."""
        if not extra and syntax is None and source in DEFAULT_SETTINGS:
            text = self._without_the_engine(
                lambda: render_default(source, data, self.templates, BUILTIN_TEMPLATES, _printed)
            )
            if text is not None:
                return text
        if syntax in (None, JINJA) and _prints_as_written(source):
            return self._without_the_engine(lambda: source)
        if (syntax or syntax_of(source)) == GO:
            with as_template_error():
                return self.go.render(source, data)
        return self._render(_compile(source, None), None, data, _NO_DOT, dict(extra or {}))

    def render_named(self, name: str, data: TemplateData, *, extra: Mapping[str, Any] | None = None) -> str:
        """Render a built-in or user template by name (e.g. "default.title")."""
        return self._render(self._named(name), name, data, _NO_DOT, dict(extra or {}))

    @staticmethod
    def check_jinja(source: str) -> None:
        """Jinja2's syntax check alone, for text whose syntax is already decided (a stored template)."""
        _compile(source, None)

    def check(self, source: str) -> None:
        """Syntax check only (unknown functions, filters and tags included); raises TemplateError with the line."""
        if syntax_of(source) == GO:
            with as_template_error():
                self.go.check("template", source)
            return
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

    def _without_the_engine(self, text: Callable[[], str | None]) -> str | None:
        """`text()`, the output of a setting made without the engine (a default title or message:
        integrations/builtin_texts.py; a plain text), under the same time budget; None from it
        means the engine must render the setting after all."""
        token = RENDER_SESSION.set(new_session(self.timeout_seconds)) if RENDER_SESSION.get() is None else None
        try:
            check_deadline()  # a budget spent by earlier fields fails this one too, as in _execute
            return text()
        except TimeLimitExceeded as exc:
            raise TemplateTimeLimitError(str(exc)) from None
        finally:
            if token is not None:
                RENDER_SESSION.reset(token)

    def _named(self, name: str) -> Any:
        if name not in self.templates:
            raise TemplateError(f'template "{name}" not defined')
        return _compile(self.templates[name], name)

    def _render(self, template: Any, name: str | None, data: TemplateData, dot: Any, extra: dict[str, Any]) -> str:
        session = RENDER_SESSION.get()
        if session is None:
            token = RENDER_SESSION.set(new_session(self.timeout_seconds))
            try:
                return self._execute(template, name, self._variables(data, dot, extra))
            finally:
                RENDER_SESSION.reset(token)
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
            check_deadline()  # a budget spent by earlier fields fails this one too, however simple
            for chunk in template.generate(variables):
                size += len(chunk) if chunk.isascii() else len(chunk.encode())
                if size > MAX_OUTPUT_BYTES:
                    raise LimitExceeded(OUTPUT_TOO_LARGE)
                pieces.append(chunk)
        except TemplateError:
            raise
        except RecursionError:
            raise TemplateError("template recursion too deep", template_name=name) from None
        except TimeLimitExceeded as exc:
            raise TemplateTimeLimitError(str(exc), _error_line(exc, name or "<template>"), name) from None
        except Exception as exc:  # noqa: BLE001 - any failure inside a user template is a template error
            message = str(exc) if isinstance(exc, LimitExceeded | SecurityError) else f"{type(exc).__name__}: {exc}"
            raise TemplateError(message, _error_line(exc, name or "<template>"), name) from None
        return "".join(pieces)
