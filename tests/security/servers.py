"""Real processes for the security tests: gunicorn serving project.wsgi on the test database, and a
TCP proxy in front of PostgreSQL that a test can cut and restore, as a database restart would."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from project.management.commands.run_all import WEB_WORKER_CLASS
from tests.e2e.conftest import ROOT, free_port, wait_for_port


def database_url(host: str | None = None, port: int | str | None = None) -> str:
    """The test database's URL, optionally reached through another host and port."""
    database = settings.DATABASES["default"]
    host, port = host or database["HOST"], port or database["PORT"]
    return f"postgres://{database['USER']}@{host}:{port}/{database['NAME']}"


@dataclass
class Gunicorn:
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def gunicorn(log_path: Path, **env: str) -> Iterator[Gunicorn]:
    """`gunicorn project.wsgi`, as `make run` starts it, with one worker and the given variables."""
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "project.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    argv += ["--worker-class", WEB_WORKER_CLASS, "--threads", "2"]  # the worker `make run` uses
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url(), **env}
    with open(log_path, "w") as log:
        process = subprocess.Popen([*argv, "--workers", "1"], env=full_env, cwd=ROOT, stdout=log, stderr=log)
        try:
            wait_for_port(port)
            yield Gunicorn(port, log_path)
        finally:
            process.terminate()
            process.wait(15)


class TcpProxy:
    """Forwards a loopback port to another; cut() drops every connection and refuses new ones."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            sockets, self._open = [self._listener, *self._open], []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
