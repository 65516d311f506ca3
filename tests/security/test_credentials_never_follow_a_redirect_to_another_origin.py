"""Credentials and signatures stay with the origin they were configured for (issue 9, finding 5).

The first receiver answers with a redirect to a second one on another port of the same host: a
different origin. Whatever credential an integration sends (Basic, Bearer, custom scheme, API key
header, HMAC signature, a custom token header), the second receiver must get none of it.
"""

from __future__ import annotations

import pytest

from integrations.alertmanager import Alertmanager
from integrations.base import OutgoingRequest
from integrations.kafka import Kafka
from integrations.opsgenie import Opsgenie
from integrations.pushover import Pushover
from integrations.sensugo import SensuGo
from integrations.slack import Slack
from integrations.threema import Threema
from integrations.webex import Webex
from integrations.webhook import Webhook
from tests.integrations.helpers import loopback_transport, make_context
from tests.receivers import Answer, Receiver

SECRET = "hunter2-s3cr3t-0123456789"
AUTHORIZATION = "authorization"

# (integration type, settings with {url} for the first receiver, header carrying the credential)
CREDENTIAL_KINDS = [
    pytest.param(
        Webhook, {"url": "{url}/hook", "username": "ops", "password": SECRET}, AUTHORIZATION, id="webhook-basic"
    ),
    pytest.param(
        Webhook,
        {"url": "{url}/hook", "authorization_scheme": "Bearer", "authorization_credentials": SECRET},
        AUTHORIZATION,
        id="webhook-bearer",
    ),
    pytest.param(
        Webhook,
        {"url": "{url}/hook", "authorization_scheme": "Token", "authorization_credentials": SECRET},
        AUTHORIZATION,
        id="webhook-custom-scheme",
    ),
    pytest.param(
        Webhook, {"url": "{url}/hook", "headers": {"X-Api-Token": SECRET}}, "x-api-token", id="webhook-header"
    ),
    pytest.param(
        Webhook,
        {"url": "{url}/hook", "hmacConfig": {"secret": SECRET, "header": "X-Signature"}},
        "x-signature",
        id="webhook-hmac-signature",
    ),
    pytest.param(
        Kafka,
        {"kafkaRestProxy": "{url}", "kafkaTopic": "alerts", "username": "ops", "password": SECRET},
        AUTHORIZATION,
        id="kafka-basic",
    ),
    pytest.param(
        Alertmanager,
        {"url": "{url}", "basicAuthUser": "ops", "basicAuthPassword": SECRET},
        AUTHORIZATION,
        id="alertmanager-basic",
    ),
    pytest.param(Opsgenie, {"apiKey": SECRET, "apiUrl": "{url}/v2/alerts"}, AUTHORIZATION, id="opsgenie-geniekey"),
    pytest.param(SensuGo, {"url": "{url}", "apikey": SECRET}, AUTHORIZATION, id="sensugo-key"),
    pytest.param(
        Slack, {"recipient": "#ops", "token": SECRET, "endpointUrl": "{url}/api/chat"}, AUTHORIZATION, id="slack-bearer"
    ),
    pytest.param(
        Webex, {"room_id": "r1", "bot_token": SECRET, "api_url": "{url}/v1/messages"}, AUTHORIZATION, id="webex-bearer"
    ),
]


@pytest.fixture
def other_origin():
    server = Receiver()
    yield server
    server.close()


def with_url(settings: dict, url: str) -> dict:
    return {key: value.format(url=url) if isinstance(value, str) else value for key, value in settings.items()}


@pytest.mark.parametrize("status", [307, 302])
@pytest.mark.parametrize(("integration_type", "settings", "credential_header"), CREDENTIAL_KINDS)
def test_no_credential_reaches_the_redirect_target(
    receiver, other_origin, status, integration_type, settings, credential_header
):
    receiver.default = Answer(status, b"", {"Location": f"{other_origin.url}/elsewhere"})
    context = make_context(integration_type, with_url(settings, receiver.url))

    integration_type().send(context, loopback_transport())

    (first,) = receiver.requests
    (moved,) = other_origin.requests
    assert credential_header in first.headers  # the row does send its credential where it was configured
    assert credential_header not in moved.headers
    assert [name for name, value in moved.headers.items() if SECRET in value] == []


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("{same}/moved", True),  # same scheme, host and port: the configured origin
        ("{other}/moved", False),  # another port
        ("{other_host}/moved", False),  # another host name for the same machine
    ],
)
def test_credentials_go_along_only_within_the_origin(receiver, other_origin, target, kept):
    location = target.format(
        same=receiver.url,
        other=other_origin.url,
        other_host=other_origin.url.replace("127.0.0.1", "localhost"),
    )
    receiver.answer_with(Answer(307, b"", {"Location": location}))
    request = OutgoingRequest("POST", f"{receiver.url}/start", {"X-Token": SECRET}, b"{}", basic_auth=("u", SECRET))

    loopback_transport().send(request)

    # The same-origin row is answered by the first receiver itself, on its second request.
    moved = (receiver.requests[1:] or other_origin.requests)[0]
    assert ("authorization" in moved.headers, "x-token" in moved.headers) == (kept, kept)


# Integrations whose credential travels in the body: a 307/308 would send the body on as it is.
BODY_CREDENTIAL_KINDS = [
    pytest.param(Pushover, {"apiToken": SECRET, "userKey": "u" * 30}, "PUSHOVER_API_URL", id="pushover-token"),
    pytest.param(
        Threema,
        {"gateway_id": "*ABCDEFG", "recipient_id": "ABCDEFGH", "api_secret": SECRET},
        "THREEMA_API_URL",
        id="threema-secret",
    ),
]


@pytest.mark.parametrize(("status", "followed"), [(307, False), (308, False), (302, True)])
@pytest.mark.parametrize(("integration_type", "config", "api_url_setting"), BODY_CREDENTIAL_KINDS)
def test_a_body_with_credentials_is_never_sent_on_to_another_origin(
    receiver, other_origin, settings, status, followed, integration_type, config, api_url_setting
):
    setattr(settings, api_url_setting, receiver.url)
    receiver.default = Answer(status, b"", {"Location": f"{other_origin.url}/elsewhere"})
    context = make_context(integration_type, config)

    outcome = integration_type().send(context, loopback_transport())

    assert SECRET.encode() in receiver.requests[0].body  # the row does send its credential where configured
    assert all(SECRET.encode() not in moved.body for moved in other_origin.requests)
    assert bool(other_origin.requests) == followed  # a 302 turns into a GET without the body
    if not followed:
        assert not outcome.ok and "redirect to another origin" in outcome.error
