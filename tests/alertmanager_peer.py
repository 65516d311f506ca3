"""A real Prometheus Alertmanager (Debian's package) on a loopback port, for peer tests."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ALERTMANAGER_BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
BLACKHOLE_CONFIG = {"route": {"receiver": "blackhole"}, "receivers": [{"name": "blackhole"}]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def real_alertmanager(config: dict[str, Any], folder: Path, ready_timeout_seconds: float = 30.0) -> Iterator[str]:
    """Start Alertmanager with `config`, clustering off, its data and log in `folder`; yield its URL."""
    if ALERTMANAGER_BINARY is None:
        pytest.skip("prometheus-alertmanager is not installed (`make test` installs it with apt-get)")
    config_file = folder / "alertmanager.yml"
    config_file.write_text(json.dumps(config))  # JSON is YAML
    log_file = folder / "alertmanager.log"
    port = _free_port()
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [
                ALERTMANAGER_BINARY,
                f"--config.file={config_file}",
                f"--storage.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",  # one peer, no gossip
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(url, process, log_file, ready_timeout_seconds)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(url: str, process: subprocess.Popen, log_file: Path, timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"Alertmanager did not become ready:\n{log_file.read_text(errors='replace')}")
        time.sleep(0.1)


def listed_alerts(url: str, query: str = "") -> list[dict]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts{query}", timeout=5) as answer:
        return json.loads(answer.read())


def post_alerts(url: str, alerts: list[dict]) -> None:
    request = urllib.request.Request(
        f"{url}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200
