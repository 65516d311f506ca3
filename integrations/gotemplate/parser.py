"""The parser of Go's text/template: tokens to trees, one per template name (text/template/parse).

A source parses to its top-level tree plus one tree per `{{define}}`/`{{block}}`. Unknown
functions, undefined variables and `{{break}}` outside `{{range}}` are errors at parse time, as in
Go; errors say `template: name:line:col: message`. Dotted function names (`coll.Dict`) resolve to
the longest name the function table holds.
"""

from __future__ import annotations

from collections.abc import Container

from integrations.gotemplate import nodes as n
from integrations.gotemplate.lexer import GoTemplateError, T, Token, tokenize

MAX_NESTING = 100  # parentheses and blocks inside each other (Python recursion, not Go's limit)
_OPERAND_START = {
    T.BOOL,
    T.CHAR,
    T.DOT,
    T.FIELD,
    T.IDENT,
    T.NUMBER,
    T.NIL,
    T.RAW_STRING,
    T.STRING,
    T.VARIABLE,
    T.LPAREN,
}
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


class _Anything:
    def __contains__(self, name: object) -> bool:
        return True


ANY_FUNCTION = _Anything()  # parse without checking function names


class Parser:
    def __init__(self, name: str, source: str, funcs: Container[str]):
        self.name, self.source, self.funcs = name, source, funcs
        self.tokens = tokenize(name, source)
        self.i = 0
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.nesting = 0
        self.trees: dict[str, n.Tree] = {}

    # -- tokens -----------------------------------------------------------------------------------

    def next(self) -> Token:
        token = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def peek(self) -> Token:
        return self.tokens[self.i]

    def next_non_space(self) -> Token:
        token = self.next()
        while token.kind == T.SPACE:
            token = self.next()
        return token

    def peek_non_space(self) -> Token:
        while self.peek().kind == T.SPACE:
            self.next()
        return self.peek()

    def error(self, message: str, pos: int | None = None) -> GoTemplateError:
        at = self.peek().pos if pos is None else pos
        line = self.source.count("\n", 0, at) + 1
        column = at - (self.source.rfind("\n", 0, at) + 1)
        return GoTemplateError(message, self.name, line, column)

    def unexpected(self, token: Token, context: str) -> GoTemplateError:
        return self.error(f"unexpected {token.describe()} in {context}", token.pos)

    def expect(self, kind: T, context: str) -> Token:
        token = self.next_non_space()
        if token.kind != kind:
            raise self.unexpected(token, context)
        return token

    # -- templates --------------------------------------------------------------------------------

    def parse(self) -> dict[str, n.Tree]:
        root = n.ListNode(0)
        while self.peek().kind != T.EOF:
            if self.peek().kind == T.LEFT:
                mark = self.i
                self.next()
                if self.next_non_space().value == "define" and self.tokens[self.i - 1].kind == T.KEYWORD:
                    self._definition()
                    continue
                self.i = mark
            node = self._text_or_action()
            if isinstance(node, n.Marker):
                raise self.error(f"unexpected {node}", node.pos)
            root.nodes.append(node)
        return {self.name: self._tree(self.name, root), **self.trees}

    def _tree(self, name: str, root: n.ListNode) -> n.Tree:
        return n.Tree(name, root, self.source, self.name)

    def _add_tree(self, name: str, tree: n.ListNode, pos: int) -> None:
        old = self.trees.get(name)
        if old is not None and not n.is_empty(old.root) and not n.is_empty(tree):
            raise self.error(f"template: multiple definition of template {n.repr_go(name)}", pos)
        if old is None or n.is_empty(old.root):
            self.trees[name] = self._tree(name, tree)

    def _in_fresh_scope(self, pos: int, name: str, context: str) -> None:
        """The body of a define or block: its own variables (`$` only), up to its `{{end}}`."""
        saved = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        body, end = self._item_list()
        if end.keyword != "end":
            raise self.error(f"unexpected {end} in {context}", end.pos)
        self.vars, self.range_depth = saved
        self._add_tree(name, body, pos)

    def _definition(self) -> None:
        token = self.next_non_space()
        if token.kind not in (T.STRING, T.RAW_STRING):
            raise self.unexpected(token, "define clause")
        self.expect(T.RIGHT, "define clause")
        self._in_fresh_scope(token.pos, self._unquote(token), "define clause")

    def _item_list(self) -> tuple[n.ListNode, n.Marker]:
        body = n.ListNode(self.peek().pos)
        while True:
            node = self._text_or_action()
            if isinstance(node, n.Marker):
                return body, node
            body.nodes.append(node)

    def _text_or_action(self) -> n.Node:
        token = self.next_non_space()
        if token.kind == T.TEXT:
            return n.Text(token.pos, token.value)
        if token.kind == T.LEFT:
            return self._action()
        if token.kind == T.EOF:
            raise self.error("unexpected EOF", token.pos)
        raise self.unexpected(token, "input")

    # -- actions ----------------------------------------------------------------------------------

    def _action(self) -> n.Node:
        token = self.next_non_space()
        if token.kind == T.KEYWORD:
            if token.value in ("if", "range", "with"):
                return self._nested(lambda: self._control(token.value, token.pos))
            if token.value in ("end", "else"):
                return self._marker(token)
            if token.value in ("break", "continue"):
                return self._loop_control(token)
            if token.value in ("template", "block"):
                return self._template(token)
        self.i -= 1
        return n.Action(token.pos, self._pipeline("command", T.RIGHT))

    def _nested(self, parse: object) -> n.Node:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.error(f"max nesting depth of {MAX_NESTING} exceeded")
        try:
            return parse()  # type: ignore[operator]
        finally:
            self.nesting -= 1

    def _marker(self, token: Token) -> n.Marker:
        if token.value == "else" and self.peek_non_space().value in ("if", "with"):
            return n.Marker(token.pos, "else")  # `{{else if ...}}`: the `if` is read by the block
        self.expect(T.RIGHT, token.value)
        return n.Marker(token.pos, token.value)

    def _loop_control(self, token: Token) -> n.LoopControl:
        if self.range_depth == 0:
            raise self.error("{{" + token.value + "}} outside {{range}}", token.pos)
        self.expect(T.RIGHT, "{{" + token.value + "}}")
        return n.LoopControl(token.pos, token.value)

    def _control(self, kind: str, pos: int) -> n.Branch:
        mark = len(self.vars)
        pipe = self._pipeline(kind, T.RIGHT)
        self.range_depth += kind == "range"
        body, end = self._item_list()
        self.range_depth -= kind == "range"
        else_body = None
        if end.keyword == "else":
            following = self.peek()
            if following.kind == T.KEYWORD and following.value == kind and kind in ("if", "with"):
                self.next()  # `else if`/`else with`: one {{end}} closes both
                else_body = n.ListNode(following.pos, [self._nested(lambda: self._control(kind, following.pos))])
            else:
                else_body, end = self._item_list()
                if end.keyword != "end":
                    raise self.error(f"expected end; found {end}", end.pos)
        del self.vars[mark:]
        return n.Branch(pos, kind, pipe, body, else_body)

    def _template(self, token: Token) -> n.TemplateCall:
        context = f"{token.value} clause"
        name_token = self.next_non_space()
        if name_token.kind not in (T.STRING, T.RAW_STRING):
            raise self.unexpected(name_token, context)
        name = self._unquote(name_token)
        pipe = None
        if self.next_non_space().kind != T.RIGHT:
            self.i -= 1
            pipe = self._pipeline(context, T.RIGHT)
        if token.value == "block":
            self._in_fresh_scope(name_token.pos, name, context)
        return n.TemplateCall(name_token.pos, name, pipe)  # Go places it at the name

    # -- pipelines and commands -----------------------------------------------------------------

    def _declarations(self, pipe: n.Pipe, context: str) -> None:
        while self.peek_non_space().kind == T.VARIABLE:
            mark = self.i
            variable = self.next()
            following = self.peek_non_space()
            if following.kind in (T.DECLARE, T.ASSIGN):
                self.next()
                pipe.is_assign = following.kind == T.ASSIGN
                if pipe.is_assign and variable.value not in self.vars:
                    raise self.error(f"undefined variable {n.repr_go(variable.value)}", variable.pos)
                pipe.decl.append(variable.value)
                self.vars.append(variable.value)
                return
            if following.kind == T.COMMA:
                self.next()
                pipe.decl.append(variable.value)
                self.vars.append(variable.value)
                if context != "range" or len(pipe.decl) >= 2:
                    raise self.error(f"too many declarations in {context}", following.pos)
                if self.peek_non_space().kind != T.VARIABLE:
                    raise self.error("range can only initialize variables", following.pos)
                continue
            self.i = mark
            return

    def _pipeline(self, context: str, end: T) -> n.Pipe:
        pipe = n.Pipe(self.peek_non_space().pos)
        self._declarations(pipe, context)
        while True:
            token = self.next_non_space()
            if token.kind == end:
                self._check_pipeline(pipe, context, token)
                return pipe
            if token.kind not in _OPERAND_START:
                raise self.unexpected(token, context)
            self.i -= 1
            pipe.cmds.append(self._command())

    def _check_pipeline(self, pipe: n.Pipe, context: str, token: Token) -> None:
        if not pipe.cmds:
            raise self.error(f"missing value for {context}", token.pos)
        for stage, command in enumerate(pipe.cmds[1:], start=2):
            if isinstance(command.args[0], n.Constant | n.Dot | n.Nil):
                raise self.error(f"non executable command in pipeline stage {stage}", command.pos)

    def _command(self) -> n.Command:
        command = n.Command(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self._operand()
            if operand is not None:
                command.args.append(operand)
            token = self.next()
            if token.kind == T.SPACE:
                continue
            if token.kind in (T.RIGHT, T.RPAREN):
                self.i -= 1
            elif token.kind != T.PIPE:
                raise self.unexpected(token, "operand")
            break
        if not command.args:
            raise self.error("empty command", command.pos)
        return command

    def _operand(self) -> n.Node | None:
        node = self._term()
        if node is None or self.peek().kind != T.FIELD:
            return node
        fields = []
        while self.peek().kind == T.FIELD:
            fields.append(self.next().value[1:])
        if isinstance(node, n.Field | n.Variable):
            node.names.extend(fields)
            return node
        if isinstance(node, n.Constant | n.Nil | n.Dot):
            raise self.error(f"unexpected . after term {n.repr_go(str(node))}", node.pos)
        return n.Chain(node.pos, node, fields)

    def _term(self) -> n.Node | None:
        token = self.next_non_space()
        kind = token.kind
        if kind == T.IDENT:
            return self._function_name(token)
        if kind == T.DOT:
            return n.Dot(token.pos)
        if kind == T.NIL:
            return n.Nil(token.pos)
        if kind == T.VARIABLE:
            if token.value not in self.vars:
                raise self.error(f"undefined variable {n.repr_go(token.value)}", token.pos)
            return n.Variable(token.pos, [token.value])
        if kind == T.FIELD:
            return n.Field(token.pos, [token.value[1:]])
        if kind == T.BOOL:
            return n.Constant(token.pos, token.value == "true", token.value)
        if kind in (T.NUMBER, T.CHAR):
            return n.Constant(token.pos, self._number(token), token.value)
        if kind in (T.STRING, T.RAW_STRING):
            return n.Constant(token.pos, self._unquote(token), token.value)
        if kind == T.LPAREN:
            return self._nested(lambda: self._pipeline("parenthesized pipeline", T.RPAREN))
        self.i -= 1
        return None

    def _function_name(self, token: Token) -> n.Identifier:
        """The function named here: the longest dotted name (`coll.Dict`) the table knows."""
        name, best, j = token.value, None, self.i
        if token.value in self.funcs:
            best = (token.value, self.i)
        while self.tokens[j].kind == T.FIELD:
            name += self.tokens[j].value
            j += 1
            if name in self.funcs and not isinstance(self.funcs, _Anything):
                best = (name, j)
        if best is None:
            raise self.error(f"function {n.repr_go(name)} not defined", token.pos)
        self.i = best[1]
        return n.Identifier(token.pos, best[0])

    # -- literals ---------------------------------------------------------------------------------

    def _number(self, token: Token) -> int | float:
        text = token.value
        if token.kind == T.CHAR:
            value = self._unescape(text[1:-1], "'", token)
            if len(value) != 1:
                raise self.error(f"malformed character constant: {text}", token.pos)
            return ord(value)
        try:
            return _go_number(text)
        except ValueError:
            raise self.error(f"illegal number syntax: {n.repr_go(text)}", token.pos) from None

    def _unquote(self, token: Token) -> str:
        if token.kind == T.RAW_STRING:
            return token.value[1:-1].replace("\r", "")
        return self._unescape(token.value[1:-1], '"', token)

    def _unescape(self, body: str, quote: str, token: Token) -> str:
        out, i = [], 0
        while i < len(body):
            char = body[i]
            if char != "\\":
                out.append(char)
                i += 1
                continue
            code = body[i + 1 : i + 2]
            if code in _ESCAPES or code == quote:
                out.append(_ESCAPES.get(code, quote))
                i += 2
                continue
            size = {"x": 2, "u": 4, "U": 8}.get(code, 3 if code.isdigit() else 0)
            digits = body[i + 2 : i + 2 + size] if code in "xuU" else body[i + 1 : i + 4]
            base = 8 if code.isdigit() else 16
            try:
                out.append(chr(int(digits, base)) if size and len(digits) == size else _bad())
            except (ValueError, OverflowError):
                raise self.error(f"invalid syntax in {token.value}", token.pos) from None
            i += 2 + size if code in "xuU" else 4
        return "".join(out)


def _bad() -> str:
    raise ValueError("invalid escape")


def _go_number(text: str) -> int | float:
    """Go's rules for a number constant: integers stay ints, `1.0`/`1e3` are float64."""
    body = text.lstrip("+-")
    negative = text.startswith("-")
    is_hex = body[:2].lower() == "0x"
    if any(mark in body for mark in ".eEpP") and not (is_hex and not any(m in body for m in ".pP")):
        value = float.fromhex(body) if is_hex else float(body.replace("_", ""))
        return -value if negative else value
    octal = body[:1] == "0" and body[1:2].isdigit()  # Go's 017 is octal; Python refuses it
    value = int(body.replace("_", ""), 8) if octal else int(body, 0)
    return -value if negative else value
