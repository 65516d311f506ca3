"""One function per measured phase; each prints its figures as it finishes and stores them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench import load
from bench.procs import ProcessBook, cpu_used
from bench.receiver import Receiver
from bench.report import (
    Burst,
    Drain,
    Intake,
    Latency,
    Results,
    burst_line,
    cpu_line,
    delivery_line,
    drain_line,
    intake_line,
    latency_line,
    percentile,
    stages_line,
)

if TYPE_CHECKING:
    from bench.__main__ import Target
    from bench.systems import Project

WRK_THREADS = 2  # one per core: more only adds switching on the 2-core machine
QUIET_SECONDS = 3.0


@dataclass
class Waits:
    cap_seconds: float  # longest wait for one phase's deliveries
    stall_seconds: float  # give up sooner when nothing at all arrives for this long


def check_receiver(receiver: Receiver, folder: Path) -> float:
    """The receiver's own rate under wrk, so delivery figures are known not to be its limit."""
    rate = load.wrk_requests_per_second(folder, receiver.url("selfcheck"), 3, 32, WRK_THREADS)
    receiver.forget("selfcheck")
    return rate


def settle(receiver: Receiver, waits: Waits, target: Target | None = None) -> None:
    """Let leftovers of an earlier phase (retries, a timed-out backlog) finish before timing anything."""
    if target is not None and target.check is not None:
        target.check()  # a stack that died says so, instead of a phase of connection errors
    if not receiver.wait_for_quiet(QUIET_SECONDS, waits.cap_seconds):
        print(f"  note: deliveries still arriving after {waits.cap_seconds:.0f} s; the next phase shares the machine")


def finish(receiver: Receiver, phase: str, expected: int, waits: Waits) -> tuple[bool, dict]:
    """Wait for `expected` unique deliveries, then briefly for stragglers (duplicates, extras)."""
    done = receiver.wait_for(phase, expected, waits.cap_seconds, waits.stall_seconds)
    receiver.wait_for_quiet(1.0, 10.0)
    return done, receiver.summary(phase, with_details=True)


def warm_up(receiver: Receiver, target: Target, total: int, waits: Waits) -> None:
    """Untimed traffic first, so neither system is timed on its first requests (lazy imports,
    connection pools, JIT-less Python's cold caches)."""
    phase = f"{target.system}-warmup"
    sent = load.burst(target.port, target.path, target.token, phase, total, 8)
    done, summary = finish(receiver, phase, sent.accepted, waits)
    late = "" if done else ", TIMED OUT"
    print(f"{target.system}: warm-up, {sent.accepted}/{total} accepted, {summary['unique']} delivered{late}")
    receiver.forget(phase)


def intake(
    receiver: Receiver,
    book: ProcessBook,
    folder: Path,
    target: Target,
    seconds: int,
    connections: int,
    waits: Waits,
    results: Results,
) -> None:
    phase = f"{target.system}-intake"
    settle(receiver, waits, target)
    cpu_before = book.cpu_snapshot()
    run = load.run_wrk(folder, target.url, phase, target.token, seconds, connections, WRK_THREADS)
    figures = Intake(run.accepted, run.refused, run.socket_errors, run.duration_s, run.median_latency_ms)
    print(intake_line(target.system, figures), flush=True)
    # The CPU span ends with the last delivery, before the quiet wait that finish() adds.
    receiver.wait_for(phase, run.accepted, waits.cap_seconds, waits.stall_seconds)
    cpu = cpu_used(cpu_before, book.cpu_snapshot())
    done, summary = finish(receiver, phase, run.accepted, waits)
    figures.delivered = summary["unique"]
    figures.delivery_seconds = max(0.0, summary["last_arrival"] - run.started) if summary["unique"] else 0.0
    figures.missing = max(0, run.accepted - summary["unique"])
    figures.extra = max(0, summary["unique"] - run.accepted)
    figures.duplicates = summary["duplicates"]
    figures.timed_out = not done
    print(delivery_line(target.system, figures), flush=True)
    if figures.delivered:
        figures.cpu_ms = {role: 1000 * used / figures.delivered for role, used in cpu.items() if target.owns_role(role)}
        print(cpu_line(target.system, figures), flush=True)
    receiver.forget(phase)
    results.intake[target.system] = figures


def latency(receiver: Receiver, target: Target, rate: int, seconds: int, waits: Waits, results: Results) -> None:
    phase = f"{target.system}-latency"
    settle(receiver, waits, target)
    sent = load.paced(target.port, target.path, target.token, phase, rate, seconds)
    if sent.refused or sent.errors:
        print(f"  {target.system}: {sent.refused} non-2xx answers {sent.statuses}, {sent.errors} errors")
    if not sent.accepted:
        raise RuntimeError(f"{target.system} accepted none of the {rate * seconds} alerts")
    done, summary = finish(receiver, phase, sent.accepted, waits)
    samples = summary["latencies_ms"]
    if not samples:
        raise RuntimeError(f"{target.system}: none of the {sent.accepted} accepted alerts arrived")
    figures = Latency(
        sent=rate * seconds,
        accepted=sent.accepted,
        arrived=len(samples),
        p50_ms=percentile(samples, 0.50),
        p99_ms=percentile(samples, 0.99),
        max_ms=samples[-1] if samples else float("nan"),
        timed_out=not done,
    )
    print(latency_line(target.system, figures, rate, seconds), flush=True)
    if target.stages is not None and (stages := target.stages(phase, summary["first_arrivals"])) is not None:
        print(stages_line(target.system, stages), flush=True)
    receiver.forget(phase)
    results.latency[target.system] = figures


def timed_burst(receiver: Receiver, target: Target, name: str, total: int, connections: int, waits: Waits) -> Burst:
    phase = f"{target.system}-{name}"
    settle(receiver, waits, target)
    sent = load.burst(target.port, target.path, target.token, phase, total, connections)
    posted = sent.finished - sent.started
    if not sent.accepted:
        raise RuntimeError(f"{target.system} accepted none of {total:,}: {sent.errors:,} errors, {sent.statuses}")
    rate = sent.accepted / posted if posted else 0.0
    print(f"  posted {sent.accepted:,}/{total:,} in {posted:.1f} s ({rate:,.0f}/s); waiting", flush=True)
    done, summary = finish(receiver, phase, sent.accepted, waits)
    figures = Burst(
        sent=total,
        accepted=sent.accepted,
        refused=sent.refused,
        errors=sent.errors,
        post_seconds=posted,
        delivered=summary["unique"],
        last_delivery_seconds=max(0.0, summary["last_arrival"] - sent.started) if summary["unique"] else 0.0,
        missing=max(0, sent.accepted - summary["unique"]),
        duplicates=summary["duplicates"],
        timed_out=not done,
    )
    receiver.forget(phase)
    return figures


def burst(
    receiver: Receiver, target: Target, name: str, total: int, connections: int, waits: Waits, results: Results
) -> None:
    results.burst = timed_burst(receiver, target, name, total, connections, waits)
    print(burst_line(f"burst of {total:,}", results.burst), flush=True)


def workers_scan(
    receiver: Receiver, project: Project, target: Target, total: int, connections: int, waits: Waits, results: Results
) -> None:
    """Deliveries/s of 1 and of 2 worker processes on a backlog: the burst is queued while no worker
    runs, then the workers start, so the figure is delivery capacity and not the intake's pace.
    The full stack gives way to `run_all --only web --only beat` plus `run_all --only worker` each."""
    if project.runner is not None:
        project.book.stop(project.runner)  # its worker would eat the backlog as it forms
        project.runner = None
    web = project.start_programs("scan-web", ["web", "beat"])
    try:
        for count in (1, 2):
            results.workers[count] = drain(receiver, project, target, count, total, connections, waits)
            print(drain_line(results.workers[count]), flush=True)
    finally:
        project.book.stop(web)


def drain(
    receiver: Receiver, project: Project, target: Target, count: int, total: int, connections: int, waits: Waits
) -> Drain:
    phase = f"{target.system}-drain{count}"
    settle(receiver, waits)
    sent = load.burst(target.port, target.path, target.token, phase, total, connections)
    print(f"  queued {sent.accepted:,}/{total:,} in {sent.finished - sent.started:.1f} s with no worker running")
    time.sleep(1.0)
    early = receiver.summary(phase)["unique"]  # should be 0: nothing may deliver yet
    started = time.time()
    workers = [project.start_programs(f"scan-worker{count}-{index}", ["worker"]) for index in range(count)]
    try:
        done, summary = finish(receiver, phase, sent.accepted, waits)
    finally:
        for worker in workers:
            project.book.stop(worker)
    arrivals = summary["arrivals"]
    receiver.forget(phase)
    return Drain(
        workers=count,
        queued=sent.accepted,
        delivered=summary["unique"],
        delivered_before_start=early,
        first_after_start_s=arrivals[0] - started if arrivals else 0.0,
        first_to_last_s=arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0,
        missing=max(0, sent.accepted - summary["unique"]),
        duplicates=summary["duplicates"],
        timed_out=not done,
    )
