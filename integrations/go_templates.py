"""Go-syntax templates beside the Jinja2 ones: which engine a text is for, and the bridge to Go's.

Grafana writes templates in Go's text/template; this project began with Jinja2. Both work:
- a notification template carries its syntax (`go` or `jinja`, chosen when it is saved);
- a templated setting is Go when it uses a form only Go has (`{{ .Status }}`, `{{ $x := … }}`,
  `{{/* … */}}`), or parses as Go with a Go keyword (`{{ template "default.title" . }}`), or
  is Go's grammar and not Jinja2's (`{{ toUpper "x" }}`, `{{ humanize 1.0 }}`); else Jinja2
  (templating.syntax_of). A Jinja2 text with an unknown filter stays Jinja2 and gets Jinja2's error.
Each engine calls its own templates: Go settings see the built-ins in Go syntax under Grafana's
names plus the Go notification templates, Jinja2 settings the Jinja2 ones. Go templates run in
the same sandbox: the delivery's render budget, the output cap and the regex guard.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping

from integrations.alertdata import TemplateData
from integrations.gotemplate import GoTemplateError, TemplateSet, parse
from integrations.gotemplate.defaults import grafana_template_set
from integrations.template_sandbox import RENDER_SESSION, TimeLimitExceeded, check_deadline, new_session

GO, JINJA = "go", "jinja"
PREVIEWED = "preview"
PRODUCT_NAME = "ContactPoints"  # the name a previewed template's own text runs under
SYNTAX_NAMES = {GO: "Go", JINJA: "Jinja2"}


def parses_as_go(source: str) -> bool:
    """Whether the text is Go's grammar (function names unchecked)."""
    try:
        parse("check", source, check_functions=False)
    except GoTemplateError:
        return False
    return True


class GoTemplateFailure(Exception):
    """A Go template that does not parse or does not render, as the renderer reports it."""

    def __init__(self, error: GoTemplateError):
        self.message, self.line = error.message, error.line
        # Go counts columns from 0; people (and every editor) from 1.
        self.column = None if error.column is None else error.column + 1
        where = f"line {error.line}, " if error.line else ""
        where += f"column {self.column}: " if error.line and self.column else ""
        super().__init__(f"Go template: {where}{error.message}")


class GoTimeLimitFailure(GoTemplateFailure, TimeLimitExceeded):
    """The delivery's template time ran out inside a Go template."""


@functools.lru_cache(maxsize=16)
def _template_set(user_templates: tuple[tuple[str, str], ...], product_name: str = PRODUCT_NAME) -> TemplateSet:
    """Grafana's functions, the Go built-ins, then the user's Go templates; one per version of them.
    A set is only read once built (render() parses a setting into a copy), so renders share it."""
    return grafana_template_set(dict(user_templates), product_name=product_name)


class GoRenderer:
    """Renders Go-syntax text with the built-ins and the user's Go templates."""

    def __init__(
        self, user_templates: Mapping[str, str] | None, timeout_seconds: float, product_name: str = PRODUCT_NAME
    ):
        self.user_templates = tuple(sorted((user_templates or {}).items()))
        self.timeout_seconds = timeout_seconds
        self.product_name = product_name

    def template_set(self) -> TemplateSet:
        """Raises GoTemplateFailure when a user template no longer parses."""
        try:
            return _template_set(self.user_templates, self.product_name)
        except GoTemplateError as exc:
            raise GoTemplateFailure(exc) from None

    def render(self, source: str, data: TemplateData) -> str:
        with self._go_errors():
            return self.template_set().render(source, data)

    @contextlib.contextmanager
    def _go_errors(self) -> Iterator[None]:
        """A render session (unless the delivery's is open) and Go's errors as GoTemplateFailure."""
        token = RENDER_SESSION.set(new_session(self.timeout_seconds)) if RENDER_SESSION.get() is None else None
        try:
            yield
        except GoTemplateError as exc:
            try:
                check_deadline()
            except TimeLimitExceeded:
                raise GoTimeLimitFailure(exc) from None
            raise GoTemplateFailure(exc) from None
        finally:
            if token is not None:
                RENDER_SESSION.reset(token)

    def preview(self, source: str, data: TemplateData) -> str:
        """What a notification template being edited renders: its own text, then each template it
        defines, under its name (Grafana's editor previews every define)."""
        with self._go_errors():
            scratch = self.template_set().copy()
            template = scratch.add(PREVIEWED, source)
            parts = [scratch.execute(PREVIEWED, data)] if PREVIEWED in template.defined_names() else []
            parts += [
                f"{name}:\n{scratch.execute(name, data)}" for name in template.defined_names() if name != PREVIEWED
            ]
        return "\n\n".join(part for part in parts if part.strip())

    def check(self, name: str, source: str) -> None:
        """Syntax and function names, as at save time: raises GoTemplateFailure."""
        try:
            self.template_set().parse(name, source)
        except GoTemplateError as exc:
            raise GoTemplateFailure(exc) from None
