"""The parse tree of a Go template (text/template/parse's nodes). `str(node)` is Go's String().

Positions are offsets into the source; errors turn them into line and column.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from integrations.gotemplate.lexer import repr_go


@dataclasses.dataclass
class Node:
    pos: int


@dataclasses.dataclass
class Text(Node):
    text: str

    def __str__(self) -> str:
        return repr_go(self.text)


@dataclasses.dataclass
class ListNode(Node):
    nodes: list[Node] = dataclasses.field(default_factory=list)

    def __str__(self) -> str:
        return "".join(map(str, self.nodes))


@dataclasses.dataclass
class Command(Node):
    args: list[Node] = dataclasses.field(default_factory=list)

    def __str__(self) -> str:
        return " ".join(f"({arg})" if isinstance(arg, Pipe) else str(arg) for arg in self.args)


@dataclasses.dataclass
class Pipe(Node):
    decl: list[str] = dataclasses.field(default_factory=list)
    is_assign: bool = False
    cmds: list[Command] = dataclasses.field(default_factory=list)

    def __str__(self) -> str:
        head = ", ".join(self.decl) + (" = " if self.is_assign else " := ") if self.decl else ""
        return head + " | ".join(map(str, self.cmds))


@dataclasses.dataclass
class Action(Node):
    pipe: Pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


@dataclasses.dataclass
class Identifier(Node):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclasses.dataclass
class Variable(Node):
    names: list[str]  # "$x" then any fields: $x.A.B

    def __str__(self) -> str:
        return ".".join(self.names)


@dataclasses.dataclass
class Field(Node):
    names: list[str]

    def __str__(self) -> str:
        return "".join("." + name for name in self.names)


@dataclasses.dataclass
class Chain(Node):
    node: Node
    fields: list[str]

    def __str__(self) -> str:
        head = f"({self.node})" if isinstance(self.node, Pipe) else str(self.node)
        return head + "".join("." + name for name in self.fields)


@dataclasses.dataclass
class Dot(Node):
    def __str__(self) -> str:
        return "."


@dataclasses.dataclass
class Nil(Node):
    def __str__(self) -> str:
        return "nil"


@dataclasses.dataclass
class Constant(Node):
    """A bool, number, string or character constant; `text` is how the source wrote it."""

    value: Any
    text: str

    def __str__(self) -> str:
        return self.text


@dataclasses.dataclass
class Branch(Node):
    """`if`, `range` or `with`: the pipeline, the list, and the `else` list."""

    kind: str
    pipe: Pipe
    body: ListNode
    else_body: ListNode | None

    def __str__(self) -> str:
        text = "{{" + f"{self.kind} {self.pipe}" + "}}" + str(self.body)
        if self.else_body is not None:
            text += "{{else}}" + str(self.else_body)
        return text + "{{end}}"


@dataclasses.dataclass
class TemplateCall(Node):
    name: str
    pipe: Pipe | None

    def __str__(self) -> str:
        tail = f" {self.pipe}" if self.pipe is not None else ""
        return "{{template " + repr_go(self.name) + tail + "}}"


@dataclasses.dataclass
class LoopControl(Node):
    """`{{break}}` or `{{continue}}`."""

    keyword: str

    def __str__(self) -> str:
        return "{{" + self.keyword + "}}"


@dataclasses.dataclass
class Marker(Node):
    """`{{end}}` or `{{else}}`: closes a list; never part of a finished tree."""

    keyword: str

    def __str__(self) -> str:
        return "{{" + self.keyword + "}}"


@dataclasses.dataclass
class Tree:
    """One named template: its body, the source it came from, and that source's name (for errors)."""

    name: str
    root: ListNode
    source: str
    parse_name: str

    def location(self, pos: int) -> str:
        """Go's ErrorContext location: `parse_name:line:column` (column counted from 0 like Go)."""
        line = self.source.count("\n", 0, pos) + 1
        return f"{self.parse_name}:{line}:{pos - (self.source.rfind(chr(10), 0, pos) + 1)}"


def is_empty(tree: ListNode) -> bool:
    """Go's IsEmptyTree: only whitespace text (a define-only source leaves such a top level)."""
    return all(isinstance(node, Text) and not node.text.strip() for node in tree.nodes)
