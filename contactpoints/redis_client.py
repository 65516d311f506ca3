"""One Redis client for counters, rate limits and health; it gives up fast when Redis is down."""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings


@cache
def get_redis() -> redis.Redis:
    timeout = settings.REDIS_SOCKET_TIMEOUT_SECONDS
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
    )


# What a Redis outage raises; callers that can do without Redis catch exactly these.
REDIS_ERRORS = (redis.RedisError, OSError)
