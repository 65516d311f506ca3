"""Value helpers shared by every integration type: dotted settings paths, coercion, Go's texts.

Kept apart from integrations/base.py (the declarations and the request, response and outcome
types) so that an integration module reads its helpers from one place and the types stay short.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

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


BOOL_TEXTS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def parse_bool(value: Any) -> bool | None:
    """A switch given as JSON or as text (a ticked checkbox posts "on"); None when it is neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return BOOL_TEXTS.get(value.strip().lower(), False if not value.strip() else None)
    return None


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


def escape_like_go_json(text: str) -> str:
    """JSON text with the characters Go's encoding/json escapes (<, >, &, U+2028, U+2029).
    They can only occur inside JSON strings, so replacing them in the output is safe."""
    for char, escaped in _GO_JSON_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


def go_json(value: Any) -> bytes:
    """Compact JSON as Go's encoding/json writes it (HTML characters escaped), UTF-8 encoded.
    Dict keys keep their order: callers order struct-like objects as Go does."""
    return escape_like_go_json(json.dumps(value, ensure_ascii=False, separators=(",", ":"))).encode()


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
# Shorter values are left alone: replacing them would wreck the text without hiding anything.
SHORTEST_SECRET = 3
# A URL path segment this long, or shorter with a digit in it, is taken for a token or an id
# (`T0123ABCD`, a Discord webhook token); shorter words (`services`, `sendMessage`) stay readable.
SECRET_SEGMENT_LENGTH = 16
SECRET_SEGMENT_WITH_DIGIT_LENGTH = 8
# Runs of base64 (standard or URL-safe) long enough to hide a credential.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
# An authorization value quoted back, whatever it is: `Basic b3BzOmh1…`, `Bearer eyJ…`.
_AUTHORIZATION_VALUE = re.compile(
    r"\b(Basic|Bearer|GenieKey)(\s+|%20|\+)(?=[A-Za-z0-9._~+/=-]*[0-9+/=])[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE
)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove every secret from a text that will be stored, shown or logged, in any form a
    receiver may echo it: verbatim, URL-encoded, JSON-escaped, base64-encoded (Basic credentials
    carry `user:password`), any letter case; for URL-valued secrets also their path, the
    token-like path segments, query values and userinfo. Authorization values are removed too.
    """
    if not text:
        return text
    pieces = secret_pieces(secrets)
    if pieces:
        text = _BASE64_RUN.sub(lambda run: REDACTED if _decodes_to_a_secret(run.group(), pieces) else run.group(), text)
        pattern = "|".join(re.escape(piece) for piece in sorted(pieces, key=len, reverse=True))
        text = re.sub(pattern, REDACTED, text, flags=re.IGNORECASE)
    return _AUTHORIZATION_VALUE.sub(lambda match: f"{match.group(1)}{match.group(2)}{REDACTED}", text)


def secret_pieces(secrets: Iterable[str]) -> set[str]:
    """Every string that gives a secret away, in each form a receiver may echo it."""
    plain: set[str] = set()
    for secret in secrets:
        if secret and len(secret) >= SHORTEST_SECRET:
            plain.add(secret)
            plain.update(_url_pieces(secret))
    pieces = set(plain)
    for piece in plain:
        pieces.update({quote(piece, safe=""), quote(piece, safe="/:"), quote_plus(piece), piece.replace("/", "\\/")})
    return {piece for piece in pieces if len(piece) >= SHORTEST_SECRET}


def _url_pieces(value: str) -> list[str]:
    """The secret parts of a URL-valued secret (a webhook URL is a credential in itself)."""
    if "://" not in value:
        return []
    try:
        parts = urlsplit(value.strip())
        password = parts.password
    except ValueError:
        return []
    pieces = [parts.path] if len(parts.path.strip("/")) >= SECRET_SEGMENT_WITH_DIGIT_LENGTH else []
    pieces += [segment for segment in parts.path.split("/") if _looks_like_a_token(unquote(segment))]
    if parts.query:
        pieces.append(parts.query)
        for _name, query_value in parse_qsl(parts.query, keep_blank_values=False):
            pieces += [query_value, quote(query_value, safe="")]
    if "@" in parts.netloc:
        pieces.append(parts.netloc.rsplit("@", 1)[0])
        pieces += [password] if password else []
    return pieces


def credentials_in_plain_settings(settings: Any) -> list[str]:
    """Credentials that sit in settings not declared secret, for scrubbing what receivers echo:
    a URL's password and token-like query values, the token-like words of header values (a
    webhook's custom `X-Api-Token`). Grafana keeps these in the clear; error texts must not."""
    found: list[str] = []
    stack: list[tuple[bool, Any]] = [(False, settings)]
    while stack:
        in_headers, item = stack.pop()
        if isinstance(item, dict):
            stack.extend((in_headers or "header" in str(key).lower(), value) for key, value in item.items())
        elif isinstance(item, list):
            stack.extend((in_headers, element) for element in item)
        elif isinstance(item, str) and "://" in item:
            found += _url_credentials(item)
        elif isinstance(item, str) and in_headers:
            found += [word for word in item.split() if _looks_like_a_token(word)]
    return found


def _url_credentials(value: str) -> list[str]:
    try:
        parts = urlsplit(value.strip())
        password = parts.password
    except ValueError:
        return []
    found = [password] if password else []
    return found + [query_value for _name, query_value in parse_qsl(parts.query) if _looks_like_a_token(query_value)]


def _looks_like_a_token(segment: str) -> bool:
    return len(segment) >= SECRET_SEGMENT_LENGTH or (
        len(segment) >= SECRET_SEGMENT_WITH_DIGIT_LENGTH and any(char.isdigit() for char in segment)
    )


def _decodes_to_a_secret(run: str, pieces: set[str]) -> bool:
    """Whether a base64 run, decoded, holds a secret (`Basic` credentials echoed back)."""
    body = run.rstrip("=")
    body = body[: len(body) - len(body) % 4 if len(body) % 4 == 1 else len(body)]
    padded = body + "=" * (-len(body) % 4)
    for alphabet in (b"+/", b"-_"):
        try:
            decoded = base64.b64decode(padded, altchars=alphabet).decode("utf-8", errors="ignore")
        except ValueError:
            continue
        if any(piece in decoded for piece in pieces):
            return True
    return False
