"""Per-token intake rate limit in Redis (fixed one-minute windows). Fails open when Redis is down:
losing alerts is worse than accepting a burst."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from contactpoints.redis_client import REDIS_ERRORS, get_redis

logger = logging.getLogger(__name__)

_PERIODS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}


@dataclass(frozen=True)
class Rate:
    count: int
    period_seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*([a-z]+)\s*", text.lower())
        if not match or match.group(2) not in _PERIODS:
            raise ValueError(f"invalid rate {text!r}: expected N/s, N/min, N/hour or N/day")
        return cls(int(match.group(1)), _PERIODS[match.group(2)])


def check(identity: str, rate: Rate) -> float | None:
    """Count one request; None when allowed, else the seconds until the window reopens."""
    now = time.time()
    window = int(now // rate.period_seconds)
    key = f"contactpoints:ratelimit:{identity}:{window}"
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, rate.period_seconds + 1)
        count = pipe.execute()[0]
    except REDIS_ERRORS as exc:
        logger.debug("rate limit not checked: %s", exc)
        return None
    if count <= rate.count:
        return None
    return max(1.0, (window + 1) * rate.period_seconds - now)
