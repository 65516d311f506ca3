"""An integration's own rate beside its destination's default pace (issue 11).

`Integration.rate_per_second` is our own setting beside Grafana's: null follows the provider's
documented limit (integrations.destinations), 0 sends unpaced, any other number is the pace. It
is `ratePerSecond` in the provisioning API and in provisioning files. The admin form, the API and
the file import judge it by the one rule here, and the admin describes paces with these texts.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from django.utils.html import format_html
from django.utils.safestring import SafeString

from contactpoints import sending
from contactpoints.models import Integration
from integrations.destinations import Destination

RATE_KEY = "ratePerSecond"  # its name in the API and in provisioning files
RATE_RULE = "a number of messages per second, 0 or more (0: not paced)"
API_RATE_ERROR = f"{RATE_KEY} must be {RATE_RULE}, or null for the provider's default"
FORM_RATE_ERROR = f"Enter {RATE_RULE}, or leave it empty for the provider's default."
NOT_PACED_HELP = "0: not paced (until the destination answers 429)."
# The first unit with at least one message: "20 messages/min", not "0.333 messages/s".
RATE_UNITS = (("s", 1), ("min", 60), ("hour", 3600), ("day", 86400))


class InvalidRate(ValueError):
    """A `ratePerSecond` that is not null nor a finite number ≥ 0; the message names the field."""

    def __init__(self) -> None:
        super().__init__(API_RATE_ERROR)


def parse_rate(value: Any, *, from_text: bool = False) -> float | None:
    """`ratePerSecond` as given → the stored rate (None: the provider's default).

    The API takes JSON numbers only; provisioning files (`from_text`) also take text, which is
    what `$VAR` interpolation leaves there ("" reads as unset, like an unset variable).
    """
    if from_text and isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = float(value)
        except ValueError:
            raise InvalidRate from None
    if value is None:
        return None
    # bool is an int in Python, but `true` is no rate.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRate
    rate = float(value)
    if not (math.isfinite(rate) and rate >= 0):  # also refuses NaN
        raise InvalidRate
    return rate


# -- describing paces ------------------------------------------------------------------------


def describe_rate(rate_per_second: float | None, burst: int = 1) -> str:
    """ "1 message/s", "20 messages/min", "73.5 messages/hour (bursts of 3)", "not paced"."""
    if rate_per_second is None:
        return "not paced"
    unit, seconds = next(
        ((unit, seconds) for unit, seconds in RATE_UNITS if rate_per_second * seconds >= 1), RATE_UNITS[-1]
    )
    count = rate_per_second * seconds
    number = f"{round(count):,}" if count >= 100 else f"{count:.3g}"  # 3 digits, never "1e+03"
    text = f"{number} message{'' if number == '1' else 's'}/{unit}"
    return f"{text} (bursts of {burst})" if burst > 1 else text


def describe_source(pace: Destination) -> SafeString:
    """Where a pace comes from: the provider's page (a link), the integration's own rate, or nothing."""
    if pace.source.startswith(("https://", "http://")):
        # The host reads shorter than the page's URL (Microsoft's is 130 characters); hover shows it all.
        host = urlsplit(pace.source).hostname or pace.source
        return format_html(
            '<a href="{}" title="{}" rel="noreferrer" target="_blank">{}</a>', pace.source, pace.source, host
        )
    return format_html("{}", pace.source or "no documented limit")


def default_rate_help(integration: Integration) -> SafeString:
    """The rate field's help on a saved integration: its destination's default pace, and its page."""
    try:
        default = sending.provider_destination(integration)
    except (ValueError, LookupError, TypeError, AttributeError):
        # Settings that do not validate (SettingsError), an unknown type: no destination to tell.
        return format_html(
            "Empty: the provider's documented limit, told once the settings validate. {}", NOT_PACED_HELP
        )
    label = integration.type_label
    if default.rate_per_second is None and not default.source:
        said = format_html("not paced ({} documents no limit)", label)
    elif default.rate_per_second is None:
        said = format_html("not paced (no fixed limit for {}: {})", label, describe_source(default))
    else:
        said = format_html(
            "{} ({}, {})", describe_rate(default.rate_per_second, default.burst), label, describe_source(default)
        )
    return format_html("Default: {}. Empty: that default. {}", said, NOT_PACED_HELP)
