"""A receiver that echoes a secret back does not get it stored (issue 9, finding 7).

Receivers quote what they were sent: the path of a secret webhook URL (`Cannot POST /services/…`),
the Basic credentials base64-encoded, a token URL-encoded or JSON-escaped. Whatever the form, the
attempt's error, the delivery's `last_error` and the integration's health keep no piece of it.
"""

from __future__ import annotations

import base64
from unittest import mock
from urllib.parse import quote

import pytest

from contactpoints import queue as engine
from contactpoints.intake import parse_intake
from contactpoints.models import Attempt, Delivery, Integration
from contactpoints.services import accept_notification
from integrations.values import scrub
from tests.receivers import Answer

pytestmark = pytest.mark.django_db

SLACK_PATH = "/services/T0123ABCD/B0123ABCD/XyZs3cr3tPath0123456789"
DISCORD_PATH = "/api/webhooks/112233445566778899/Tok-s3cr3t_0123456789abcdefABCDEF"
CHAT_TOKEN = "tok/s3cr3t+query=0123456789"
PASSWORD = "hunter2-s3cr3t"
BEARER = "b3arer/s3cr3t+token=="
API_KEY = "0f0e0d0c-s3cr3t-4b4a-9998-776655443322"


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


# (type, settings for the receiver's URL, what the receiver answers, pieces that must not be stored)
ECHOES = [
    pytest.param(
        "slack",
        lambda url: {"url": url + SLACK_PATH},
        f"Cannot POST {SLACK_PATH}",
        [SLACK_PATH, "XyZs3cr3tPath0123456789"],
        id="slack-url-path",
    ),
    pytest.param(
        "slack",
        lambda url: {"url": url + SLACK_PATH},
        "no_such_hook: XyZs3cr3tPath0123456789",
        ["XyZs3cr3tPath0123456789"],
        id="slack-url-last-segment",
    ),
    pytest.param(
        "discord",
        lambda url: {"url": url + DISCORD_PATH},
        '{"message":"Unknown Webhook","path":"' + DISCORD_PATH.replace("/", "\\/") + '"}',
        ["Tok-s3cr3t_0123456789abcdefABCDEF", DISCORD_PATH.replace("/", "\\/")],
        id="discord-url-json-escaped",
    ),
    pytest.param(
        "googlechat",
        lambda url: {"url": f"{url}/v1/spaces/AAAA/messages?key=k-0123456789&token={quote(CHAT_TOKEN, safe='')}"},
        f"invalid token {quote(CHAT_TOKEN, safe='')} for key k-0123456789",
        [quote(CHAT_TOKEN, safe=""), "k-0123456789"],
        id="googlechat-url-query-encoded",
    ),
    pytest.param(
        "webhook",
        lambda url: {"url": f"{url}/hook", "username": "ops", "password": PASSWORD},
        f"bad credentials: Basic {basic('ops', PASSWORD)}",
        [basic("ops", PASSWORD), PASSWORD],
        id="webhook-basic-base64",
    ),
    pytest.param(
        "webhook",
        lambda url: {"url": f"{url}/hook", "authorization_credentials": BEARER},
        f"token {quote(BEARER, safe='')} expired",
        [quote(BEARER, safe=""), BEARER],
        id="webhook-bearer-url-encoded",
    ),
    pytest.param(
        "kafka",
        lambda url: {"kafkaRestProxy": url, "kafkaTopic": "alerts", "username": "ops", "password": PASSWORD},
        f'{{"error_code":40101,"message":"denied for {basic("ops", PASSWORD)}"}}',
        [basic("ops", PASSWORD), PASSWORD],
        id="kafka-basic-base64",
    ),
    pytest.param(
        "opsgenie",
        lambda url: {"apiKey": API_KEY, "apiUrl": f"{url}/v2/alerts"},
        f'{{"message":"Key format is not valid: GenieKey {API_KEY.upper()}"}}',
        [API_KEY.upper(), API_KEY],
        id="opsgenie-key-upper-cased",
    ),
    # Credentials in settings Grafana does not declare secret: a URL's password or query token, a custom header.
    pytest.param(
        "webhook",
        lambda url: {"url": url.replace("//", f"//ops:{PASSWORD}@") + "/hook"},
        f"login ops:{PASSWORD} refused",
        [PASSWORD],
        id="webhook-url-userinfo",
    ),
    pytest.param(
        "webhook",
        lambda url: {"url": f"{url}/hook?token=q-0123456789abcdef"},
        "unknown token q-0123456789abcdef",
        ["q-0123456789abcdef"],
        id="webhook-url-query-token",
    ),
    pytest.param(
        "webhook",
        lambda url: {"url": f"{url}/hook", "headers": {"X-Api-Token": "h-0123456789abcdef"}},
        "X-Api-Token h-0123456789abcdef is not valid",
        ["h-0123456789abcdef"],
        id="webhook-custom-header",
    ),
]


@pytest.mark.parametrize(("kind", "settings_for", "echo", "secret_pieces"), ECHOES)
def test_an_echoed_secret_is_stored_nowhere(make_contact_point, receiver, kind, settings_for, echo, secret_pieces):
    receiver.default = Answer(400, echo.encode(), {"Content-Type": "text/plain"})
    contact_point = make_contact_point("Echo", [(kind, settings_for(receiver.url))])
    with mock.patch("contactpoints.broker.wake"), mock.patch("contactpoints.broker.publish"):
        accept_notification(contact_point, parse_intake([{"labels": {"alertname": "Echo"}}], max_alerts=10))
        engine.run_delivery(Delivery.objects.get().pk)
    assert receiver.requests, "the receiver was reached and answered"
    stored = {
        "attempt error": Attempt.objects.get().error,
        "last_error": Delivery.objects.get().last_error,
        "integration health": Integration.objects.get().last_attempt_error,
    }
    assert all("[REDACTED]" in text for text in stored.values()), stored
    leaks = {where: piece for where, text in stored.items() for piece in secret_pieces if piece.lower() in text.lower()}
    assert leaks == {}


@pytest.mark.parametrize(
    ("text", "secrets", "kept"),
    [
        # What is no secret stays readable.
        ("failed incoming webhook: no_service", ["https://hooks.example/services/T0123ABCD/B0123/Zz0123456789"], True),
        ("Basic authentication failed", [], True),
        ("webhook response status 404 Not Found", ["abc"], True),
    ],
)
def test_scrubbing_keeps_what_is_no_secret(text, secrets, kept):
    assert (scrub(text, secrets) == text) is kept
