"""Shared fixtures: loopback receivers, API clients, contact points."""

from __future__ import annotations

import logging

import pytest
from django.db import OperationalError, connection

from tests.receivers import Receiver

# Every secret value used in the tests contains this mark, so one check finds any leak.
SECRET_MARK = "s3cr3t"


def pytest_collection_modifyitems(items):
    """Tests that share the session's real worker (tests/e2e) run last. Once started, that worker
    and its beat stay up and claim whatever any later test leaves due in the shared test database,
    racing that test's teardown flush (a deadlock there failed a CI run)."""
    items.sort(key=lambda item: "celery_worker" in item.fixturenames)


DEADLOCK_DETECTED = "40P01"  # PostgreSQL's SQLSTATE
FLUSH_TRIES = 3


@pytest.fixture(scope="session", autouse=True)
def flush_tries_again_after_a_deadlock():
    """A transactional test's teardown flush (one TRUNCATE of every table) can deadlock with a query
    of the session's worker or beat (tests/e2e), which keep running between tests: PostgreSQL
    aborts one of the two, and aborting the flush failed a CI run. Its advice is to run the aborted
    transaction again, which the flush does here."""
    operations = type(connection.ops)
    flush_once = operations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        for attempt in range(1, FLUSH_TRIES + 1):
            try:
                return flush_once(self, sql_list)
            except OperationalError as exc:
                if getattr(exc.__cause__, "sqlstate", None) != DEADLOCK_DETECTED or attempt == FLUSH_TRIES:
                    raise

    operations.execute_sql_flush = execute_sql_flush
    yield
    operations.execute_sql_flush = flush_once


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog):
    """Whatever a test logs, at any level, must not carry a secret."""
    caplog.set_level(logging.DEBUG)
    yield
    leaked = [r.getMessage() for r in caplog.records if SECRET_MARK in r.getMessage()]
    assert not leaked, f"secrets in log lines: {leaked}"


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def make_contact_point(db):
    """make_contact_point("Ops", [("webhook", {"url": ...}), ...]) → ContactPoint with integrations."""
    from contactpoints.models import ContactPoint, Integration

    def make(name: str = "Ops Team", integrations=(), **integration_options):
        contact_point = ContactPoint.objects.create(name=name)
        for position, (kind, settings) in enumerate(integrations):
            integration = Integration(contact_point=contact_point, type=kind, position=position, **integration_options)
            integration.assign_settings(settings)
            integration.validated_config()  # tests build valid integrations only
            integration.save()
        return contact_point

    return make


@pytest.fixture
def intake_token(db):
    from contactpoints.models import ApiToken

    return ApiToken.issue("tests", "intake")[1]


@pytest.fixture
def admin_token(db):
    from contactpoints.models import ApiToken

    return ApiToken.issue("tests-admin", "admin")[1]


@pytest.fixture
def api(client):
    """post/get helpers that speak JSON with an optional Bearer token."""
    import json

    class Api:
        def post(self, path, body=None, token=None, raw=None, content_type="application/json", **headers):
            if token:
                headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
            data = raw if raw is not None else json.dumps(body)
            return client.post(path, data=data, content_type=content_type, **headers)

        def get(self, path, token=None, **headers):
            if token:
                headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
            return client.get(path, **headers)

        def put(self, path, body, token=None, **headers):
            if token:
                headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
            return client.put(path, data=json.dumps(body), content_type="application/json", **headers)

        def delete(self, path, token=None, **headers):
            if token:
                headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
            return client.delete(path, **headers)

    return Api()


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback; Django's mail backend points at it for the test."""
    from tests.integrations.helpers import SmtpReceiver

    server = SmtpReceiver()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield server
    server.close()
