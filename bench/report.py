"""Figures per phase, and the closing table that puts both systems side by side."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Intake:
    accepted: int
    refused: int
    socket_errors: int
    seconds: float
    median_answer_ms: float  # wrk's median time to an answer
    delivered: int = 0
    delivery_seconds: float = 0.0  # from the start of the load to the last arrival
    missing: int = 0
    extra: int = 0  # arrived beyond wrk's 2xx count: requests still in flight when wrk stopped
    duplicates: int = 0
    timed_out: bool = False
    # CPU milliseconds per delivered alert, by process role, from the load's start to the last delivery.
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def cpu_ms_total(self) -> float:
        return sum(self.cpu_ms.values())

    @property
    def accepted_per_second(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    @property
    def delivered_per_second(self) -> float:
        return self.delivered / self.delivery_seconds if self.delivery_seconds else 0.0


@dataclass
class Latency:
    sent: int
    accepted: int
    arrived: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    timed_out: bool = False


@dataclass
class Stages:
    """Where this project's alert-to-webhook time went, per alert (the worker's and web's own
    timestamps, stored with the notification and its attempt): (median, p99) in ms of each stage."""

    alerts: int
    to_parsed: tuple[float, float]  # the load generator's send until the web has parsed the body
    to_send: tuple[float, float]  # parsed until the worker starts the send: store and hand-off (or ring and claim)
    sending: tuple[float, float]  # the send's start until the receiver has the webhook: render, HTTP


@dataclass
class Burst:
    sent: int
    accepted: int
    refused: int
    errors: int
    post_seconds: float
    delivered: int
    last_delivery_seconds: float  # from the first post to the last arrival
    missing: int
    duplicates: int
    timed_out: bool

    @property
    def delivered_per_second(self) -> float:
        return self.delivered / self.last_delivery_seconds if self.last_delivery_seconds else 0.0


@dataclass
class Drain:
    """A backlog queued while no worker ran, then delivered by `workers` worker processes."""

    workers: int
    queued: int
    delivered: int
    delivered_before_start: int  # should be 0
    first_after_start_s: float  # worker start-up until the first delivery
    first_to_last_s: float
    missing: int
    duplicates: int
    timed_out: bool

    @property
    def delivered_per_second(self) -> float:
        return (self.delivered - 1) / self.first_to_last_s if self.first_to_last_s else 0.0


@dataclass
class Results:
    intake: dict[str, Intake] = field(default_factory=dict)  # system -> figures
    latency: dict[str, Latency] = field(default_factory=dict)
    burst: Burst | None = None
    workers: dict[int, Drain] = field(default_factory=dict)  # worker processes -> figures
    peaks_kb: dict[str, int] = field(default_factory=dict)
    role_sizes: dict[str, int] = field(default_factory=dict)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest rank: the value at or below which `fraction` of the samples lie."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, int(fraction * len(sorted_values) + 0.999999) - 1))
    return sorted_values[rank]


def ms(value: float) -> str:
    return f"{value / 1000:,.2f} s" if value >= 10_000 else f"{value:,.1f} ms"


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.3f}×" if theirs else "n/a"


def mb(kb: int | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:,.0f} MB"


def intake_line(system: str, figures: Intake) -> str:
    refused = f", {figures.refused:,} non-2xx" if figures.refused else ""
    errors = f", {figures.socket_errors:,} socket errors" if figures.socket_errors else ""
    return (
        f"{system}: intake {figures.accepted_per_second:,.0f} alerts/s accepted "
        f"({figures.accepted:,} in {figures.seconds:.1f} s, median answer {ms(figures.median_answer_ms)}"
        f"{refused}{errors})"
    )


def delivery_line(system: str, figures: Intake) -> str:
    notes = [f"{figures.missing:,} missing"] if figures.missing else []
    notes += [f"{figures.extra:,} more than wrk counted (in flight at its stop)"] if figures.extra else []
    notes += [f"{figures.duplicates:,} twice"] if figures.duplicates else []
    notes += ["TIMED OUT"] if figures.timed_out else []
    return (
        f"{system}: delivered {figures.delivered_per_second:,.0f} webhooks/s ({figures.delivered:,} by "
        f"{figures.delivery_seconds:.1f} s after the load began{'; ' + ', '.join(notes) if notes else ''})"
    )


def cpu_line(system: str, figures: Intake) -> str:
    shown = sorted(((ms_, role) for role, ms_ in figures.cpu_ms.items() if ms_ >= 0.005), reverse=True)
    parts = ", ".join(f"{role} {ms_:.2f}" for ms_, role in shown)
    return f"{system}: CPU per delivered alert {figures.cpu_ms_total:.2f} ms ({parts})"


def latency_line(system: str, figures: Latency, rate: int, seconds: int) -> str:
    lost = figures.accepted - figures.arrived
    notes = (f", {lost} missing" if lost else "") + (", TIMED OUT" if figures.timed_out else "")
    return (
        f"{system}: at {rate} alerts/s for {seconds} s, alert to webhook p50 {ms(figures.p50_ms)}, "
        f"p99 {ms(figures.p99_ms)}, max {ms(figures.max_ms)} ({figures.arrived}/{figures.sent} arrived{notes})"
    )


def stages_line(system: str, stages: Stages) -> str:
    def stage(name: str, figures: tuple[float, float]) -> str:
        return f"{name} {ms(figures[0])} / {ms(figures[1])}"

    return f"{system}: stages, median / p99 of {stages.alerts} alerts: " + "; ".join(
        (
            stage("sent to parsed (web)", stages.to_parsed),
            stage("parsed to send start (store, hand-off)", stages.to_send),
            stage("send start to arrival (render, HTTP)", stages.sending),
        )
    )


def burst_line(label: str, figures: Burst) -> str:
    refused = f", {figures.refused:,} non-2xx, {figures.errors:,} errors" if figures.refused or figures.errors else ""
    outcome = "TIMED OUT waiting" if figures.timed_out else "all delivered"
    return (
        f"{label}: {figures.accepted:,}/{figures.sent:,} accepted in {figures.post_seconds:.1f} s{refused}; "
        f"{figures.delivered:,} delivered, the last {figures.last_delivery_seconds:.1f} s after the first post "
        f"({figures.delivered_per_second:,.0f}/s); {figures.missing:,} missing, {figures.duplicates:,} twice; {outcome}"
    )


def drain_line(figures: Drain) -> str:
    plural = "es" if figures.workers > 1 else ""
    early = f", {figures.delivered_before_start} before any worker ran (!)" if figures.delivered_before_start else ""
    outcome = ", TIMED OUT waiting" if figures.timed_out else ""
    return (
        f"{figures.workers} worker process{plural}: {figures.delivered:,}/{figures.queued:,} delivered, "
        f"{figures.delivered_per_second:,.0f}/s from the first to the last ({figures.first_to_last_s:.1f} s; "
        f"the first {figures.first_after_start_s:.1f} s after the start); {figures.missing:,} missing, "
        f"{figures.duplicates:,} twice{early}{outcome}"
    )


def rss_cells(results: Results) -> tuple[str, str]:
    peaks = results.peaks_kb
    theirs = f"alertmanager {mb(peaks.get('alertmanager'))}"
    parts = []
    web_workers = results.role_sizes.get("web worker", 0)
    for role, label in (
        ("web master", "web master"),
        ("web worker", f"web worker (max of {web_workers})"),
        ("worker", "worker"),
        ("beat", "beat"),
        ("run_all", "runner"),
        ("redis", "redis"),
    ):
        if role in peaks:
            parts.append(f"{label} {mb(peaks[role])}")
    known = {"alertmanager", "web master", "web worker", "worker", "beat", "run_all", "redis"}
    # The worker scan's own processes ("scan ...") are not the make-run stack: left out.
    parts += [f"{role} {mb(kb)}" for role, kb in peaks.items() if role not in known and not role.startswith("scan")]
    return theirs, ", ".join(parts)


def table(results: Results, args_seconds: int, connections: int, rate: int) -> str:
    am, cp = "alertmanager", "project"
    rows: list[tuple[str, str, str, str]] = []
    ai, ci = results.intake.get(am), results.intake.get(cp)
    rows.append((
        f"intake, alerts/s accepted ({connections} conn, {args_seconds} s, 1 alert/request)",
        f"{ai.accepted_per_second:,.0f}" if ai else "failed",
        f"{ci.accepted_per_second:,.0f}" if ci else "failed",
        ratio(ci.accepted_per_second, ai.accepted_per_second) if ai and ci else "",
    ))  # fmt: skip
    rows.append((
        "webhooks delivered/s (same load)",
        f"{ai.delivered_per_second:,.0f}{' (timed out)' if ai.timed_out else ''}" if ai else "failed",
        f"{ci.delivered_per_second:,.0f}{' (timed out)' if ci.timed_out else ''}" if ci else "failed",
        ratio(ci.delivered_per_second, ai.delivered_per_second) if ai and ci else "",
    ))  # fmt: skip
    if ai and ci and ai.cpu_ms and ci.cpu_ms:
        rows.append((
            "CPU per delivered alert (same load; each system's processes, PostgreSQL's with this project's)",
            f"{ai.cpu_ms_total:.2f} ms",
            f"{ci.cpu_ms_total:.2f} ms",
            f"{ci.cpu_ms_total / ai.cpu_ms_total:,.1f}× as much" if ai.cpu_ms_total else "",
        ))  # fmt: skip
    al, cl = results.latency.get(am), results.latency.get(cp)
    slower = ""
    if al and cl and al.p50_ms > 0:
        slower = f"{cl.p50_ms / al.p50_ms:,.1f}× slower (p50), {cl.p99_ms / al.p99_ms:,.1f}× (p99)"
    rows.append((
        f"latency p50 / p99 / max at {rate} alerts/s",
        f"{ms(al.p50_ms)} / {ms(al.p99_ms)} / {ms(al.max_ms)}" if al else "failed",
        f"{ms(cl.p50_ms)} / {ms(cl.p99_ms)} / {ms(cl.max_ms)}" if cl else "failed",
        slower,
    ))  # fmt: skip
    theirs, ours = rss_cells(results)
    rows.append(("peak RSS (VmHWM)", theirs, ours, ""))
    header = ("", "Alertmanager", "this project", "ratio")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if results.burst:
        lines.append("")
        lines.append(burst_line(f"burst of {results.burst.sent:,} (this project)", results.burst))
    if results.workers:
        rates = {count: figures.delivered_per_second for count, figures in results.workers.items()}
        parts = [f"{count} worker{'s' if count > 1 else ''}: {rate_:,.0f}/s" for count, rate_ in sorted(rates.items())]
        gain = f" ({ratio(rates[2], rates[1])} with two)" if rates.get(1) and 2 in rates else ""
        queued = next(iter(results.workers.values())).queued
        lines.append(f"deliveries/s on a backlog of {queued:,} (this project): {', '.join(parts)}{gain}")
    return "\n".join(lines)
