"""The one HTTP seam every integration sends through.

It owns: the attempt's one deadline (connect, send, headers and body together, enforced on every
socket operation, so a receiver dripping its answer cannot stretch it), the outbound network
policy (checked on every new connection, so on every redirect hop and against DNS answers, not
just the URL's host name), redirects followed explicitly (credentials never follow one to another
origin), the user agent, keep-alive connections per destination shared by the process's sender
threads, TLS options, and logs and errors that never carry a URL's path or query (webhook URLs
are secrets). urllib3's connection classes connect (policy, TLS, SNI, host name checks); the
request and answer are written and read by integrations.connections, at a fraction of the CPU
that urllib3's pool and http.client spent on them.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import logging
import os
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from urllib3 import HTTPHeaderDict, encode_multipart_formdata
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    LocationValueError,
    NewConnectionError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util import connection as urllib3_connection
from urllib3.util import parse_url

from integrations import deadlines
from integrations.base import HttpResponse, OutgoingRequest, TlsOptions, TransportError
from integrations.connections import Connection, ConnectionPool, InvalidHeader, ProtocolError, request_bytes
from integrations.deadlines import AttemptDeadline, default_ssl_context, with_deadline

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 64 * 1024
MAX_REDIRECTS = 10
ALLOWED_SCHEMES = ("http", "https")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# A destination's URL is parsed once per process, not on every send (3% of a busy worker's CPU
# in py-spy); urllib3's Url is an immutable tuple, and a URL it refuses raises, which is not kept.
_parse_url = functools.lru_cache(maxsize=4096)(parse_url)


class OutboundAddressDenied(Exception):
    """Raised inside a connection attempt; deliberately not an OSError so urllib3 won't retry it."""


@dataclass(frozen=True)
class OutboundPolicy:
    deny: tuple[IPNetwork, ...]
    allow: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_cidrs(cls, deny: Iterable[str], allow: Iterable[str] = ()) -> OutboundPolicy:
        return cls(
            deny=tuple(ipaddress.ip_network(c.strip(), strict=False) for c in deny if c.strip()),
            allow=tuple(ipaddress.ip_network(c.strip(), strict=False) for c in allow if c.strip()),
        )

    def permits(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if any(ip in network for network in self.allow):
            return True
        return not any(ip in network for network in self.deny)


# The policy in force for connections made by this process; set by HttpTransport.
_policy_holder = threading.local()


def _guarded_new_conn(conn: HTTPConnection) -> socket.socket:
    """Resolve the host, refuse denied addresses, connect to the first permitted one."""
    policy: OutboundPolicy | None = getattr(_policy_holder, "policy", None)
    try:
        infos = socket.getaddrinfo(conn._dns_host, conn.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NewConnectionError(conn, f"cannot resolve host {conn.host}: {exc.strerror}") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    permitted = [a for a in addresses if policy is None or policy.permits(a)]
    if not permitted:
        raise OutboundAddressDenied(f"outbound policy denies {conn.host} ({', '.join(addresses)})")
    last_error: OSError | None = None
    for address in permitted:
        try:
            connected = urllib3_connection.create_connection(
                (address, conn.port),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
            return with_deadline(connected)
        except TimeoutError as exc:
            raise ConnectTimeoutError(conn, f"connection to {conn.host} timed out") from exc
        except OSError as exc:
            last_error = exc
    raise NewConnectionError(conn, f"cannot connect to {conn.host}:{conn.port}: {last_error}")


class GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _guarded_new_conn(self)


class GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _guarded_new_conn(self)


def safe_location(url: str) -> str:
    """scheme://host[:port] only: paths and queries of integration URLs may hold secrets."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    return f"{parts.scheme}://{host}{port}"


def _ssl_context_for(tls: TlsOptions) -> ssl.SSLContext:
    context = default_ssl_context()
    if tls.ca_certificate:
        try:
            context.load_verify_locations(cadata=tls.ca_certificate)
        except (ssl.SSLError, ValueError) as exc:
            raise TransportError("unable to use the provided CA certificate", retryable=False) from exc
    if tls.client_certificate and tls.client_key:
        # The ssl module reads key pairs from files only; keep them on disk for an instant.
        with tempfile.TemporaryDirectory() as folder:
            cert_path, key_path = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
            for path, pem in ((cert_path, tls.client_certificate), (key_path, tls.client_key)):
                with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
                    handle.write(pem)
            try:
                context.load_cert_chain(cert_path, key_path)
            except (ssl.SSLError, ValueError) as exc:
                raise TransportError("unable to use the provided client certificate and key", retryable=False) from exc
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


DESTINATIONS_KEPT = 64
# What requests sent by default; receivers have seen these from the first release on.
DEFAULT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate"}
# The only headers that follow a redirect to another origin. Any other header an integration
# sets may carry a credential (Authorization, GenieKey, an API key or token header, an HMAC
# signature), and the seam cannot tell which: they all stay with the configured origin.
HEADERS_FOR_ANY_ORIGIN = frozenset({"user-agent", "accept", "accept-encoding", "content-type"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) as browsers compare them: a credential belongs to one origin."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return "", url, -1  # unreadable: no origin of ours (the hop then fails as an invalid URL)


class HttpTransport:
    """Sends OutgoingRequests. One per process, shared by its threads (urllib3's pools are thread-safe)."""

    def __init__(
        self,
        policy: OutboundPolicy | None,
        user_agent: str,
        timeout_seconds: float,
        connections_per_destination: int = 32,
    ):
        self.policy = policy
        self.user_agent = user_agent
        self.timeout_seconds = timeout_seconds
        # Keep-alive connections kept per destination: as many as the sender threads use at once.
        self._connections = ConnectionPool(per_origin=connections_per_destination, origins=DESTINATIONS_KEPT)
        self._ssl_context = default_ssl_context()

    @contextmanager
    def attempt(self, seconds: float | None = None) -> Iterator[AttemptDeadline]:
        """Every request sent by this thread inside shares one deadline of `seconds` (default:
        the transport's timeout). Outside one, each request gets a deadline of its own."""
        previous = getattr(deadlines.current, "scope", None)
        deadlines.current.scope = AttemptDeadline(self.timeout_seconds if seconds is None else seconds)
        try:
            yield deadlines.current.scope
        finally:
            deadlines.current.scope = previous

    def send(self, request: OutgoingRequest) -> HttpResponse:
        """Send, following up to MAX_REDIRECTS redirects one hop at a time, all within the
        attempt's deadline. Raises TransportError."""
        _policy_holder.policy = self.policy
        scope = getattr(deadlines.current, "scope", None) or AttemptDeadline(self.timeout_seconds)
        deadlines.current.deadline = scope.start()
        # Rare: a request with TLS options of its own gets connections of its own, kept for no other.
        route = (self._connections, self._ssl_context) if request.tls is None else (None, _ssl_context_for(request.tls))
        try:
            return self._follow(route, request, scope)
        finally:
            deadlines.current.deadline = None

    def _follow(self, route: Route, request: OutgoingRequest, scope: AttemptDeadline) -> HttpResponse:
        method, url = request.method.upper(), request.url
        headers, body = self._headers_and_body(request)
        started = time.monotonic()
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._send_once(route, method, url, headers, body, scope)
            location = response.headers.get("location")
            if response.status not in (301, 302, 303, 307, 308) or not location:
                # DEBUG: every attempt is recorded in the database; a line each costs a busy worker dearly.
                logger.debug(
                    "%s %s -> %s in %.0f ms",
                    method,
                    safe_location(request.url),
                    response.status,
                    (time.monotonic() - started) * 1000,
                )
                return response
            next_url = urljoin(url, location)
            keeps_body = response.status in (307, 308) or method in ("GET", "HEAD")
            if origin(next_url) != origin(url) and request.credentials_in_body and keeps_body:
                raise TransportError(
                    f"refused a {response.status} redirect to another origin: the request body carries credentials",
                    retryable=False,
                )
            if origin(next_url) != origin(url):
                # Credentials are for the origin they were configured for, never a redirect target;
                # once dropped they stay dropped, even if a later hop comes back.
                headers = HTTPHeaderDict({k: v for k, v in headers.items() if k.lower() in HEADERS_FOR_ANY_ORIGIN})
            if response.status in (301, 302, 303) and method not in ("GET", "HEAD"):
                method, body = "GET", None  # what browsers and Go's client do
                headers.discard("Content-Type")
            url = next_url
        raise TransportError(f"stopped after {MAX_REDIRECTS} redirects", retryable=False)

    def _headers_and_body(self, request: OutgoingRequest) -> tuple[HTTPHeaderDict, bytes | None]:
        headers = HTTPHeaderDict({"User-Agent": self.user_agent, **DEFAULT_HEADERS})
        for name, value in request.headers.items():
            headers[name] = value  # case-insensitive: an integration's own spelling replaces ours
        body = request.body
        if request.multipart is not None:
            body, headers["Content-Type"] = encode_multipart_formdata(request.multipart)
        if request.basic_auth is not None:
            user, password = request.basic_auth
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        return headers, body

    def _send_once(
        self, route: Route, method: str, url: str, headers: HTTPHeaderDict, body: bytes | None, scope: AttemptDeadline
    ) -> HttpResponse:
        try:
            parsed = _parse_url(url)
        except LocationValueError:
            raise TransportError(f"invalid URL for {safe_location(url)}", retryable=False) from None
        if parsed.scheme not in ALLOWED_SCHEMES:
            raise TransportError(f"unsupported URL scheme in {safe_location(url)}", retryable=False)
        if not parsed.host:
            raise TransportError(f"invalid URL for {safe_location(url)}", retryable=False)
        remaining = scope.start() - time.monotonic()
        if remaining <= 0:
            raise _timed_out_error(scope, url)  # an earlier request of this attempt used the time up
        port = parsed.port or DEFAULT_PORTS[parsed.scheme]
        host_header = parsed.host if parsed.port in (None, DEFAULT_PORTS[parsed.scheme]) else f"{parsed.host}:{port}"
        try:
            wire = request_bytes(method, parsed.request_uri, host_header, list(headers.items()), body)
        except InvalidHeader as exc:
            raise TransportError(str(exc), retryable=False) from None
        pool, ssl_context = route
        origin_key = (parsed.scheme, parsed.host, port)
        connection = pool.take(origin_key) if pool is not None else None
        try:
            if connection is None:
                connection = _connect(parsed.scheme, parsed.host, port, remaining, ssl_context)
            answer, reusable = connection.exchange(wire, head=method == "HEAD", limit=MAX_RESPONSE_BYTES)
        except Exception as exc:  # noqa: BLE001 - raised again, as the seam's error when the network's
            if connection is not None:
                connection.close()
            raise _transport_error(exc, url, scope) from None
        if reusable and pool is not None:
            pool.give_back(origin_key, connection)
        else:
            connection.close()
        return HttpResponse(status=answer.status, headers=answer.headers, body=answer.body, reason=answer.reason)


# Where a request's connections come from: the transport's pool with its TLS context, or (TLS
# options of the request's own) no pool and a context of its own.
Route = tuple[ConnectionPool | None, ssl.SSLContext]


def _connect(scheme: str, host: str, port: int, timeout: float, ssl_context: ssl.SSLContext) -> Connection:
    """A new connection through the outbound policy (and TLS, for https)."""
    host = host.strip("[]")  # an IPv6 literal connects without its URL brackets
    if scheme == "https":
        connection = GuardedHTTPSConnection(host, port, timeout=timeout, ssl_context=ssl_context)
    else:
        connection = GuardedHTTPConnection(host, port, timeout=timeout)
    try:
        connection.connect()
    except BaseException:
        connection.close()
        raise
    return Connection(connection)


def _timed_out_error(scope: AttemptDeadline, url: str) -> TransportError:
    return TransportError(f"timed out after {scope.seconds:g}s waiting for {safe_location(url)}", retryable=True)


def _transport_error(exc: Exception, url: str, scope: AttemptDeadline) -> Exception:
    """The seam's error for what went wrong sending to `url`; none names the URL's path."""
    where = safe_location(url)
    if isinstance(exc, OutboundAddressDenied):
        return TransportError(str(exc), retryable=False)
    if isinstance(exc, NewConnectionError):  # first: urllib3 derives it from its connect timeout
        return TransportError(f"cannot connect to {where}: {_root_cause(exc)}", retryable=True)
    if isinstance(exc, ConnectTimeoutError | TimeoutError | Urllib3Timeout) or _timed_out(exc):
        return _timed_out_error(scope, url)
    if isinstance(exc, ssl.SSLError | ssl.CertificateError | SSLError):
        return TransportError(f"TLS verification failed for {where}", retryable=False)
    if isinstance(exc, ProtocolError | ConnectionError):
        return TransportError(f"cannot connect to {where}: {_root_cause(exc)}", retryable=True)
    if isinstance(exc, HTTPError | OSError):
        return TransportError(f"request to {where} failed: {type(exc).__name__}", retryable=True)
    return exc  # not the network's doing: a bug, raised as it is


def _timed_out(exc: BaseException) -> bool:
    """Whether a timeout is behind this error, however urllib3 wrapped it."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if id(current) in seen or isinstance(current, NewConnectionError):
            continue  # urllib3 derives NewConnectionError (a refused connection) from its timeout
        if isinstance(current, TimeoutError | Urllib3Timeout):
            return True
        seen.add(id(current))
        pending += [e for e in (current.__cause__, current.__context__, *current.args) if isinstance(e, BaseException)]
    return False


def _root_cause(exc: BaseException) -> str:
    """The innermost reason, without urllib3's repr of the pool (which names the URL path)."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    if isinstance(exc, OutboundAddressDenied):
        return str(exc)
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(": ", 1)[-1] if "Failed to establish" in text else text
