"""Executing a parsed Go template against Python data (text/template's exec.go, in our data model).

Data is Python: a field `.X` reads a dataclass field, a mapping key or an exported (capitalised)
attribute; a capitalised method or property is called, Go's method call, with the command's
arguments (`.Labels.Remove (stringSlice "a")`). Only capitalised names are reachable on objects,
as only exported names are in Go, so Python internals (`__class__`, `format`) stay out of reach.
A missing map key gives the zero value of the map's element type (see `zero_value`).
Every action, loop step and call checks the deadline; the output is capped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from integrations.gotemplate import nodes as n
from integrations.gotemplate.lexer import GoTemplateError
from integrations.gotemplate.printing import (
    NO_VALUE,
    check_printable,
    go_type_name,
    is_list,
    is_struct,
    sorted_keys,
    value_text,
)
from integrations.gotemplate.values import check_arity, exported, field_value, truth, zero_value
from integrations.template_sandbox import MAX_OUTPUT_BYTES, CpuDeadline, check_deadline

MAX_TEMPLATE_DEPTH = 100  # nested {{template}} calls (Go allows 100000; Python's stack does not)
# All text and lists the functions of one render may build, kept or not: a loop appending fresh
# 10 MB strings to a list would otherwise fill the worker's memory before the deadline.
MAX_PRODUCED = 8 * MAX_OUTPUT_BYTES
_NO_FINAL = object()  # the first command of a pipeline has no piped-in value


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class State:
    """One execution: the template set's trees and functions, the output, the variables."""

    def __init__(self, trees: Mapping[str, n.Tree], funcs: Mapping[str, Callable[..., Any]], deadline: CpuDeadline):
        self.trees, self.funcs, self.deadline = trees, funcs, deadline
        self.out: list[str] = []
        self.size = 0
        self.produced = 0
        self.vars: list[tuple[str, Any]] = []
        self.depth = 0
        self.tree: n.Tree | None = None
        self.node: n.Node | None = None

    # -- errors, limits, output -------------------------------------------------------------------

    def error(self, message: str) -> GoTemplateError:
        tree = self.tree
        if tree is None:
            return GoTemplateError(message)
        if self.node is None:
            return GoTemplateError(message, tree.name)
        context = str(self.node)
        context = context[:20] + "..." if len(context) > 20 else context
        location = tree.location(self.node.pos)
        error = GoTemplateError(f'executing "{tree.name}" at <{context}>: {message}', location)
        error.name, error.line, error.column = tree.parse_name, *map(int, location.rsplit(":", 2)[1:])
        return error

    def tick(self) -> None:
        """One step: stop at the deadline (ours, and the shared render session's)."""
        if self.deadline.passed():
            raise self.error("template execution exceeded the time limit")
        try:
            check_deadline()
        except Exception as exc:  # noqa: BLE001 - the sandbox's LimitExceeded, reported where it happened
            raise self.error(str(exc)) from None

    def write(self, text: str) -> None:
        self.size += len(text) if text.isascii() else len(text.encode())
        if self.size > MAX_OUTPUT_BYTES:
            raise self.error(f"template output exceeds maximum size ({MAX_OUTPUT_BYTES} bytes)")
        self.out.append(text)

    def at(self, node: n.Node) -> None:
        self.node = node

    # -- variables --------------------------------------------------------------------------------

    def var(self, name: str) -> Any:
        for key, value in reversed(self.vars):
            if key == name:
                return value
        raise self.error(f"undefined variable: {name}")

    def set_var(self, name: str, value: Any) -> None:
        for index in range(len(self.vars) - 1, -1, -1):
            if self.vars[index][0] == name:
                self.vars[index] = (name, value)
                return
        raise self.error(f"undefined variable: {name}")

    # -- templates --------------------------------------------------------------------------------

    def run(self, tree: n.Tree, dot: Any) -> None:
        """Execute one template with `dot` as `.` and `$`, in its own variable scope."""
        self.check_depth()
        saved = self.tree, self.node, self.vars
        self.tree, self.node, self.vars = tree, None, [("$", dot)]
        self.depth += 1
        try:
            self.walk(dot, tree.root)
        finally:
            self.depth -= 1
            self.tree, self.node, self.vars = saved

    def check_depth(self) -> None:
        if self.depth >= MAX_TEMPLATE_DEPTH:
            raise self.error(f"exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})")

    def render_to_string(self, tree: n.Tree, dot: Any) -> str:
        """A template's text as a value (tmpl.Exec); counts against the same output budget."""
        saved_out, saved_size = self.out, self.size
        self.out = []
        try:
            self.run(tree, dot)
            return "".join(self.out)
        finally:
            self.out, self.size = saved_out, saved_size

    # -- statements -------------------------------------------------------------------------------

    def walk(self, dot: Any, node: n.Node) -> None:
        self.at(node)
        if isinstance(node, n.Text):
            self.write(node.text)
        elif isinstance(node, n.ListNode):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, n.Action):
            self.tick()
            value = self.pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.at(node)
                self.write(self.printable(value))
        elif isinstance(node, n.Branch):
            self.tick()
            self.range(dot, node) if node.kind == "range" else self.if_or_with(dot, node)
        elif isinstance(node, n.TemplateCall):
            self.call_template(dot, node)
        elif isinstance(node, n.LoopControl):
            raise _Break() if node.keyword == "break" else _Continue()
        else:
            raise self.error(f"unknown node: {node}")

    def printable(self, value: Any) -> str:
        if value is None:
            return NO_VALUE
        if callable(value) and not is_list(value) and not isinstance(value, Mapping):
            raise self.error(f"can't print {self.node} of type {go_type_name(value)}")
        try:
            check_printable(value)
        except ValueError as exc:
            raise self.error(str(exc)) from None
        return value_text(value)

    def if_or_with(self, dot: Any, node: n.Branch) -> None:
        mark = len(self.vars)
        try:
            value = self.pipeline(dot, node.pipe)
            if truth(value):
                self.walk(value if node.kind == "with" else dot, node.body)
            elif node.else_body is not None:
                self.walk(dot, node.else_body)
        finally:
            del self.vars[mark:]

    def range(self, dot: Any, node: n.Branch) -> None:
        mark = len(self.vars)
        try:
            value = self.pipeline_value(dot, node.pipe)
            items = self.range_items(value, node)
            ran = False
            for index, element in items:
                self.tick()
                ran = True
                if self.iteration(node, index, element):
                    break
            if not ran and node.else_body is not None:
                self.walk(dot, node.else_body)
        finally:
            del self.vars[mark:]

    def range_items(self, value: Any, node: n.Branch) -> Any:
        if value is None:
            return iter(())
        if isinstance(value, Mapping):
            return ((key, value[key]) for key in sorted_keys(value))
        if is_list(value):
            return ((index, value[index]) for index in range(len(value)))
        if isinstance(value, int) and not isinstance(value, bool):
            if len(node.pipe.decl) > 1:
                raise self.error(f"can't use {value} to iterate over more than one variable")
            return ((index, index) for index in range(value))
        raise self.error(f"range can't iterate over {value_text(value)}")

    def iteration(self, node: n.Branch, index: Any, element: Any) -> bool:
        """One pass of a range body; True when it hit {{break}}."""
        mark = len(self.vars)
        decl = node.pipe.decl
        if node.pipe.is_assign:
            values = [index, element] if len(decl) > 1 else [element]
            for name, value in zip(decl, values, strict=False):
                self.set_var(name, value)
        elif len(decl) == 1:
            self.vars.append((decl[0], element))
        elif len(decl) == 2:
            self.vars += [(decl[0], index), (decl[1], element)]
        try:
            self.walk(element, node.body)
        except _Continue:
            pass
        except _Break:
            return True
        finally:
            del self.vars[mark:]
        return False

    def call_template(self, dot: Any, node: n.TemplateCall) -> None:
        self.tick()
        tree = self.trees.get(node.name)
        if tree is None:
            raise self.error(f"template {n.repr_go(node.name)} not defined")
        self.check_depth()
        new_dot = self.pipeline(dot, node.pipe) if node.pipe is not None else None
        self.run(tree, new_dot)

    # -- pipelines and commands -----------------------------------------------------------------

    def pipeline_value(self, dot: Any, pipe: n.Pipe) -> Any:
        value: Any = _NO_FINAL
        for command in pipe.cmds:
            value = self.command(dot, command, value)
        return value

    def pipeline(self, dot: Any, pipe: n.Pipe) -> Any:
        value = self.pipeline_value(dot, pipe)
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(name, value)
            else:
                self.vars.append((name, value))
        return value

    def command(self, dot: Any, command: n.Command, final: Any) -> Any:
        first, args = command.args[0], command.args[1:]
        self.at(first)
        if isinstance(first, n.Field):
            return self.field_chain(dot, dot, first, first.names, args, final)
        if isinstance(first, n.Chain):
            return self.chain(dot, first, args, final)
        if isinstance(first, n.Identifier):
            return self.function(dot, first, args, final, command)
        if isinstance(first, n.Variable):
            return self.variable(dot, first, args, final)
        if args or final is not _NO_FINAL:
            raise self.error(f"can't give argument to non-function {first}")
        if isinstance(first, n.Pipe):
            return self.pipeline(dot, first)
        if isinstance(first, n.Nil):
            raise self.error("nil is not a command")
        return dot if isinstance(first, n.Dot) else first.value  # type: ignore[attr-defined]

    def arg(self, dot: Any, node: n.Node) -> Any:
        self.at(node)
        if isinstance(node, n.Dot):
            return dot
        if isinstance(node, n.Nil):
            return None
        if isinstance(node, n.Field):
            return self.field_chain(dot, dot, node, node.names, [], _NO_FINAL)
        if isinstance(node, n.Variable):
            return self.variable(dot, node, [], _NO_FINAL)
        if isinstance(node, n.Pipe):
            return self.pipeline(dot, node)
        if isinstance(node, n.Identifier):
            return self.function(dot, node, [], _NO_FINAL)
        if isinstance(node, n.Chain):
            return self.chain(dot, node, [], _NO_FINAL)
        return node.value  # type: ignore[attr-defined]

    def variable(self, dot: Any, node: n.Variable, args: list[n.Node], final: Any) -> Any:
        value = self.var(node.names[0])
        if len(node.names) == 1:
            if args or final is not _NO_FINAL:
                raise self.error(f"can't give argument to non-function {node}")
            return value
        return self.field_chain(dot, value, node, node.names[1:], args, final)

    def chain(self, dot: Any, node: n.Chain, args: list[n.Node], final: Any) -> Any:
        if isinstance(node.node, n.Nil):
            raise self.error(f"indirection through explicit nil in {node}")
        receiver = self.arg(dot, node.node)
        return self.field_chain(dot, receiver, node, node.fields, args, final)

    def field_chain(
        self, dot: Any, receiver: Any, node: n.Node, names: list[str], args: list[n.Node], final: Any
    ) -> Any:
        self.at(node)
        for name in names[:-1]:
            receiver = self.field(dot, name, [], _NO_FINAL, receiver)
        return self.field(dot, names[-1], args, final, receiver)

    def field(self, dot: Any, name: str, args: list[n.Node], final: Any, receiver: Any) -> Any:
        self.tick()
        has_args = bool(args) or final is not _NO_FINAL
        if receiver is None:
            raise self.error(f"nil pointer evaluating interface {{}}.{name}")
        method = getattr(type(receiver), name, None) if exported(name) else None
        if method is not None and (callable(method) or isinstance(method, property)):
            value = getattr(receiver, name)
            if callable(value):
                return self.call(dot, value, name, args, final, self.node)
            if has_args:
                raise self.error(f"wrong number of args for {name}: want 0 got {len(args) + (final is not _NO_FINAL)}")
            return value
        if isinstance(receiver, Mapping):
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            return receiver[name] if name in receiver else zero_value(receiver)
        if exported(name) and is_struct(receiver) and name in {f.name for f in dataclasses.fields(receiver)}:
            if has_args:
                raise self.error(f"{name} has arguments but cannot be invoked as function")
            return field_value(receiver, name)
        raise self.error(f"can't evaluate field {name} in type {go_type_name(receiver)}")

    def function(
        self, dot: Any, node: n.Identifier, args: list[n.Node], final: Any, where: n.Node | None = None
    ) -> Any:
        self.at(node)
        function = self.funcs.get(node.name)
        if function is None:
            raise self.error(f"{n.repr_go(node.name)} is not a defined function")
        if getattr(function, "short_circuit", False):
            return self.and_or(dot, node.name, function, args, final)
        return self.call(dot, function, node.name, args, final, where or node)

    def and_or(self, dot: Any, name: str, function: Any, args: list[n.Node], final: Any) -> Any:
        """`and`/`or`: arguments evaluated left to right only until one decides (Go 1.18+)."""
        count = len(args) + (final is not _NO_FINAL)
        if count == 0:
            raise self.error(f"wrong number of args for {name}: want at least 1 got 0")
        value = None
        for node in args:
            value = self.arg(dot, node)
            if truth(value) == (name == "or"):
                return value
        return final if final is not _NO_FINAL else value

    def call(
        self, dot: Any, function: Callable[..., Any], name: str, args: list[n.Node], final: Any, where: n.Node | None
    ) -> Any:
        self.tick()
        values = [self.arg(dot, node) for node in args]
        if where is not None:
            self.at(where)
        if final is not _NO_FINAL:
            values.append(final)
        if getattr(function, "needs_state", False):
            values.insert(0, self)
        problem = check_arity(name, function, len(values))
        if problem:
            raise self.error(problem)
        try:
            result = function(*values)
        except (GoTemplateError, _Break, _Continue):
            raise
        except RecursionError:
            raise self.error(f"error calling {name}: recursion too deep") from None
        except Exception as exc:  # noqa: BLE001 - any failure inside a function is the template's error
            raise self.error(f"error calling {name}: {exc}") from None
        if isinstance(result, str) and len(result) > MAX_OUTPUT_BYTES:
            raise self.error(f"error calling {name}: result exceeds maximum size ({MAX_OUTPUT_BYTES} bytes)")
        if isinstance(result, str | list | tuple | dict):
            self.produced += len(result)
            if self.produced > MAX_PRODUCED:
                raise self.error(f"error calling {name}: the template built more than {MAX_PRODUCED} bytes of values")
        return result
