"""Fallback contact points and self-monitoring (issue 11): contactpoints.monitoring.after_outcomes on
its own, then through the delivery state machine, and what the admin, the API and /metrics show."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from contactpoints import metrics, monitoring
from contactpoints import queue as engine
from contactpoints.intake import parse_intake
from contactpoints.models import ContactPoint, Delivery, DeliveryStatus, Integration, Notification
from contactpoints.redis_client import get_redis
from contactpoints.sending import Send, SendResult
from contactpoints.services import accept_notification
from contactpoints.storms import Message
from integrations.base import Outcome, Result
from tests.receivers import Answer, Receiver

pytestmark = pytest.mark.django_db

REFUSED = "webhook response status 400 Bad Request: bad payload"


@pytest.fixture(autouse=True)
def broker_calls():
    """The doorbell and the delayed wakes, captured instead of reaching Celery."""
    with mock.patch("contactpoints.broker.wake") as wake, mock.patch("contactpoints.broker.publish") as publish:
        yield wake, publish


@pytest.fixture
def second_receiver():
    server = Receiver()
    yield server
    server.close()


def hook(url: str = "http://127.0.0.1:9/hook") -> tuple[str, dict]:
    return ("webhook", {"url": url})


def notify(contact_point: ContactPoint, *alerts: dict) -> Notification:
    """An intake request to the contact point; its deliveries are stored (and due) at once."""
    body = list(alerts) or [{"labels": {"alertname": "DiskFull", "host": "db1"}, "annotations": {"summary": "full"}}]
    answer = accept_notification(contact_point, parse_intake(body, max_alerts=10))
    return Notification.objects.get(pk=answer["id"])


def loaded(notification: Notification, integration: Integration | None = None) -> Delivery:
    """One of its deliveries with what after_outcomes reads loaded, as a claimed batch has it."""
    deliveries = Delivery.objects.select_related("notification", "integration__contact_point")
    return deliveries.get(notification=notification, **({"integration": integration} if integration else {}))


def failed(delivery: Delivery, error: str = REFUSED, http_status: int | None = 400) -> tuple[Delivery, Outcome]:
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, last_error=error)
    return delivery, Outcome(Result.FAILED, error=error, http_status=http_status)


def raised_to(contact_point: ContactPoint, source: str) -> list[Notification]:
    return list(Notification.objects.filter(contact_point=contact_point, source=source).order_by("received_at"))


@pytest.fixture
def mail(make_contact_point):
    return make_contact_point("Mail", [("email", {"addresses": "oncall@example.com"})])


@pytest.fixture
def hooks(make_contact_point, mail):
    contact_point = make_contact_point("Hooks", [hook()])
    contact_point.fallback = mail
    contact_point.save()
    return contact_point


@pytest.fixture
def operations(make_contact_point, settings, second_receiver):
    contact_point = make_contact_point("Operations", [hook(f"{second_receiver.url}/ops")])
    settings.OPERATIONS_CONTACT_POINT = contact_point.uid
    settings.INTEGRATION_FAILURE_THRESHOLD = 3
    settings.INTEGRATION_FAILURE_WINDOW_SECONDS = 600
    return contact_point


# -- fallback, after_outcomes on its own ------------------------------------------------------------


def test_a_permanent_failure_hands_the_notification_to_the_fallback_with_the_failure(
    hooks, mail, django_capture_on_commit_callbacks, broker_calls
):
    original = notify(hooks)
    wake, _ = broker_calls
    wake.reset_mock()

    with django_capture_on_commit_callbacks(execute=True):
        monitoring.after_outcomes([], [failed(loaded(original))])

    (fallback,) = raised_to(mail, "fallback")
    assert fallback.receiver == "Mail" and fallback.status == "firing"
    assert fallback.group_labels == original.group_labels == {"alertname": "DiskFull"}
    (alert,) = fallback.alerts
    assert alert["labels"] == {"alertname": "DiskFull", "host": "db1"}
    assert alert["annotations"] == {"summary": "full", "delivery_failure": f"Hooks / Webhook failed: {REFUSED}"}
    (delivery,) = fallback.deliveries.all()
    assert delivery.status == DeliveryStatus.PENDING and delivery.integration.type == "email"
    wake.assert_called_once_with()  # the worker is woken after the commit


def test_two_failed_integrations_make_one_fallback_notification_naming_both(make_contact_point, mail):
    both = make_contact_point("Both", [hook(), hook("http://127.0.0.1:9/other")])
    ContactPoint.objects.filter(pk=both.pk).update(fallback=mail)
    original = notify(both)
    first, second = (loaded(original, integration) for integration in both.integrations.order_by("position"))

    monitoring.after_outcomes([], [failed(first), failed(second, "timed out after 15s waiting for x", None)])

    (fallback,) = raised_to(mail, "fallback")
    assert fallback.alerts[0]["annotations"]["delivery_failure"] == (
        f"Both / Webhook failed: {REFUSED}\nBoth / Webhook failed: timed out after 15s waiting for x"
    )


def test_a_firing_only_integration_hands_on_only_the_firing_alerts(make_contact_point, mail):
    quiet = make_contact_point("Quiet", [hook()], disable_resolve_message=True)
    ContactPoint.objects.filter(pk=quiet.pk).update(fallback=mail)
    original = notify(
        quiet,
        {"labels": {"alertname": "Up"}, "status": "firing"},
        {"labels": {"alertname": "Gone"}, "status": "resolved"},
    )

    monitoring.after_outcomes([], [failed(loaded(original))])

    (fallback,) = raised_to(mail, "fallback")
    assert [alert["labels"]["alertname"] for alert in fallback.alerts] == ["Up"]


@pytest.mark.parametrize("source", ["fallback", "self-monitoring"])
def test_a_notification_raised_here_never_falls_back_again(hooks, mail, source):
    original = notify(hooks)
    Notification.objects.filter(pk=original.pk).update(source=source)

    monitoring.after_outcomes([], [failed(loaded(original))])

    assert raised_to(mail, "fallback") == []


def test_a_contact_point_never_falls_back_to_itself(hooks):
    ContactPoint.objects.filter(pk=hooks.pk).update(fallback=hooks)
    original = notify(hooks)

    monitoring.after_outcomes([], [failed(loaded(original))])

    assert Notification.objects.filter(contact_point=hooks).count() == 1


def test_without_a_fallback_nothing_is_raised(make_contact_point):
    alone = make_contact_point("Alone", [hook()])
    original = notify(alone)

    monitoring.after_outcomes([], [failed(loaded(original))])

    assert Notification.objects.count() == 1


def test_a_fault_in_the_fallback_never_undoes_the_outcomes_it_follows(hooks, mail, caplog):
    original = notify(hooks)
    delivery, outcome = failed(loaded(original))

    with mock.patch("contactpoints.services.notify", side_effect=RuntimeError("boom")):
        monitoring.after_outcomes([], [(delivery, outcome)])

    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.FAILED
    assert raised_to(mail, "fallback") == []
    assert any(r.getMessage().startswith("fallback or self-monitoring failed") for r in caplog.records)


# -- self-monitoring, after_outcomes on its own --------------------------------------------------------


def fail_once(contact_point: ContactPoint, error: str = REFUSED) -> Delivery:
    delivery = loaded(notify(contact_point))
    monitoring.after_outcomes([], [failed(delivery, error)])
    return delivery


def test_the_threshold_marks_the_integration_unhealthy_and_raises_one_self_alert(
    make_contact_point, operations, caplog
):
    shop = make_contact_point("Shop", [hook()])
    integration = shop.integrations.get()

    fail_once(shop)
    fail_once(shop)
    integration.refresh_from_db()
    assert integration.unhealthy_since is None and raised_to(operations, "self-monitoring") == []

    before = timezone.now()
    fail_once(shop, "webhook response status 410 Gone: removed")
    integration.refresh_from_db()
    assert integration.unhealthy_since is not None and integration.unhealthy_since >= before
    (alert_notification,) = raised_to(operations, "self-monitoring")
    (alert,) = alert_notification.alerts
    assert alert["status"] == "firing"
    assert alert["labels"] == {
        "alertname": "IntegrationFailing",
        "integration": integration.uid,
        "integration_type": "webhook",
        "contact_point": "Shop",
    }
    assert alert["annotations"]["summary"] == "Shop / Webhook failed 3 times within 10 minutes"
    description = alert["annotations"]["description"]
    assert "failed for good 3 times within 10 minutes" in description
    assert description.endswith("The last error: webhook response status 410 Gone: removed")
    assert alert["generatorURL"].endswith(reverse("admin:contactpoints_integration_change", args=[integration.pk]))
    assert alert_notification.group_labels == {"alertname": "IntegrationFailing", "integration": integration.uid}
    assert alert_notification.deliveries.get().status == DeliveryStatus.PENDING
    assert any("failed 3 times within 10 minutes: unhealthy" in r.getMessage() for r in caplog.records)

    fail_once(shop)  # a 4th failure: still unhealthy, not raised again
    assert len(raised_to(operations, "self-monitoring")) == 1


def test_failures_older_than_the_window_do_not_count(make_contact_point, operations):
    shop = make_contact_point("Shop", [hook()])
    long_ago = timezone.now().timestamp() - 601
    with mock.patch("contactpoints.monitoring.time.time", return_value=long_ago):
        fail_once(shop)
        fail_once(shop)
    fail_once(shop)

    assert shop.integrations.get().unhealthy_since is None
    assert raised_to(operations, "self-monitoring") == []


def test_a_failed_digest_is_one_failure_of_its_integration(make_contact_point, operations):
    shop = make_contact_point("Shop", [hook()])
    one_attempt = Outcome(Result.FAILED, error=REFUSED, http_status=400)
    digest = [(loaded(notify(shop)), one_attempt) for _ in range(5)]

    monitoring.after_outcomes([], digest)

    assert shop.integrations.get().unhealthy_since is None
    assert raised_to(operations, "self-monitoring") == []


def test_the_operations_contact_point_never_alerts_itself(operations, second_receiver, caplog):
    for _ in range(3):
        fail_once(operations)

    assert operations.integrations.get().unhealthy_since is not None  # marked all the same
    assert raised_to(operations, "self-monitoring") == []
    assert any("never to itself" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_failures_of_self_alerts_never_raise_one(make_contact_point, operations, settings):
    # The contact point that got the self-alerts is no longer the operations one: still no loop.
    former = make_contact_point("Former operations", [hook()])
    for _ in range(3):
        delivery = loaded(notify(former))
        Notification.objects.filter(pk=delivery.notification_id).update(source="self-monitoring")
        delivery.notification.source = "self-monitoring"
        monitoring.after_outcomes([], [failed(delivery)])

    assert raised_to(operations, "self-monitoring") == []


def test_no_operations_contact_point_still_marks_unhealthy(make_contact_point, settings, caplog):
    settings.OPERATIONS_CONTACT_POINT = ""
    shop = make_contact_point("Shop", [hook()])
    for _ in range(3):
        fail_once(shop)

    assert shop.integrations.get().unhealthy_since is not None
    assert list(Notification.objects.exclude(source="alerts")) == []
    assert any("OPERATIONS_CONTACT_POINT is not set" in r.getMessage() for r in caplog.records)


def test_a_delivery_clears_the_mark_resolves_the_self_alert_and_starts_a_fresh_count(make_contact_point, operations):
    shop = make_contact_point("Shop", [hook()])
    for _ in range(3):
        fail_once(shop)
    integration = shop.integrations.get()
    assert Integration.objects.get(pk=integration.pk).unhealthy_since is not None

    monitoring.after_outcomes([loaded(notify(shop))], [])

    assert Integration.objects.get(pk=integration.pk).unhealthy_since is None
    firing, resolved = raised_to(operations, "self-monitoring")
    assert resolved.status == "resolved" and resolved.group_labels == firing.group_labels
    assert resolved.alerts[0]["labels"] == firing.alerts[0]["labels"]
    assert resolved.alerts[0]["annotations"] == {"summary": "Shop / Webhook delivers again"}

    fail_once(shop)  # one failure after recovering is a fresh count, not the 4th
    assert Integration.objects.get(pk=integration.pk).unhealthy_since is None


def test_deliveries_to_healthy_integrations_change_nothing(make_contact_point, operations, django_assert_num_queries):
    shop = make_contact_point("Shop", [hook()])
    delivery = loaded(notify(shop))

    with django_assert_num_queries(0):  # loaded as healthy: nothing to clear, no statement
        monitoring.after_outcomes([delivery], [])

    assert raised_to(operations, "self-monitoring") == []


def test_without_redis_failures_are_not_counted_and_nothing_breaks(make_contact_point, operations, settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    get_redis.cache_clear()
    try:
        shop = make_contact_point("Shop", [hook()])
        for _ in range(3):
            fail_once(shop)
    finally:
        get_redis.cache_clear()

    assert shop.integrations.get().unhealthy_since is None
    assert any("integration failures not counted" in r.getMessage() for r in caplog.records)


# -- /metrics ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (Outcome(Result.FAILED, REFUSED, 400), "http_4xx"),
        (Outcome(Result.RETRY, "webhook response status 503 Service Unavailable: down", 503), "http_5xx"),
        (Outcome(Result.RETRY, "webhook response status 429 Too Many Requests", 429), "http_429"),
        (Outcome(Result.RETRY, "timed out after 15s waiting for http://127.0.0.1:9"), "timeout"),
        (Outcome(Result.RETRY, "cannot connect to http://127.0.0.1:9: connection refused"), "connection_error"),
        (Outcome(Result.FAILED, "settings no longer validate: URL is required"), "settings_invalid"),
        (Outcome(Result.FAILED, "failed to template title: boom"), "template_error"),
        (Outcome(Result.FAILED, "TLS verification failed for https://example.com"), "tls_error"),
        (Outcome(Result.RETRY, "failed to dial SMTP server: refused"), "connection_error"),
        (Outcome(Result.FAILED, "failed to send notification to email addresses: a@b.c: 550 no"), "smtp_rejected"),
        (Outcome(Result.RETRY, "internal error in the slack integration: KeyError"), "internal_error"),
        (Outcome(Result.RETRY, engine.LOST_LEASE_ERROR), "worker_lost"),
        (Outcome(Result.FAILED, "webhook only supports HTTP methods PUT or POST: GET"), "other"),
    ],
)
def test_the_failure_reason_label(outcome, reason):
    assert metrics.failure_reason(outcome) == reason


def metric(client, name: str, **labels: str) -> float:
    selector = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    text = client.get("/metrics").content.decode()
    found = [line.split()[-1] for line in text.splitlines() if line.startswith(selector + " ")]
    return float(found[0]) if found else 0.0


def test_metrics_count_final_outcomes_apart_from_attempts(client, make_contact_point):
    text = client.get("/metrics").content.decode()
    assert "# TYPE contactpoints_delivery_failures_total counter" in text
    assert "# TYPE contactpoints_deliveries_final_total counter" in text
    shop = make_contact_point("Shop", [hook()])
    before = {
        "failed": metric(client, "contactpoints_deliveries_final_total", type="webhook", outcome="failed"),
        "delivered": metric(client, "contactpoints_deliveries_final_total", type="webhook", outcome="delivered"),
        "4xx": metric(client, "contactpoints_delivery_failures_total", type="webhook", reason="http_4xx"),
        "timeout": metric(client, "contactpoints_delivery_failures_total", type="webhook", reason="timeout"),
    }

    for _ in range(3):
        notify(shop)
    batch = engine.claim(3)  # the state machine records the outcomes and counts them, once committed
    delivered, refused, timed_out = batch.deliveries
    outcomes = {
        delivered: Outcome.success(200),
        refused: Outcome(Result.FAILED, error=REFUSED, http_status=400),
        timed_out: Outcome(Result.FAILED, error="timed out after 15s"),
    }
    engine.record(
        batch,
        [
            (Message([d], Send(d.integration, d.notification, False, str(d.pk))), SendResult(o, 0.01, timezone.now()))
            for d, o in outcomes.items()
        ],
    )

    assert metric(client, "contactpoints_deliveries_final_total", type="webhook", outcome="failed") == (
        before["failed"] + 2
    )
    assert metric(client, "contactpoints_deliveries_final_total", type="webhook", outcome="delivered") == (
        before["delivered"] + 1
    )
    assert metric(client, "contactpoints_delivery_failures_total", type="webhook", reason="http_4xx") == (
        before["4xx"] + 1
    )
    assert metric(client, "contactpoints_delivery_failures_total", type="webhook", reason="timeout") == (
        before["timeout"] + 1
    )


# -- through the delivery state machine (queue.record calls after_outcomes) -------------------------


def test_a_failing_webhook_hands_the_notification_to_the_fallbacks_email(
    make_contact_point, receiver, smtp_server, client, django_capture_on_commit_callbacks
):
    mail = make_contact_point("Mail", [("email", {"addresses": "oncall@example.com"})])
    hooks = make_contact_point("Hooks", [hook(f"{receiver.url}/hook")])
    ContactPoint.objects.filter(pk=hooks.pk).update(fallback=mail)
    receiver.default = Answer(400, b"bad payload")
    failures_before = metric(client, "contactpoints_delivery_failures_total", type="webhook", reason="http_4xx")
    original = notify(hooks)

    with django_capture_on_commit_callbacks(execute=True):  # the metrics follow the commit
        statuses = engine.deliver_due()  # the webhook fails for good; the same wake sends the fallback

    (webhook_delivery,) = original.deliveries.all()
    (fallback,) = raised_to(mail, "fallback")
    (email_delivery,) = fallback.deliveries.all()
    assert statuses == {"failed": 1, "delivered": 1}
    assert (webhook_delivery.status, email_delivery.status) == ("failed", "delivered")
    ((recipients, message),) = smtp_server.messages
    assert recipients == ["oncall@example.com"]
    text = message.get_body(("plain",)).get_content()
    assert "Alertname: DiskFull" in text and f"delivery_failure = Hooks / Webhook failed: {REFUSED}" in text
    assert metric(client, "contactpoints_delivery_failures_total", type="webhook", reason="http_4xx") == (
        failures_before + 1
    )


def test_the_failure_shows_in_the_fallbacks_webhook_and_slack_messages(make_contact_point, receiver, second_receiver):
    fallback = make_contact_point(
        "Fallback", [hook(f"{second_receiver.url}/hook"), ("slack", {"url": f"{second_receiver.url}/slack"})]
    )
    hooks = make_contact_point("Hooks", [hook(f"{receiver.url}/hook")])
    ContactPoint.objects.filter(pk=hooks.pk).update(fallback=fallback)
    receiver.default = Answer(400, b"bad payload")
    notify(hooks)

    engine.deliver_due()

    by_path = {request.path: request for request in second_receiver.wait_for(2)}
    failure = f"Hooks / Webhook failed: {REFUSED}"
    assert by_path["/hook"].json()["alerts"][0]["annotations"]["delivery_failure"] == failure
    assert f"delivery_failure = {failure}" in by_path["/slack"].json()["attachments"][0]["text"]


def test_three_failures_through_the_queue_raise_one_self_alert(
    make_contact_point, receiver, operations, second_receiver
):
    shop = make_contact_point("Shop", [hook(f"{receiver.url}/hook")])
    receiver.default = Answer(404, b"no such hook")
    for _ in range(4):
        notify(shop)
        engine.deliver_due()

    (self_alert,) = second_receiver.wait_for(1)
    body = self_alert.json()
    assert body["status"] == "firing" and body["commonLabels"]["alertname"] == "IntegrationFailing"
    assert body["commonLabels"]["contact_point"] == "Shop"
    assert "webhook response status 404 Not Found: no such hook" in body["alerts"][0]["annotations"]["description"]
    assert len(raised_to(operations, "self-monitoring")) == 1
    assert shop.integrations.get().unhealthy_since is not None

    receiver.default = Answer(200, b"ok")
    notify(shop)
    engine.deliver_due()

    assert shop.integrations.get().unhealthy_since is None
    resolved = second_receiver.wait_for(2)[1].json()
    assert resolved["status"] == "resolved" and resolved["commonLabels"] == body["commonLabels"]


# -- the admin ----------------------------------------------------------------------------------------


def mark_unhealthy(contact_point: ContactPoint) -> Integration:
    integration = contact_point.integrations.get()
    integration.unhealthy_since = timezone.now() - timedelta(minutes=5)
    integration.save()
    return integration


def test_admin_lists_mark_unhealthy_integrations(admin_client, make_contact_point):
    sick = make_contact_point("Sick", [hook()])
    well = make_contact_point("Well", [hook()])
    integration = mark_unhealthy(sick)
    stamp = f'datetime="{integration.unhealthy_since.isoformat()}"'

    integrations = admin_client.get(reverse("admin:contactpoints_integration_changelist")).content.decode()
    contact_points = admin_client.get(reverse("admin:contactpoints_contactpoint_changelist")).content.decode()
    page = admin_client.get(reverse("admin:contactpoints_contactpoint_change", args=[sick.pk])).content.decode()

    for html in (integrations, contact_points, page):
        assert html.count("unhealthy since") == 1 and stamp in html
        assert '<span class="cp-badge cp-badge-error" title="Failed for good' in html
    filtered = admin_client.get(reverse("admin:contactpoints_contactpoint_changelist") + "?health=unhealthy")
    assert "Sick" in filtered.content.decode() and well.name not in filtered.content.decode()


def test_admin_sets_a_fallback_but_never_the_contact_point_itself(admin_client, make_contact_point):
    mail = make_contact_point("Mail", [])
    hooks = make_contact_point("Hooks", [])
    change = reverse("admin:contactpoints_contactpoint_change", args=[hooks.pk])

    form = admin_client.get(change).content.decode()
    assert f'<option value="{mail.pk}">Mail</option>' in form
    assert f'<option value="{hooks.pk}"' not in form

    data = {"name": "Hooks", "uid": "hooks", "description": "", "integrations-TOTAL_FORMS": 0}
    data |= {"integrations-INITIAL_FORMS": 0, "integrations-MIN_NUM_FORMS": 0, "integrations-MAX_NUM_FORMS": 1000}
    refused = admin_client.post(change, {**data, "fallback": hooks.pk})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    hooks.refresh_from_db()
    assert hooks.fallback is None

    assert admin_client.post(change, {**data, "fallback": mail.pk}).status_code == 302
    hooks.refresh_from_db()
    assert hooks.fallback == mail
    listed = admin_client.get(reverse("admin:contactpoints_contactpoint_changelist")).content.decode()
    assert '<td class="field-fallback nowrap">Mail</td>' in listed


def test_a_duplicate_keeps_the_fallback(admin_client, hooks, mail):
    admin_client.post(reverse("admin:contactpoints_contactpoint_duplicate", args=[hooks.pk]))

    assert ContactPoint.objects.get(name="Hooks (copy)").fallback == mail


# -- the API ------------------------------------------------------------------------------------------

LIST = "/api/v1/contact-points"


def test_api_shows_unhealthy_since_and_the_fallback_under_our_own_keys(api, admin_token, make_contact_point):
    mail = make_contact_point("Mail", [hook()])
    sick = make_contact_point("Sick", [hook()])
    ContactPoint.objects.filter(pk=sick.pk).update(fallback=mail)
    integration = mark_unhealthy(sick)

    answer = {c["name"]: c for c in api.get(LIST, token=admin_token).json()}

    assert answer["Sick"]["fallback"] == "mail" and answer["Mail"]["fallback"] is None
    shown = answer["Sick"]["integrations"][0]["unhealthySince"]
    assert datetime.fromisoformat(shown) == integration.unhealthy_since
    assert answer["Mail"]["integrations"][0]["unhealthySince"] is None


def test_grafanas_provisioning_shapes_gain_only_the_fallback_where_set(api, admin_token, make_contact_point):
    mail = make_contact_point("Mail", [hook()])
    sick = make_contact_point("Sick", [hook()])
    ContactPoint.objects.filter(pk=sick.pk).update(fallback=mail)
    mark_unhealthy(sick)

    listed = api.get("/api/v1/provisioning/contact-points", token=admin_token).content.decode()
    exported = api.get("/api/v1/provisioning/contact-points/export?format=json", token=admin_token).json()

    assert "unhealthy" not in listed.lower() and "fallback" not in listed.lower()
    assert "unhealthy" not in json.dumps(exported).lower()  # state, not configuration
    fallbacks = {c["name"]: c.get("fallback") for c in exported["contactPoints"]}
    assert fallbacks == {"Mail": None, "Sick": "Mail"}  # configuration as code: our key, only where set


def test_api_sets_and_clears_the_fallback(api, admin_token, make_contact_point, client):
    mail = make_contact_point("Mail", [])
    hooks = make_contact_point("Hooks", [])

    def patch(body):
        return client.patch(
            f"{LIST}/{hooks.uid}", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {admin_token}"
        )

    response = patch({"fallback": "mail"})
    assert response.status_code == 200 and response.json() == {"uid": "hooks", "name": "Hooks", "fallback": "mail"}
    assert ContactPoint.objects.get(pk=hooks.pk).fallback == mail

    itself = patch({"fallback": "hooks"})
    assert itself.status_code == 400
    assert itself.json()["errors"] == {"fallback": ["A contact point cannot fall back to itself."]}
    unknown = patch({"fallback": "nobody"})
    assert unknown.status_code == 400 and "fallback" in unknown.json()["errors"]
    assert ContactPoint.objects.get(pk=hooks.pk).fallback == mail

    assert patch({}).json()["fallback"] == "mail"  # left out: kept
    assert patch({"fallback": None}).json()["fallback"] is None
    assert ContactPoint.objects.get(pk=hooks.pk).fallback is None

    missing = client.patch(
        f"{LIST}/nobody", {}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {admin_token}"
    )
    assert missing.status_code == 404


# -- the state machine's other ends ------------------------------------------------------------------


def test_a_lost_lease_that_used_up_the_attempts_falls_back_too(hooks, mail, settings):
    settings.DELIVERY_MAX_ATTEMPTS = 1
    original = notify(hooks)
    assert len(engine.claim(1).deliveries) == 1  # a worker claims it, then dies mid-send
    Delivery.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    assert engine.sweep()["reclaimed"] == 1

    assert Delivery.objects.get(notification=original).status == DeliveryStatus.FAILED
    (fallback,) = raised_to(mail, "fallback")
    assert engine.LOST_LEASE_ERROR in fallback.alerts[0]["annotations"]["delivery_failure"]


def test_an_outcome_recorded_by_a_worker_that_lost_its_lease_raises_nothing(hooks, mail, second_receiver):
    second_receiver.answer_with(Answer(400, b"bad payload"))
    Integration.objects.filter(contact_point=hooks).update(settings={"url": f"{second_receiver.url}/hook"})
    notify(hooks)
    late = engine.claim(1)
    Delivery.objects.update(claim=None, status=DeliveryStatus.RETRYING)  # the sweeper handed it on meanwhile

    assert engine.send_and_record(late) == {str(late.deliveries[0].pk): DeliveryStatus.FAILED}

    assert len(second_receiver.requests) == 1  # refused for good...
    assert Delivery.objects.get().status == DeliveryStatus.RETRYING  # ...but not recorded over the next owner
    assert raised_to(mail, "fallback") == []  # whose attempt decides how it ends
