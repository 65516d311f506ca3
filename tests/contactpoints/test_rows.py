"""One-row reads without the query compiler: the same instances the ORM would give."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from contactpoints.models import ApiToken, ContactPoint, hash_token
from contactpoints.rows import columns, get_one

pytestmark = pytest.mark.django_db


def test_reads_the_row_as_a_model_instance_with_converted_values():
    token, plain = ApiToken.issue("ci", "admin")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    found = get_one(ApiToken, ("id", "scope", "last_used_at"), null=("revoked_at",), token_hash=hash_token(plain))
    assert (found.pk, found.scope) == (token.pk, "admin")
    assert found.last_used_at == ApiToken.objects.get(pk=token.pk).last_used_at  # an aware datetime
    assert found.name == "ci"  # not read: loads when touched, like QuerySet.only()


def test_none_when_no_row_matches_or_a_null_condition_fails():
    token, plain = ApiToken.issue("ci")
    assert get_one(ApiToken, ("id",), token_hash="nope") is None
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert get_one(ApiToken, ("id",), null=("revoked_at",), token_hash=hash_token(plain)) is None
    assert get_one(ApiToken, ("id",), token_hash=hash_token(plain)).pk == token.pk


def test_more_than_one_row_is_an_error():
    ContactPoint.objects.create(name="A", description="same")
    ContactPoint.objects.create(name="B", description="same")
    with pytest.raises(ContactPoint.MultipleObjectsReturned):
        get_one(ContactPoint, ("id",), description="same")


def _fields_of(instance) -> dict:
    return {name: value for name, value in vars(instance).items() if name != "_state"}


def test_an_instance_is_what_the_orm_builds_for_the_same_row():
    from contactpoints.queue import _LOADED_FIELDS
    from contactpoints.rows import instance

    point = ContactPoint.objects.create(name="Ops", description="pager")
    names = _LOADED_FIELDS[3]  # every field of a contact point, as a claim reads them
    table = ContactPoint._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns(ContactPoint, 'c')} FROM {table} c WHERE id = %s", [point.pk])  # noqa: S608
        built = instance(ContactPoint, names, cursor.fetchone())
    loaded = ContactPoint.objects.get(pk=point.pk)
    assert _fields_of(built) == _fields_of(loaded)
    assert (built._state.adding, built._state.db) == (False, "default")
    assert built.get_deferred_fields() == set()
    built.description = "changed"
    built.save(update_fields=["description"])  # a normal instance: it saves as an UPDATE
    assert ContactPoint.objects.get(pk=point.pk).description == "changed"


def test_instances_with_foreign_keys_are_built_as_the_orm_builds_them(make_contact_point):
    from contactpoints import queue, rows
    from contactpoints.models import Delivery, Integration, Notification
    from contactpoints.services import store_with_deliveries

    point = make_contact_point("Ops", [("webhook", {"url": "http://127.0.0.1:9/a", "password": "s3cret"})])
    notification = Notification(contact_point=point, status="firing", alerts=[], receiver="Ops", group_key="k")
    store_with_deliveries(notification)
    delivery = Delivery.objects.get(notification=notification)
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {queue._LOADED_COLUMNS} FROM {table} d {queue._JOINS} WHERE d.id = %s", [delivery.pk])  # noqa: S608
        row = cursor.fetchone()
    for index, model in enumerate(queue._LOADED):
        assert rows._plain_init(model)  # foreign keys included: no model here needs Model.__init__
        built, loaded = queue._part(row, index), model.objects.get(pk=row[queue._LOADED_STARTS[index]])
        assert _fields_of(built) == _fields_of(loaded)
    integration = queue._part(row, 2)
    assert isinstance(integration, Integration) and integration.secure_settings == {"password": "s3cret"}
    assert integration.contact_point == point  # the relation loads through the id, as on any instance


def test_a_model_someone_listens_to_at_init_is_built_by_the_orm():
    from django.db.models.signals import post_init

    from contactpoints import rows

    seen = []

    def listener(sender, instance, **kwargs):
        seen.append(instance)

    _, plain = ApiToken.issue("ci", "admin")
    post_init.connect(listener, sender=ApiToken)
    rows._plain_init.cache_clear()
    try:
        found = get_one(ApiToken, ("id", "scope"), token_hash=hash_token(plain))
    finally:
        post_init.disconnect(listener, sender=ApiToken)
        rows._plain_init.cache_clear()
    assert seen == [found]
    assert found.get_deferred_fields() >= {"name", "token_hash"}


def test_a_copy_keeps_its_related_rows_apart_from_the_original(make_contact_point, django_assert_num_queries):
    from contactpoints.models import Integration
    from contactpoints.rows import copied, with_related

    make_contact_point("Original", [("webhook", {"url": "http://127.0.0.1:9/"})])
    original = Integration.objects.select_related("contact_point").get()
    copy = copied(original)
    other_point = ContactPoint(pk=original.contact_point_id, name="Attached to the copy")
    with_related(copy, contact_point=other_point)
    copy.paused = True
    with django_assert_num_queries(0):
        assert copy.contact_point is other_point  # attached without a query
        assert original.contact_point.name == "Original"
    assert (original.paused, copy.paused, copy.pk, copy.settings) == (False, True, original.pk, original.settings)
    assert not copy._state.adding and copy._state.db == original._state.db
