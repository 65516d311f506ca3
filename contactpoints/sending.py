"""Sending: build the send context for one integration and send through it, now.

Deliveries (contactpoints.queue), test notifications and template previews all build their
renderer and context here. Sending itself never touches the database, so many sends can run at
once on the sender threads; reading what they need (user templates) happens before.

What every send reads is cached per process and keyed by version, so a change saved in the admin
applies to the very next send: validated settings by the integration's `updated_at`, user
templates by their count and latest `updated_at` (one small query per batch).
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from http import HTTPStatus
from threading import Lock
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from contactpoints import pacing
from contactpoints.models import ContactPoint, Integration, Notification, NotificationTemplate, TemplateSyntax
from contactpoints.sender_threads import SLOW_SEND_SECONDS, SenderThreads
from contactpoints.storable import storable_text
from integrations.alertdata import test_alert
from integrations.base import Outcome, OutgoingRequest, Result, SendContext, SettingsError
from integrations.destinations import Destination, destination_of
from integrations.http import HttpTransport, OutboundPolicy
from integrations.registry import UnknownIntegrationType
from integrations.templating import TemplateRenderer, build_template_data, render_budget
from integrations.values import scrub

logger = logging.getLogger(__name__)

# A 429 without Retry-After holds its destination this long (Slack's one-message-per-second pace).
TOO_MANY_REQUESTS_PAUSE_SECONDS = 1.0


@cache
def transport() -> HttpTransport:
    """The process's one HTTP seam, configured from settings."""
    policy = OutboundPolicy.from_cidrs(settings.OUTBOUND_DENY_NETWORKS, settings.OUTBOUND_ALLOW_NETWORKS)
    return HttpTransport(
        policy,
        user_agent=f"{settings.PRODUCT_NAME}/{settings.VERSION}",
        timeout_seconds=settings.DELIVERY_TIMEOUT_SECONDS,
        connections_per_destination=settings.DELIVERY_SEND_CONCURRENCY,
    )


@cache
def _senders() -> ThreadPoolExecutor:
    """Threads that wait on the network for a batch, so one worker keeps many requests in flight."""
    return ThreadPoolExecutor(max_workers=settings.DELIVERY_SEND_CONCURRENCY, thread_name_prefix="sender")


@cache
def _sender_threads() -> SenderThreads:
    """How many of them a batch takes, learned from the process's sends."""
    return SenderThreads(most=settings.DELIVERY_SEND_CONCURRENCY)


# -- caches keyed by version ----------------------------------------------------------------

_cache_lock = Lock()
# Integration id → (the version it was worked out for, the value).
_configs: dict[int, tuple[datetime, dict[str, Any]]] = {}
_destinations: dict[int, tuple[tuple[datetime, str], Destination]] = {}
# Adding, changing or removing a template changes one of these.
TEMPLATES_VERSION_SQL = f"SELECT COUNT(*), MAX(updated_at) FROM {NotificationTemplate._meta.db_table}"  # noqa: S608
MAX_CACHED_CONFIGS = 10_000


@dataclass(frozen=True)
class UserTemplates:
    """The user's notification templates by syntax, {name: content} each: every engine calls its own."""

    jinja: dict[str, str] = field(default_factory=dict)
    go: dict[str, str] = field(default_factory=dict)


_user_templates: dict[str, Any] = {"version": None, "templates": UserTemplates()}


def user_templates(version: tuple | None = None) -> UserTemplates:
    """The user's templates, reloaded whenever one was added, changed or removed.

    `version` is TEMPLATES_VERSION_SQL's answer when the caller already read it (a claim does).
    """
    if version is None:
        with connection.cursor() as cursor:  # every batch asks: no ORM compile for a fixed question
            cursor.execute(TEMPLATES_VERSION_SQL)
            version = cursor.fetchone()
    with _cache_lock:
        if version != _user_templates["version"]:
            loaded = UserTemplates()
            for name, content, syntax in NotificationTemplate.objects.values_list("name", "content", "syntax"):
                (loaded.go if syntax == TemplateSyntax.GO else loaded.jinja)[name] = content
            _user_templates["templates"] = loaded
            _user_templates["version"] = version
        return _user_templates["templates"]


def validated_config(integration: Integration) -> dict[str, Any]:
    """The integration's validated settings, decrypted and checked once per saved version.

    Raises SettingsError or UnknownIntegrationType like Integration.validated_config().
    """
    config = _per_version(_configs, integration.pk, integration.updated_at, integration.validated_config)
    return dict(config)  # a type's clean() may adjust its copy; the cached one stays as validated


def provider_destination(integration: Integration) -> Destination:
    """Where the integration's deliveries go, paced as the provider documents. Raises like validated_config()."""
    smtp_relay = f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    # Worked out once per saved version (the URL parsed, the pacing key hashed), not per delivery.
    return _per_version(
        _destinations,
        integration.pk,
        (integration.updated_at, smtp_relay),
        lambda: destination_of(integration.type, validated_config(integration), smtp_relay=smtp_relay),
    )


def _per_version(cache: dict[int, tuple[Any, Any]], key: int, version: Any, work_out: Callable[[], Any]) -> Any:
    """`cache[key]`'s value while it was worked out for `version`, else `work_out()` (kept; what it
    raises is not)."""
    cached = cache.get(key)
    if cached is None or cached[0] != version:
        cached = (version, work_out())
        if len(cache) >= MAX_CACHED_CONFIGS:
            cache.clear()  # integrations deleted long ago: simplest to start over
        cache[key] = cached
    return cached[1]


def destination(integration: Integration) -> Destination:
    """Where the integration's deliveries go and how fast: its provider's pace, unless the
    integration sets its own rate (0: not paced). Raises like validated_config()."""
    found = provider_destination(integration)
    if integration.rate_per_second is None:
        return found
    rate = integration.rate_per_second or None
    return replace(found, rate_per_second=rate, burst=1, source="the integration's own rate")


def template_renderer(templates: UserTemplates | None = None) -> TemplateRenderer:
    """The built-in templates plus the user's, as every send and preview sees them."""
    templates = user_templates() if templates is None else templates
    return TemplateRenderer(
        templates.jinja,
        go_templates=templates.go,
        product_name=settings.PRODUCT_NAME,
        version=settings.VERSION,
    )


# -- one send -------------------------------------------------------------------------------


@dataclass
class SendResult:
    outcome: Outcome
    duration_seconds: float
    started_at: datetime


@dataclass
class Send:
    """One notification to one integration, everything read from the database beforehand."""

    integration: Integration
    notification: Notification
    firing_only: bool
    idempotency_key: str
    # time.monotonic() after which this send must not start: its lease could lapse mid-send.
    start_by: float | None = None
    # Its destination's pacing key, and the time.monotonic() of its reserved slot (contactpoints.storms).
    destination_key: str = ""
    not_before: float | None = None
    # A digest: how many notifications `notification` merges (0: not a digest).
    merged_notifications: int = 0
    # Its request, built ahead (prepare()); used only if it was built from the same inputs.
    prepared: Prepared | None = None


@dataclass
class Prepared:
    """A send's request, built before the send was certain (a listener builds one from the intake's
    hint while the statement that stores the notification runs, contactpoints.listener): the send
    then only delivers it. It stands for the send only if every input of the build is the same
    (`fits`), so using it can never send anything the send would not have built itself."""

    inputs: tuple
    templates: UserTemplates
    context: SendContext
    request: OutgoingRequest

    def fits(self, send: Send, templates: UserTemplates) -> bool:
        return templates is self.templates and _build_inputs(send) == self.inputs


def _build_inputs(send: Send) -> tuple:
    """Everything of a send that its context and request are built from (templates aside)."""
    notification, integration = send.notification, send.integration
    return (
        integration.pk,
        integration.type,
        integration.updated_at,  # the validated settings' version
        notification.alerts,
        notification.receiver,
        notification.group_key,
        notification.group_labels,
        notification.external_url,
        notification.truncated_alerts,
        send.firing_only,
        send.idempotency_key,
        send.merged_notifications,
    )


def prepare(send: Send, templates: UserTemplates) -> Prepared | None:
    """Build `send`'s request now, for a send that may follow. None when there is none to build
    ahead: a type that sends its own way (email), settings that no longer validate, nothing to
    send, a build that fails (the send builds again and records why)."""
    try:
        integration_type = send.integration.integration_type
    except UnknownIntegrationType:
        return None
    if not integration_type.sends_what_it_builds():
        return None
    context = _context_or_outcome(send, templates)
    if isinstance(context, Outcome):
        return None
    try:
        with render_budget(context.renderer.timeout_seconds):
            request = integration_type().build(context)
    except Exception:  # noqa: BLE001 - a build failure or an integration bug: the send meets it again
        return None
    return None if request is None else Prepared(_build_inputs(send), templates, context, request)


def send_notification(send: Send, templates: UserTemplates) -> SendResult:
    """Render and send now. Never raises: bad settings and integration bugs become outcomes."""
    started_at = timezone.now()
    clock = time.monotonic()
    outcome = _send(send, templates)
    if outcome.error:  # recorded in three places; a body may quote a secret, or hold a NUL no column stores
        outcome.error = storable_text(scrub(outcome.error, send.integration.secret_values()))
    return SendResult(outcome, time.monotonic() - clock, started_at)


def send_many(sends: list[Send], templates: UserTemplates) -> list[SendResult | None]:
    """Send each now, concurrently on the sender threads; results in the order given, None for a
    send that waited for a thread past its `start_by` and was not started.

    A send with a slot to wait for (`not_before`) waits on a thread of its own; the others are
    taken in turn by as many threads as their destinations' answers need (SenderThreads), and a
    slow answer adds one more while sends are left.
    """
    if len(sends) == 1:
        return [_send_in_time(sends[0], templates)]  # no hand-off to another thread for one
    results: list[SendResult | None] = [None] * len(sends)
    in_turn = deque(index for index, send in enumerate(sends) if send.not_before is None)
    threads = _sender_threads().for_batch(sends[index].destination_key for index in in_turn)
    pool, lock = _senders(), Lock()

    def send_one(index: int) -> None:
        results[index] = _send_in_time(sends[index], templates)

    def send_in_turn() -> None:
        nonlocal threads
        while True:
            try:
                index = in_turn.popleft()  # atomic: each send is taken by one thread
            except IndexError:
                return
            send_one(index)
            result = results[index]
            if result is not None and result.duration_seconds >= SLOW_SEND_SECONDS and in_turn:
                with lock:
                    if threads < settings.DELIVERY_SEND_CONCURRENCY:
                        threads += 1
                        started.append(pool.submit(send_in_turn))

    started = [pool.submit(send_one, index) for index, send in enumerate(sends) if send.not_before is not None]
    started += [pool.submit(send_in_turn) for _ in range(threads)]
    waited = 0
    while waited < len(started):  # a thread adds the one it starts before it ends
        started[waited].result()
        waited += 1
    return results


def _send_in_time(send: Send, templates: UserTemplates) -> SendResult | None:
    """None: not sent, queue it again (no sender thread in time, or its destination was paused
    while it waited for its slot)."""
    if send.start_by is not None and time.monotonic() > send.start_by:
        return None
    if send.not_before is not None:
        time.sleep(max(send.not_before - time.monotonic(), 0.0))
        paced = pacing.state(send.destination_key)
        if paced is not None and paced.paused_until is not None:
            return None  # another delivery got a 429 meanwhile: the pause holds this one too
    cpu_before = time.thread_time()
    result = send_notification(send, templates)
    _sender_threads().observe(send.destination_key, result.duration_seconds, time.thread_time() - cpu_before)
    pause_seconds = destination_pause_seconds(result.outcome)
    if send.destination_key and pause_seconds:
        pacing.pause(send.destination_key, pause_seconds)
    return result


def destination_pause_seconds(outcome: Outcome) -> float | None:
    """How long an answer holds every delivery to its destination: its Retry-After, and a 429 without one."""
    if outcome.ok:
        return None
    if outcome.retry_after_seconds is not None:
        return outcome.retry_after_seconds
    return TOO_MANY_REQUESTS_PAUSE_SECONDS if outcome.http_status == HTTPStatus.TOO_MANY_REQUESTS else None


def _send(send: Send, templates: UserTemplates) -> Outcome:
    integration = send.integration
    prepared = send.prepared if send.prepared is not None and send.prepared.fits(send, templates) else None
    if prepared is not None:
        context, request = prepared.context, prepared.request
    else:
        context, request = _context_or_outcome(send, templates), None
        if isinstance(context, Outcome):
            return context
    integration_type = integration.integration_type  # validated with the settings: known
    try:
        # All templates of this delivery share one render budget, all its requests one deadline.
        with render_budget(context.renderer.timeout_seconds), transport().attempt(context.timeout_seconds):
            if request is None:
                outcome = integration_type().send(context, transport())
            else:
                outcome = integration_type().deliver(request, context, transport())
    except Exception as exc:  # noqa: BLE001 - any integration bug, recorded below
        # A bug in one integration must not lose the delivery: record it and keep the row moving.
        # The traceback is logged scrubbed: an exception's text may quote a URL or a secret.
        trace = scrub("".join(traceback.format_exception(exc)), integration.secret_values())
        logger.error("integration %s raised:\n%s", integration.type, trace)
        return Outcome(
            Result.RETRY, error=f"internal error in the {integration.type} integration: {type(exc).__name__}"
        )
    if context.template_errors and outcome.ok:
        errors = scrub("; ".join(context.template_errors), integration.secret_values())
        logger.warning("template errors in %s %s: %s", integration.type, integration.uid, errors)
    return outcome


def _context_or_outcome(send: Send, templates: UserTemplates) -> SendContext | Outcome:
    """The send's context, or its outcome when there is nothing to build: settings that no longer
    validate (failed), or no alert left to send (disableResolveMessage and nothing fires: done)."""
    try:
        config = validated_config(send.integration)
    except (SettingsError, UnknownIntegrationType) as exc:
        return Outcome(Result.FAILED, error=f"settings no longer validate: {exc}")
    alerts = send.notification.alerts
    if send.firing_only:
        alerts = [alert for alert in alerts if alert["status"] == "firing"]
    if not alerts:
        return Outcome.success()
    return _send_context(send, alerts, config, templates)


def _send_context(
    send: Send, alerts: list[dict[str, Any]], config: dict[str, Any], templates: UserTemplates
) -> SendContext:
    notification = send.notification
    data = build_template_data(
        alerts,
        receiver=notification.receiver,
        group_key=notification.group_key,
        group_labels=notification.group_labels,
        external_url=notification.external_url,
        truncated_alerts=notification.truncated_alerts,
        app_version=settings.VERSION,
        merged_notifications=send.merged_notifications,
    )
    renderer = template_renderer(templates)
    return SendContext(
        config=config,
        data=data,
        render_template=lambda source: renderer.render(source, data),
        idempotency_key=send.idempotency_key,
        timeout_seconds=settings.DELIVERY_TIMEOUT_SECONDS,
        product_name=settings.PRODUCT_NAME,
        version=settings.VERSION,
        renderer=renderer,
        raw_alerts=alerts,
    )


# -- test notifications ---------------------------------------------------------------------


def format_label_set(labels: dict[str, str]) -> str:
    """Alertmanager's LabelSet.String(): `{a="1", b="2"}`, names sorted."""
    return "{" + ", ".join(f'{name}="{labels[name]}"' for name in sorted(labels)) + "}"


def derive_group_key(contact_point_uid: str, group_labels: dict[str, str]) -> str:
    """Grafana's `<route key>:<group labels>` shape, the route being the contact point."""
    return f'{{}}/{{contact_point="{contact_point_uid}"}}:{format_label_set(group_labels)}'


def send_test_notification(
    contact_point: ContactPoint,
    *,
    integrations: Iterable[Integration] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Send spec §3.8's test alert to each integration now, in parallel; one result per integration.

    Nothing is stored: a test is an answer on the page, not a delivery in the history.
    """
    alert = test_alert(labels, annotations)
    group_labels = {"alertname": alert["labels"]["alertname"]}
    notification = Notification(
        contact_point=contact_point,
        status="firing",
        alerts=[alert],
        receiver=contact_point.name,
        group_key=derive_group_key(contact_point.uid, group_labels),
        group_labels=group_labels,
        external_url=settings.PUBLIC_URL,
        source="test",
    )
    targets = list(integrations if integrations is not None else contact_point.integrations.all())
    sends = [Send(integration, notification, False, f"test-{uuid.uuid4()}") for integration in targets]
    results = send_many(sends, user_templates()) if sends else []
    return [
        {
            "uid": send.integration.uid,
            "type": send.integration.type,
            "status": "ok" if result.outcome.ok else "failed",
            "error": result.outcome.error,
            "durationMs": round(result.duration_seconds * 1000),
        }
        for send, result in zip(sends, results, strict=True)
    ]
