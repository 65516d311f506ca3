"""The lexer of Go's text/template: text and `{{ actions }}` to tokens with their positions.

Follows Go's rules (text/template/parse/lex.go): `{{- ` and ` -}}` trim the whitespace around an
action, comments are `{{/* ... */}}`, actions may span lines, identifiers end at a terminator
(`.X+1` is an error, not arithmetic), and a number is whatever Go's scanner accepts.
"""

from __future__ import annotations

import dataclasses
import enum

LEFT, RIGHT = "{{", "}}"
SPACES = " \t\r\n"


class GoTemplateError(Exception):
    """A Go template that does not parse or does not run: `template: name:line:col: message`."""

    engine = "Go"  # which syntax the error is about, for messages that name the engine

    def __init__(self, message: str, name: str = "", line: int | None = None, column: int | None = None):
        self.message, self.name, self.line, self.column = message, name, line, column
        where = f"{name}:{line}:{column}" if line is not None else name
        super().__init__(f"template: {where}: {message}")


class T(enum.Enum):
    TEXT = "text"
    LEFT = "{{"
    RIGHT = "}}"
    SPACE = "space"
    FIELD = "field"
    IDENT = "identifier"
    VARIABLE = "variable"
    DOT = "."
    STRING = "string"
    RAW_STRING = "raw string"
    CHAR = "character constant"
    NUMBER = "number"
    BOOL = "bool"
    NIL = "nil"
    PIPE = "|"
    LPAREN = "("
    RPAREN = ")"
    DECLARE = ":="
    ASSIGN = "="
    COMMA = ","
    KEYWORD = "keyword"
    EOF = "EOF"


KEYWORDS = frozenset({"block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"})
_TERMINATORS = frozenset(SPACES) | frozenset(".,|:)(=") | {"", "}"}


@dataclasses.dataclass(frozen=True)
class Token:
    kind: T
    value: str
    pos: int

    def describe(self) -> str:
        """How Go names a token in its error messages."""
        if self.kind == T.EOF:
            return "EOF"
        if self.kind in (T.KEYWORD, T.NIL, T.DOT):
            return f"<{self.value}>"
        if self.kind == T.SPACE:
            return "space"
        return repr_go(self.value if len(self.value) <= 10 else self.value[:10] + "...")


def repr_go(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _is_alnum(char: str) -> bool:
    return char == "_" or char.isalnum()


class Lexer:
    def __init__(self, name: str, source: str):
        self.name, self.src = name, source
        self.tokens: list[Token] = []
        self.pos = 0
        self.paren_depth = 0

    def error(self, message: str, pos: int | None = None) -> GoTemplateError:
        at = self.pos if pos is None else pos
        line = self.src.count("\n", 0, at) + 1
        column = at - (self.src.rfind("\n", 0, at) + 1)
        return GoTemplateError(message, self.name, line, column)

    def emit(self, kind: T, start: int, end: int | None = None) -> None:
        self.tokens.append(Token(kind, self.src[start : self.pos if end is None else end], start))

    def run(self) -> list[Token]:
        while self.pos <= len(self.src):
            start = self.pos
            left = self.src.find(LEFT, self.pos)
            if left < 0:
                if start < len(self.src):
                    self.emit(T.TEXT, start, len(self.src))
                break
            self.pos = left + len(LEFT)
            trim = self.src[self.pos : self.pos + 1] == "-" and self.src[self.pos + 1 : self.pos + 2] in tuple(SPACES)
            text_end = len(self.src[start:left].rstrip(SPACES)) + start if trim else left
            if text_end > start:
                self.emit(T.TEXT, start, text_end)
            if trim:
                self.pos += 1
            if self.src.startswith("/*", self.pos + (1 if trim else 0)):
                self._comment(left)
                continue
            self.tokens.append(Token(T.LEFT, LEFT, left))
            self.paren_depth = 0
            self._inside_action()
        self.tokens.append(Token(T.EOF, "", len(self.src)))
        return self.tokens

    def _comment(self, left: int) -> None:
        opening = self.src.index("/*", self.pos)
        close = self.src.find("*/", opening + 2)
        if close < 0:
            raise self.error("unclosed comment", left)
        self.pos = close + 2
        trim = self._at_right_trim()
        if trim:
            self.pos += 2
        if not self.src.startswith(RIGHT, self.pos):
            raise self.error("comment ends before closing delimiter", left)
        self.pos += len(RIGHT)
        if trim:
            self._skip_leading_space()

    def _at_right_trim(self) -> bool:
        s = self.src
        return s[self.pos : self.pos + 1] in tuple(SPACES) and s.startswith("-" + RIGHT, self.pos + 1)

    def _skip_leading_space(self) -> None:
        while self.pos < len(self.src) and self.src[self.pos] in SPACES:
            self.pos += 1

    def _inside_action(self) -> None:
        src = self.src
        while True:
            trim = self._at_right_trim()
            if trim or src.startswith(RIGHT, self.pos):
                if self.paren_depth:
                    raise self.error("unclosed left paren")
                start = self.pos
                self.pos += 2 + len(RIGHT) if trim else len(RIGHT)
                self.tokens.append(Token(T.RIGHT, RIGHT, start))
                if trim:
                    self._skip_leading_space()
                return
            if self.pos >= len(src):
                raise self.error("unclosed action")
            self._one_token()

    def _one_token(self) -> None:
        src, start = self.src, self.pos
        char = src[self.pos]
        self.pos += 1
        if char in SPACES:
            while self.pos < len(src) and src[self.pos] in SPACES and not self._at_right_trim():
                self.pos += 1
            self.emit(T.SPACE, start)
        elif char == ":":
            if src[self.pos : self.pos + 1] != "=":
                raise self.error("expected :=")
            self.pos += 1
            self.emit(T.DECLARE, start)
        elif char in "|=,":
            self.emit({"|": T.PIPE, "=": T.ASSIGN, ",": T.COMMA}[char], start)
        elif char == '"':
            self._quoted(start, '"', T.STRING, "unterminated quoted string")
        elif char == "'":
            self._quoted(start, "'", T.CHAR, "unterminated character constant")
        elif char == "`":
            end = src.find("`", self.pos)
            if end < 0:
                raise self.error("unterminated raw quoted string", start)
            self.pos = end + 1
            self.emit(T.RAW_STRING, start)
        elif char == "$":
            self._word(start, T.VARIABLE)
        elif char == "." and not src[self.pos : self.pos + 1].isdigit():
            self._word(start, T.FIELD)
        elif char in "+-." or char.isdigit():
            self._number(start)
        elif _is_alnum(char):
            self._word(start, T.IDENT)
        elif char == "(":
            self.paren_depth += 1
            self.emit(T.LPAREN, start)
        elif char == ")":
            self.paren_depth -= 1
            if self.paren_depth < 0:
                raise self.error("unexpected right paren", start)
            self.emit(T.RPAREN, start)
        else:
            raise self.error(f"unrecognized character in action: {_rune_name(char)}", start)

    def _at_terminator(self) -> bool:
        return self.src[self.pos : self.pos + 1] in _TERMINATORS

    def _word(self, start: int, kind: T) -> None:
        while self.pos < len(self.src) and _is_alnum(self.src[self.pos]):
            self.pos += 1
        if not self._at_terminator():
            raise self.error(f"bad character {_rune_name(self.src[self.pos])}")
        word = self.src[start : self.pos]
        if kind == T.FIELD and word == ".":
            kind = T.DOT
        elif kind == T.IDENT and word in KEYWORDS:
            kind = T.KEYWORD
        elif kind == T.IDENT and word in ("true", "false"):
            kind = T.BOOL
        elif kind == T.IDENT and word == "nil":
            kind = T.NIL
        self.emit(kind, start)

    def _quoted(self, start: int, quote: str, kind: T, unterminated: str) -> None:
        src = self.src
        while True:
            char = src[self.pos : self.pos + 1]
            self.pos += 1
            if char == "\\":
                char = src[self.pos : self.pos + 1]
                self.pos += 1
                if char not in ("", "\n"):
                    continue
            if char in ("", "\n"):
                raise self.error(unterminated)
            if char == quote:
                break
        self.emit(kind, start)

    def _number(self, start: int) -> None:
        src = self.src
        self.pos = start
        if src[self.pos] in "+-":
            self.pos += 1
        digits, exponents = "0123456789_", ("e", "E")
        if src.startswith(("0x", "0X"), self.pos):
            digits, exponents, self.pos = "0123456789abcdefABCDEF_", ("p", "P"), self.pos + 2
        elif src.startswith(("0o", "0O", "0b", "0B"), self.pos):
            self.pos += 2
        self._run(digits)
        if src[self.pos : self.pos + 1] == ".":
            self.pos += 1
            self._run(digits)
        if src[self.pos : self.pos + 1] in exponents:
            self.pos += 1
            if src[self.pos : self.pos + 1] in ("+", "-"):
                self.pos += 1
            self._run("0123456789_")
        if self.pos < len(src) and _is_alnum(src[self.pos]):
            self.pos += 1
            raise self.error(f"bad number syntax: {repr_go(src[start : self.pos])}", start)
        self.emit(T.NUMBER, start)

    def _run(self, allowed: str) -> None:
        while self.pos < len(self.src) and self.src[self.pos] in allowed:
            self.pos += 1


def _rune_name(char: str) -> str:
    return f"U+{ord(char):04X} '{char}'"


def tokenize(name: str, source: str) -> list[Token]:
    return Lexer(name, source).run()
