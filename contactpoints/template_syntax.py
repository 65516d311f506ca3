"""Which engine a notification template is written for, and the check it passes before it is saved.

The rule (NotificationTemplate's docstring, README "Templates as code"): a template carries its
syntax; when a client does not say, it is detected here once, at save time. Errors name the
engine, the line and (for Go) the column, so that a template Grafana would reject, or one using a
function we do not have, is refused at save time rather than sending blank text later.
"""

from __future__ import annotations

from contactpoints.models import TemplateSyntax
from integrations.go_templates import GO, GoRenderer, GoTemplateFailure
from integrations.templating import DEFAULT_TIMEOUT_SECONDS, TemplateError, TemplateRenderer, syntax_of

ENGINE_NAMES = {TemplateSyntax.GO: "Go template", TemplateSyntax.JINJA: "Jinja2 template"}


class TemplateProblem(ValueError):
    """A template that does not parse: `Go template: line 2, column 5: function "nope" not defined`."""

    def __init__(self, syntax: str, message: str, line: int | None = None, column: int | None = None):
        self.syntax, self.message, self.line, self.column = syntax, message, line, column
        super().__init__(f"{ENGINE_NAMES[syntax]}: {self.where}{message}")

    @property
    def where(self) -> str:
        """`line 2, column 5: ` (as much as is known), for messages that already name the engine."""
        parts = [f"line {self.line}"] if self.line else []
        parts += [f"column {self.column}"] if self.line and self.column else []
        return ", ".join(parts) + ": " if parts else ""


def detect_syntax(content: str) -> str:
    """The syntax of a template whose client did not say: the rule templated settings follow."""
    return TemplateSyntax.GO if syntax_of(content) == GO else TemplateSyntax.JINJA


def check_template(name: str, content: str, syntax: str) -> None:
    """Parse `content` with its engine (and, for Go, Grafana's function names); raises TemplateProblem."""
    if syntax == TemplateSyntax.GO:
        try:
            GoRenderer(None, DEFAULT_TIMEOUT_SECONDS).check(name, content)
        except GoTemplateFailure as exc:
            raise TemplateProblem(syntax, exc.message, exc.line, exc.column) from None
        return
    try:
        TemplateRenderer.check_jinja(content)
    except TemplateError as exc:
        raise TemplateProblem(syntax, exc.message, exc.lineno) from None
