"""Reads and writes for the hot paths, without the ORM's query compiler.

The intake looks up a token and a contact point on every request, and a worker claims, loads and
records every batch; compiling those statements cost more CPU than the database spent running
them. Here the SQL and the column converters are worked out once, and rows become normal model
instances (fields not read load lazily when touched, as with QuerySet.only()).
"""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.signals import post_init, pre_init

M = TypeVar("M", bound=Model)


@cache
def _converters(model: type[Model], fields: tuple[str, ...]) -> list[tuple[Any, list[Callable]]]:
    """What the ORM applies to each column it reads (JSON, encryption, dates on SQLite...)."""
    plan = []
    for name in fields:
        column = model._meta.get_field(name).get_col(model._meta.db_table)
        plan.append((column, connection.ops.get_db_converters(column) + column.field.get_db_converters(connection)))
    return plan


def instance(model: type[M], fields: tuple[str, ...], values: Sequence[Any]) -> M:
    """A model instance from raw column values, converted as the ORM converts them."""
    row = []
    for value, (column, converters) in zip(values, _converters(model, fields), strict=True):
        for convert in converters:
            value = convert(value, column, connection)
        row.append(value)
    return loaded(model, fields, row)


def loaded(model: type[M], fields: tuple[str, ...], values: Sequence[Any]) -> M:
    """A model instance as if read from the database, from values already in Python's types."""
    if not _plain_init(model):
        return model.from_db(connection.alias, list(fields), values)
    # What Model.__init__ ends with for these arguments, without its per-field loop and signals (a
    # claimed row's four instances: 115 → 73 µs, converters included): the values in the
    # instance's dict, fields not read left out (deferred), its state saying it came from the database.
    new = model.__new__(model)
    new.__dict__.update(zip(fields, values, strict=True))
    new._state = ModelState()
    new._state.adding, new._state.db = False, connection.alias
    return new


def with_related(instance: Model, **related: Model) -> None:
    """Attach related rows already loaded for the instance's foreign keys, as select_related does:
    without the checks and the database router that assigning through the attribute runs."""
    for name, value in related.items():
        instance._meta.get_field(name).set_cached_value(instance, value)


def copied(instance: M) -> M:
    """A shallow copy with a state of its own: related rows attached to it stay its own."""
    new = type(instance).__new__(type(instance))
    new.__dict__.update(instance.__dict__)
    new._state = ModelState()
    new._state.adding, new._state.db = instance._state.adding, instance._state.db
    new._state.fields_cache = dict(instance._state.fields_cache)
    return new


@cache
def _plain_init(model: type[Model]) -> bool:
    """Whether setting each field's attribute is all that Model.__init__ would do for a row of `model`:
    nothing listens to its init signals, and no field intercepts assignment (a foreign key's id
    only drops a cached related object, which a new instance does not have)."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return False
    for field in model._meta.concrete_fields:
        attribute = inspect.getattr_static(model, field.attname, None)
        if hasattr(attribute, "__set__") and not isinstance(attribute, ForeignKeyDeferredAttribute):
            return False
    return True


def all_fields(model: type[Model]) -> tuple[str, ...]:
    """Every concrete field's attribute name, in column order."""
    return tuple(field.attname for field in model._meta.concrete_fields)


def columns(model: type[Model], alias: str) -> str:
    return ", ".join(f"{alias}.{field.column}" for field in model._meta.concrete_fields)


@cache
def _select_one_sql(model: type[Model], fields: tuple[str, ...], equal: tuple[str, ...], null: tuple[str, ...]) -> str:
    meta = model._meta
    conditions = [f"{meta.get_field(name).column} = %s" for name in equal]
    conditions += [f"{meta.get_field(name).column} IS NULL" for name in null]
    selected = ", ".join(meta.get_field(name).column for name in fields)
    return f"SELECT {selected} FROM {meta.db_table} WHERE {' AND '.join(conditions)} LIMIT 2"  # noqa: S608


def get_one(model: type[M], fields: tuple[str, ...], *, null: tuple[str, ...] = (), **equal: Any) -> M | None:
    """The row whose `equal` fields have the given values and whose `null` fields are NULL, or None.

    `fields` are the columns read and must include the primary key. Like QuerySet.get, more than
    one row is an error.
    """
    sql = _select_one_sql(model, fields, tuple(equal), null)
    with connection.cursor() as cursor:
        cursor.execute(sql, [prep(model, name, value) for name, value in equal.items()])
        found = cursor.fetchall()
    if len(found) > 1:
        raise model.MultipleObjectsReturned(f"more than one {model.__name__} for {equal}")
    return instance(model, fields, found[0]) if found else None


def prep(model: type[Model], name: str, value: Any) -> Any:
    """A value as the database takes it for `model.name` (what the ORM would send)."""
    return model._meta.get_field(name).get_db_prep_save(value, connection)


# A subquery for a hot path's statement (PostgreSQL), turning off the wait for the WAL flush at its
# commit, for its own transaction only: the caller says why that is safe (contactpoints.queue.claim,
# contactpoints.services._store_hot_path_batch).
COMMIT_WITHOUT_FLUSH_SQL = "SELECT set_config('synchronous_commit', 'off', true)"


def json_parameter(document: Any) -> str:
    """`document` as one JSON parameter of a hot statement (read there with ->> and jsonb_to_recordset):
    psycopg adapting dozens of parameters one by one costs more CPU than PostgreSQL parsing them
    from one document. UUIDs and times are written as PostgreSQL reads them, microseconds kept."""
    return json.dumps(document, default=_json_value)


def _json_value(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a statement value")


def placeholders(count: int) -> str:
    """`%s, %s, …` for an IN list of `count` values."""
    return ", ".join(["%s"] * count)


def update(model: type[Model], changes: dict[str, Any], where: str, where_values: list[Any]) -> list[Any]:
    """UPDATE `model` SET `changes` WHERE `where` (SQL over column names, %s for `where_values`).

    For the delivery recorder, which writes after every batch: the ORM compiled each of these
    statements anew for more CPU than the database spent on them. Returns the primary keys of the
    rows changed (as the database returns them).
    """
    meta = model._meta
    assignments = ", ".join(f"{meta.get_field(name).column} = %s" for name in changes)
    values = [prep(model, name, value) for name, value in changes.items()]
    sql = f"UPDATE {meta.db_table} SET {assignments} WHERE {where} RETURNING {meta.pk.column}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *where_values])
        return [pk for (pk,) in cursor.fetchall()]
