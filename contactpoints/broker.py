"""Publishing to the broker: a doorbell that wakes a worker to claim due deliveries.

A message names no delivery. The deliveries table is the queue (contactpoints.queue claims from it
in batches); a message only says "something is due". So a burst of notifications costs a few
messages, not one each, and a lost message loses nothing: beat's sweeper rings again while
anything is due.

Publishers ring at most once per wake: a flag in Redis says a wake is on its way or a worker is
claiming. The worker keeps claiming while anything is due, and only when it finds nothing does it
clear the flag and look once more. A delivery committed after the clear finds no flag and rings
again; one committed before it is seen by that last look.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import current_app
from django.conf import settings
from redis.client import Pipeline

from contactpoints.redis_client import REDIS_ERRORS, get_redis

logger = logging.getLogger(__name__)

DELIVER_DUE_TASK = "contactpoints.tasks.deliver_due"
WAKE_PENDING_KEY = "contactpoints:wake-pending"
# Every commit's ring, for a worker lingering on it (listen()).
DOORBELL_KEY = "contactpoints:doorbell"
# A flag whose message was lost (the worker died holding it) expires: the next publisher rings anew.
WAKE_PENDING_TTL_MS = 5000


def wake(also: Callable[[Pipeline], object] | None = None) -> bool:
    """Ring unless a wake is already on its way. Call after the commit that made work due.

    `also` adds commands of the caller's to the same round trip (the intake's counters), so the
    busiest path pays for one trip to Redis after its commit, not two. Returns False when the
    broker is unreachable: the work stays in the database for the sweeper.
    """
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.set(WAKE_PENDING_KEY, 1, nx=True, px=WAKE_PENDING_TTL_MS)
        # A worker lingering as the wake in progress (listen()) takes the commit at once; one ring
        # is enough however many commits rang, so the list never holds more.
        pipe.rpush(DOORBELL_KEY, 1)
        pipe.ltrim(DOORBELL_KEY, -1, -1)
        if also is not None:
            also(pipe)
        if not pipe.execute()[0]:
            return True
    except REDIS_ERRORS as exc:
        logger.warning("broker unavailable (%s); due deliveries wait for the sweeper", type(exc).__name__)
        return False
    if publish():
        return True
    clear_wake()  # no message behind the flag: let the next publisher try again
    return False


def publish(countdown_seconds: float | None = None) -> bool:
    """One wake message, flag or not (the sweeper, and retries that come due later)."""
    try:
        current_app.send_task(
            DELIVER_DUE_TASK,
            countdown=countdown_seconds or None,
            queue=settings.CELERY_TASK_DEFAULT_QUEUE,
            retry=False,
        )
    except Exception as exc:  # noqa: BLE001 - any broker failure means "the sweeper will ring later"
        logger.warning("broker unavailable (%s); due deliveries wait for the sweeper", type(exc).__name__)
        return False
    return True


def listen(seconds: float, then: Callable[[Pipeline], object] | None = None) -> tuple[bool, Any] | None:
    """Linger as the wake in progress: keep its flag set and wait up to `seconds` for a commit to
    ring the doorbell. None when this cannot listen (Redis unreachable, or lingering turned off);
    else whether one rang (claim again) and the reply to the one command `then` adds, which Redis
    runs as the wait ends, in the same round trip (an exception object when it failed).

    At a steady trickle of notifications this saves each one a trip through Celery. A ring left
    over from earlier costs one empty claim. The wait stays below the Redis client's socket timeout.
    """
    seconds = min(seconds, settings.REDIS_SOCKET_TIMEOUT_SECONDS / 2)
    if seconds <= 0:
        return None
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.pexpire(WAKE_PENDING_KEY, WAKE_PENDING_TTL_MS)
        pipe.blpop([DOORBELL_KEY], timeout=seconds)
        if then is not None:
            then(pipe)
        replies = pipe.execute(raise_on_error=False)
    except REDIS_ERRORS as exc:
        logger.debug("not listening for rings: %s", exc)
        return None
    if isinstance(replies[1], Exception):
        logger.debug("not listening for rings: %s", replies[1])
        return None
    return replies[1] is not None, replies[2] if then is not None else None


def clear_wake() -> None:
    """Called by a worker that found nothing due, before it looks one last time."""
    try:
        get_redis().delete(WAKE_PENDING_KEY)
    except REDIS_ERRORS as exc:
        logger.debug("wake flag not cleared: %s", exc)
