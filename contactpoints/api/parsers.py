"""JSON bodies with a nesting limit, checked before the parse.

Python's json module recurses once per level and the code after it (validation, storage,
templates) recurses again, so a body 600 levels deep used to end in RecursionError and a 500.
No alert, setting or template body needs more than a handful of levels; anything deeper than
MAX_JSON_DEPTH is refused with a 400 before it is parsed at all.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant

MAX_JSON_DEPTH = 64
TOO_DEEP_MESSAGE = f"JSON nesting is too deep (limit {MAX_JSON_DEPTH})"

# A string, escapes and all; an unterminated one runs to the end of the text, so that no start
# is ever scanned twice (linear on any input, however many quotes and backslashes it holds).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JSONTooDeep(ValueError):
    def __init__(self) -> None:
        super().__init__(TOO_DEEP_MESSAGE)


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings do not count)."""
    openers = text.count("[") + text.count("{")
    if openers <= MAX_JSON_DEPTH:
        return openers  # an upper bound, and the common case: no scan needed
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def load_json(raw: bytes | str, *, strict: bool = False) -> Any:
    """json.loads with the nesting limit. Raises JSONTooDeep, or ValueError for malformed JSON.
    `strict` refuses NaN and Infinity, as DRF's parser does."""
    text = raw.decode(json.detect_encoding(raw), "surrogatepass") if isinstance(raw, bytes) else raw
    if nesting_depth(text) > MAX_JSON_DEPTH:
        raise JSONTooDeep
    try:
        return json.loads(text, parse_constant=strict_constant if strict else None)
    except RecursionError:  # not reachable after the check; kept so that no depth ever means a 500
        raise JSONTooDeep from None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the nesting limit: the default parser of every API view."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        encoding = parsers.get_encoding(parser_context or {})
        try:
            return load_json(stream.read().decode(encoding), strict=self.strict)
        except JSONTooDeep as exc:
            raise ParseError(str(exc)) from None
        except ValueError as exc:  # UnicodeDecodeError included
            raise ParseError(f"JSON parse error - {exc}") from None
