"""Run the web server, the Celery worker and beat (and Redis when needed) as one foreground unit.

The shape follows foreman and honcho: every child runs in its own process group, so a Ctrl-C at
the terminal reaches this supervisor only, which stops each child once and gracefully. A child
that exits is started again after a growing pause, as supervisord and systemd's `Restart=` do:
one crash (say, a worker that lost Redis) must not take web and beat down with it. Only a crash
loop (too many exits in a short window) stops everything, since restarting cannot fix a child
that cannot start. No Django here, so it can be tested with plain commands such as `sleep`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

import redis

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class RestartPolicy:
    """How long to wait before starting a child again, and when to stop trying."""

    first_pause_seconds: float = 1.0
    max_pause_seconds: float = 30.0
    # This many exits of one child within the window is a crash loop: stop everything.
    crash_loop_exits: int = 5
    crash_loop_window_seconds: float = 60.0

    def pause_after(self, recent_exits: int) -> float:
        """1 s after the first exit in the window, then 2, 4, ... up to the maximum."""
        return min(self.first_pause_seconds * 2 ** max(recent_exits - 1, 0), self.max_pause_seconds)


@dataclass
class Child:
    name: str
    argv: list[str]
    stop_last: bool = False  # infrastructure (Redis) outlives the programs that use it
    # Its environment: ours, over these defaults (an empty value of ours means the default).
    env_defaults: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    relay: threading.Thread | None = field(default=None, repr=False)
    exits: list[float] = field(default_factory=list, repr=False)  # monotonic times it exited
    restart_at: float | None = field(default=None, repr=False)  # set while it waits to start again

    def signal(self, signum: int) -> None:
        if self.process.returncode is None:  # a reaped pid may already belong to someone else
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signum)

    def has_exited(self) -> bool:
        if self.process.returncode is not None:
            return True
        # WNOWAIT leaves the leader unreaped, so its pid still names its group for kill_group().
        return os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    def kill_group(self) -> None:
        """SIGKILL the whole group: the leader and whatever it forked (gunicorn's workers)."""
        if self.process.returncode is None:  # once reaped, the group id may name someone else
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)


class Supervisor:
    """Use as a context manager: inside it, SIGINT/SIGTERM/SIGHUP ask for a stop; leaving it stops all."""

    def __init__(
        self, *, stop_timeout_seconds: float = 30.0, poll_seconds: float = 0.1, out: IO[str] | None = None,
        restart_policy: RestartPolicy | None = None,
    ):  # fmt: skip
        self.children: list[Child] = []
        self.stop_timeout_seconds = stop_timeout_seconds
        self.restart_policy = restart_policy or RestartPolicy()
        self.poll_seconds = poll_seconds
        self._out = out or sys.stdout
        self._out_lock = threading.Lock()
        self.stopping = False
        self._force = False  # a signal arrived while already stopping: stop waiting, kill
        self._announcement: tuple[str, int, str] | None = None
        self._previous_handlers: dict[int, object] = {}

    def __enter__(self) -> Supervisor:
        # From before the first child starts, so no signal can leave a child behind.
        self._previous_handlers = {signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS}
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.stop()
        finally:
            for signum, handler in self._previous_handlers.items():
                signal.signal(signum, handler)

    def start(self, child: Child) -> Child:
        self._spawn(child)
        self.children.append(child)
        return child

    def say(self, text: str, name: str = "run") -> None:
        with self._out_lock:
            self._out.write(f"{name:<7}| {text}\n")
            self._out.flush()

    def announce_when_listening(self, host: str, port: int, message: str) -> None:
        """Print `message` once something accepts connections at host:port (the web server is up)."""
        self._announcement = (host, port, message)

    def run(self) -> int:
        """Keep every child running until a stop signal (0) or a crash loop (the child's exit status)."""
        looping = self._supervise_until_signal_or_crash_loop()
        if looping is not None:
            self.say(
                f"{looping.name} exited {self._recent_exits(looping)} times within "
                f"{self.restart_policy.crash_loop_window_seconds:g} s (last: "
                f"{exit_description(looping.process.returncode)}): a crash loop, so stopping everything. "
                "Its last lines are above."
            )
        self.stop()
        if looping is None:
            return 0
        status = looping.process.returncode
        return status if status > 0 else 1  # exiting while meant to run is a failure, even with 0

    def stop(self) -> None:
        """SIGTERM the programs, wait, then the infrastructure; SIGKILL whatever outstays its time."""
        self.stopping = True
        self._stop_tier([c for c in self.children if not c.stop_last])
        self._stop_tier([c for c in self.children if c.stop_last])

    def wait_until(self, check: Callable[[], bool], child: Child, timeout_seconds: float) -> bool:
        """Poll `check` until it holds; give up when `child` exits, a stop is asked or time runs out."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline and not child.has_exited() and not self.stopping:
            if check():
                return True
            time.sleep(self.poll_seconds)
        return False

    def _supervise_until_signal_or_crash_loop(self) -> Child | None:
        while not self.stopping:
            for child in self.children:
                if child.restart_at is not None:
                    if time.monotonic() >= child.restart_at:
                        self._restart(child)
                elif child.has_exited():
                    self._reap(child)
                    if self._is_crash_looping(child):
                        return child
                    self._schedule_restart(child)
            self._announce_if_listening()
            time.sleep(self.poll_seconds)
        return None

    def _spawn(self, child: Child) -> None:
        # Ours over the child's defaults, where ours is set to something (empty means the default).
        env = {**os.environ, **{name: value for name, value in child.env_defaults.items() if not os.environ.get(name)}}
        env["PYTHONUNBUFFERED"] = "1"  # so lines arrive as they are logged
        # process_group=0: a terminal's Ctrl-C goes to our group only; we decide how children stop.
        child.process = subprocess.Popen(  # noqa: S603 - argv built by us, no shell
            child.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            process_group=0, env=env,
        )  # fmt: skip
        child.relay = threading.Thread(target=self._relay_output, args=(child,), daemon=True)
        child.relay.start()

    def _reap(self, child: Child) -> None:
        child.kill_group()  # what the dead leader forked (gunicorn's workers) must not outlive it
        child.process.wait()
        child.relay.join(timeout=1.0)  # its last lines before our verdict
        child.exits.append(time.monotonic())

    def _recent_exits(self, child: Child) -> int:
        since = time.monotonic() - self.restart_policy.crash_loop_window_seconds
        return sum(1 for moment in child.exits if moment >= since)

    def _is_crash_looping(self, child: Child) -> bool:
        return self._recent_exits(child) >= self.restart_policy.crash_loop_exits

    def _schedule_restart(self, child: Child) -> None:
        recent = self._recent_exits(child)
        pause = self.restart_policy.pause_after(recent)
        child.restart_at = time.monotonic() + pause
        when = time.strftime("%H:%M:%S", time.localtime(time.time() + pause))
        self.say(
            f"{child.name} exited ({exit_description(child.process.returncode)}); restarting it in {pause:g} s, "
            f"at {when} (exit {recent} within {self.restart_policy.crash_loop_window_seconds:g} s; "
            f"at {self.restart_policy.crash_loop_exits} everything stops)."
        )

    def _restart(self, child: Child) -> None:
        child.restart_at = None
        self._spawn(child)
        self.say(f"{child.name} restarted (pid {child.process.pid}).")

    def _stop_tier(self, tier: list[Child]) -> None:
        # SIGTERM, not SIGINT: gunicorn takes SIGINT as "drop requests now", SIGTERM as graceful.
        for child in tier:
            child.signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout_seconds
        while not self._force and time.monotonic() < deadline and not all(c.has_exited() for c in tier):
            time.sleep(self.poll_seconds)
        for child in tier:
            if not child.has_exited():
                self.say(f"{child.name} did not stop in time; killing it.")
            child.kill_group()  # also clears leftovers of a leader that died first
            child.process.wait()
            child.relay.join(timeout=1.0)  # its last lines before our own

    def _announce_if_listening(self) -> None:
        if self._announcement is None:
            return
        host, port, message = self._announcement
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=self.poll_seconds):
            self.say(message)
            self._announcement = None

    def _relay_output(self, child: Child) -> None:
        # One prefixed stream, as honcho does, so web, worker and beat lines can be told apart.
        with child.process.stdout as stream:
            for line in stream:
                self.say(line.decode(errors="replace").rstrip(), child.name)

    def _on_signal(self, signum: int, frame: object) -> None:
        # The first Ctrl-C asks for a graceful stop; another one during it means "now".
        self._force = self.stopping
        self.stopping = True


def redis_answers(url: str, timeout_seconds: float = 1.0) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds)
    try:
        return bool(client.ping())
    except (redis.AuthenticationError, redis.ResponseError):
        return True  # a server is there, only it refuses us: starting another on its port cannot help
    except redis.RedisError:
        return False
    finally:
        client.close()


def local_redis_argv(url: str, run_dir: Path) -> list[str] | None:
    """The redis-server command serving `url` from this machine, or None if `url` is not local."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    if parts.scheme != "redis" or not (host in LOOPBACK_HOSTS or host.startswith("127.")):
        return None
    # "-::1": also IPv6 loopback when the machine has it, since "localhost" may resolve to either.
    bind = ["127.0.0.1", "-::1"] if host == "localhost" else [host]
    argv = ["redis-server"]
    if parts.password:  # through a private file, not the command line that `ps` shows everyone
        conf = run_dir / "redis.conf"
        conf.touch(mode=0o600)
        conf.chmod(0o600)
        conf.write_text(f'requirepass "{unquote(parts.password)}"\n')
        argv.append(str(conf))
    # A scratch server: nothing saved, its log kept out of the way under .run/.
    return [*argv, "--bind", *bind, "--port", str(parts.port or 6379), "--save", "", "--appendonly", "no",
            "--dir", str(run_dir), "--logfile", str(run_dir / "redis.log")]  # fmt: skip


def redacted_url(url: str) -> str:
    """`url` without its password, fit for messages."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


def browser_host(bind: str) -> str:
    """The host to put in a URL for a server bound to `bind` (a wildcard means this machine)."""
    host = "localhost" if bind in ("", "0.0.0.0", "::", "[::]") else bind.strip("[]")  # noqa: S104
    return f"[{host}]" if ":" in host else host


def exit_description(returncode: int) -> str:
    """`status 3` or `killed by SIGKILL`: how a child ended, in the words `ps` and shells use."""
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-returncode).name}"
        return f"killed by signal {-returncode}"
    return f"status {returncode}"
