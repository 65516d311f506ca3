"""The web worker class (project/web_worker.py): a thread serves a busy keep-alive connection's next
requests itself, and still answers every request, read-ahead included, without starving another
connection or dropping one that pauses."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from project.management.commands.run_all import WEB_WORKER_CLASS
from project.web_worker import REQUESTS_IN_A_ROW
from tests.e2e.conftest import ROOT, free_port, wait_for_port


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    """gunicorn with the worker class `make run` uses, one process of one thread."""
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "tests.project.echo_app:app", "--bind", f"127.0.0.1:{port}"]
    argv += ["--worker-class", WEB_WORKER_CLASS, "--threads", "1", "--workers", "1", "--keep-alive", "5"]
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(15)


def request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode()


class Client:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def answer(self) -> bytes:
        """The next answer's body (Content-Length framed)."""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._read()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200"), head
        lengths = [line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
        length = int(lengths[0])
        while len(self.buffer) < length:
            self.buffer += self._read()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return body

    def _read(self) -> bytes:
        chunk = self.sock.recv(65536)
        assert chunk, "the server closed the connection"
        return chunk

    def get(self, path: str) -> bytes:
        self.sock.sendall(request(path))
        return self.answer()

    def close(self) -> None:
        self.sock.close()


def test_one_connection_is_answered_request_after_request(port):
    client = Client(port)
    assert [client.get(f"/{number}") for number in range(3 * REQUESTS_IN_A_ROW)] == [
        f"/{number}".encode() for number in range(3 * REQUESTS_IN_A_ROW)
    ]
    client.close()


def test_requests_sent_together_are_each_answered(port):
    client = Client(port)
    client.sock.sendall(request("/a") + request("/b") + request("/c"))
    assert [client.answer() for _ in range(3)] == [b"/a", b"/b", b"/c"]
    client.close()


def test_a_connection_that_pauses_is_answered_after_the_pause(port):
    client = Client(port)
    assert client.get("/before") == b"/before"
    time.sleep(0.2)  # far past the thread's wait: the connection is back in the poller
    assert client.get("/after") == b"/after"
    client.close()


def test_a_busy_connection_does_not_keep_the_only_thread_from_another(port):
    busy, stop = Client(port), threading.Event()
    answered = []

    def keep_posting() -> None:
        while not stop.is_set():
            answered.append(busy.get("/busy"))

    poster = threading.Thread(target=keep_posting)
    poster.start()
    try:
        time.sleep(0.1)
        other = Client(port)
        started = time.monotonic()
        assert other.get("/other") == b"/other"
        assert time.monotonic() - started < 2
        other.close()
    finally:
        stop.set()
        poster.join(10)
        busy.close()
    assert answered and set(answered) == {b"/busy"}
