"""The admin's read-only records (deliveries, notifications, attempts) and API tokens."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contactpoints.models import (
    ApiToken,
    Attempt,
    ContactPoint,
    Delivery,
    DeliveryStatus,
    Integration,
    Notification,
    NotificationStatus,
    hash_token,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook():
    contact_point = ContactPoint.objects.create(name="Ops Team")
    return Integration.objects.create(contact_point=contact_point, type="webhook", settings={"url": "https://x.test"})


def make_deliveries(integration: Integration, count: int, status: str = DeliveryStatus.FAILED) -> None:
    notification = Notification.objects.create(
        contact_point=integration.contact_point,
        status=NotificationStatus.FIRING,
        receiver=integration.contact_point.name,
        group_key="{}:{}",
        alerts=[{"labels": {"alertname": "Disk"}}],
    )
    for _ in range(count):
        delivery = Delivery.objects.create(
            notification=notification, integration=integration, status=status, attempts=1, last_error="boom"
        )
        Attempt.objects.create(
            delivery=delivery, number=1, started_at=timezone.now(), duration_ms=12, outcome="failed", error="boom"
        )


def test_delivery_list_is_read_only(admin_client, webhook):
    make_deliveries(webhook, 1)
    delivery = Delivery.objects.get()

    html = admin_client.get(reverse("admin:contactpoints_delivery_changelist")).content.decode()
    assert "Ops Team" in html and "Webhook" in html and "boom" in html
    assert reverse("admin:contactpoints_delivery_add") not in html
    assert admin_client.get(reverse("admin:contactpoints_delivery_add")).status_code == 403

    detail_url = reverse("admin:contactpoints_delivery_change", args=[delivery.pk])
    detail = admin_client.get(detail_url).content.decode()
    assert 'name="_save"' not in detail
    assert re.search(r'field-duration_ms">\s*<p>12</p>', detail)  # the attempts inline
    assert admin_client.post(detail_url, {"status": "delivered"}).status_code == 403
    assert admin_client.get(reverse("admin:contactpoints_delivery_delete", args=[delivery.pk])).status_code == 403


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("status=failed", 2),
        ("status=delivered", 1),
        ("integration_type=webhook", 2),
        ("integration_type=slack", 1),
        ("contact_point={other}", 1),
    ],
)
def test_delivery_list_filters(admin_client, webhook, query, shown):
    other = ContactPoint.objects.create(name="Other")
    slack = Integration.objects.create(contact_point=other, type="slack", settings={"recipient": "#ops"})
    make_deliveries(webhook, 2)
    make_deliveries(slack, 1, status=DeliveryStatus.DELIVERED)

    url = reverse("admin:contactpoints_delivery_changelist") + "?" + query.format(other=other.uid)
    response = admin_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == shown


def add_contact_points_with_history(count: int) -> None:
    for _ in range(count):
        contact_point = ContactPoint.objects.create(name=f"cp {ContactPoint.objects.count()}")
        Integration.objects.create(contact_point=contact_point, type="slack", settings={"recipient": "#ops"})
        make_deliveries(Integration.objects.create(contact_point=contact_point, type="webhook"), 1)


@pytest.mark.parametrize(
    ("model", "query"),
    [
        ("delivery", ""),
        ("delivery", "?status__exact=failed&since=24h&integration_type=webhook&contact_point=cp-1"),
        ("notification", ""),
        ("notification", "?contact_point=cp-1&since=7d"),
        ("contactpoint", ""),
        ("integration", ""),
        ("integration", "?paused__exact=0&contact_point=cp-1"),
    ],
)
def test_list_query_count_does_not_grow_with_rows(admin_client, model, query):
    url = reverse(f"admin:contactpoints_{model}_changelist") + query

    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured)

    add_contact_points_with_history(5)
    few = queries_for_page()
    add_contact_points_with_history(45)
    assert Delivery.objects.count() == 50
    assert queries_for_page() == few


def test_notification_page_pretty_prints_alerts(admin_client, webhook):
    make_deliveries(webhook, 1)
    notification = Notification.objects.get()

    html = admin_client.get(reverse("admin:contactpoints_notification_change", args=[notification.pk])).content.decode()
    assert "&quot;alertname&quot;: &quot;Disk&quot;" in html
    assert 'name="_save"' not in html


def test_attempts_have_no_admin_page_of_their_own():
    assert not admin.site.is_registered(Attempt)


# -- API tokens ----------------------------------------------------------------------------


def test_adding_a_token_shows_it_once_and_never_its_hash(admin_client):
    response = admin_client.post(
        reverse("admin:contactpoints_apitoken_add"), {"name": "ci", "scope": "intake"}, follow=True
    )
    html = response.content.decode()

    token = ApiToken.objects.get()
    plain = re.search(r"is (cpt_[A-Za-z0-9_-]+) — copy it now", html).group(1)
    assert token.token_hash not in html
    assert token.allows("intake") and token.created_by is not None
    assert hash_token(plain) == token.token_hash
    change = admin_client.get(reverse("admin:contactpoints_apitoken_change", args=[token.pk])).content.decode()
    assert plain not in change and token.token_hash not in change
    assert plain not in admin_client.get(reverse("admin:contactpoints_apitoken_changelist")).content.decode()


def test_revoke_action_revokes_the_selected_tokens(admin_client):
    kept, _ = ApiToken.issue("kept")
    revoked, _ = ApiToken.issue("revoked")
    admin_client.post(
        reverse("admin:contactpoints_apitoken_changelist"),
        {"action": "revoke_tokens", "_selected_action": [revoked.pk]},
    )

    kept.refresh_from_db()
    revoked.refresh_from_db()
    assert kept.revoked_at is None
    assert revoked.revoked_at is not None
    assert timezone.now() - revoked.revoked_at < timedelta(minutes=1)
