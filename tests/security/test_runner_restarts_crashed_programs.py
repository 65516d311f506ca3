"""`make run`'s runner restarts a program that died, after a growing pause, and keeps the others.

Finding 13: a worker killed by a Redis outage used to stop web and beat too. Now only a crash
loop (too many exits within the window) stops everything. Plain `sh` children stand in for
gunicorn and Celery, so the runner's own behaviour is what is measured.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from collections.abc import Callable

import pytest

from project.supervisor import Child, RestartPolicy, Supervisor

PROGRAMS = ("web", "worker", "beat")
# Each program prints its pid when it starts, so a restart shows as a new line with a new pid.
RUNNING = 'echo "up $$"; exec sleep 30'


class TimedOutput:
    """The runner's output, each line with the moment it was written."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            self.lines.extend((time.monotonic(), line) for line in text.splitlines())

    def flush(self) -> None:
        pass

    def text(self) -> str:
        with self._lock:
            return "\n".join(line for _, line in self.lines)

    def moments(self, prefix: str) -> list[float]:
        with self._lock:
            return [moment for moment, line in self.lines if line.startswith(prefix)]

    def pids(self, name: str) -> list[int]:
        with self._lock:
            return [int(line.split()[-1]) for _, line in self.lines if line.startswith(f"{name:<7}| up ")]


def wait_for(condition: Callable[[], bool], timeout_seconds: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def run_in_background(action: Callable[[], None]) -> list[BaseException]:
    """Run `action` beside supervisor.run() (which must own the main thread for signals); keep its failure."""
    failures: list[BaseException] = []

    def guarded() -> None:
        try:
            action()
        except BaseException as exc:  # reported by the test, after run() returns
            failures.append(exc)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # whatever happened, end run()

    threading.Thread(target=guarded, daemon=True).start()
    return failures


def start_programs(supervisor: Supervisor, scripts: dict[str, str]) -> dict[str, Child]:
    return {name: supervisor.start(Child(name, ["sh", "-c", script])) for name, script in scripts.items()}


@pytest.mark.parametrize(
    ("killed", "how", "exit_text"),
    [
        ("worker", signal.SIGKILL, "worker exited (killed by SIGKILL)"),
        ("beat", signal.SIGKILL, "beat exited (killed by SIGKILL)"),
        ("web", signal.SIGKILL, "web exited (killed by SIGKILL)"),
        ("worker", signal.SIGTERM, "worker exited (killed by SIGTERM)"),
    ],
)
def test_a_killed_program_is_restarted_after_a_pause_and_the_others_keep_running(
    killed: str, how: signal.Signals, exit_text: str
) -> None:
    out = TimedOutput()
    policy = RestartPolicy(first_pause_seconds=0.5, crash_loop_exits=3)
    supervisor = Supervisor(stop_timeout_seconds=5, poll_seconds=0.02, out=out, restart_policy=policy)

    def kill_once_and_wait_for_the_restart() -> None:
        wait_for(lambda: all(out.pids(name) for name in PROGRAMS))
        os.kill(out.pids(killed)[0], how)
        wait_for(lambda: len(out.pids(killed)) == 2)

    with supervisor:
        children = start_programs(supervisor, dict.fromkeys(PROGRAMS, RUNNING))
        failures = run_in_background(kill_once_and_wait_for_the_restart)
        assert supervisor.run() == 0  # it was the SIGTERM at the end that stopped it
    assert not failures, failures

    first, second = out.pids(killed)
    assert first != second
    assert f"{exit_text}; restarting it in 0.5 s" in out.text()
    assert f"{killed} restarted (pid {second})." in out.text()
    died, restarted = out.moments(f"run    | {killed} exited")[0], out.moments(f"run    | {killed} restarted")[0]
    assert restarted - died >= 0.5
    for name in set(PROGRAMS) - {killed}:
        assert len(out.pids(name)) == 1, f"{name} was restarted too"
    # Every process, the restarted one included, was still running when the final SIGTERM came.
    assert all(child.process.returncode == -signal.SIGTERM for child in children.values())


def test_a_crash_loop_stops_everything_after_pauses_that_double() -> None:
    out = TimedOutput()
    policy = RestartPolicy(first_pause_seconds=0.2, crash_loop_exits=4, crash_loop_window_seconds=60)
    supervisor = Supervisor(stop_timeout_seconds=5, poll_seconds=0.02, out=out, restart_policy=policy)
    with supervisor:
        children = start_programs(
            supervisor, {"web": RUNNING, "worker": 'echo "up $$"; echo "cannot start"; exit 3', "beat": RUNNING}
        )
        assert supervisor.run() == 3

    text = out.text()
    for pause in ("0.2", "0.4", "0.8"):
        assert f"worker exited (status 3); restarting it in {pause} s" in text
    assert "worker exited 4 times within 60 s (last: status 3): a crash loop, so stopping everything." in text
    assert len(out.pids("worker")) == 4
    starts = out.moments("worker | up ")
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert [gap >= pause for gap, pause in zip(gaps, (0.2, 0.4, 0.8), strict=True)] == [True, True, True]
    assert children["web"].process.returncode == -signal.SIGTERM
    assert children["beat"].process.returncode == -signal.SIGTERM


def test_exits_further_apart_than_the_window_are_no_crash_loop() -> None:
    out = TimedOutput()
    # Two exits within 0.3 s would be a loop; this worker lives 0.5 s each time, so it never is.
    policy = RestartPolicy(first_pause_seconds=0.1, crash_loop_exits=2, crash_loop_window_seconds=0.3)
    supervisor = Supervisor(stop_timeout_seconds=5, poll_seconds=0.02, out=out, restart_policy=policy)

    def wait_for_three_restarts() -> None:
        wait_for(lambda: len(out.pids("worker")) == 4)

    with supervisor:
        start_programs(supervisor, {"web": RUNNING, "worker": 'echo "up $$"; sleep 0.5; exit 1'})
        failures = run_in_background(wait_for_three_restarts)
        assert supervisor.run() == 0
    assert not failures, failures
    assert "crash loop" not in out.text()
    assert out.text().count("worker exited (status 1); restarting it in 0.1 s") >= 3
