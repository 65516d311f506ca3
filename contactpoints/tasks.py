"""Celery tasks: thin wrappers over contactpoints.delivery."""

from __future__ import annotations

from celery import shared_task
from django.db import close_old_connections
from django.utils import timezone

from contactpoints import delivery


@shared_task(name="contactpoints.tasks.deliver", ignore_result=True)
def deliver(delivery_id: str) -> str | None:
    """Send one delivery. A duplicate message finds the row already claimed and does nothing."""
    close_old_connections()  # drop a connection that is too old or broken; keep a good one
    return delivery.run_delivery(delivery_id)


@shared_task(name="contactpoints.tasks.sweep_deliveries", ignore_result=True)
def sweep_deliveries() -> dict[str, int]:
    close_old_connections()
    return delivery.sweep()


@shared_task(name="contactpoints.tasks.expire_idempotency_keys", ignore_result=True)
def expire_idempotency_keys() -> int:
    from contactpoints.models import IdempotencyKey
    from contactpoints.services import IDEMPOTENCY_WINDOW

    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_WINDOW).delete()
    return deleted
