"""Processes the bench starts, stopped by pid even on failure, their peak RSS and CPU time.

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

CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
# A process, named so that a reused pid is another one: (pid, start time).
ProcessKey = tuple[int, int]
CpuSnapshot = dict[ProcessKey, tuple[str, float]]  # role and CPU seconds so far, per process


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 on (after the command name, which may hold spaces)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat: with the pid, it names one process even after pid reuse."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time the process has used so far (fields 14 and 15)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_SECOND if fields else None


def postgresql_pids() -> list[int]:
    """This machine's PostgreSQL server and backends (the bench's database is local)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
    return pids


def cpu_used(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """CPU seconds each role used between two ProcessBook.cpu_snapshot()s. A process that exited
    in between is missing from the second and counts nothing: keep the span short and the
    processes long-lived (persistent database connections)."""
    used: dict[str, float] = {}
    for key, (role, seconds) in after.items():
        used[role] = used.get(role, 0.0) + seconds - before.get(key, (role, 0.0))[1]
    return used


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
    """The process's children, from the kernel's list per thread. Reading all of /proc for every
    process of the tree cost the bench ~30 ms of CPU in one burst a second, on the two cores that
    also run what it measures."""
    found: list[int] = []
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    if threads and not (threads[0] / "children").exists():
        return _children_by_walking_proc(pid)  # a kernel without CONFIG_PROC_CHILDREN
    for thread in threads:
        with contextlib.suppress(OSError, ValueError):
            found.extend(int(child) for child in (thread / "children").read_text().split())
    return found


def _children_by_walking_proc(pid: int) -> list[int]:
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

    def cpu_snapshot(self) -> CpuSnapshot:
        """Each live process's role and CPU seconds so far; PostgreSQL's processes as "postgresql"."""
        with contextlib.suppress(Exception):  # a process vanishing mid-walk is normal
            self.sample()
        with self._lock:
            services = list(self.services)
        roles = {(pid, started): role for service in services for pid, (started, role) in service.known.items()}
        roles.update({(pid, start_time(pid)): "postgresql" for pid in postgresql_pids()})
        snapshot = {}
        for (pid, started), role in roles.items():
            seconds = cpu_seconds(pid)
            if started is not None and seconds is not None and start_time(pid) == started:
                snapshot[(pid, started)] = (role, seconds)
        return snapshot

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
