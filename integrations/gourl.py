"""Go's url.Parse verdicts: several types' validation errors quote Go's own message (spec §4)."""

from __future__ import annotations

from integrations.values import go_quote

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
_HOST_CHARS = _ALNUM | frozenset("!$&'()*+,;=:[]<>\"-_.~")
_USERINFO_CHARS = _ALNUM | frozenset("-._:~!$&'()*+,;=%@")


def go_url_parse_error(url: str) -> str | None:
    """What Go's url.Parse says about `url` (`parse "<url>": <reason>`), or None when it accepts it."""
    without_fragment, _, fragment = url.partition("#")
    reason = _parse_reason(without_fragment)
    if reason:
        return f"parse {go_quote(without_fragment)}: {reason}"
    if fragment and (reason := _escape_error(fragment, in_host=False)):
        return f"parse {go_quote(url)}: {reason}"
    return None


def _parse_reason(raw: str) -> str | None:
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in raw):
        return "net/url: invalid control character in URL"
    scheme, rest = "", raw
    for index, char in enumerate(raw):
        if char in _ALNUM and not char.isdigit():
            continue
        if char.isdigit() or char in "+-.":
            if index == 0:
                break
            continue
        if char == ":":
            if index == 0:
                return "missing protocol scheme"
            scheme, rest = raw[:index], raw[index + 1 :]
        break
    rest = rest.partition("?")[0]  # the query is not checked
    if not rest.startswith("/"):
        if scheme:
            return None  # an opaque URL such as `mailto:x`: Go accepts it
        if ":" in rest.partition("/")[0]:
            return "first path segment in URL cannot contain colon"
    if rest.startswith("//") and (scheme or not rest.startswith("///")):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        if reason := _authority_error(authority):
            return reason
    return _escape_error(rest, in_host=False)


def _authority_error(authority: str) -> str | None:
    at = authority.rfind("@")
    host = authority[at + 1 :] if at >= 0 else authority
    if host.startswith("["):
        closing = host.rfind("]")
        if closing < 0:
            return "missing ']' in host"
        colon_port = host[closing + 1 :]
    else:
        colon = host.rfind(":")
        colon_port = host[colon:] if colon >= 0 else ""
    if colon_port and not (colon_port.startswith(":") and all(c in "0123456789" for c in colon_port[1:])):
        return f"invalid port {go_quote(colon_port)} after host"
    if reason := _escape_error(host, in_host=True):
        return reason
    if at >= 0:
        userinfo = authority[:at]
        if any(char not in _USERINFO_CHARS for char in userinfo):
            return "net/url: invalid userinfo"
        return _escape_error(userinfo, in_host=False)
    return None


def _escape_error(text: str, *, in_host: bool) -> str | None:
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%":
            escape = text[index : index + 3]
            if len(escape) < 3 or escape[1] not in _HEX or escape[2] not in _HEX:
                return f"invalid URL escape {go_quote(escape)}"
            # In a host, %-escapes are for non-ASCII bytes only (and %25 in IPv6 zones).
            if in_host and int(escape[1], 16) < 8 and escape != "%25":
                return f"invalid URL escape {go_quote(escape)}"
            index += 3
            continue
        if in_host and ord(char) < 0x80 and char not in _HOST_CHARS:
            return f"invalid character {go_quote(char)} in host name"
        index += 1
    return None


# -- the integration --------------------------------------------------------------------------------


def go_url_parse_fails(url: str) -> bool:
    return go_url_parse_error(url) is not None
