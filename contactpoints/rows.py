"""One-row reads for the hot paths, without the ORM's query compiler.

The intake looks up a token and a contact point on every request; compiling those two queries
cost more CPU than PostgreSQL spent answering them. Here the SQL and the column converters are
worked out once per model and field list, and the row becomes a normal model instance (fields
not read load lazily when touched, as with QuerySet.only()).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)


@cache
def _plan(
    model: type[Model], fields: tuple[str, ...], equal: tuple[str, ...], null: tuple[str, ...]
) -> tuple[str, list[tuple[Any, list[Callable]]]]:
    meta = model._meta
    columns = ", ".join(meta.get_field(name).column for name in fields)
    conditions = [f"{meta.get_field(name).column} = %s" for name in equal]
    conditions += [f"{meta.get_field(name).column} IS NULL" for name in null]
    sql = f"SELECT {columns} FROM {meta.db_table} WHERE {' AND '.join(conditions)} LIMIT 2"  # noqa: S608
    converters = []
    for name in fields:
        column = meta.get_field(name).get_col(meta.db_table)
        converters.append(
            (column, connection.ops.get_db_converters(column) + column.field.get_db_converters(connection))
        )
    return sql, converters


def get_one(model: type[M], fields: tuple[str, ...], *, null: tuple[str, ...] = (), **equal: Any) -> M | None:
    """The row whose `equal` fields have the given values and whose `null` fields are NULL, or None.

    `fields` are the columns read and must include the primary key. Like QuerySet.get, more than
    one row is an error.
    """
    sql, converters = _plan(model, fields, tuple(equal), null)
    values = [model._meta.get_field(name).get_db_prep_value(value, connection) for name, value in equal.items()]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        rows = cursor.fetchall()
    if len(rows) > 1:
        raise model.MultipleObjectsReturned(f"more than one {model.__name__} for {equal}")
    if not rows:
        return None
    row = []
    for value, (column, column_converters) in zip(rows[0], converters, strict=True):
        for convert in column_converters:
            value = convert(value, column, connection)
        row.append(value)
    return model.from_db(connection.alias, list(fields), row)


def prep(model: type[Model], name: str, value: Any) -> Any:
    """A value as the database takes it for `model.name` (what the ORM would send)."""
    return model._meta.get_field(name).get_db_prep_save(value, connection)


def update(model: type[Model], changes: dict[str, Any], where: str, where_values: list[Any]) -> int:
    """UPDATE `model` SET `changes` WHERE `where` (SQL over column names, %s for `where_values`).

    For the delivery recorder, which writes after every batch: the ORM compiled each of these
    statements anew for more CPU than the database spent on them. Returns the rows changed.
    """
    meta = model._meta
    assignments = ", ".join(f"{meta.get_field(name).column} = %s" for name in changes)
    values = [prep(model, name, value) for name, value in changes.items()]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {meta.db_table} SET {assignments} WHERE {where}", [*values, *where_values])  # noqa: S608
        return cursor.rowcount
