"""The one HTTP seam every integration sends through.

It owns: timeouts, the outbound network policy (checked on every new connection, so on
every redirect hop and against DNS answers, not just the URL's host name), redirects
followed explicitly, the user agent, connection reuse per thread, TLS options, and logs
and errors that never carry a URL's path or query (webhook URLs are secrets).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from integrations.base import HttpResponse, OutgoingRequest, TlsOptions, TransportError

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
            return urllib3_connection.create_connection(
                (address, conn.port),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
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


class GuardedAdapter(HTTPAdapter):
    """An adapter whose every new connection goes through the outbound policy."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, **kwargs):
        self._ssl_context = ssl_context
        super().__init__(**kwargs)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        if self._ssl_context is not None:
            pool_kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }


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
    context = ssl.create_default_context()
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


class HttpTransport:
    """Sends OutgoingRequests. One per process; sessions are per thread for connection reuse."""

    def __init__(self, policy: OutboundPolicy | None, user_agent: str, timeout_seconds: float):
        self.policy = policy
        self.user_agent = user_agent
        self.timeout_seconds = timeout_seconds
        self._local = threading.local()

    def _session(self, tls: TlsOptions | None) -> requests.Session:
        if tls is not None:
            return self._new_session(_ssl_context_for(tls))  # rare: no pooling across configs
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self._new_session(None)
        return session

    @staticmethod
    def _new_session(ssl_context: ssl.SSLContext | None) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # a proxy from the environment would bypass the policy
        adapter = GuardedAdapter(ssl_context=ssl_context, pool_connections=16, pool_maxsize=16, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def send(self, request: OutgoingRequest) -> HttpResponse:
        """Send, following up to MAX_REDIRECTS redirects one hop at a time. Raises TransportError."""
        _policy_holder.policy = self.policy
        session = self._session(request.tls)
        method, url, body = request.method.upper(), request.url, request.body
        headers = {"User-Agent": self.user_agent, **request.headers}
        started = time.monotonic()
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._send_once(session, request, method, url, headers, body)
            location = response.headers.get("location")
            if response.status not in (301, 302, 303, 307, 308) or not location:
                logger.info(
                    "%s %s -> %s in %.0f ms",
                    method,
                    safe_location(request.url),
                    response.status,
                    (time.monotonic() - started) * 1000,
                )
                return response
            next_url = urljoin(url, location)
            if urlsplit(next_url).hostname != urlsplit(url).hostname:
                # Credentials are for the host they were configured for, never a redirect target.
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if response.status in (301, 302, 303) and method not in ("GET", "HEAD"):
                method, body = "GET", None  # what browsers and Go's client do
            url = next_url
        raise TransportError(f"stopped after {MAX_REDIRECTS} redirects", retryable=False)

    def _send_once(self, session, request, method, url, headers, body) -> HttpResponse:
        if urlsplit(url).scheme not in ALLOWED_SCHEMES:
            raise TransportError(f"unsupported URL scheme in {safe_location(url)}", retryable=False)
        files = None
        data = body
        if request.multipart is not None:
            files = [(name, value if isinstance(value, tuple) else (None, value)) for name, value in request.multipart]
            data = None
        where = safe_location(url)
        try:
            raw = session.request(
                method,
                url,
                headers=headers,
                data=data,
                files=files,
                auth=request.basic_auth,
                timeout=self.timeout_seconds,
                allow_redirects=False,
                stream=True,
            )
        except OutboundAddressDenied as exc:
            raise TransportError(str(exc), retryable=False) from None
        except requests.exceptions.SSLError:
            raise TransportError(f"TLS verification failed for {where}", retryable=False) from None
        except requests.exceptions.Timeout:
            raise TransportError(
                f"timed out after {self.timeout_seconds:g}s waiting for {where}", retryable=True
            ) from None
        except requests.exceptions.ConnectionError as exc:
            raise TransportError(f"cannot connect to {where}: {_root_cause(exc)}", retryable=True) from None
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, ValueError):
            raise TransportError(f"invalid URL for {where}", retryable=False) from None
        except requests.exceptions.RequestException as exc:
            raise TransportError(f"request to {where} failed: {type(exc).__name__}", retryable=True) from None
        try:
            content = raw.raw.read(MAX_RESPONSE_BYTES, decode_content=True) or b""
        except Exception:  # noqa: BLE001 - a broken body still has a status worth recording
            content = b""
        finally:
            raw.close()
        return HttpResponse(
            status=raw.status_code,
            headers={k.lower(): v for k, v in raw.headers.items()},
            body=content,
            reason=raw.reason or "",
        )


def _root_cause(exc: BaseException) -> str:
    """The innermost reason, without urllib3's repr of the pool (which names the URL path)."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    if isinstance(exc, OutboundAddressDenied):
        return str(exc)
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(": ", 1)[-1] if "Failed to establish" in text else text
