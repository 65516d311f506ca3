"""Value helpers shared by every integration type: dotted settings paths, coercion, Go's texts.

Kept apart from integrations/base.py (the declarations and the request, response and outcome
types) so that an integration module reads its helpers from one place and the types stay short.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

# -- nested settings (dotted keys) ---------------------------------------------------------


def get_path(data: dict[str, Any], dotted_key: str, default: Any = None) -> Any:
    """Read `a.b.c` from nested dicts."""
    node: Any = data
    for part in dotted_key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def set_path(data: dict[str, Any], dotted_key: str, value: Any) -> None:
    """Write `a.b.c` into nested dicts, creating the intermediate objects."""
    parts = dotted_key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def pop_path(data: dict[str, Any], dotted_key: str) -> Any:
    """Remove `a.b.c` from nested dicts (dropping objects left empty); return its value."""
    parts = dotted_key.split(".")
    trail = [data]
    for part in parts[:-1]:
        child = trail[-1].get(part)
        if not isinstance(child, dict):
            return None
        trail.append(child)
    value = trail[-1].pop(parts[-1], None)
    for parent, part in zip(reversed(trail[:-1]), reversed(parts[:-1]), strict=True):
        if parent.get(part) == {}:
            del parent[part]
    return value


# -- value coercion shared by every type ---------------------------------------------------


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "") or value == {}


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def as_int(value: Any, default: int = 0) -> int:
    """Grafana's lenient integer: numbers or numeric strings, anything else is `default`."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return default
    return default


def sha256_hex(text: str) -> str:
    """Lowercase hex SHA-256: Grafana's groupKey.Hash(), the dedup key of several types."""
    return hashlib.sha256(text.encode()).hexdigest()


# -- HTTP answers ---------------------------------------------------------------------------


def status_text(status: int, reason: str = "") -> str:
    """Go's `resp.Status`: "500 Internal Server Error"."""
    if not reason:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
    return f"{status} {reason}".strip()


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# -- text as Go and Grafana print it --------------------------------------------------------


_GO_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(value: Any) -> bytes:
    """Compact JSON as Go's encoding/json writes it (HTML characters escaped), UTF-8 encoded.

    The escaped characters can only occur inside JSON strings, so replacing them in the
    output is safe. Dict keys keep their order: callers order struct-like objects as Go does.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in _GO_JSON_ESCAPES.items():
        text = text.replace(char, escaped)
    return text.encode()


_GO_QUOTE_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def go_quote(text: str) -> str:
    """Go's strconv.Quote (`%q` of a string), as Grafana's error texts print values."""
    out = []
    for char in text:
        if char in _GO_QUOTE_ESCAPES:
            out.append(_GO_QUOTE_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def go_quote_list(items: Iterable[str]) -> str:
    """Go's `%q` of a []string: `["Host" "Cookie"]`."""
    return "[" + " ".join(go_quote(item) for item in items) + "]"


def trunc_runes(text: str, limit: int) -> str:
    """Grafana's truncRunes: at most `limit` characters, ending in … when cut."""
    if len(text) <= limit:
        return text
    if limit <= 3:
        return text[:limit]
    return text[: limit - 1] + "…"


def trunc_bytes(text: str, limit: int) -> str:
    """Grafana's truncBytes (spec §2.7): at most `limit` UTF-8 bytes, ending in … when cut."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    if limit == 3:
        return "…"
    if limit < 3:
        return "." * limit
    # The longest whole-character prefix that leaves room for the 3-byte ellipsis.
    return encoded[: limit - 3].decode("utf-8", errors="ignore") + "…"


REDACTED = "[REDACTED]"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove every secret value from a text that will be stored, shown or logged.

    Values shorter than three characters are left alone: replacing them would wreck the text
    without hiding anything worth hiding.
    """
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, REDACTED)
    return text
