"""The gunicorn worker class `make run` serves with: gthread, keeping a busy keep-alive connection on
the thread that answered it.

gthread hands every answered keep-alive connection back to its main thread, which watches it in
its poller and, when the next request arrives, hands it to a thread again: a pipe write, two
poller changes and two thread switches per request, a third of the web's CPU per intake request
under `make bench`'s load. Here the thread that answered waits briefly for the connection's next
request and serves it itself; a client that pauses goes back to the poller as before.
"""

from __future__ import annotations

import select

from gunicorn.workers.gthread import ThreadWorker

# How long a thread that answered a keep-alive request waits for the same client's next one.
NEXT_REQUEST_WAIT_MS = 2
# Requests one thread serves on one connection in a row before handing it back to the poller: a
# connection waiting for a thread waits for at most this many requests of another.
REQUESTS_IN_A_ROW = 8


class KeepAliveThreadWorker(ThreadWorker):
    def handle(self, conn):
        keepalive = super().handle(conn)
        served = 1
        # HTTP/1 only: gunicorn serves an HTTP/2 connection whole in one handle() call.
        while (
            keepalive is True
            and not conn.is_http2
            and self.alive
            and served < REQUESTS_IN_A_ROW
            and _next_request_arrives(conn)
        ):
            keepalive = super().handle(conn)
            served += 1
        return keepalive


def _next_request_arrives(conn) -> bool:
    """Whether the connection's next request is buffered already or arrives within NEXT_REQUEST_WAIT_MS."""
    if conn.parser.unreader.buf.getvalue():  # the last request's read took part of the next one
        return True
    pending = getattr(conn.sock, "pending", None)  # TLS: bytes already decrypted
    if pending is not None and pending():
        return True
    poller = select.poll()
    poller.register(conn.sock, select.POLLIN)
    return bool(poller.poll(NEXT_REQUEST_WAIT_MS))
