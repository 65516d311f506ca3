"""HTTP/1.1 exchanges on keep-alive connections kept per origin, for the HTTP seam (integrations.http).

urllib3's connection classes connect: the seam's subclasses resolve the host and apply the
outbound policy, urllib3 wraps TLS with SNI and checks the host name. The request is written and
the answer read here, on that socket: urllib3's pool and http.client cost a worker more CPU per
request than everything else a webhook delivery does (http.client parses every answer's headers
with the email package). Every read and write still goes through the socket's deadline
(integrations.deadlines).
"""

from __future__ import annotations

import re
import select
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import BinaryIO

from urllib3.connection import HTTPConnection

# Limits on an answer's head, as http.client has them: a line, and the number of fields.
MAX_LINE_BYTES = 65536
MAX_HEADER_FIELDS = 100
NO_BODY_STATUSES = frozenset({204, 304})
# Methods that carry no body unless given one; the others get "Content-Length: 0" without one.
BODILESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "TRACE", "OPTIONS", "CONNECT"})
# RFC 9110's token: a header name may hold nothing else.
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# A header value ends at a line break: one inside it would start a header (or a request) of its own.
HEADER_VALUE_BREAK = re.compile(r"[\r\n\x00]")


class ProtocolError(Exception):
    """The peer answered something that is not HTTP/1.x, or closed the connection before answering."""


class InvalidHeader(ValueError):
    """A header name or value that cannot be written as one header line."""


@dataclass
class Answer:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case names; a repeated field's values joined with ", "
    body: bytes


def request_bytes(method: str, target: str, host: str, headers: list[tuple[str, str]], body: bytes | None) -> bytes:
    """The request as written on the wire: request line, Host (unless given), headers, Content-Length, body."""
    lines = [f"{method} {target} HTTP/1.1"]
    names = {name.lower() for name, _ in headers}
    if "host" not in names:
        lines.append(f"Host: {host}")
    for name, value in headers:
        value = str(value)
        if not HEADER_NAME.fullmatch(name) or HEADER_VALUE_BREAK.search(value):
            raise InvalidHeader(f"the header {name!r} cannot be sent: a line break or a character not allowed")
        lines.append(f"{name}: {value}")
    if body is None and method not in BODILESS_METHODS:
        body = b""
    if body is not None and "content-length" not in names:
        lines.append(f"Content-Length: {len(body)}")
    try:
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:
        raise InvalidHeader("a header holds characters outside ISO-8859-1") from None
    return head + body if body else head


class Connection:
    """One connected socket (urllib3 connected it) with a buffered reader over it."""

    __slots__ = ("connection", "reader", "sock")

    def __init__(self, connection: HTTPConnection):
        self.connection = connection
        self.sock = connection.sock
        self.reader: BinaryIO = self.sock.makefile("rb")

    def dropped(self) -> bool:
        """Whether the peer closed (or wrote unasked) since the last answer: a kept connection must be quiet."""
        pending = getattr(self.sock, "pending", None)  # TLS: bytes already decrypted count as written
        if pending is not None and pending():
            return True
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def close(self) -> None:
        self.reader.close()
        self.connection.close()

    def exchange(self, request: bytes, *, head: bool, limit: int) -> tuple[Answer, bool]:
        """Send the request and read its answer, the body cut at `limit` bytes (decoded).

        Returns the answer and whether the connection can carry another request. A body that
        breaks off reads as empty (its status is still worth recording); timeouts propagate.
        """
        self.sock.sendall(request)
        version, status, reason, headers = self._read_head()
        while 100 <= status < 200 and status != 101:  # interim answers (100 Continue): the real one follows
            version, status, reason, headers = self._read_head()
        reusable = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
        if head or status in NO_BODY_STATUSES or 100 <= status < 200:
            return Answer(status, reason, headers, b""), reusable
        try:
            raw, complete = self._read_body(headers, limit)
        except TimeoutError:
            raise  # the attempt's time is up, as in Go's client
        except (ProtocolError, ValueError, OSError):
            return Answer(status, reason, headers, b""), False
        return Answer(status, reason, headers, _decoded(raw, headers, limit)), reusable and complete

    def _line(self) -> bytes:
        line = self.reader.readline(MAX_LINE_BYTES + 1)
        if len(line) > MAX_LINE_BYTES:
            raise ProtocolError("an answer line longer than 64 KiB")
        return line

    def _read_head(self) -> tuple[str, int, str, dict[str, str]]:
        line = self._line()
        if not line:
            raise ProtocolError("the connection closed before an answer")
        version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise ProtocolError("the answer is not HTTP/1.x")
        headers: dict[str, str] = {}
        name = ""
        for _ in range(MAX_HEADER_FIELDS + 1):
            line = self._line()
            if line in (b"\r\n", b"\n", b""):
                return version, int(code), reason.strip(), headers
            text = line.decode("latin-1")
            if text[0] in " \t" and name:  # an obsolete folded line continues the field before it
                headers[name] = f"{headers[name]} {text.strip()}"
                continue
            name, colon, value = text.partition(":")
            if not colon:
                name = ""
                continue  # not a field: skipped, as lenient clients do
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        raise ProtocolError(f"more than {MAX_HEADER_FIELDS} header fields")

    def _read_body(self, headers: dict[str, str], limit: int) -> tuple[bytes, bool]:
        """The body's first `limit` bytes as sent, and whether it was read to its end."""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._read_chunked(limit)
        length = headers.get("content-length")
        if length is not None:
            size = int(length.split(",")[0])  # repeated identical values arrive joined
            if size < 0:
                raise ProtocolError("a negative Content-Length")
            body = self.reader.read(min(size, limit))
            if len(body) < min(size, limit):
                raise ProtocolError("the body ended early")
            return body, size <= limit
        return self.reader.read(limit), False  # delimited by the end of the connection

    def _read_chunked(self, limit: int) -> tuple[bytes, bool]:
        parts, kept = [], 0
        while True:
            size = int(self._line().split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self._line() not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields: not kept
                return b"".join(parts), True
            if kept + size > limit:
                parts.append(self.reader.read(limit - kept))
                return b"".join(parts), False
            chunk = self.reader.read(size)
            if len(chunk) < size:
                raise ProtocolError("the body ended early")
            parts.append(chunk)
            kept += size
            self._line()  # the CRLF after the chunk


def _decoded(raw: bytes, headers: dict[str, str], limit: int) -> bytes:
    """The body without its Content-Encoding (gzip and deflate, which the seam accepts), cut at `limit`."""
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        windows = [16 + zlib.MAX_WBITS]
    elif encoding == "deflate":
        windows = [zlib.MAX_WBITS, -zlib.MAX_WBITS]  # zlib-wrapped, as specified; raw, as some servers send
    else:
        return raw
    for window in windows:
        try:
            return zlib.decompressobj(window).decompress(raw, limit)
        except zlib.error:
            continue
    return b""  # undecodable: read as a body that broke off


class ConnectionPool:
    """Idle keep-alive connections per origin, shared by a process's sender threads: up to
    `per_origin` kept for each of the `origins` most recently used."""

    def __init__(self, per_origin: int, origins: int):
        self.per_origin, self.origins = per_origin, origins
        self._idle: OrderedDict[tuple, list[Connection]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, origin: tuple) -> Connection | None:
        """A kept connection to `origin` that the peer has not closed, or None."""
        while True:
            with self._lock:
                kept = self._idle.get(origin)
                if not kept:
                    return None
                connection = kept.pop()
            if not connection.dropped():
                return connection
            connection.close()

    def give_back(self, origin: tuple, connection: Connection) -> None:
        closing = []
        with self._lock:
            kept = self._idle.setdefault(origin, [])
            self._idle.move_to_end(origin)
            if len(kept) < self.per_origin:
                kept.append(connection)
            else:
                closing.append(connection)
            while len(self._idle) > self.origins:
                closing += self._idle.popitem(last=False)[1]
        for extra in closing:
            extra.close()
