"""Real parts for end-to-end tests: a private Redis, an SMTP server, a Celery worker and beat.

The in-process Django (test client, on_commit enqueue) and the worker subprocess share the
test database and a private redis-server, which a test may stop and start again.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout_seconds: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


class PrivateRedis:
    """A redis-server of our own, so a test can take it down without touching the machine's."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (Debian package redis-server)")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        """Shut down as an operator would (SIGTERM: clients see their connections closed)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        """Die as in a crash or an OOM kill (SIGKILL: no goodbye to the clients)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None


class SmtpSink:
    """aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        with self._arrived:
            self.messages.append(envelope)
            self._arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout_seconds: float = 15.0) -> list:
        deadline = time.monotonic() + timeout_seconds
        with self._arrived:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} emails, got {len(self.messages)}")
                self._arrived.wait(remaining)
            return list(self.messages)


class ManagedProcess:
    """A subprocess whose output goes to a log file that tests can read."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / f"{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout_seconds: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.process.poll() is not None:
                raise AssertionError(f"process exited early:\n{self.log()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not seen in the log:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory):
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    sink.port = controller.port
    yield sink
    controller.stop()


def _point_this_process_at(redis_url: str, smtp_port: int) -> None:
    """In-process Django publishes to the private Redis and mails the SMTP sink."""
    from contactpoints.redis_client import get_redis
    from project.celery import app

    settings.REDIS_URL = settings.CELERY_BROKER_URL = redis_url
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_port
    app.conf.broker_url = redis_url
    get_redis.cache_clear()


@pytest.fixture(scope="session")
def provider_stand_in():
    """One loopback receiver standing in for the providers with fixed API URLs (contract §2)."""
    from tests.receivers import Receiver

    server = Receiver()
    yield server
    server.close()


FIXED_API_URLS = ("TELEGRAM", "PUSHOVER", "LINE", "THREEMA")
CELERY = [sys.executable, "-m", "celery", "-A", "project"]
WORKER_ARGS = ["worker", "--pool", "threads", "--concurrency", "4", "-Q", "deliveries", "-l", "info",
               "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip


def worker_environment(redis_url: str, **variables: str) -> dict[str, str]:
    """What a worker or beat on the test database and `redis_url` needs; call after django_db_setup."""
    database = settings.DATABASES["default"]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "REDIS_URL": redis_url,
        "DELIVERY_SWEEP_INTERVAL_SECONDS": "1",
        "DELIVERY_WAKE_LINGER_SECONDS": "0.5",  # as in production (tests/settings.py turns it off in-process)
        "DELIVERY_HANDOFF": "1",  # as in production (tests/settings.py turns it off in-process)
        "CONN_MAX_AGE": "0",
        **variables,
    }


@pytest.fixture(autouse=True)
def hand_offs(settings):
    """This process's intake hands new deliveries to the worker's listener, as in production."""
    settings.DELIVERY_HANDOFF = True


@pytest.fixture
def wakes_only(settings):
    """This process's intake queues every delivery and rings: for the tests of lost wakes."""
    settings.DELIVERY_HANDOFF = False


def start_worker(name: str, env: dict[str, str]) -> ManagedProcess:
    """A real worker (thread pool, as in production); its log is tests/artifacts/<name>.log."""
    return ManagedProcess(name, [*CELERY, *WORKER_ARGS], env)


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, private_redis, smtp_sink, provider_stand_in):
    """A real worker and beat, on the test database."""
    env = worker_environment(
        private_redis.url,
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_sink.port}",
        **{f"{name}_API_URL": f"{provider_stand_in.url}/{name.lower()}" for name in FIXED_API_URLS},
    )
    _point_this_process_at(private_redis.url, smtp_sink.port)
    worker = start_worker("celery-worker", env)
    beat_schedule = ARTIFACTS / "celerybeat-schedule"
    beat = ManagedProcess("celery-beat", [*CELERY, "beat", "-l", "info", "--schedule", str(beat_schedule)], env)
    try:
        worker.wait_for_log("ready.")
        yield worker
    finally:
        beat.stop()
        worker.stop()
