"""Prometheus metrics kept in Redis, so web and worker processes add up to one view.

Counters live in Redis hashes; when Redis is down they are not counted (the deliveries
themselves are unaffected) and Prometheus sees a counter reset when it comes back.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db.models import Count

from contactpoints.models import MOVING_STATUSES, Delivery
from contactpoints.redis_client import REDIS_ERRORS, get_redis

logger = logging.getLogger(__name__)

KEY_PREFIX = "contactpoints:metrics:"
DURATION_BUCKETS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _safely(action) -> None:
    try:
        action()
    except REDIS_ERRORS as exc:
        logger.debug("metrics not recorded: %s", exc)


def count_notification(alert_count: int) -> None:
    def action():
        pipe = get_redis().pipeline(transaction=False)
        pipe.hincrby(KEY_PREFIX + "counters", "notifications", 1)
        pipe.hincrby(KEY_PREFIX + "counters", "alerts", alert_count)
        pipe.execute()

    _safely(action)


def count_attempts(attempts: list[tuple[str, str, float]]) -> None:
    """Finished attempts as (integration type, outcome, duration): outcomes and the histogram."""

    def action():
        pipe = get_redis().pipeline(transaction=False)
        for integration_type, result, duration_seconds in attempts:
            pipe.hincrby(KEY_PREFIX + "attempts", f"{integration_type}|{result}", 1)
            if result == "retry":
                pipe.hincrby(KEY_PREFIX + "counters", "retries", 1)
            bucket = next((str(b) for b in DURATION_BUCKETS_SECONDS if duration_seconds <= b), "+Inf")
            pipe.hincrby(KEY_PREFIX + "duration_buckets", f"{integration_type}|{bucket}", 1)
            pipe.hincrbyfloat(KEY_PREFIX + "duration_sum", integration_type, duration_seconds)
        pipe.execute()

    if attempts:
        _safely(action)


def _read_redis() -> tuple[dict, dict, dict, dict, int | None]:
    try:
        client = get_redis()
        pipe = client.pipeline(transaction=False)
        for name in ("counters", "attempts", "duration_buckets", "duration_sum"):
            pipe.hgetall(KEY_PREFIX + name)
        pipe.llen(settings.CELERY_TASK_DEFAULT_QUEUE)
        counters, attempts, buckets, sums, broker_depth = pipe.execute()
    except REDIS_ERRORS:
        return {}, {}, {}, {}, None
    decode = lambda d: {k.decode(): v.decode() for k, v in d.items()}  # noqa: E731
    return decode(counters), decode(attempts), decode(buckets), decode(sums), broker_depth


def render() -> str:
    """The Prometheus text exposition."""
    counters, attempts, buckets, sums, broker_depth = _read_redis()
    lines = [
        "# HELP contactpoints_notifications_received_total Intake requests accepted.",
        "# TYPE contactpoints_notifications_received_total counter",
        f"contactpoints_notifications_received_total {counters.get('notifications', 0)}",
        "# HELP contactpoints_alerts_received_total Alerts in accepted intake requests.",
        "# TYPE contactpoints_alerts_received_total counter",
        f"contactpoints_alerts_received_total {counters.get('alerts', 0)}",
        "# HELP contactpoints_delivery_attempts_total Delivery attempts by integration type and outcome.",
        "# TYPE contactpoints_delivery_attempts_total counter",
    ]
    for key, value in sorted(attempts.items()):
        integration_type, result = key.split("|", 1)
        lines.append(f'contactpoints_delivery_attempts_total{{type="{integration_type}",outcome="{result}"}} {value}')
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
