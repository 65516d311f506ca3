"""Small display helpers shared by the admin modules: short texts, badges, health."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.timesince import timesince

from contactpoints.models import Integration
from integrations import registry
from integrations.base import Kind
from integrations.values import get_path

SHORT_TEXT_CHARS = 80


def short(text: str | None, chars: int = SHORT_TEXT_CHARS) -> str:
    """One line of a long text (errors), for list columns."""
    return Truncator(" ".join((text or "").split())).chars(chars)


def pretty_json(value: Any) -> SafeString:
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False))


def integration_summary(integration: Integration) -> str:
    """What tells this integration apart at a glance: its first non-secret one-line setting.

    Required settings come first (the webhook URL, the email addresses); secrets never show.
    """
    try:
        declared = integration.integration_type.fields
    except registry.UnknownIntegrationType:
        return ""
    candidates = sorted(
        (field for field in declared if not field.secret and field.kind is Kind.STRING),
        key=lambda field: not field.required,
    )
    for field in candidates:
        value = get_path(integration.settings or {}, field.key)
        if isinstance(value, str) and value.strip():
            return short(value, 60)
    return ""


# -- badges and health (styles in contactpoints/static/contactpoints/admin.css) ----------------

# Delivery status → badge colour: red needs a look, amber is on its way or held, green is done.
STATUS_BADGES = {
    "delivered": "ok",
    "failed": "error",
    "retrying": "warning",
    "paused": "paused",
}


def badge(text: str, kind: str) -> SafeString:
    return format_html('<span class="cp-badge cp-badge-{}">{}</span>', kind, text)


def status_badge(status: str) -> SafeString:
    return badge(status, STATUS_BADGES.get(status, "muted"))


def ago(moment) -> SafeString:
    """ "5 minutes ago" ("just now" within a minute), with the exact time on hover."""
    exact = formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")
    recent = timezone.now() - moment < timedelta(minutes=1)
    text = "just now" if recent else f"{timesince(moment)} ago"
    return format_html('<time datetime="{}" title="{}">{}</time>', moment.isoformat(), exact, text)


def unhealthy_badge(integration: Integration) -> SafeString:
    """Self-monitoring's mark (contactpoints.monitoring): failed repeatedly, until a delivery succeeds."""
    if integration.unhealthy_since is None:
        return SafeString("")
    since = integration.unhealthy_since
    return format_html(
        '<span class="cp-badge cp-badge-error" title="{}">unhealthy since <time datetime="{}">{}</time></span> ',
        "Failed for good too often within the self-monitoring window; cleared by its next delivery.",
        since.isoformat(),
        formats.date_format(timezone.localtime(since), "SHORT_DATETIME_FORMAT"),
    )


def health(integration: Integration) -> SafeString:
    """Grafana's contact point status for one integration: last attempt, its duration and error,
    behind self-monitoring's unhealthy mark."""
    if integration.last_attempt_at is None:
        return format_html("{}{}", unhealthy_badge(integration), badge("no attempts yet", "muted"))
    state = badge("failing", "error") if integration.last_attempt_error else badge("ok", "ok")
    state = format_html("{}{}", unhealthy_badge(integration), state)
    duration = integration.last_attempt_duration_ms
    html = format_html(
        '{} <span class="cp-nowrap">{}{}</span>',
        state,
        ago(integration.last_attempt_at),
        format_html(" · {} ms", duration) if duration is not None else "",
    )
    if integration.last_attempt_error:
        error = integration.last_attempt_error
        html = format_html('{}<div class="cp-error" title="{}">{}</div>', html, error, short(error))
    return html


def pause_badges(integration: Integration, contact_point_paused: bool = False) -> SafeString:
    """What keeps an integration from sending, said plainly."""
    reasons = (
        ("paused", integration.paused),
        ("contact point paused", contact_point_paused and not integration.paused),
        ("disabled", not integration.enabled),
    )
    return format_html_join(" ", "{}", ((badge(text, "paused"),) for text, applies in reasons if applies))


def integration_state(integration: Integration) -> SafeString:
    """Active, or why not (its contact point must be loaded: select_related or prefetch)."""
    return pause_badges(integration, integration.contact_point.paused) or badge("active", "ok")


def integration_lines(integrations) -> SafeString:
    """One line per integration: its type, whether it is paused, and its health."""
    if not integrations:
        return format_html('<span class="cp-muted">{}</span>', "no integrations")
    return format_html(
        '<ul class="cp-integrations">{}</ul>',
        format_html_join(
            "",
            "<li><strong>{}</strong> {} {}</li>",
            ((integration.type_label, pause_badges(integration), health(integration)) for integration in integrations),
        ),
    )
