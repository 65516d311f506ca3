"""How a claimed batch meets its destinations' pace: coalesce, reserve a slot, or wait in the queue.

The deliveries of one integration in a batch form a group. When the group's destination is paced
(a rate, or a pause after it answered 429) and the group holds more than COALESCE_THRESHOLD
deliveries, it is merged into digests of at most DIGEST_MAX_NOTIFICATIONS: one message each,
rendered by the type's own templates over the merged alerts. Each message then reserves its
destination's next slot (contactpoints.pacing, shared by every worker): a slot within
PACING_HOLD_SECONDS is kept and the sender thread waits for it; a later one sends that message and
the rest of the group back to the queue, due when the slot comes. There they meet whatever arrived
for the same integration meanwhile, and the next claim coalesces them all.

A destination without a documented limit (a generic webhook) is neither paced nor coalesced until
it answers 429; then its pause holds it like any other.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from contactpoints import pacing, sending
from contactpoints.models import Delivery, Notification
from contactpoints.sending import Send, derive_group_key
from integrations.base import SettingsError
from integrations.destinations import Destination
from integrations.registry import UnknownIntegrationType

logger = logging.getLogger(__name__)


@dataclass
class Message:
    """One send: a delivery alone, or a digest carried by its first delivery for all of them."""

    deliveries: list[Delivery]
    send: Send

    @property
    def carrier(self) -> Delivery:
        return self.deliveries[0]


@dataclass
class Plan:
    messages: list[Message] = field(default_factory=list)
    # Deliveries whose destination has no slot soon: (delivery, when it is due again).
    waiting: list[tuple[Delivery, datetime]] = field(default_factory=list)


def plan(deliveries: list[Delivery], start_by: float | None, pauses: pacing.Pauses | None = None) -> Plan:
    """What to send now (and when, within the hold) and what goes back to wait for its slot.

    `pauses`, when the claim came with a ring, spares an unlimited destination its reservation."""
    groups: dict[Any, list[Delivery]] = {}
    for delivery in deliveries:
        groups.setdefault(delivery.integration_id, []).append(delivery)
    result = Plan()
    for group in groups.values():
        try:
            destination = sending.destination(group[0].integration)
        except (SettingsError, UnknownIntegrationType):
            # Settings that no longer validate: each send records why, and nothing is paced.
            result.messages += [single(delivery, start_by) for delivery in group]
            continue
        except Exception:  # a bug in a destination rule (NoDestinationRule, ...) must not hold the batch
            logger.exception("no destination for integration %s; its deliveries go unpaced", group[0].integration.uid)
            result.messages += [single(delivery, start_by) for delivery in group]
            continue
        _plan_group(result, group, destination, start_by, pauses)
    return result


def _plan_group(
    result: Plan, group: list[Delivery], destination: Destination, start_by: float | None, pauses: pacing.Pauses | None
) -> None:
    hold = settings.PACING_HOLD_SECONDS
    wait = 0.0 if goes_now(destination, pauses) else _reserve(destination)
    if destination.rate_per_second is None and wait == 0:
        # Unlimited and not paused: no slots to take, every delivery goes now.
        result.messages += [single(delivery, start_by, destination.key) for delivery in group]
        return
    parts = _digests(group) if len(group) > settings.COALESCE_THRESHOLD else [[delivery] for delivery in group]
    for index, part in enumerate(parts):
        if index:
            wait = _reserve(destination)
        if wait > hold:  # not reserved: this part and the rest wait in the queue for their slot
            # Back at least once per longest retry delay: a pace of one message a year stays in range.
            due_at = timezone.now() + timedelta(seconds=min(wait, settings.DELIVERY_RETRY_MAX_SECONDS))
            result.waiting += [(delivery, due_at) for waiting in parts[index:] for delivery in waiting]
            return
        not_before = time.monotonic() + wait if wait > 0 else None
        if len(part) == 1:
            result.messages.append(single(part[0], start_by, destination.key, not_before))
        else:
            result.messages.append(_digest(part, start_by, destination.key, not_before))


def goes_now(destination: Destination, pauses: pacing.Pauses | None) -> bool:
    """Whether a delivery to `destination` is sent at once without asking Redis: an unlimited
    destination reserves nothing, and only its pause, which the snapshot shows it has not, could hold it."""
    return destination.rate_per_second is None and pauses is not None and pauses.shows_unpaused(destination.key)


def _reserve(destination: Destination) -> float:
    return pacing.reserve(
        destination.key,
        destination.rate_per_second,
        destination.burst,
        max_wait_seconds=settings.PACING_HOLD_SECONDS,
    )


def _digests(group: list[Delivery]) -> list[list[Delivery]]:
    """The group in arrival order, cut into digests of at most DIGEST_MAX_NOTIFICATIONS."""
    ordered = sorted(group, key=lambda delivery: (delivery.notification.received_at, str(delivery.pk)))
    size = max(settings.DIGEST_MAX_NOTIFICATIONS, 2)
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]


def single(delivery: Delivery, start_by: float | None, key: str = "", not_before: float | None = None) -> Message:
    """The delivery sent alone."""
    send = Send(
        delivery.integration,
        delivery.notification,
        delivery.firing_only,
        str(delivery.pk),
        start_by,
        destination_key=key,
        not_before=not_before,
    )
    return Message([delivery], send)


def _digest(deliveries: list[Delivery], start_by: float | None, key: str, not_before: float | None) -> Message:
    carrier = deliveries[0]
    send = Send(
        carrier.integration,
        merged_notification(deliveries),
        False,  # each delivery's disableResolveMessage is applied while merging
        f"digest-{carrier.pk}",
        start_by,
        destination_key=key,
        not_before=not_before,
        merged_notifications=len(deliveries),
    )
    return Message(deliveries, send)


def merged_notification(deliveries: list[Delivery]) -> Notification:
    """One notification (not stored) with the alerts of all, as the digest's templates see it.

    An alert repeated by later notifications (same labels) is listed once, as it was last sent.
    Group labels are those all the notifications share.
    """
    alerts: dict[str, dict[str, Any]] = {}
    for delivery in deliveries:
        for alert in delivery.notification.alerts:
            if delivery.firing_only and alert["status"] != "firing":
                continue
            identity = repr(sorted(alert["labels"].items()))
            alerts.pop(identity, None)  # re-insert: the latest keeps its place at the end
            alerts[identity] = alert
    first = deliveries[0].notification
    notifications = [delivery.notification for delivery in deliveries]
    shared = {
        name: value
        for name, value in first.group_labels.items()
        if all(n.group_labels.get(name) == value for n in notifications)
    }
    same_group = all(n.group_key == first.group_key for n in notifications)
    group_key = first.group_key if same_group else derive_group_key(deliveries[0].integration.contact_point.uid, shared)
    merged = list(alerts.values())
    return Notification(
        id=first.id,
        contact_point_id=first.contact_point_id,
        status="firing" if any(alert["status"] == "firing" for alert in merged) else "resolved",
        alerts=merged,
        receiver=first.receiver,
        group_key=group_key,
        group_labels=shared,
        external_url=first.external_url,
        truncated_alerts=sum(n.truncated_alerts for n in notifications),
        source="digest",
        received_at=first.received_at,
    )
