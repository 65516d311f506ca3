"""A database or Redis that is briefly unreachable answers 503 with Retry-After, never a 500.

A PostgreSQL restart, a SQLite writer holding the lock past the busy timeout, or a Redis
failover is an outage the client can wait out; nothing the client sent is wrong. So such a request
gets 503, `Retry-After` and the API's JSON error shape, and the log gets one WARNING line instead
of a traceback. Recovery needs nothing here: Django drops a connection that failed when the request
ends (CONN_HEALTH_CHECKS checks a kept one before reuse), and the next request connects anew.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
DATABASE_OUTAGES = (OperationalError, InterfaceError)
REDIS_OUTAGES = (redis.ConnectionError, redis.TimeoutError)


def _what_failed(exception: Exception) -> str | None:
    if isinstance(exception, DATABASE_OUTAGES):
        return "database"
    if isinstance(exception, REDIS_OUTAGES):
        return "Redis"
    return None


def _first_line(exception: Exception) -> str:
    lines = str(exception).strip().splitlines()
    return lines[0][:200] if lines else type(exception).__name__


class OutageMiddleware:
    """Turns an unreachable database or Redis during a view into 503 with Retry-After."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return outage_response(request, exception)


def outage_response(request: HttpRequest, exception: Exception) -> HttpResponse | None:
    """The 503 for an outage, logged once; None for anything else (a bug: Django's 500 and its traceback)."""
    what = _what_failed(exception)
    if what is None:
        return None
    logger.warning(
        "%s unavailable during %s %s, answered 503: %s: %s",
        what,
        request.method,
        request.path,
        type(exception).__name__,
        _first_line(exception),
    )
    response = JsonResponse(
        {"message": f"the {what} is unavailable for a moment; retry in {RETRY_AFTER_SECONDS} seconds"},
        status=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
    response._has_been_logged = True  # the warning above is its log line: no "Service Unavailable" error
    return response
