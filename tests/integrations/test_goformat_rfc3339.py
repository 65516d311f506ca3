"""Time.rfc3339, written out for speed, prints exactly what Go's layout does through go_format_time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from integrations.goformat import RFC3339_NANO, Time, go_format_time

ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30)), timezone(timedelta(0), "X")]
MOMENTS = [
    datetime(1, 1, 1),
    datetime(2026, 11, 27, 6, 0, 0),
    datetime(2026, 11, 27, 6, 0, 0, 500000),
    datetime(2026, 12, 31, 23, 59, 59, 123456),
    datetime(9999, 12, 31, 23, 59, 59, 1),
]


@pytest.mark.parametrize("zone", ZONES, ids=str)
@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_rfc3339_is_gos_rfc3339_nano_layout(moment, zone):
    time = Time.of(moment.replace(tzinfo=zone))
    assert time.rfc3339() == go_format_time(time, RFC3339_NANO)


def test_rfc3339_examples():
    assert Time.of(datetime(2026, 11, 27, 6, 0, tzinfo=UTC)).rfc3339() == "2026-11-27T06:00:00Z"
    half = datetime(2026, 11, 27, 6, 0, 0, 500000, tzinfo=timezone(timedelta(hours=-9, minutes=-30)))
    assert Time.of(half).rfc3339() == "2026-11-27T06:00:00.5-09:30"
