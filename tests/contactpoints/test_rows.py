"""One-row reads without the query compiler: the same instances the ORM would give."""

from __future__ import annotations

import pytest
from django.utils import timezone

from contactpoints.models import ApiToken, ContactPoint, hash_token
from contactpoints.rows import get_one

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
