"""project/postgresql: timestamps read through the C-parsed fast path are the values (and the
errors) Django's own loader gives."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader

pytestmark = pytest.mark.django_db

LITERALS = [
    "2026-12-01 21:22:27.123456+00",
    "2026-12-01 21:22:27+00",
    "2026-12-01 21:22:27.5+05:30",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    "2000-02-29 12:00:00-11:00",
    "0044-03-15 00:00:00+00 BC",
    "infinity",
    "-infinity",
]


@pytest.fixture(autouse=True)
def on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's loader")


def outcome(load, data: bytes):
    try:
        value = load(data)
    except Exception as exc:  # the error is the outcome compared
        return type(exc).__name__
    return value, value.tzinfo


@pytest.mark.parametrize("literal", LITERALS)
def test_a_timestamp_reads_as_djangos_loader_reads_it(literal):
    connection.ensure_connection()
    raw = connection.connection
    oid = raw.adapters.types["timestamptz"].oid
    fast = raw.adapters.get_loader(oid, 0)
    assert fast.__name__ == "FastTzLoader" and fast.timezone == connection.timezone

    class Djangos(BaseTzLoader):
        timezone = connection.timezone

    with connection.cursor() as cursor:  # PostgreSQL's own text for the literal, in this session's zone
        cursor.execute("SELECT %s::timestamptz::text", [literal])
        (text,) = cursor.fetchone()
    data = text.encode()
    assert outcome(fast(oid, raw).load, data) == outcome(Djangos(oid, raw).load, data)


def test_every_connection_shares_one_loader_class():
    """psycopg keeps each loader class it is given for the life of the process."""
    loaders = []
    for _ in range(2):
        raw = connection.get_new_connection(connection.get_connection_params())
        try:
            loaders.append(raw.adapters.get_loader(raw.adapters.types["timestamptz"].oid, 0))
        finally:
            raw.close()
    first, second = loaders
    assert first.__name__ == "FastTzLoader" and first is second


def test_rows_read_by_the_orm_keep_their_time_zone(make_contact_point):
    contact_point = make_contact_point("Clock")
    read = type(contact_point).objects.get(pk=contact_point.pk).created_at
    assert read == contact_point.created_at
    assert read.tzinfo is connection.timezone
