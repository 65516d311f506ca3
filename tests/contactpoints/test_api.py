"""Integration types, deliveries, health and metrics."""

from __future__ import annotations

import pytest

from contactpoints.models import ContactPoint, Delivery
from integrations.registry import all_types

pytestmark = pytest.mark.django_db


def test_integration_types_list_every_registered_type_with_fields(api, admin_token):
    answer = api.get("/api/v1/integration-types", token=admin_token).json()
    assert [t["type"] for t in answer if "preset" not in t] == list(all_types())
    zenduty = next(t for t in answer if t.get("preset") == "zenduty")
    assert zenduty["type"] == "webhook" and zenduty["label"] == "Zenduty"
    assert "Zenduty" in next(f for f in zenduty["fields"] if f["key"] == "url")["help"]
    webhook = next(t for t in answer if t["type"] == "webhook")
    url_field = next(f for f in webhook["fields"] if f["key"] == "url")
    assert url_field["required"] is True and url_field["secret"] is False
    assert {"key", "label", "kind", "required", "secret", "default", "choices", "help"} <= set(url_field)


def test_deliveries_list_filters_and_detail(api, admin_token, make_contact_point):
    from contactpoints.intake import parse_intake
    from contactpoints.services import accept_notification

    contact_point = make_contact_point("D", [("webhook", {"url": "http://127.0.0.1:9/"})])
    answer = accept_notification(contact_point, parse_intake({"title": "t", "message": "m"}, max_alerts=5))
    listed = api.get("/api/v1/deliveries?status=pending&contact_point=d", token=admin_token).json()
    assert listed["count"] == 1
    delivery = listed["results"][0]
    assert delivery["notification"] == answer["id"] and delivery["integration_type"] == "webhook"
    assert api.get("/api/v1/deliveries?status=failed", token=admin_token).json()["count"] == 0
    detail = api.get(f"/api/v1/deliveries/{delivery['id']}", token=admin_token).json()
    assert detail["attempts_detail"] == []
    retry = api.post(f"/api/v1/deliveries/{delivery['id']}/retry", {}, token=admin_token)
    assert retry.status_code == 409
    Delivery.objects.update(status="failed")
    assert api.post(f"/api/v1/deliveries/{delivery['id']}/retry", {}, token=admin_token).status_code == 202


def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_answers_503_when_redis_is_down(client, settings):
    from contactpoints.redis_client import get_redis

    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    get_redis.cache_clear()
    try:
        response = client.get("/healthz")
    finally:
        get_redis.cache_clear()
    assert response.status_code == 503
    assert response.json()["redis"].startswith("failed")
    assert response.json()["database"] == "ok"


def test_metrics_count_notifications(client, api, intake_token, make_contact_point, django_capture_on_commit_callbacks):
    def received() -> float:
        text = client.get("/metrics").content.decode()
        line = next(x for x in text.splitlines() if x.startswith("contactpoints_notifications_received_total"))
        return float(line.split()[-1])

    contact_point = make_contact_point("M", [("webhook", {"url": "http://127.0.0.1:9/"})])
    before = received()
    with django_capture_on_commit_callbacks(execute=True):  # counted with the wake, after the commit
        api.post(f"/api/v1/intake/{contact_point.uid}", {"title": "t", "message": "m"}, token=intake_token)
    assert received() == before + 1
    text = client.get("/metrics").content.decode()
    assert 'contactpoints_deliveries_queued{status="pending"}' in text
    assert "# TYPE contactpoints_delivery_duration_seconds histogram" in text


def test_attempts_of_a_batch_are_summed_into_their_counters_and_histogram(db):
    from contactpoints import metrics

    def samples() -> dict[str, float]:
        lines = [line.rsplit(" ", 1) for line in metrics.render().splitlines() if not line.startswith("#")]
        return {name: float(value) for name, value in lines}

    before = samples()
    metrics.count_outcomes([("webhook", "success", 0.004), ("webhook", "success", 0.02), ("webhook", "retry", 3.0)])
    after = samples()
    changed = {name: round(after[name] - before.get(name, 0), 6) for name in after if after[name] != before.get(name)}
    assert changed == {
        'contactpoints_delivery_attempts_total{type="webhook",outcome="success"}': 2,
        'contactpoints_delivery_attempts_total{type="webhook",outcome="retry"}': 1,
        "contactpoints_delivery_retries_total": 1,
        **{
            f'contactpoints_delivery_duration_seconds_bucket{{type="webhook",le="{le}"}}': n
            for le, n in [
                ("0.005", 1),
                ("0.01", 1),
                ("0.025", 2),
                ("0.05", 2),
                ("0.1", 2),
                ("0.25", 2),
                ("0.5", 2),
                ("1.0", 2),
                ("2.5", 2),
                ("5.0", 3),
                ("10.0", 3),
                ("30.0", 3),
                ("+Inf", 3),
            ]
        },
        'contactpoints_delivery_duration_seconds_sum{type="webhook"}': 3.024,
        'contactpoints_delivery_duration_seconds_count{type="webhook"}': 3,
    }


@pytest.mark.parametrize("paused", [False, True])
def test_a_notification_is_counted_once_with_or_without_a_wake(
    client, api, intake_token, make_contact_point, django_capture_on_commit_callbacks, paused
):
    def counted() -> tuple[float, float]:
        lines = dict(
            line.rsplit(" ", 1) for line in client.get("/metrics").content.decode().splitlines() if " " in line
        )
        return float(lines["contactpoints_notifications_received_total"]), float(
            lines["contactpoints_alerts_received_total"]
        )

    contact_point = make_contact_point("M", [("webhook", {"url": "http://127.0.0.1:9/"})])
    ContactPoint.objects.filter(pk=contact_point.pk).update(paused=paused)  # paused: nothing to wake for
    before = counted()
    body = {"alerts": [{"labels": {"alertname": "A"}}, {"labels": {"alertname": "B"}}]}
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/v1/intake/{contact_point.uid}", body, token=intake_token).status_code == 202
    assert counted() == (before[0] + 1, before[1] + 2)
