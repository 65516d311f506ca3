"""Issue 9 #10: failed HTTP Basic logins are counted per client address and per username; past
the limit every attempt gets 429 with Retry-After, before any password is hashed. Successful
logins are neither counted nor slowed."""

from __future__ import annotations

import base64
from unittest import mock

import pytest
from django.contrib.auth.models import AbstractBaseUser

from contactpoints.api.auth import FAILED_LOGINS_KEY
from contactpoints.redis_client import get_redis
from tests.security.api_users import PASSWORD, staff_user

pytestmark = pytest.mark.django_db

DELIVERIES = "/api/v1/deliveries"
ATTACKER, OTHER = "127.0.0.7", "127.0.0.8"


@pytest.fixture(autouse=True)
def no_counted_failures(settings):
    settings.BASIC_AUTH_FAILURE_LIMIT = "3/min"
    redis = get_redis()
    for key in redis.scan_iter(f"{FAILED_LOGINS_KEY}:*"):
        redis.delete(key)


def login(client, username: str, password: str, address: str):
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return client.get(DELIVERIES, HTTP_AUTHORIZATION=f"Basic {pair}", REMOTE_ADDR=address)


@pytest.mark.parametrize(
    ("address", "username", "status"),
    [
        (ATTACKER, "victim", 429),  # even with the right password, until the window ends
        (ATTACKER, "bystander", 429),  # the address is held back
        (OTHER, "victim", 429),  # the username is held back
        (OTHER, "bystander", 200),
    ],
)
def test_after_the_limit_of_failures_logins_get_429(client, django_user_model, address, username, status):
    for name in ("victim", "bystander"):
        user = staff_user(django_user_model, "view_delivery")
        django_user_model.objects.filter(pk=user.pk).update(username=name)
    failures = [login(client, "victim", "guess", ATTACKER).status_code for _ in range(3)]

    with mock.patch.object(
        AbstractBaseUser, "check_password", autospec=True, side_effect=lambda u, p: p == PASSWORD
    ) as hashed:
        response = login(client, username, PASSWORD, address)

    assert failures == [401, 401, 401]
    assert response.status_code == status
    if status == 429:
        assert hashed.call_count == 0  # refused before any hashing
        assert 1 <= int(response["Retry-After"]) <= 60
        assert response.json()["message"].startswith("too many failed HTTP Basic logins")


def test_successful_logins_are_not_counted(client, django_user_model):
    user = staff_user(django_user_model, "view_delivery")

    successes = [login(client, user.username, PASSWORD, ATTACKER).status_code for _ in range(10)]
    failures = [login(client, user.username, "guess", ATTACKER).status_code for _ in range(4)]

    assert successes == [200] * 10
    assert failures == [401, 401, 401, 429]


def test_a_non_staff_user_with_the_right_password_counts_as_a_failure(client, django_user_model):
    plain = django_user_model.objects.create_user("plain", password=PASSWORD)

    answers = [login(client, plain.username, PASSWORD, ATTACKER).status_code for _ in range(4)]

    assert answers == [401, 401, 401, 429]
