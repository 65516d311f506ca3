"""The destinations page: every destination enabled integrations send to, and its pacing now.

A destination (integrations.destinations) is what a provider rate-limits: a Slack channel, a
Discord webhook, a PagerDuty routing key. Integrations sharing one share its pace and its pauses,
so the page lists destinations, not integrations: their rate and where it comes from, whether a
429 paused them and until when, when the next message may go, and how many deliveries wait.
Names show the type, the kind and the key's hash, never the URL or token behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from contactpoints import pacing, sending
from contactpoints.destination_rates import describe_rate, describe_source
from contactpoints.models import Delivery, DeliveryStatus, Integration
from contactpoints.pacing import PacingState
from integrations.destinations import Destination

DESTINATIONS_TEMPLATE = "admin/contactpoints/integration/destinations.html"
WAITING_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
REDIS_UNAVAILABLE = "unknown (Redis unavailable)"
NOT_PAUSED = "—"


@dataclass
class DestinationRow:
    key: str  # `<type>:<kind>:<hash>`: free of secrets
    name: str  # "Slack webhook"
    integrations: list[Integration] = field(default_factory=list)
    paces: list[Destination] = field(default_factory=list)  # distinct: integrations may set their own
    state: PacingState | None = None  # None: Redis did not answer
    waiting: int = 0

    @property
    def paused(self) -> bool:
        return self.state is not None and self.state.paused_until is not None


@dataclass
class DestinationsReport:
    rows: list[DestinationRow]
    unreadable: list[Integration]  # settings that no longer validate: no destination to tell


def waiting_counts() -> dict[int, int]:
    """{integration id: deliveries pending or retrying}, for every enabled integration in one query."""
    return dict(
        Delivery.objects.filter(integration__enabled=True, status__in=WAITING_STATUSES)
        .values_list("integration")
        .annotate(count=Count("pk"))
        .order_by()
    )


def destinations_report() -> DestinationsReport:
    integrations = Integration.objects.filter(enabled=True).select_related("contact_point")
    waiting = waiting_counts()
    rows: dict[str, DestinationRow] = {}
    unreadable: list[Integration] = []
    for integration in integrations.order_by("contact_point__name", "position", "id"):
        try:
            pace = sending.destination(integration)
        except (ValueError, LookupError, TypeError, AttributeError):
            # SettingsError, an unknown type or a stored value the type's rules did not expect.
            unreadable.append(integration)
            continue
        kind = pace.key.split(":")[1]
        row = rows.setdefault(pace.key, DestinationRow(pace.key, f"{integration.type_label} {kind}"))
        row.integrations.append(integration)
        if pace not in row.paces:
            row.paces.append(pace)
        row.waiting += waiting.get(integration.pk, 0)
    redis_answers = True
    for row in rows.values():
        first = row.paces[0]  # where integrations disagree, the first one's pace times the next slot
        # Once Redis did not answer, the other rows do not wait for its timeout one by one.
        row.state = pacing.state(row.key, first.rate_per_second, first.burst) if redis_answers else None
        redis_answers = row.state is not None
    # Paused destinations first, then the longest queues: what someone looking at a storm wants.
    ordered = sorted(rows.values(), key=lambda row: (not row.paused, -row.waiting, row.name, row.key))
    return DestinationsReport(ordered, unreadable)


# -- cells -----------------------------------------------------------------------------------


def pace_text(pace: Destination) -> SafeString:
    rate = describe_rate(pace.rate_per_second, pace.burst)
    return format_html('{} <span class="cp-muted">· {}</span>', rate, describe_source(pace))


def paused_until_text(state: PacingState | None) -> str | SafeString:
    """The time of day the pause ends (pauses last minutes at most), the full date on hover."""
    if state is None:
        return REDIS_UNAVAILABLE
    if state.paused_until is None:
        return NOT_PAUSED
    moment = timezone.localtime(datetime.fromtimestamp(state.paused_until, tz=UTC))
    remaining = max(state.paused_until - datetime.now(UTC).timestamp(), 0)
    return format_html(
        '<time datetime="{}" title="{}">{}</time> (in {} s)',
        moment.isoformat(),
        formats.date_format(moment, "DATETIME_FORMAT"),
        formats.time_format(moment, "TIME_FORMAT"),
        f"{remaining:.0f}",
    )


def next_slot_text(state: PacingState | None) -> str:
    if state is None:
        return REDIS_UNAVAILABLE
    return "now" if state.next_slot_in < 0.05 else f"in {state.next_slot_in:.1f} s"


# -- the view --------------------------------------------------------------------------------


def destinations_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    report = destinations_report()
    rows = [
        {
            "row": row,
            "paces": [pace_text(pace) for pace in row.paces],
            "paused_until": paused_until_text(row.state),
            "next_slot": next_slot_text(row.state),
        }
        for row in report.rows
    ]
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Destinations",
        "rows": rows,
        "unreadable": report.unreadable,
    }
    return TemplateResponse(request, DESTINATIONS_TEMPLATE, context)
