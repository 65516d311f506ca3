"""Template sets: named Go templates parsed together and executed by name, as Grafana does.

Grafana parses every notification template into one set (a later `{{define}}` of a name replaces an
earlier one; a define-only source adds nothing under its own name), then parses each templated
setting into that set and executes it. `tmpl.Exec` and `tmpl.Inline` need the set, so they live here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from integrations.gotemplate import nodes as n
from integrations.gotemplate.builtins import BUILTINS
from integrations.gotemplate.execute import State
from integrations.gotemplate.lexer import GoTemplateError, T, tokenize
from integrations.gotemplate.parser import ANY_FUNCTION, Parser
from integrations.gotemplate.values import with_state
from integrations.template_sandbox import CpuDeadline

DEFAULT_TIMEOUT_SECONDS = 2.0


@with_state
def _exec(state: State, name: str, *context: Any) -> str:
    """tmpl.Exec name [context]: a template's output as a string."""
    tree = state.trees.get(name)
    if tree is None:
        raise ValueError(f"template {n.repr_go(name)} not defined")
    return state.render_to_string(tree, context[0] if context else None)


@with_state
def _inline(state: State, *args: Any) -> str:
    """tmpl.Inline [name] text [context]: parse text as a template and render it."""
    if not args or len(args) > 3:
        raise ValueError("wrong number of args for tmpl.Inline: want 1 to 3")
    if len(args) == 3:
        name, text, context = args
    else:
        name, text, context = "inline", args[0], args[1] if len(args) == 2 else None
    trees = Parser(str(name), str(text), state.funcs).parse()
    inner = State({**state.trees, **trees}, state.funcs, state.deadline)
    inner.depth, inner.tree, inner.node = state.depth, state.tree, state.node  # errors point at the caller
    inner.produced = state.produced
    try:
        inner.run(trees[str(name)], context)
    finally:
        state.produced = inner.produced
    return "".join(inner.out)


ENGINE_FUNCS: dict[str, Callable[..., Any]] = {"tmpl.Exec": _exec, "tmpl.Inline": _inline}


class Template:
    """One parsed source: its top-level tree under `name` plus the trees it defines."""

    def __init__(self, name: str, trees: dict[str, n.Tree]):
        self.name, self.trees = name, trees

    def defined_names(self) -> list[str]:
        """Names this source defines with {{define}}/{{block}} (its own name only if non-empty)."""
        return [name for name, tree in self.trees.items() if name != self.name or not n.is_empty(tree.root)]


@functools.lru_cache(maxsize=512)
def _parse_cached(name: str, source: str, func_names: frozenset[str]) -> dict[str, n.Tree]:
    """Trees are never changed once parsed, so one parse serves every render of the same text."""
    return Parser(name, source, func_names).parse()


def parse(name: str, source: str, funcs: Mapping[str, Any] | None = None, *, check_functions: bool = True) -> Template:
    """Parse a source; raises GoTemplateError (`template: name:line:col: message`)."""
    known = {**BUILTINS, **ENGINE_FUNCS, **(funcs or {})} if check_functions else ANY_FUNCTION
    return Template(name, Parser(name, source, known).parse())


class TemplateSet:
    """Named templates sharing one namespace and one function table."""

    def __init__(
        self, funcs: Mapping[str, Callable[..., Any]] | None = None, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    ):
        self.funcs: dict[str, Callable[..., Any]] = {**BUILTINS, **ENGINE_FUNCS, **(funcs or {})}
        self.trees: dict[str, n.Tree] = {}
        self.timeout_seconds = timeout_seconds

    def __contains__(self, name: str) -> bool:
        return name in self.trees

    def names(self) -> list[str]:
        return sorted(self.trees)

    def parse(self, name: str, source: str) -> Template:
        """Syntax and function-name check (what to run when a template is saved)."""
        return Template(name, dict(_parse_cached(name, source, frozenset(self.funcs))))

    def add(self, name: str, source: str) -> Template:
        """Parse a source into the set; its defines replace earlier ones of the same name."""
        template = self.parse(name, source)
        self._associate(template)
        return template

    def _associate(self, template: Template) -> None:
        for name, tree in template.trees.items():
            if name in self.trees and n.is_empty(tree.root):
                continue  # Go keeps a template rather than replace it with an empty one
            self.trees[name] = tree

    def copy(self) -> TemplateSet:
        other = TemplateSet(timeout_seconds=self.timeout_seconds)
        other.funcs, other.trees = self.funcs, dict(self.trees)
        return other

    def execute(self, name: str, data: Any) -> str:
        """Run the template `name` with `data` as `.` and `$`; raises GoTemplateError."""
        tree = self.trees.get(name)
        if tree is None:
            raise GoTemplateError(f"no template {n.repr_go(name)} associated with template set")
        state = State(self.trees, self.funcs, CpuDeadline.after(self.timeout_seconds))
        try:
            state.run(tree, data)
        except RecursionError:
            raise GoTemplateError(f'executing "{name}": templates nested too deep', name) from None
        return "".join(state.out)

    def render(self, source: str, data: Any, name: str = "template") -> str:
        """Parse `source` against this set (its defines stay local) and execute it."""
        scratch = self.copy()
        scratch.add(name, source)
        return scratch.execute(name, data)


_GO_OPERANDS = {T.FIELD, T.DOT, T.VARIABLE}
_GO_COMMENT = re.compile(r"\{\{(?:- )?/\*")


def is_go_template(source: str) -> bool:
    """Whether a setting is written in Go's syntax rather than Jinja2's.

    Go for certain: an operand starting with `.` or `$` (`{{ .CommonLabels.x }}`, `{{ if .Status }}`,
    `{{ $ }}`) or a `{{/* comment */}}`, forms Jinja2 has no use for; such text is Go even when it
    does not parse, so its error is Go's. Go too: text that parses as Go and has a Go keyword
    action (`{{ template "x" . }}`, `{{ range … }}`); `{{ range(3) }}` does not parse as Go and
    stays Jinja2. Jinja's `x.y` (a name, then a field) is no Go form, and `{% %}`/`{# #}` mean Jinja2.
    """
    if "{%" in source or "{#" in source or "{{" not in source:
        return False
    try:
        tokens = tokenize("check", source)
    except GoTemplateError:
        return False
    if _GO_COMMENT.search(source) or _has_go_operand(tokens):
        return True
    if not any(token.kind == T.KEYWORD for token in tokens):
        return False
    try:
        parse("check", source, check_functions=False)
    except GoTemplateError:
        return False
    return True


# Where an operand begins: `.x` right after one of these is Go's field of the data, while after a
# name, a literal or `)` it is Jinja's attribute (`x.y`, `''.upper`, `(a).b`).
_OPERAND_STARTS = {T.LEFT, T.SPACE, T.PIPE, T.LPAREN, T.DECLARE, T.ASSIGN, T.COMMA, T.KEYWORD}


def _has_go_operand(tokens: list) -> bool:
    previous = T.LEFT
    for token in tokens:
        if token.kind in _GO_OPERANDS and (token.kind != T.FIELD or previous in _OPERAND_STARTS):
            return True
        previous = token.kind
    return False
