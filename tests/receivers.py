"""Real HTTP receivers on loopback that record every request and answer as scripted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class CapturedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    received_at: float

    def json(self):
        import json

        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0  # how long the destination takes to answer


class Receiver:
    """A threaded HTTP server on 127.0.0.1. Script answers with `answer_with`, or decide each one
    with `respond` (called with each request, in arrival order); read `requests`."""

    def __init__(self, respond: Callable[[CapturedRequest], Answer] | None = None) -> None:
        self.respond = respond
        self.requests: list[CapturedRequest] = []
        self._script: list[Answer] = []
        self.default = Answer(200, b"ok", {"Content-Type": "text/plain"})
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the second waits for a
            # delayed ACK (40 ms) and every answer would look slow.
            disable_nagle_algorithm = True

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                captured = CapturedRequest(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.monotonic(),
                )
                with receiver._lock:
                    if receiver.respond is not None:
                        answer = receiver.respond(captured)
                    else:
                        answer = receiver._script.pop(0) if receiver._script else receiver.default
                    receiver.requests.append(captured)
                    receiver._arrived.notify_all()
                time.sleep(answer.delay_seconds)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_POST = do_PUT = do_GET = do_DELETE = _handle

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A short poll interval makes close() quick; every test closes its receivers.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def answer_with(self, *answers: Answer) -> None:
        """The next requests get these answers in order, then the default one."""
        with self._lock:
            self._script.extend(answers)

    def wait_for(self, count: int = 1, timeout_seconds: float = 10.0) -> list[CapturedRequest]:
        """Block until at least `count` requests arrived; fail the test if they don't."""
        deadline = time.monotonic() + timeout_seconds
        with self._lock:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
                self._arrived.wait(remaining)
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
