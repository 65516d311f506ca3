"""One contact point with an integration of every type: one intake POST reaches all of them.

Each request is checked for what identifies it as that provider's API call: method, path,
content type, credentials and the body's key fields. The per-type test modules check every
byte; this test checks that the real pipeline (intake, worker, seam) delivers all twenty.
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs

import pytest

from contactpoints.models import DeliveryStatus
from integrations.registry import all_types
from integrations.values import sha256_hex
from tests.e2e.test_pipeline import ALERT, delivery_settled, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def multipart_fields(request) -> dict[str, str]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {request.content_type}\r\n\r\n".encode() + request.body
    )
    return {part.get_param("name", header="content-disposition"): part.get_content() for part in message.iter_parts()}


def form_fields(request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.body.decode()).items()}


def settings_for(url: str) -> dict[str, dict]:
    """Every type pointed at the loopback receiver (fixed-URL types go to the stand-in)."""
    return {
        "webhook": {"url": f"{url}/webhook"},
        "email": {"addresses": "oncall@example.com"},
        "slack": {"url": f"{url}/slack"},
        "prometheus-alertmanager": {"url": f"{url}/am"},
        "dingding": {"url": f"{url}/dingding"},
        "discord": {"url": f"{url}/discord"},
        "googlechat": {"url": f"{url}/googlechat"},
        "kafka": {"kafkaRestProxy": f"{url}/kafka", "kafkaTopic": "alerts"},
        "LINE": {"token": "line-s3cr3t"},
        "teams": {"url": f"{url}/teams"},
        "opsgenie": {"apiKey": "og-s3cr3t", "apiUrl": f"{url}/opsgenie/v2/alerts"},
        "pagerduty": {"integrationKey": "pd-s3cr3t", "url": f"{url}/pagerduty/v2/enqueue"},
        "pushover": {"userKey": "user-s3cr3t", "apiToken": "token-s3cr3t"},
        "sensugo": {"url": f"{url}/sensu", "apikey": "sensu-s3cr3t"},
        "telegram": {"bottoken": "123:tg-s3cr3t", "chatid": "-100123"},
        "threema": {"gateway_id": "*ABCDEFG", "recipient_id": "ABCDEFGH", "api_secret": "threema-s3cr3t"},
        "victorops": {"url": f"{url}/victorops"},
        "webex": {"api_url": f"{url}/webex/v1/messages", "room_id": "room-1", "bot_token": "webex-s3cr3t"},
        "wecom": {"url": f"{url}/wecom"},
    }


def check_requests(by_path, dedup_key: str) -> None:
    def json_at(path):
        request = by_path[path]
        assert request.method == "POST", path
        return request.json()

    assert json_at("/webhook")["receiver"] == "Everything"
    assert json_at("/slack")["attachments"][0]["title"].startswith("[FIRING:1] DiskFull")
    assert json_at("/am/api/v2/alerts")[0]["labels"]["alertname"] == "DiskFull"
    assert json_at("/dingding")["msgtype"] == "link"
    assert json_at("/discord")["embeds"][0]["title"].startswith("[FIRING:1] DiskFull")
    assert json_at("/googlechat")["cards"][0]["header"]["title"].startswith("[FIRING:1] DiskFull")
    kafka = by_path["/kafka/topics/alerts"]
    assert kafka.content_type == "application/vnd.kafka.json.v2+json"
    assert kafka.json()["records"][0]["value"]["incident_key"] == dedup_key
    line = by_path["/line/api/notify"]
    assert line.headers["authorization"] == "Bearer line-s3cr3t"
    assert form_fields(line)["message"].startswith("[FIRING:1] DiskFull")
    assert json_at("/teams")["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    opsgenie = by_path["/opsgenie/v2/alerts"]
    assert opsgenie.headers["authorization"] == "GenieKey og-s3cr3t"
    assert opsgenie.json()["alias"] == dedup_key
    pagerduty = json_at("/pagerduty/v2/enqueue")
    assert (pagerduty["routing_key"], pagerduty["dedup_key"], pagerduty["event_action"]) == (
        "pd-s3cr3t",
        dedup_key,
        "trigger",
    )
    assert multipart_fields(by_path["/pushover/1/messages.json"])["user"] == "user-s3cr3t"
    sensu = by_path["/sensu/api/core/v2/namespaces/default/events"]
    assert sensu.headers["authorization"] == "Key sensu-s3cr3t"
    assert sensu.json()["check"]["status"] == 2
    assert multipart_fields(by_path["/telegram/bot123:tg-s3cr3t/sendMessage"])["chat_id"] == "-100123"
    threema = form_fields(by_path["/threema/send_simple"])
    assert (threema["from"], threema["to"]) == ("*ABCDEFG", "ABCDEFGH")
    victorops = json_at("/victorops")
    assert (victorops["message_type"], victorops["entity_id"]) == ("CRITICAL", dedup_key)
    webex = by_path["/webex/v1/messages"]
    assert webex.headers["authorization"] == "Bearer webex-s3cr3t"
    assert webex.json()["roomId"] == "room-1"
    assert json_at("/wecom")["msgtype"] == "markdown"


def test_one_post_reaches_every_integration_type(
    celery_worker, receiver, provider_stand_in, smtp_sink, make_contact_point, api, intake_token
):
    stand_in_prefixes = ("/telegram", "/pushover", "/line", "/threema")
    settings = settings_for(receiver.url)
    assert set(settings) == set(all_types()), "every registered type must be part of this test"
    contact_point = make_contact_point("Everything", list(settings.items()))
    provider_stand_in.requests.clear()
    mails_before = len(smtp_sink.messages)

    response = api.post(f"/api/v1/intake/{contact_point.uid}", ALERT, token=intake_token)
    assert response.status_code == 202
    assert response.json()["deliveries"] == len(settings)

    deliveries = wait_until(lambda: delivery_settled(response.json()["id"]), timeout_seconds=30)
    problems = {d.integration.type: d.last_error for d in deliveries if d.status != DeliveryStatus.DELIVERED}
    assert problems == {}
    assert len(smtp_sink.messages) == mails_before + 1

    requests = receiver.requests + [r for r in provider_stand_in.requests if r.path.startswith(stand_in_prefixes)]
    by_path = {r.path.split("?", 1)[0]: r for r in requests}
    assert len(by_path) == len(settings) - 1  # every HTTP type once; email went by SMTP
    check_requests(by_path, sha256_hex(deliveries[0].notification.group_key))
