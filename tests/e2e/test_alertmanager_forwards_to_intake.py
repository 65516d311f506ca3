"""A real Prometheus Alertmanager forwards an alert to our intake (webhook_config with a Bearer
token), and our webhook integration delivers it to a loopback receiver: every part real."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request

import pytest

from contactpoints.models import ApiToken, Notification
from tests.e2e.conftest import ManagedProcess, free_port, wait_for_port

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALERTMANAGER_BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
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


@pytest.fixture
def start_alertmanager(tmp_path):
    """start_alertmanager(intake_url, token) → the URL of a real Alertmanager on loopback."""
    if ALERTMANAGER_BINARY is None:
        pytest.skip("prometheus-alertmanager is not installed (`make test` installs it with apt-get)")
    started: list[ManagedProcess] = []

    def start(intake_url: str, token: str) -> str:
        config = tmp_path / "alertmanager.yml"
        config.write_text(json.dumps(alertmanager_config(intake_url, token)))  # JSON is YAML
        port = free_port()
        argv = [
            ALERTMANAGER_BINARY,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # one peer, no gossip
        ]
        started.append(ManagedProcess("alertmanager", argv, env={}))
        wait_for_port(port)
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url)
        return url

    yield start
    for process in started:
        process.stop()


def wait_until_ready(url: str, timeout_seconds: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("Alertmanager did not become ready")


def post_alert(alertmanager_url: str, alert: dict) -> None:
    request = urllib.request.Request(
        f"{alertmanager_url}/api/v2/alerts",
        data=json.dumps([alert]).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200


def test_alertmanager_forwards_an_alert_that_our_webhook_delivers(
    celery_worker, live_server, receiver, make_contact_point, intake_token, start_alertmanager
):
    contact_point = make_contact_point("Ops Team", [("webhook", {"url": f"{receiver.url}/hook"})])
    alertmanager = start_alertmanager(f"{live_server.url}/api/v1/intake/{contact_point.uid}", intake_token)

    post_alert(
        alertmanager,
        {"labels": LABELS, "annotations": {"summary": "disk 95% full"}, "generatorURL": "http://prometheus.local/g"},
    )

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
