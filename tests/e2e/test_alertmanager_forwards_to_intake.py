"""A real Prometheus Alertmanager forwards an alert to our intake (webhook_config with a Bearer
token), and our webhook integration delivers it to a loopback receiver: every part real."""

from __future__ import annotations

import pytest

from contactpoints.models import ApiToken, Notification
from tests.alertmanager_peer import post_alerts, real_alertmanager

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LABELS = {"alertname": "DiskFull", "instance": "db1", "severity": "critical"}


def alertmanager_config(intake_url: str, token: str) -> dict:
    """One route to one webhook_config: our intake, authorised with the intake token."""
    return {
        "route": {
            "receiver": "contact-points",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "contact-points",
                "webhook_configs": [
                    {
                        "url": intake_url,
                        "send_resolved": True,
                        "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
                    }
                ],
            }
        ],
    }


def test_alertmanager_forwards_an_alert_that_our_webhook_delivers(
    celery_worker, live_server, receiver, make_contact_point, intake_token, tmp_path
):
    contact_point = make_contact_point("Ops Team", [("webhook", {"url": f"{receiver.url}/hook"})])
    config = alertmanager_config(f"{live_server.url}/api/v1/intake/{contact_point.uid}", intake_token)
    with real_alertmanager(config, tmp_path) as alertmanager:
        alert = {
            "labels": LABELS,
            "annotations": {"summary": "disk 95% full"},
            "generatorURL": "http://prometheus.local/g",
        }
        post_alerts(alertmanager, [alert])
        (delivered,) = receiver.wait_for(1, timeout_seconds=30)
    assert delivered.path == "/hook"
    body = delivered.json()
    assert (body["status"], body["receiver"], body["groupLabels"]) == ("firing", "Ops Team", {"alertname": "DiskFull"})
    (alert,) = body["alerts"]
    assert alert["labels"] == LABELS
    assert alert["annotations"] == {"summary": "disk 95% full"}
    assert alert["generatorURL"] == "http://prometheus.local/g"

    # What reached the intake: Alertmanager's own webhook payload (version "4", its group key),
    # accepted with the intake token as Bearer credentials.
    (notification,) = Notification.objects.all()
    assert notification.source == "alertmanager"
    assert notification.group_key == '{}:{alertname="DiskFull"}'
    assert notification.alerts[0]["labels"] == LABELS
    assert ApiToken.objects.get(name="tests").last_used_at is not None
