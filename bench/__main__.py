"""`make bench`: this project against a real Prometheus Alertmanager, in one run, measured alike.

Starts on loopback: a private redis-server, this project's `make run` stack (`manage.py run_all`:
gunicorn, a Celery worker, beat) on a PostgreSQL database of its own, Alertmanager 0.25, and one
webhook receiver (a process of its own) both deliver to. Then, for both systems:
intake under wrk (one unique alert per request), the webhooks delivered for that load, and
alert-to-webhook latency at a paced 100 alerts/s; for this project only: a burst of 10,000
notifications (missing and duplicates) and deliveries/s with one and two worker processes.
Finally the peak RSS of every process. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.report import Stages

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/contactpoints_bench"
LATENCY_RATE, LATENCY_SECONDS = 100, 10
RECEIVER_MIN_RATE = 10_000
WARM_UP_ALERTS = 200


@dataclass
class Target:
    """Where one system takes alerts: its port, path and (for this project) bearer token."""

    system: str
    port: int
    path: str
    token: str
    check: Callable[[], None] | None = None  # raises when the system is no longer running
    owns_role: Callable[[str], bool] = lambda role: True  # its processes' roles in the ProcessBook
    # Splits a phase's latencies into stages (phase, {alert id: first arrival}); None: not split.
    stages: Callable[[str, dict[str, float]], Stages | None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--seconds", type=int, default=10, help="length of the wrk intake load")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections for intake and bursts")
    parser.add_argument("--burst", type=int, default=10_000, help="notifications in this project's burst")
    parser.add_argument("--workers-burst", type=int, default=5_000, help="backlog per 1-vs-2-worker run")
    parser.add_argument("--skip-workers-scan", action="store_true", help="skip the 1-vs-2-worker comparison")
    parser.add_argument("--worker-threads", type=int, default=None, help="WORKER_CONCURRENCY (default: the stack's)")
    parser.add_argument("--drain-timeout", type=float, default=900, help="longest wait for deliveries, s")
    parser.add_argument("--stall-timeout", type=float, default=60, help="give up after this long with no delivery, s")
    parser.add_argument("--keep-database", action="store_true", help="reuse the bench database instead of a fresh one")
    args = parser.parse_args()
    for tool in ("wrk",):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (apt-get install {tool}; `make bench` installs it when run as root)")

    # SIGTERM should clean up like Ctrl-C does.
    signal.signal(signal.SIGTERM, interrupt)
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    failed = True
    try:
        run(args, folder)
        failed = False
    except KeyboardInterrupt:
        print("\ninterrupted: stopping everything")
    finally:
        if os.environ.get("BENCH_KEEP_LOGS") or failed:
            print(f"logs kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    sys.exit(1 if failed else 0)


def run(args: argparse.Namespace, folder: Path) -> None:
    from bench import phases
    from bench.procs import ProcessBook, check_alive
    from bench.receiver import Receiver
    from bench.report import Results, table
    from bench.systems import Project, start_alertmanager, start_redis

    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f}; code: {code_version()}; logs in {folder}")
    if load > 0.5:
        print("  note: the machine is busy before the bench starts; figures will be lower than on an idle one")
    if args.keep_database:
        ensure_database(args.database_url)
    else:
        ensure_database(args.database_url, fresh=True)  # same starting point every run
    book = ProcessBook(folder)
    receiver = Receiver()
    results = Results()
    try:
        rate = phases.check_receiver(receiver, folder)
        print(f"receiver alone: {rate:,.0f} requests/s under wrk (Grafana-sized bodies)")
        if rate < RECEIVER_MIN_RATE:
            print(f"  warning: below {RECEIVER_MIN_RATE:,}/s; delivery figures above that are capped by it")
        _, redis_url = start_redis(book)
        project = Project(book, args.database_url, redis_url, args.worker_threads)
        intake_token, _ = project.set_up(receiver.url("project"))
        project.start()
        am = start_alertmanager(book, receiver.url("alertmanager"))
        book.start_sampling()
        path = f"/api/v1/intake/{project.contact_point_uid()}"
        is_alertmanagers = lambda role: role.startswith("alertmanager")  # noqa: E731
        ours = Target(
            "project",
            project.port,
            path,
            intake_token,
            project.check_running,
            lambda r: not is_alertmanagers(r),
            project.stages,
        )
        theirs = Target(
            "alertmanager", am.port, "/api/v2/alerts", "", lambda: check_alive(am.service), is_alertmanagers
        )
        print(f"started: this project on :{project.port} (run_all), alertmanager on :{theirs.port}\n")
        waits = phases.Waits(args.drain_timeout, args.stall_timeout)
        print(f"== warm-up: {WARM_UP_ALERTS} alerts each, untimed")
        for target in (theirs, ours):
            attempt(lambda t=target: phases.warm_up(receiver, t, WARM_UP_ALERTS, waits))

        print(f"\n== intake: wrk, {args.connections} connections, {args.seconds} s, one unique alert per request")
        for target in (theirs, ours):
            attempt(
                lambda t=target: phases.intake(
                    receiver, book, folder, t, args.seconds, args.connections, waits, results
                )
            )
        print(f"\n== latency: {LATENCY_RATE} alerts/s for {LATENCY_SECONDS} s, paced")
        for target in (theirs, ours):
            attempt(lambda t=target: phases.latency(receiver, t, LATENCY_RATE, LATENCY_SECONDS, waits, results))
        print(f"\n== burst of {args.burst:,} notifications (this project), {args.connections} connections")
        attempt(lambda: phases.burst(receiver, ours, "burst", args.burst, args.connections, waits, results))
        if not args.skip_workers_scan:
            # Sampled first: the scan stops the full stack.
            book.sample()
            print(f"\n== worker processes (this project), backlogs of {args.workers_burst:,}")
            scan = (receiver, project, ours, args.workers_burst, args.connections, waits, results)
            attempt(lambda: phases.workers_scan(*scan))
        book.sample()  # the last figures, before anything stops
        results.peaks_kb = dict(book.peaks)
        results.role_sizes = {role: len(pids) for role, pids in book.members.items()}
        print("\n== summary\n")
        print(table(results, args.seconds, args.connections, LATENCY_RATE))
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (the load generator shares the machine)")
    finally:
        book.stop_all()
        receiver.stop()


def code_version() -> str:
    """The commit measured, and whether the work tree differs from it (figures depend on both)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return "unknown"
    return head.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def attempt(phase: Callable[[], None]) -> None:
    """Run one phase; a failure is printed and the bench goes on with the next one."""
    try:
        phase()
    except Exception:
        print("  phase FAILED:\n" + "".join(traceback.format_exc()).rstrip())


def ensure_database(database_url: str, fresh: bool = False) -> None:
    """Create the bench database when missing (PostgreSQL only); `fresh` drops it first."""
    import psycopg

    from bench.systems import postgresql_settings

    connect = postgresql_settings(database_url)
    if connect is None:
        return
    name = connect["dbname"]
    with psycopg.connect(**{**connect, "dbname": "postgres"}, autocommit=True) as connection:
        if fresh:
            try:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            except psycopg.Error as exc:  # someone is connected: keep it rather than fail
                print(f"  could not drop {name} ({exc}); reusing it")
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


if __name__ == "__main__":
    main()
