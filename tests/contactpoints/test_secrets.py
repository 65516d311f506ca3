"""Secrets at rest: encrypted with MultiFernet, rotated by command, never in an API answer."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from contactpoints import crypto
from contactpoints.models import Integration

pytestmark = pytest.mark.django_db

SLACK_URL = "http://127.0.0.1:9/services/T1/B1/verys3cr3tpath"


def raw_secure_column(integration: Integration) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secure_settings FROM contactpoints_integration WHERE id = %s", [integration.pk])
        return cursor.fetchone()[0]


@pytest.fixture
def slack_integration(make_contact_point):
    contact_point = make_contact_point("Ops", [("slack", {"url": SLACK_URL, "username": "bot"})])
    return contact_point.integrations.get()


def test_secret_settings_are_split_out_and_encrypted(slack_integration):
    assert slack_integration.settings == {"username": "bot"}
    stored = raw_secure_column(slack_integration)
    assert "verys3cr3tpath" not in stored
    assert json.loads(Fernet(crypto.settings.ENCRYPTION_KEYS[0]).decrypt(stored.encode())) == {"url": SLACK_URL}
    assert Integration.objects.get(pk=slack_integration.pk).secure_settings == {"url": SLACK_URL}


def test_rotation_re_encrypts_with_the_new_first_key(slack_integration, settings):
    old_key = settings.ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_encryption_keys")
    settings.ENCRYPTION_KEYS = [new_key]  # the old key is gone: the secret must still read
    assert Integration.objects.get(pk=slack_integration.pk).secure_settings == {"url": SLACK_URL}


def test_blank_secret_keeps_the_stored_one(slack_integration):
    slack_integration.assign_settings({"url": "", "username": "bot2"})
    assert slack_integration.secure_settings == {"url": SLACK_URL}
    slack_integration.assign_settings({"url": "[REDACTED]"}, keep_secret="[REDACTED]")
    assert slack_integration.secure_settings == {"url": SLACK_URL}


def test_no_api_answer_reveals_a_secret(api, admin_token, slack_integration):
    answers = [
        api.get("/api/v1/provisioning/contact-points", token=admin_token),
        api.get("/api/v1/integration-types", token=admin_token),
        api.get("/api/v1/deliveries", token=admin_token),
    ]
    for answer in answers:
        assert answer.status_code == 200
        assert "verys3cr3tpath" not in answer.content.decode()
    (item,) = answers[0].json()
    assert item["settings"]["url"] == "[REDACTED]"


def test_create_api_token_prints_a_token_that_works(api, make_contact_point, capsys):
    call_command("create_api_token", "ci", "--scope", "intake")
    token = capsys.readouterr().out.strip()
    contact_point = make_contact_point("Hooks", [("webhook", {"url": "http://127.0.0.1:9/"})])
    response = api.post(f"/api/v1/intake/{contact_point.uid}", {"title": "t", "message": "m"}, token=token)
    assert response.status_code == 202
