"""Processes the bench starts, stopped by pid even on failure, and their peak RSS.

Every long-lived child gets a session of its own, so a Ctrl-C at the terminal reaches the driver
only and the driver stops each one in order. `run_all` puts its own children in their own
process groups too, so their pids are remembered as they appear and killed one by one if the
graceful stop does not take them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat: with the pid, it names one process even after pid reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def peak_rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


@dataclass
class Service:
    """A started process: `role` names it in the RSS table; its descendants are tracked too."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    classify: Callable[[int, list[str], int], str] | None = None  # (pid, argv, depth) -> role
    known: dict[int, tuple[int | None, str]] = field(default_factory=dict)  # pid -> (start, role)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None


class ProcessBook:
    """Starts services, samples the peak RSS of each and of their descendants, stops them all."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.services: list[Service] = []
        self.peaks: dict[str, int] = {}  # role -> max VmHWM seen, kB
        self.members: dict[str, set[int]] = {}  # role -> pids seen in it
        self._lock = threading.Lock()
        self._sampling = threading.Event()
        self.hurry = threading.Event()  # set by a signal during clean-up: SIGKILL, no more waiting
        self._sampler: threading.Thread | None = None

    def start(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        classify: Callable[[int, list[str], int], str] | None = None,
    ) -> Service:
        log_path = self.folder / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        service = Service(name, process, log_path, classify)
        service.known[process.pid] = (start_time(process.pid), name)
        with self._lock:
            self.services.append(service)
        return service

    def sample(self) -> None:
        """Note each process's VmHWM (a process that exits early keeps its last figure)."""
        with self._lock:
            services = list(self.services)
        for service in services:
            if not service.alive():
                continue
            self._note(service, service.pid, service.name)
            frontier = [(service.pid, 0)]
            while frontier:  # the whole tree below the service, as it is now
                parent, depth = frontier.pop()
                for child in children_of(parent):
                    argv = command_line(child)
                    role = service.classify(child, argv, depth + 1) if service.classify else f"{service.name} child"
                    if child not in service.known:
                        service.known[child] = (start_time(child), role)
                    self._note(service, child, role)
                    frontier.append((child, depth + 1))

    def _note(self, service: Service, pid: int, role: str) -> None:
        peak = peak_rss_kb(pid)
        if peak is not None:
            with self._lock:
                self.peaks[role] = max(self.peaks.get(role, 0), peak)
                self.members.setdefault(role, set()).add(pid)

    def start_sampling(self, interval_seconds: float = 1.0) -> None:
        def loop() -> None:
            while not self._sampling.wait(interval_seconds):
                with contextlib.suppress(Exception):  # a process vanishing mid-read is normal
                    self.sample()

        self._sampler = threading.Thread(target=loop, daemon=True)
        self._sampler.start()

    def stop(self, service: Service, timeout_seconds: float = 40.0) -> None:
        """SIGTERM, wait, then SIGKILL it and every descendant we saw that still runs."""
        with contextlib.suppress(Exception):
            self.sample()
        if service.alive():
            with contextlib.suppress(ProcessLookupError):
                service.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout_seconds
            while service.alive() and time.monotonic() < deadline and not self.hurry.is_set():
                time.sleep(0.05)
        if service.alive():
            service.process.kill()
        service.process.wait()
        for pid, (started, _) in service.known.items():
            if pid != service.pid and started is not None and start_time(pid) == started:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        with self._lock:
            if service in self.services:
                self.services.remove(service)

    def stop_all(self) -> None:
        self._sampling.set()
        # A second Ctrl-C (or SIGTERM) must not abandon the clean-up half-way: it only hurries it.
        previous = {signum: signal.signal(signum, self._hurry) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            for service in reversed(list(self.services)):
                with contextlib.suppress(Exception):
                    self.stop(service)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _hurry(self, signum: int, frame: object) -> None:
        self.hurry.set()


def wait_until(check: Callable[[], bool], service: Service, timeout_seconds: float, what: str) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not check():
        if not service.alive():
            raise RuntimeError(f"{service.name} exited while {what}; see {service.log}:\n{tail(service.log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{service.name}: timed out {what}; see {service.log}:\n{tail(service.log)}")
        time.sleep(0.1)


def check_alive(service: Service) -> None:
    """Raise, with the end of its log, when `service` has exited (or was stopped from outside)."""
    if not service.alive():
        status = service.process.returncode
        raise RuntimeError(f"{service.name} exited (status {status}); see {service.log}:\n{tail(service.log, 8)}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - loopback URLs we built
            return 200 <= answer.status < 300
    except OSError:
        return False


def tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def log_contains(path: Path, text: str) -> bool:
    with contextlib.suppress(OSError):
        return text in path.read_text(errors="replace")
    return False
