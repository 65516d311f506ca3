"""The one deadline of a delivery attempt, kept by every socket operation of its requests.

A socket timeout bounds one wait only: a receiver sending a byte a second resets it forever, so
an attempt with a 2 s timeout could run for minutes, outlive its lease and be sent twice. Here
each read, write and TLS handshake first shrinks the socket's timeout to what is left of the
deadline of the request under way. The HTTP seam (integrations.http) sets that deadline.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator

# The current thread's attempt: `.scope` (an AttemptDeadline, set for a whole delivery attempt)
# and `.deadline` (the monotonic time the request under way must end by, read by its socket).
current = threading.local()


class AttemptDeadline:
    """One deadline for every request of a delivery attempt (redirect hops, HA members, tokens).

    It starts with the attempt's first request: rendering before it has its own budget.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends_at: float | None = None

    def start(self) -> float:
        if self.ends_at is None:
            self.ends_at = time.monotonic() + self.seconds
        return self.ends_at


class _DeadlineIO:
    """Socket I/O that never waits past the current request's deadline."""

    __slots__ = ()

    def _shrink_timeout(self) -> None:
        deadline = getattr(current, "deadline", None)
        if deadline is None:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the attempt's deadline passed")
        self.settimeout(remaining)

    def recv(self, *args, **kwargs):
        self._shrink_timeout()
        return super().recv(*args, **kwargs)

    def recv_into(self, *args, **kwargs):
        self._shrink_timeout()
        return super().recv_into(*args, **kwargs)

    def send(self, *args, **kwargs):
        self._shrink_timeout()
        return super().send(*args, **kwargs)

    def sendall(self, *args, **kwargs):
        self._shrink_timeout()  # one timeout covers the whole sendall (Python 3.5+)
        return super().sendall(*args, **kwargs)


class DeadlineSocket(_DeadlineIO, socket.socket):
    __slots__ = ()


class DeadlineSSLSocket(_DeadlineIO, ssl.SSLSocket):
    def do_handshake(self, *args, **kwargs):
        self._shrink_timeout()  # the handshake's waits share one timeout (CPython keeps a deadline)
        return super().do_handshake(*args, **kwargs)


def with_deadline(sock: socket.socket) -> DeadlineSocket:
    """The same connected socket, its I/O bounded by the current request's deadline."""
    timeout = sock.gettimeout()
    bounded = DeadlineSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    bounded.settimeout(timeout)
    return bounded


def default_ssl_context() -> ssl.SSLContext:
    """The system's trust store and checks; TLS sockets whose I/O keeps to the deadline."""
    context = ssl.create_default_context()
    context.sslsocket_class = DeadlineSSLSocket
    return context


@contextlib.contextmanager
def attempt_deadline(seconds: float) -> Iterator[None]:
    """Every DeadlineSocket this thread uses meanwhile ends its I/O `seconds` from now."""
    previous = getattr(current, "deadline", None)
    current.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        current.deadline = previous


def deadline_passed() -> bool:
    deadline = getattr(current, "deadline", None)
    return deadline is not None and time.monotonic() >= deadline
