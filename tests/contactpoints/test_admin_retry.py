"""Delivery history in the admin: filters, and sending failed (or held) deliveries again."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from contactpoints.models import Delivery, DeliveryStatus, Notification

pytestmark = pytest.mark.django_db

DELIVERIES = "admin:contactpoints_delivery_changelist"


@pytest.fixture
def enqueued():
    """The wake the admin rings after commit: see `django_capture_on_commit_callbacks`."""
    with mock.patch("contactpoints.broker.wake") as wake:
        yield wake


@pytest.fixture
def ops(make_contact_point):
    return make_contact_point("Ops", [("webhook", {"url": "https://example.com/hook"})])


def deliver(contact_point, *statuses: str, age: timedelta = timedelta(0)) -> list[Delivery]:
    notification = Notification.objects.create(
        contact_point=contact_point, status="firing", receiver=contact_point.name, group_key="{}:{}"
    )
    integration = contact_point.integrations.first()
    created = timezone.now() - age
    return [
        Delivery.objects.create(notification=notification, integration=integration, status=status, created_at=created)
        for status in statuses
    ]


def retry_url(delivery: Delivery) -> str:
    return reverse("admin:contactpoints_delivery_retry", args=[delivery.pk])


def statuses(deliveries: list[Delivery]) -> list[str]:
    return [Delivery.objects.get(pk=d.pk).status for d in deliveries]


@pytest.mark.parametrize(
    ("status", "retried", "message"),
    [
        (DeliveryStatus.FAILED, True, "Queued again: the delivery is pending."),
        (DeliveryStatus.PAUSED, True, "Queued again: the delivery is pending."),
        (DeliveryStatus.DELIVERED, False, "Not retried: the delivery is delivered, not failed or paused."),
    ],
)
def test_retry_one_delivery_from_its_page(
    admin_client, ops, enqueued, django_capture_on_commit_callbacks, status, retried, message
):
    (delivery,) = deliver(ops, status)
    page = reverse("admin:contactpoints_delivery_change", args=[delivery.pk])
    assert (retry_url(delivery) in admin_client.get(page).content.decode()) is retried

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(retry_url(delivery), follow=True)

    assert message in response.content.decode()
    assert statuses([delivery]) == [DeliveryStatus.PENDING if retried else status]
    assert enqueued.call_args_list == ([mock.call()] if retried else [])


def test_retry_wants_post_and_the_change_permission(client, django_user_model, ops, enqueued):
    (delivery,) = deliver(ops, DeliveryStatus.FAILED)
    viewer = django_user_model.objects.create_user("viewer", password="viewer-s3cr3t", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client.force_login(viewer)

    assert client.get(retry_url(delivery)).status_code == 405
    assert client.post(retry_url(delivery)).status_code == 403
    page = client.get(reverse("admin:contactpoints_delivery_change", args=[delivery.pk])).content.decode()
    assert retry_url(delivery) not in page
    assert statuses([delivery]) == [DeliveryStatus.FAILED]


def test_retry_selected_deliveries_skips_the_ones_that_did_not_fail(admin_client, ops, enqueued):
    deliveries = deliver(ops, DeliveryStatus.FAILED, DeliveryStatus.PAUSED, DeliveryStatus.DELIVERED)
    data = {"action": "retry_selected", "_selected_action": [str(d.pk) for d in deliveries]}

    response = admin_client.post(reverse(DELIVERIES), data, follow=True)

    assert "Queued 2 deliveries again; 1 delivery skipped" in response.content.decode()
    assert statuses(deliveries) == [DeliveryStatus.PENDING, DeliveryStatus.PENDING, DeliveryStatus.DELIVERED]


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ({"status": "failed"}, [DeliveryStatus.PENDING, DeliveryStatus.PAUSED, DeliveryStatus.DELIVERED]),
        ({"status": "paused"}, [DeliveryStatus.FAILED, DeliveryStatus.PENDING, DeliveryStatus.DELIVERED]),
    ],
)
def test_retry_all_failed_or_all_held_deliveries_of_a_contact_point(admin_client, ops, enqueued, asked, expected):
    deliveries = deliver(ops, DeliveryStatus.FAILED, DeliveryStatus.PAUSED, DeliveryStatus.DELIVERED)
    url = reverse("admin:contactpoints_contactpoint_retry_deliveries", args=[ops.pk])

    assert admin_client.post(url, asked).url == reverse("admin:contactpoints_contactpoint_change", args=[ops.pk])
    assert statuses(deliveries) == expected


def test_retry_failed_deliveries_of_selected_contact_points(admin_client, ops, make_contact_point, enqueued):
    other = make_contact_point("Other", [("webhook", {"url": "https://example.com/other"})])
    mine, theirs = deliver(ops, DeliveryStatus.FAILED)[0], deliver(other, DeliveryStatus.FAILED)[0]
    data = {"action": "retry_failed_deliveries", "_selected_action": [ops.pk]}

    admin_client.post(reverse("admin:contactpoints_contactpoint_changelist"), data)

    assert statuses([mine, theirs]) == [DeliveryStatus.PENDING, DeliveryStatus.FAILED]


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("", 4),
        ("since=1h", 2),
        ("since=24h", 3),
        ("since=7d", 4),
        ("status__exact=paused", 1),
        ("contact_point=ops&status__exact=failed", 1),
        ("contact_point=other", 1),
        ("contact_point=nobody", 0),
    ],
)
def test_delivery_list_filters_by_time_status_and_contact_point(admin_client, ops, make_contact_point, query, shown):
    other = make_contact_point("Other", [("webhook", {"url": "https://example.com/other"})])
    deliver(ops, DeliveryStatus.FAILED, DeliveryStatus.PAUSED)
    deliver(ops, DeliveryStatus.DELIVERED, age=timedelta(hours=3))
    deliver(other, DeliveryStatus.DELIVERED, age=timedelta(days=2))

    response = admin_client.get(reverse(DELIVERIES) + "?" + query)
    assert response.context["cl"].result_count == shown


def test_delivery_list_shows_status_badges_and_a_contact_point_drop_down(admin_client, ops):
    deliver(ops, DeliveryStatus.FAILED, DeliveryStatus.PAUSED)
    html = admin_client.get(reverse(DELIVERIES)).content.decode()

    assert '<span class="cp-badge cp-badge-error">failed</span>' in html
    assert '<span class="cp-badge cp-badge-paused">paused</span>' in html
    assert '<select class="cp-select-filter"' in html and '<option value="?contact_point=ops">Ops</option>' in html
