"""The one HTTP seam every integration sends through.

It owns: the attempt's one deadline (connect, send, headers and body together, enforced on every
socket operation, so a receiver dripping its answer cannot stretch it), the outbound network
policy (checked on every new connection, so on every redirect hop and against DNS answers, not
just the URL's host name), redirects followed explicitly (credentials never follow one to another
origin), the user agent, keep-alive connections per destination shared by the process's sender
threads, TLS options, and logs and errors that never carry a URL's path or query (webhook URLs
are secrets). It speaks urllib3 directly: requests' sessions cost as much CPU again per request
and add nothing this seam needs.
"""

from __future__ import annotations

import base64
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

from urllib3 import HTTPHeaderDict, PoolManager, Timeout, encode_multipart_formdata
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    LocationValueError,
    NewConnectionError,
    ProtocolError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.response import BaseHTTPResponse
from urllib3.util import connection as urllib3_connection

from integrations import deadlines
from integrations.base import HttpResponse, OutgoingRequest, TlsOptions, TransportError
from integrations.deadlines import AttemptDeadline, default_ssl_context, with_deadline

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 64 * 1024
MAX_REDIRECTS = 10
ALLOWED_SCHEMES = ("http", "https")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


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


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedPoolManager(PoolManager):
    """Connection pools per destination whose every new connection goes through the outbound policy."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, **kwargs):
        super().__init__(ssl_context=ssl_context or default_ssl_context(), **kwargs)
        self.pool_classes_by_scheme = {"http": GuardedHTTPConnectionPool, "https": GuardedHTTPSConnectionPool}


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
        self._pools = GuardedPoolManager(num_pools=DESTINATIONS_KEPT, maxsize=connections_per_destination)

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
        pools = self._pools if request.tls is None else GuardedPoolManager(ssl_context=_ssl_context_for(request.tls))
        try:
            return self._follow(pools, request, scope)
        finally:
            deadlines.current.deadline = None
            if pools is not self._pools:
                pools.clear()  # rare: no pooling across TLS configurations

    def _follow(self, pools: PoolManager, request: OutgoingRequest, scope: AttemptDeadline) -> HttpResponse:
        method, url = request.method.upper(), request.url
        headers, body = self._headers_and_body(request)
        started = time.monotonic()
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._send_once(pools, method, url, headers, body, scope)
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
        self, pools: PoolManager, method: str, url: str, headers, body, scope: AttemptDeadline
    ) -> HttpResponse:
        if urlsplit(url).scheme not in ALLOWED_SCHEMES:
            raise TransportError(f"unsupported URL scheme in {safe_location(url)}", retryable=False)
        where = safe_location(url)
        timed_out = TransportError(f"timed out after {scope.seconds:g}s waiting for {where}", retryable=True)
        remaining = scope.start() - time.monotonic()
        if remaining <= 0:
            raise timed_out  # an earlier request of this attempt used the time up
        try:
            raw = pools.urlopen(
                method,
                url,
                body=body,
                headers=headers,
                timeout=Timeout(connect=remaining, read=remaining),
                retries=False,
                redirect=False,
                preload_content=False,
            )
        except OutboundAddressDenied as exc:
            raise TransportError(str(exc), retryable=False) from None
        except SSLError:
            raise TransportError(f"TLS verification failed for {where}", retryable=False) from None
        except (NewConnectionError, ProtocolError) as exc:
            if _timed_out(exc):  # the deadline came while sending: urllib3 calls that an aborted connection
                raise timed_out from None
            raise TransportError(f"cannot connect to {where}: {_root_cause(exc)}", retryable=True) from None
        except (Urllib3Timeout, TimeoutError):
            raise timed_out from None
        except (LocationValueError, ValueError):
            raise TransportError(f"invalid URL for {where}", retryable=False) from None
        except (HTTPError, OSError) as exc:
            raise TransportError(f"request to {where} failed: {type(exc).__name__}", retryable=True) from None
        try:
            content = _read_limited(raw)
        except (Urllib3Timeout, TimeoutError):
            raise timed_out from None
        return HttpResponse(
            status=raw.status,
            headers={name.lower(): value for name, value in raw.headers.items()},
            body=content,
            reason=raw.reason or "",
        )


def _read_limited(raw: BaseHTTPResponse) -> bytes:
    """The first MAX_RESPONSE_BYTES of the body; the connection goes back to its pool when read to the end.

    A body still arriving at the deadline raises the timeout (the attempt's time is up, as in
    Go's client); any other broken body reads as empty, its status still worth recording.
    """
    try:
        content = raw.read(MAX_RESPONSE_BYTES, decode_content=True) or b""
        if raw.read(1, decode_content=True):
            raw.close()  # more than we keep: drop the connection rather than read the rest
    except Exception as exc:  # noqa: BLE001 - a broken body still has a status worth recording
        raw.close()
        if _timed_out(exc):
            raise TimeoutError("the body did not arrive by the deadline") from None
        content = b""
    raw.release_conn()
    return content


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
