"""Go's fmt.Sprintf for template values: verbs, flags, width, precision, argument indexes.

Mistakes print inline as Go does (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA int=1)`,
`%!(NOVERB)`) instead of failing. Width and precision above a million are ignored, like Go's own
fmt does (which also bounds the text one verb can produce).
"""

from __future__ import annotations

import dataclasses
import math
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from integrations.goformat import Time
from integrations.gotemplate.printing import (
    NIL,
    check_printable,
    float_text,
    go_type_name,
    is_list,
    is_struct,
    sorted_keys,
    stringer,
    value_text,
)
from integrations.template_sandbox import check_format_width

_TOO_LARGE = 1_000_000  # fmt's tooLarge: width/precision beyond this are not numbers


@dataclasses.dataclass
class Spec:
    """One verb's flags, width and precision."""

    minus: bool = False
    plus: bool = False
    sharp: bool = False
    space: bool = False
    zero: bool = False
    width: int | None = None
    precision: int | None = None


def _parse_number(text: str, i: int) -> tuple[int | None, int]:
    start, number = i, 0
    while i < len(text) and text[i].isdigit() and text[i].isascii():
        if number > _TOO_LARGE:
            while i < len(text) and text[i].isdigit():
                i += 1
            return None, i
        number = number * 10 + int(text[i])
        i += 1
    return (number if i > start else None), i


class _Formatter:
    def __init__(self, template: str, args: Sequence[Any]):
        self.text, self.args = template, list(args)
        self.out: list[str] = []
        self.arg_index = 0
        self.reordered = False
        self.good_index = True

    def run(self) -> str:
        text, i = self.text, 0
        while i < len(text):
            percent = text.find("%", i)
            if percent < 0:
                self.out.append(text[i:])
                break
            self.out.append(text[i:percent])
            i = self._one_verb(percent + 1)
        if not self.reordered and self.arg_index < len(self.args):
            extra = [
                NIL if arg is None else f"{go_type_name(arg)}={format_value(arg, 'v', Spec())}"
                for arg in self.args[self.arg_index :]
            ]
            self.out.append("%!(EXTRA " + ", ".join(extra) + ")")
        return "".join(self.out)

    def _index(self, i: int) -> tuple[int, bool]:
        """An explicit argument index `[n]`; returns the new position and whether one was read."""
        text = self.text
        if i >= len(text) or text[i] != "[":
            return i, False
        self.reordered = True
        close = text.find("]", i)
        number, after = _parse_number(text, i + 1)
        if close < 0 or after != close or number is None or not 1 <= number <= len(self.args):
            self.good_index = False
            return (close + 1 if close >= 0 else i + 1), True
        self.arg_index = number - 1
        return close + 1, True

    def _star(self) -> int | None:
        if self.arg_index >= len(self.args):
            self.arg_index += 1
            return None
        value = self.args[self.arg_index]
        self.arg_index += 1
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > _TOO_LARGE:
            return None
        return value

    def _one_verb(self, i: int) -> int:
        text, spec = self.text, Spec()
        self.good_index = True
        while i < len(text) and text[i] in "#0+- ":
            flag = text[i]
            spec.sharp |= flag == "#"
            spec.plus |= flag == "+"
            spec.space |= flag == " "
            if flag == "-":
                spec.minus, spec.zero = True, False
            elif flag == "0":
                spec.zero = not spec.minus
            i += 1
        i, after_index = self._index(i)
        if i < len(text) and text[i] == "*":
            spec.width, i, after_index = self._star(), i + 1, False
            if spec.width is None:
                self.out.append("%!(BADWIDTH)")
            elif spec.width < 0:
                spec.width, spec.minus, spec.zero = -spec.width, True, False
        else:
            spec.width, i = _parse_number(text, i)
            if after_index and spec.width is not None:
                self.good_index = False
        if i + 1 < len(text) and text[i] == ".":
            i += 1
            if after_index:
                self.good_index = False
            i, after_index = self._index(i)
            if i < len(text) and text[i] == "*":
                spec.precision, i, after_index = self._star(), i + 1, False
                if spec.precision is None or spec.precision < 0:
                    spec.precision = None
                    self.out.append("%!(BADPREC)")
            else:
                precision, i = _parse_number(text, i)
                spec.precision = 0 if precision is None else precision
        for number in (spec.width, spec.precision):
            if number is not None:
                check_format_width(number)  # the sandbox's bound, before any padding is built
        if not after_index:
            i, after_index = self._index(i)
        if i >= len(text):
            self.out.append("%!(NOVERB)")
            return i
        verb = text[i]
        if verb == "%":
            self.out.append("%")
        elif not self.good_index:
            self.out.append(f"%!{verb}(BADINDEX)")
        elif self.arg_index >= len(self.args):
            self.out.append(f"%!{verb}(MISSING)")
        else:
            self.out.append(format_value(self.args[self.arg_index], verb, spec))
            self.arg_index += 1
        return i + 1


def sprintf(template: str, args: Sequence[Any]) -> str:
    """Go's fmt.Sprintf."""
    check_printable(*args)
    return _Formatter(str(template), args).run()


# -- one value under one verb ---------------------------------------------------------------------


def _pad(text: str, spec: Spec, zero_ok: bool = True) -> str:
    if spec.width is None or len(text) >= spec.width:
        return text
    fill = spec.width - len(text)
    if spec.minus:
        return text + " " * fill
    return ("0" if spec.zero and zero_ok else " ") * fill + text


def _bad_verb(value: Any, verb: str) -> str:
    if value is None:
        return f"%!{verb}({NIL})"
    return f"%!{verb}({go_type_name(value)}={format_value(value, 'v', Spec())})"


def format_value(value: Any, verb: str, spec: Spec, depth: int = 0) -> str:
    """One argument under one verb, the way fmt's printArg/printValue do."""
    if verb == "T":
        return _pad(go_type_name(value), spec, False)
    if value is None:
        return _pad(NIL, spec, False) if verb == "v" else _bad_verb(value, verb)
    if isinstance(value, bool) and type(value) is bool:
        return _pad("true" if value else "false", spec) if verb in "tv" else _bad_verb(value, verb)
    if type(value) is int:
        return _format_int(value, verb, spec)
    if type(value) is float:
        return _format_float(value, verb, spec)
    if isinstance(value, str) and stringer(value) is None:
        return _format_string(str(value), verb, spec, value)
    if verb in "vsxXq":
        if isinstance(value, datetime):
            return _format_string(str(value if isinstance(value, Time) else Time.of(value)), verb, spec, value)
        method = stringer(value)
        if method is not None:
            return _format_string(str(method()), verb, spec, value)
    return _format_composite(value, verb, spec, depth)


def _format_composite(value: Any, verb: str, spec: Spec, depth: int) -> str:
    def inner(item: Any) -> str:
        return format_value(item, verb, Spec(**{**dataclasses.asdict(spec)}), depth + 1)

    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{inner(key)}:{inner(value[key])}" for key in sorted_keys(value)) + "]"
    if is_list(value):
        return "[" + " ".join(inner(item) for item in value) + "]"
    if is_struct(value):
        parts = [(field.name, inner(getattr(value, field.name))) for field in dataclasses.fields(value)]
        return "{" + " ".join(f"{name}:{text}" if spec.plus and verb == "v" else text for name, text in parts) + "}"
    for basic in (bool, int, float, str):  # a subclass without String() formats as its base type
        if isinstance(value, basic):
            return format_value(basic(value), verb, spec)
    return _format_string(value_text(value), verb, spec, value) if verb in "vs" else _bad_verb(value, verb)


def _sign(negative: bool, spec: Spec) -> str:
    return "-" if negative else "+" if spec.plus else " " if spec.space else ""


def _format_int(value: int, verb: str, spec: Spec) -> str:
    if verb == "c":
        return _pad(_rune(value), spec)
    if verb == "q":
        return _pad(_quote_rune(value), spec)
    if verb == "U":
        text = f"U+{value:04X}" if value >= 0 else f"U+{value & 0xFFFFFFFFFFFFFFFF:04X}"
        return _pad(text + (f" '{_rune(value)}'" if spec.sharp and _printable(_rune(value)) else ""), spec)
    bases = {"v": "d", "d": "d", "b": "b", "o": "o", "O": "o", "x": "x", "X": "X"}
    if verb not in bases:
        return _bad_verb(value, verb)
    digits = format(abs(value), bases[verb])
    sign = _sign(value < 0, spec)
    if spec.precision is not None:
        digits = "" if spec.precision == 0 and value == 0 else digits.rjust(spec.precision, "0")
    elif spec.zero and spec.width is not None and not spec.minus:
        digits = digits.rjust(spec.width - len(sign), "0")
    prefix = {"b": "0b", "o": "0", "x": "0x", "X": "0X"}.get(verb, "") if spec.sharp else ""
    prefix = "0o" if verb == "O" else prefix
    if verb == "o" and digits.startswith("0"):
        prefix = ""
    return _pad(sign + prefix + digits, spec, False)


def _format_float(value: float, verb: str, spec: Spec) -> str:
    if verb not in "vbeEfFgGxX" or verb in "bxX":
        return _bad_verb(value, verb)
    if math.isnan(value) or math.isinf(value):
        body = "NaN" if math.isnan(value) else "Inf"
        sign = (
            "-" if value < 0 else "+" if spec.plus or (body == "Inf" and not spec.space) else " " if spec.space else ""
        )
        return _pad(sign + body, spec, False)
    sign = _sign(math.copysign(1.0, value) < 0, spec)
    magnitude, precision = abs(value), spec.precision
    if verb in "vgG" and precision is None:
        body = float_text(magnitude, upper=verb == "G")
    elif verb in "vgG":
        body = format(magnitude, f".{precision}{'G' if verb == 'G' else 'g'}")
    else:
        body = format(magnitude, f".{6 if precision is None else precision}{verb.lower() if verb != 'E' else 'E'}")
    if spec.zero and spec.width is not None and not spec.minus:
        return sign + body.rjust(spec.width - len(sign), "0")
    return _pad(sign + body, spec, False)


def _format_string(text: str, verb: str, spec: Spec, original: Any) -> str:
    if spec.precision is not None and verb in "vsq":
        text = text[: spec.precision]
    if verb in "vs":
        return _pad(text, spec)
    if verb in "xX":
        data = text.encode()
        if spec.precision is not None:
            data = data[: spec.precision]
        hexed = data.hex() if verb == "x" else data.hex().upper()
        return _pad(hexed, spec)
    if verb == "q":
        return _pad(go_quote(text, backquote=spec.sharp, ascii_only=spec.plus), spec)
    return _bad_verb(original, verb)


# -- Go's strconv.Quote -----------------------------------------------------------------------------

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v", "\\": "\\\\"}


def _printable(char: str) -> bool:
    return char == " " or not unicodedata.category(char).startswith(("C", "Z"))


def _escape(char: str, quote: str, ascii_only: bool) -> str:
    if char == quote:
        return "\\" + char
    if char in _ESCAPES:
        return _ESCAPES[char]
    if _printable(char) and not (ascii_only and ord(char) > 0x7E):
        return char
    code = ord(char)
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def go_quote(text: str, backquote: bool = False, ascii_only: bool = False) -> str:
    """strconv.Quote (`%q`); with `#`, a raw `backquoted` string when Go could use one."""
    if backquote and "`" not in text and all(_printable(c) or c == "\t" for c in text) and "\ufeff" not in text:
        return f"`{text}`"
    return '"' + "".join(_escape(char, '"', ascii_only) for char in text) + '"'


def _rune(value: int) -> str:
    return chr(value) if 0 <= value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF else "\ufffd"


def _quote_rune(value: int) -> str:
    return "'" + _escape(_rune(value), "'", False) + "'"
