"""JSON bodies with a nesting limit, checked before the parse.

Python's json module recurses once per level and the code after it (validation, storage,
templates) recurses again, so a body 600 levels deep used to end in RecursionError and a 500.
No alert, setting or template body needs more than a handful of levels; anything deeper than
MAX_JSON_DEPTH is refused with a 400 before it is parsed at all.

Free of DRF: the admin's previews read bodies with it too, and the admin is loaded by every
process, the Celery worker included, which has no other use for DRF (5-6 MB of its memory).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

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


def _refuse_constant(name: str) -> None:
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")


def load_json(raw: bytes | str, *, strict: bool = False) -> Any:
    """json.loads with the nesting limit. Raises JSONTooDeep, or ValueError for malformed JSON.
    `strict` refuses NaN and Infinity, as DRF's parser does."""
    text = raw.decode(json.detect_encoding(raw), "surrogatepass") if isinstance(raw, bytes) else raw
    if nesting_depth(text) > MAX_JSON_DEPTH:
        raise JSONTooDeep
    try:
        return json.loads(text, parse_constant=_refuse_constant if strict else None)
    except RecursionError:  # not reachable after the check; kept so that no depth ever means a 500
        raise JSONTooDeep from None
