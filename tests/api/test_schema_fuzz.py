"""Schemathesis against /api/schema/: no 5xx, and every answer as the schema describes it.

One test per operation, in-process against the WSGI app and inside the test's transaction (so
nothing reaches the broker: on_commit never fires), authenticated with an admin-scope token.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from contactpoints.models import Attempt, Delivery, Notification, NotificationTemplate

pytestmark = pytest.mark.django_db

# The test endpoint sends to the integrations' targets now; it has its own tests.
SENDS_NOW = r"/contact-points/\{uid\}/test$"
EXAMPLES_PER_OPERATION = 25

# Schemathesis's default refusals, plus 413: how the intake refuses too many alerts (documented).
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]

JUDGED_BY_CONTENT = [
    "POST /api/v1/provisioning/contact-points",
    "PUT /api/v1/provisioning/contact-points/{uid}",
    "POST /api/v1/templates",
    "PUT /api/v1/templates/{name}",
]

CONTACT_POINT_UID = "ops-team"
INTEGRATION_UID = "ops-webhook"
TEMPLATE_NAME = "team.title"
DELIVERY_ID = "5b0f3c8e-54a7-4f0e-9c43-2d3f1f6b7a01"

# Most generated paths name things that exist (seeded below), so the bodies get read, not
# just answered with 404. No NUL characters in generated text: PostgreSQL cannot store them, so
# every text field refuses them with a 400 (tested on its own), which the schema does not spell out.
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"allow-x00": False},
        "checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}},
        # Whether settings suit their type, or a template parses, is beyond JSON Schema: a 400 for a
        # body of the right shape is an answer, not a contradiction, for these.
        "operations": [{"include-name": JUDGED_BY_CONTENT, "checks": {"positive_data_acceptance": {"enabled": False}}}],
        "dictionaries": {
            name: {"values": [value]}
            for name, value in [
                ("contact-points", CONTACT_POINT_UID),
                ("integrations", INTEGRATION_UID),
                ("templates", TEMPLATE_NAME),
                ("deliveries", DELIVERY_ID),
            ]
        },
        "parameters": {
            f"path.{parameter}": {"dictionary": dictionary, "probability": 0.8}
            for parameter, dictionary in [
                ("contact_point_uid", "contact-points"),
                ("uid", "integrations"),
                ("name", "templates"),
                ("id", "deliveries"),
            ]
        },
    }
)

# Loaded at collection, as Schemathesis's pytest plugin needs (the schema view reads no database).
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=CONFIG).exclude(
    path_regex=SENDS_NOW
)


@pytest.fixture
def in_test_transaction():
    """Requests to the bare WSGI app would close the test's connection at their end, as a real
    server does; Django's own test client switches that off the same way."""
    connected = [(signal, close_old_connections) for signal in (request_started, request_finished)]
    for signal, receiver in connected:
        signal.disconnect(receiver)
    yield
    for signal, receiver in connected:
        signal.connect(receiver)


@pytest.fixture
def seeded(in_test_transaction, make_contact_point):
    """One of each thing the paths name, for the answers to show."""
    contact_point = make_contact_point(
        "Ops Team", [("webhook", {"url": "http://127.0.0.1:9/", "password": "pw-s3cr3t-fuzz"})]
    )
    integration = contact_point.integrations.get()
    integration.uid = INTEGRATION_UID
    integration.save()
    NotificationTemplate.objects.create(name=TEMPLATE_NAME, content="{{ CommonLabels.team }}")
    notification = Notification.objects.create(
        contact_point=contact_point, status="firing", alerts=[], receiver="Ops Team", group_key="{}:{}"
    )
    delivery = Delivery.objects.create(
        id=DELIVERY_ID, notification=notification, integration=integration, status="failed", attempts=1
    )
    Attempt.objects.create(
        delivery=delivery, number=1, started_at=timezone.now(), duration_ms=12, outcome="failed", http_status=500
    )


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases every run: a failure here is a change, not luck
    database=None,
)
def test_every_operation_answers_as_documented(case, seeded, admin_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"})
