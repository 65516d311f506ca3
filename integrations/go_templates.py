"""Go-syntax templates beside the Jinja2 ones: which engine a text is for, and the bridge to Go's.

Grafana writes templates in Go's text/template; this project began with Jinja2. Both work:
- a notification template carries its syntax (`go` or `jinja`, chosen when it is saved);
- a templated setting is Go when it uses a form only Go has (`{{ .Status }}`, `{{ $x := … }}`,
  `{{/* … */}}`), or parses as Go with a Go keyword (`{{ template "default.title" . }}`), or
  parses as Go and not as Jinja2 (`{{ toUpper "x" }}`); else Jinja2 (templating.syntax_of).
Each engine calls its own templates: Go settings see the built-ins in Go syntax under Grafana's
names plus the Go notification templates, Jinja2 settings the Jinja2 ones. Go templates run in
the same sandbox: the delivery's render budget, the output cap and the regex guard.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from integrations.alertdata import TemplateData
from integrations.gotemplate import GoTemplateError, TemplateSet, parse
from integrations.gotemplate.defaults import grafana_template_set
from integrations.template_sandbox import RENDER_SESSION, TimeLimitExceeded, check_deadline, new_session

GO, JINJA = "go", "jinja"
SYNTAX_NAMES = {GO: "Go", JINJA: "Jinja2"}


def parses_as_go(source: str) -> bool:
    try:
        parse("check", source, check_functions=False)
    except GoTemplateError:
        return False
    return True


class GoTemplateFailure(Exception):
    """A Go template that does not parse or does not render, as the renderer reports it."""

    def __init__(self, error: GoTemplateError):
        self.line = error.line
        # Go counts columns from 0; people (and every editor) from 1.
        self.column = None if error.column is None else error.column + 1
        where = "".join(
            [f", line {error.line}" if error.line else "", f", column {self.column}" if self.column else ""]
        )
        super().__init__(f"Go template{where}: {error.message}")


class GoTimeLimitFailure(GoTemplateFailure, TimeLimitExceeded):
    """The delivery's template time ran out inside a Go template."""


@functools.lru_cache(maxsize=16)
def _template_set(user_templates: tuple[tuple[str, str], ...]) -> TemplateSet:
    """Grafana's functions, the Go built-ins, then the user's Go templates; one per version of them.
    A set is only read once built (render() parses a setting into a copy), so renders share it."""
    return grafana_template_set(dict(user_templates))


class GoRenderer:
    """Renders Go-syntax text with the built-ins and the user's Go templates."""

    def __init__(self, user_templates: Mapping[str, str] | None, timeout_seconds: float):
        self.user_templates = tuple(sorted((user_templates or {}).items()))
        self.timeout_seconds = timeout_seconds

    def template_set(self) -> TemplateSet:
        """Raises GoTemplateFailure when a user template no longer parses."""
        try:
            return _template_set(self.user_templates)
        except GoTemplateError as exc:
            raise GoTemplateFailure(exc) from None

    def render(self, source: str, data: TemplateData) -> str:
        token = RENDER_SESSION.set(new_session(self.timeout_seconds)) if RENDER_SESSION.get() is None else None
        try:
            return self.template_set().render(source, data)
        except GoTemplateError as exc:
            try:
                check_deadline()
            except TimeLimitExceeded:
                raise GoTimeLimitFailure(exc) from None
            raise GoTemplateFailure(exc) from None
        finally:
            if token is not None:
                RENDER_SESSION.reset(token)

    def check(self, name: str, source: str) -> None:
        """Syntax and function names, as at save time: raises GoTemplateFailure."""
        try:
            self.template_set().parse(name, source)
        except GoTemplateError as exc:
            raise GoTemplateFailure(exc) from None
