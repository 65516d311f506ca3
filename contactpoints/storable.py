"""What PostgreSQL cannot store: bad input to refuse with a 400, not a server error at save time."""

from __future__ import annotations

import math
import re
from typing import Any

UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")  # NUL, and surrogates (unpaired in valid text)
UNSTORABLE_MESSAGE = "must not contain NUL characters, lone surrogates or infinite numbers"


def storable_text(text: str) -> str:
    """Text from outside (an answer's body in an error) with what PostgreSQL cannot store replaced by U+FFFD."""
    return UNSTORABLE_TEXT.sub("\ufffd", text)


def first_unstorable(value: Any, path: str = "body") -> str | None:
    """The path of the first value PostgreSQL cannot store (in a string, a name or a number), else None.

    A bad name reports its parent's path: the name itself may not even encode in the answer.
    """
    if isinstance(value, str):
        return path if UNSTORABLE_TEXT.search(value) else None
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        if any(isinstance(key, str) and UNSTORABLE_TEXT.search(key) for key in value):
            return path
        items = ((f"{path}.{key}", item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    return next((found for child, item in items if (found := first_unstorable(item, child))), None)
