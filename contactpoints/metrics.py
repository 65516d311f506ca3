"""Prometheus metrics kept in Redis, so web and worker processes add up to one view.

Counters live in Redis hashes; when Redis is down they are not counted (the deliveries
themselves are unaffected) and Prometheus sees a counter reset when it comes back.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence

from django.conf import settings
from django.db.models import Count

from contactpoints.models import MOVING_STATUSES, Delivery
from contactpoints.redis_client import REDIS_ERRORS, get_redis
from integrations.base import Outcome

logger = logging.getLogger(__name__)

KEY_PREFIX = "contactpoints:metrics:"
DURATION_BUCKETS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _safely(action) -> None:
    try:
        action()
    except REDIS_ERRORS as exc:
        logger.debug("metrics not recorded: %s", exc)


def count_notifications(notifications: int, alerts: int) -> None:
    def action():
        pipe = get_redis().pipeline(transaction=False)
        add_notifications(pipe, notifications, alerts)
        pipe.execute()

    _safely(action)


def add_notifications(pipe, notifications: int, alerts: int) -> None:
    """Count accepted notifications and their alerts in a pipeline the caller sends (broker.wake's)."""
    pipe.hincrby(KEY_PREFIX + "counters", "notifications", notifications)
    pipe.hincrby(KEY_PREFIX + "counters", "alerts", alerts)


def count_outcomes(
    attempts: Sequence[tuple[str, str, float]], delivered: Sequence[str] = (), failed: Sequence[tuple[str, str]] = ()
) -> None:
    """A batch's counters, summed here and sent in one round trip: its attempts as (integration
    type, outcome, duration) with the histogram, and the deliveries that reached their end: the
    integration types delivered, and (integration type, failure reason) of each that failed for good.
    """
    counts: Counter[tuple[str, str]] = Counter()
    sums: dict[str, float] = defaultdict(float)
    for integration_type, result, duration_seconds in attempts:
        counts["attempts", f"{integration_type}|{result}"] += 1
        if result == "retry":
            counts["counters", "retries"] += 1
        bucket = next((str(b) for b in DURATION_BUCKETS_SECONDS if duration_seconds <= b), "+Inf")
        counts["duration_buckets", f"{integration_type}|{bucket}"] += 1
        sums[integration_type] += duration_seconds
    for integration_type in delivered:
        counts["final", f"{integration_type}|delivered"] += 1
    for integration_type, reason in failed:
        counts["final", f"{integration_type}|failed"] += 1
        counts["failures", f"{integration_type}|{reason}"] += 1

    def action():
        pipe = _pipeline_adding(counts)
        for integration_type, seconds in sums.items():
            pipe.hincrbyfloat(KEY_PREFIX + "duration_sum", integration_type, seconds)
        pipe.execute()

    if counts:
        _safely(action)


def _pipeline_adding(counts: Counter[tuple[str, str]]):
    """A pipeline that adds each count to its (hash, field)."""
    pipe = get_redis().pipeline(transaction=False)
    for (name, key), count in counts.items():
        pipe.hincrby(KEY_PREFIX + name, key, count)
    return pipe


# A permanent failure's reason label, from the phrasing of the errors that carry no HTTP status
# (integrations.http's TransportError texts, contactpoints.sending's, the email type's); first match wins.
REASONS_BY_ERROR_TEXT = (
    ("settings no longer validate", "settings_invalid"),
    ("failed to template", "template_error"),
    ("timed out", "timeout"),
    ("TLS verification failed", "tls_error"),
    ("cannot connect to", "connection_error"),
    ("failed to dial SMTP server", "connection_error"),
    ("failed to send notification to email addresses", "smtp_rejected"),
    ("internal error in the", "internal_error"),
    ("the worker stopped during this attempt", "worker_lost"),
)


def failure_reason(outcome: Outcome) -> str:
    """Why a delivery failed for good, as a small set of label values: the HTTP status class when
    the destination answered (429 apart: a rate limit outlasted the attempts), else the kind of error."""
    if outcome.http_status is not None:
        return "http_429" if outcome.http_status == 429 else f"http_{outcome.http_status // 100}xx"
    return next((reason for text, reason in REASONS_BY_ERROR_TEXT if text in outcome.error), "other")


HASHES = ("counters", "attempts", "duration_buckets", "duration_sum", "final", "failures")


def _read_redis() -> tuple[dict[str, dict[str, str]], int | None]:
    try:
        client = get_redis()
        pipe = client.pipeline(transaction=False)
        for name in HASHES:
            pipe.hgetall(KEY_PREFIX + name)
        pipe.llen(settings.CELERY_TASK_DEFAULT_QUEUE)
        *hashes, broker_depth = pipe.execute()
    except REDIS_ERRORS:
        return {name: {} for name in HASHES}, None
    decoded = [{k.decode(): v.decode() for k, v in found.items()} for found in hashes]
    return dict(zip(HASHES, decoded, strict=True)), broker_depth


def _labelled(name: str, values: dict[str, str], labels: tuple[str, str]) -> list[str]:
    """One sample per `a|b` field of a hash, labelled with the two label names."""
    lines = []
    for key, value in sorted(values.items()):
        first, second = key.split("|", 1)
        lines.append(f'{name}{{{labels[0]}="{first}",{labels[1]}="{second}"}} {value}')
    return lines


def render() -> str:
    """The Prometheus text exposition."""
    hashes, broker_depth = _read_redis()
    counters, attempts, buckets, sums = (hashes[name] for name in HASHES[:4])
    lines = [
        "# HELP contactpoints_notifications_received_total Intake requests accepted.",
        "# TYPE contactpoints_notifications_received_total counter",
        f"contactpoints_notifications_received_total {counters.get('notifications', 0)}",
        "# HELP contactpoints_alerts_received_total Alerts in accepted intake requests.",
        "# TYPE contactpoints_alerts_received_total counter",
        f"contactpoints_alerts_received_total {counters.get('alerts', 0)}",
        "# HELP contactpoints_delivery_attempts_total Delivery attempts by integration type and outcome.",
        "# TYPE contactpoints_delivery_attempts_total counter",
        *_labelled("contactpoints_delivery_attempts_total", attempts, ("type", "outcome")),
        "# HELP contactpoints_deliveries_final_total Deliveries that reached their end (delivered, or failed for "
        "good after their last attempt), by integration type.",
        "# TYPE contactpoints_deliveries_final_total counter",
        *_labelled("contactpoints_deliveries_final_total", hashes["final"], ("type", "outcome")),
        "# HELP contactpoints_delivery_failures_total Deliveries that failed for good, by integration type and "
        "reason (http_4xx, http_5xx, http_429, timeout, connection_error, settings_invalid, ...).",
        "# TYPE contactpoints_delivery_failures_total counter",
        *_labelled("contactpoints_delivery_failures_total", hashes["failures"], ("type", "reason")),
    ]
    lines += [
        "# HELP contactpoints_delivery_retries_total Attempts that ended in a scheduled retry.",
        "# TYPE contactpoints_delivery_retries_total counter",
        f"contactpoints_delivery_retries_total {counters.get('retries', 0)}",
        "# HELP contactpoints_delivery_duration_seconds Duration of delivery attempts by integration type.",
        "# TYPE contactpoints_delivery_duration_seconds histogram",
    ]
    lines += _histogram_lines(buckets, sums)
    depth = dict(
        Delivery.objects.filter(status__in=MOVING_STATUSES).values_list("status").annotate(n=Count("id")).order_by()
    )
    lines += [
        "# HELP contactpoints_deliveries_queued Deliveries still to be sent, by status (from the database).",
        "# TYPE contactpoints_deliveries_queued gauge",
    ]
    lines += [f'contactpoints_deliveries_queued{{status="{s}"}} {depth.get(s, 0)}' for s in MOVING_STATUSES]
    if broker_depth is not None:
        lines += [
            "# HELP contactpoints_broker_queue_depth Messages waiting in the Celery queue.",
            "# TYPE contactpoints_broker_queue_depth gauge",
            f"contactpoints_broker_queue_depth {broker_depth}",
        ]
    return "\n".join(lines) + "\n"


def _histogram_lines(buckets: dict[str, str], sums: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for integration_type in sorted(sums):
        cumulative = 0
        for bound in [*map(str, DURATION_BUCKETS_SECONDS), "+Inf"]:
            cumulative += int(buckets.get(f"{integration_type}|{bound}", 0))
            lines.append(
                f'contactpoints_delivery_duration_seconds_bucket{{type="{integration_type}",le="{bound}"}} {cumulative}'
            )
        lines.append(
            f'contactpoints_delivery_duration_seconds_sum{{type="{integration_type}"}} {sums[integration_type]}'
        )
        lines.append(f'contactpoints_delivery_duration_seconds_count{{type="{integration_type}"}} {cumulative}')
    return lines
