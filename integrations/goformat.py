"""Values that print the way Go does: time.Time and its layouts, %v floats, fmt's maps.

Templates written for Grafana expect Go's output: `{{ alert.StartsAt }}`, `date("2006-01-02", ...)`
and `{{ alert.Values }}` must print here what they print in Grafana (spec §3.5).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# -- time, printed and formatted the way Go does -----------------------------------------------


class Time(datetime):
    """A timezone-aware datetime that prints like Go's time.Time and offers its methods."""

    @classmethod
    def parse(cls, value: Any) -> Time:
        """ISO 8601 / RFC 3339 text (or a datetime) to a Time; empty or unreadable is the zero time."""
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, str) and value.strip():
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                return ZERO_TIME
        else:
            return ZERO_TIME
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return cls.of(parsed)

    @classmethod
    def of(cls, moment: datetime) -> Time:
        m = moment
        return cls(m.year, m.month, m.day, m.hour, m.minute, m.second, m.microsecond, tzinfo=m.tzinfo, fold=m.fold)

    def IsZero(self) -> bool:
        return self == ZERO_TIME

    def Unix(self) -> int:
        return math.floor(self.timestamp())

    def UnixMilli(self) -> int:
        return (self - _EPOCH) // timedelta(milliseconds=1)

    def Format(self, layout: str) -> str:
        return go_format_time(self, layout)

    def rfc3339(self) -> str:
        """Go's JSON form (RFC 3339 with nanoseconds, trailing zeros trimmed): the layout
        RFC3339_NANO, written out directly because every alert of every payload prints two."""
        fraction = f"{self.microsecond:06d}".rstrip("0")
        return (
            f"{self.year:04d}-{self.month:02d}-{self.day:02d}T{self.hour:02d}:{self.minute:02d}:{self.second:02d}"
            f"{'.' + fraction if fraction else ''}{_zone_offset(self, 'Z07:00')}"
        )

    def __str__(self) -> str:
        return go_format_time(self, "2006-01-02 15:04:05.999999999 -0700 MST")


RFC3339_NANO = "2006-01-02T15:04:05.999999999Z07:00"
ZERO_TIME = Time(1, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_MONTHS = ["January", "February", "March", "April", "May", "June"]
_MONTHS += ["July", "August", "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
# Go's reference-time layout tokens (time.Format), longest alternatives first.
_GO_LAYOUT_TOKEN = re.compile(
    r"January|Jan(?![a-z])|Monday|Mon(?![a-z])|MST|2006|__2|_2|002|15|0[1-6]|[1-5]|"
    r"[-Z]07:00:00|[-Z]070000|[-Z]07:00|[-Z]0700|[-Z]07|PM|pm|[.,](?:0+|9+)(?![0-9])"
)


def _zone_offset(moment: datetime, token: str) -> str:
    offset = moment.utcoffset() or timedelta(0)
    if token.startswith("Z") and not offset:
        return "Z"
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    colon = ":" if ":" in token else ""
    text = f"{sign}{hours:02d}"
    if len(token.lstrip("-Z").replace(":", "")) >= 4:
        text += f"{colon}{minutes:02d}"
    if len(token.lstrip("-Z").replace(":", "")) == 6:
        text += f"{colon}{secs:02d}"
    return text


def _zone_name(moment: datetime) -> str:
    name = moment.tzname() or ""
    offset = moment.utcoffset() or timedelta(0)
    if not offset and name in ("UTC", "UTC+00:00", ""):
        return "UTC"
    if name.startswith("UTC") or not name:
        return _zone_offset(moment, "-0700")  # Go prints a nameless fixed zone as its offset
    return name


def _layout_value(moment: datetime, token: str) -> str:
    hour12 = moment.hour % 12 or 12
    simple = {
        "January": _MONTHS[moment.month - 1],
        "Jan": _MONTHS[moment.month - 1][:3],
        "Monday": _DAYS[moment.weekday()],
        "Mon": _DAYS[moment.weekday()][:3],
        "MST": _zone_name(moment),
        "2006": f"{moment.year:04d}",
        "06": f"{moment.year % 100:02d}",
        "01": f"{moment.month:02d}",
        "1": str(moment.month),
        "02": f"{moment.day:02d}",
        "_2": f"{moment.day:2d}",
        "2": str(moment.day),
        "002": f"{moment.timetuple().tm_yday:03d}",
        "__2": f"{moment.timetuple().tm_yday:3d}",
        "15": f"{moment.hour:02d}",
        "03": f"{hour12:02d}",
        "3": str(hour12),
        "04": f"{moment.minute:02d}",
        "4": str(moment.minute),
        "05": f"{moment.second:02d}",
        "5": str(moment.second),
        "PM": "PM" if moment.hour >= 12 else "AM",
        "pm": "pm" if moment.hour >= 12 else "am",
    }
    if token in simple:
        return simple[token]
    if token[0] in "-Z":
        return _zone_offset(moment, token)
    digits = f"{moment.microsecond:06d}000"  # fractional seconds (.000 fixed, .999 trimmed)
    if token[1] == "0":
        return token[0] + digits[: len(token) - 1]
    trimmed = digits[: len(token) - 1].rstrip("0")
    return token[0] + trimmed if trimmed else ""


def go_format_time(moment: datetime, layout: str) -> str:
    """Go's time.Format with a reference-time layout such as "2006-01-02 15:04:05"."""
    return _GO_LAYOUT_TOKEN.sub(lambda match: _layout_value(moment, match.group(0)), layout)


# -- numbers ---------------------------------------------------------------------------------------


class GoFloat(float):
    """A float that prints like Go's %v (shortest form; exponent when exp < -4 or >= 21)."""

    def __str__(self) -> str:
        return go_float_text(self)


def go_float_text(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    shortest = Decimal(repr(float(number)))
    exponent = shortest.adjusted()
    if exponent < -4 or exponent >= 21:
        mantissa, _, power = f"{shortest:e}".partition("e")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return f"{mantissa}e{int(power):+03d}"
    text = f"{shortest:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class GoMap(dict):
    """A map that prints like Go's fmt: `map[A:1 B:2.5]`, keys sorted."""

    def __str__(self) -> str:
        return "map[" + " ".join(f"{key}:{self[key]}" for key in sorted(self)) + "]"


# A zone name as the tz database spells it: nothing that could walk out of the zoneinfo folder.
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")


def in_time_zone(value: Time, name: str) -> Time:
    """The same instant in the named zone (Go's `tz`); ValueError when there is no such zone."""
    if not _ZONE_NAME.fullmatch(name or ""):
        raise ValueError(f"no time zone named {name!r}")
    try:
        zone = ZoneInfo(name)
    except ZoneInfoNotFoundError as exc:
        raise ValueError(f"no time zone named {name!r}") from exc
    return Time.of(value.astimezone(zone))
