"""A database or Redis briefly unreachable: the API answers 503 with Retry-After and one WARNING
line (never a 500 or a traceback), intake still accepts without Redis, and the next request after
the outage is served again without anyone restarting anything."""

from __future__ import annotations

import http.client
import json
import logging
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import psycopg
import pytest
import redis
from django.db import InterfaceError, OperationalError, connection, connections
from django.test import RequestFactory

from contactpoints.api.outages import OutageMiddleware
from contactpoints.models import Delivery, Notification
from contactpoints.redis_client import get_redis
from tests.e2e.conftest import free_port
from tests.security.servers import TcpProxy, database_url, gunicorn

pytestmark = pytest.mark.django_db(transaction=True)  # the test closes and reopens the connection

ALERTS = {"alerts": [{"labels": {"alertname": "Outage"}}]}
TEMPLATE = {"name": "team.title", "content": "Team"}
WEBHOOK = {"name": "Ops", "type": "webhook", "settings": {"url": "http://127.0.0.1:9/hook"}}

# name → (method, path, body, which token)
REQUESTS = {
    "intake": ("post", "/api/v1/intake/ops-team", ALERTS, "intake"),
    "contact points": ("get", "/api/v1/contact-points", None, "admin"),
    "deliveries": ("get", "/api/v1/deliveries", None, "admin"),
    "provisioning": ("post", "/api/v1/provisioning/contact-points", WEBHOOK, "admin"),
    "templates": ("post", "/api/v1/templates", TEMPLATE, "admin"),
    "preview": ("post", "/api/v1/templates/preview", {"template": "{{ Status }}"}, "admin"),
}


@pytest.fixture
def call(api, make_contact_point, intake_token, admin_token):
    make_contact_point("Ops Team", [("webhook", {"url": "http://127.0.0.1:9/hook"})])
    tokens = {"intake": intake_token, "admin": admin_token}

    def call(name: str):
        method, path, body, token = REQUESTS[name]
        if body is None:
            return getattr(api, method)(path, token=tokens[token])
        return getattr(api, method)(path, body, token=tokens[token])

    return call


@contextmanager
def database_unreachable() -> Iterator[None]:
    """The database as during a restart: nothing listens where it was."""
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(free_port())
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port


@contextmanager
def redis_unreachable(settings) -> Iterator[None]:
    from project.celery import app

    broker_url = app.conf.broker_url
    settings.REDIS_URL = app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    get_redis.cache_clear()
    try:
        yield
    finally:
        app.conf.broker_url = broker_url
        get_redis.cache_clear()


def warnings_and_worse(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("name", list(REQUESTS))
def test_an_unreachable_database_answers_503_with_retry_after_then_recovers(call, caplog, name):
    caplog.clear()
    with database_unreachable():
        response = call(name)
    assert (response.status_code, response["Retry-After"]) == (503, "5")
    assert response.json() == {"message": "the database is unavailable for a moment; retry in 5 seconds"}
    logged = warnings_and_worse(caplog)
    assert [(r.name, r.levelname, r.exc_info) for r in logged] == [("contactpoints.api.outages", "WARNING", None)]
    assert "database unavailable during" in logged[0].getMessage()
    assert call(name).status_code < 300  # the next request connects anew


def get(port: int, path: str, token: str) -> tuple[int, str | None, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    answer = (response.status, response.getheader("Retry-After"), json.loads(response.read()))
    connection.close()
    return answer


def test_a_database_restart_under_gunicorn_answers_503_then_serves_again(admin_token, tmp_path):
    """gunicorn keeps its connection (CONN_MAX_AGE) through a proxy; cutting the proxy is the restart."""
    proxy = TcpProxy(int(connection.settings_dict["PORT"]))
    database = database_url(host="127.0.0.1", port=proxy.port)
    with gunicorn(tmp_path / "gunicorn.log", DATABASE_URL=database, CONN_MAX_AGE="60") as web:
        assert get(web.port, "/api/v1/contact-points", admin_token)[0] == 200
        proxy.cut()
        during = [get(web.port, "/api/v1/contact-points", admin_token) for _ in range(3)]
        proxy.restore()
        after = get(web.port, "/api/v1/contact-points", admin_token)
        log = web.log()
    message = {"message": "the database is unavailable for a moment; retry in 5 seconds"}
    assert during == [(503, "5", message)] * 3
    assert after[0] == 200
    assert log.count("WARNING contactpoints.api.outages database unavailable during GET") == 3
    assert "Traceback" not in log and " ERROR " not in log, log


def test_intake_with_redis_unreachable_accepts_and_loses_nothing(call, settings, caplog):
    with redis_unreachable(settings):
        response = call("intake")
        assert response.status_code == 202, response.content
    notification = Notification.objects.get(pk=response.json()["id"])
    assert Delivery.objects.filter(notification=notification, status="pending").count() == 1
    assert not [r for r in warnings_and_worse(caplog) if r.exc_info]


@pytest.mark.parametrize("name", ["contact points", "deliveries", "provisioning", "templates", "preview"])
def test_the_api_answers_without_redis(call, settings, name):
    with redis_unreachable(settings):
        assert call(name).status_code < 300


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (OperationalError("server closed the connection unexpectedly"), 503),
        (OperationalError("database is locked"), 503),
        (InterfaceError("connection already closed"), 503),
        (redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."), 503),
        (redis.TimeoutError("Timeout reading from socket"), 503),
        (ValueError("a bug"), None),  # not an outage: Django's 500 with its traceback
    ],
)
def test_which_errors_are_outages(error, status):
    response = OutageMiddleware(lambda request: None).process_exception(RequestFactory().get("/api/v1/x"), error)
    assert (response and response.status_code) == status
    if status:
        assert response["Retry-After"] == "5"


def pid_in_use() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_kept_connection_the_server_ended_is_replaced_before_it_is_used():
    """The health check polls the socket (project/postgresql): a connection the server ended is
    seen there and replaced before the next request's or task's first query."""
    ended_pid = pid_in_use()
    with psycopg.connect(database_url(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [ended_pid])
    deadline = time.monotonic() + 5
    while not select.select([connection.connection.fileno()], [], [], 0)[0] and time.monotonic() < deadline:
        time.sleep(0.01)  # the server's goodbye is on its way
    connection.close_if_unusable_or_obsolete()  # what every request and task begins with
    assert pid_in_use() != ended_pid  # no OperationalError: replaced before it was used


def test_a_quiet_kept_connection_is_used_without_a_round_trip():
    pid = pid_in_use()
    connection.close_if_unusable_or_obsolete()
    with mock.patch.object(connections["default"], "is_usable", side_effect=AssertionError("SELECT 1 sent")):
        connection.close_if_health_check_failed()
    assert connection.health_check_done
    assert pid_in_use() == pid
