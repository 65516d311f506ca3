"""Celery tasks: thin wrappers over the delivery state machine (contactpoints.queue)."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown, worker_shutting_down
from django.db import close_old_connections
from django.utils import timezone

from contactpoints import listener, queue
from contactpoints.broker import DELIVER_DUE_TASK
from contactpoints.models import IdempotencyKey
from contactpoints.services import IDEMPOTENCY_WINDOW


# A wake is acknowledged when it starts: the deliveries it stands for are rows in the database,
# so a wake lost with its worker costs one sweep's delay, and Redis holds fewer unacknowledged
# messages to restore when the connection drops.
@shared_task(name=DELIVER_DUE_TASK, ignore_result=True, acks_late=False)
def deliver_due() -> dict[str, int]:
    """A wake: claim and send due deliveries while there are any. Returns how many ended in each status."""
    close_old_connections()  # drop a connection that is too old or broken; keep a good one
    return dict(queue.deliver_due(record_in_background=True))  # what the worker logs: counts, not every id


@worker_ready.connect
def _start_listening(**_: object) -> None:
    """New notifications' deliveries are handed to the worker as they are stored (contactpoints.handoff)."""
    listener.start()


@worker_shutting_down.connect
def _stop_lingering(**_: object) -> None:
    """A warm shutdown waits for running tasks: a wake lingering for rings must end instead, and
    the hand-off listener leaves (the process waits for it to serve what was on its way)."""
    queue.WORKER_STOPPING.set()
    listener.stop()


@worker_shutdown.connect
def _wait_for_the_listener(**_: object) -> None:
    listener.wait_stopped()


@shared_task(name="contactpoints.tasks.deliver", ignore_result=True)
def deliver(delivery_id: str) -> dict[str, int]:
    """The one-message-per-delivery task of earlier releases: messages still queued at upgrade act as wakes."""
    return deliver_due()


@shared_task(name="contactpoints.tasks.sweep_deliveries", ignore_result=True)
def sweep_deliveries() -> dict[str, int]:
    close_old_connections()
    return queue.sweep()


@shared_task(name="contactpoints.tasks.expire_idempotency_keys", ignore_result=True)
def expire_idempotency_keys() -> int:
    close_old_connections()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_WINDOW).delete()
    return deleted
