"""Send a test notification from the admin: which integrations, what is added, what came back."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from contactpoints.forms import parse_label_lines
from tests.receivers import Answer

pytestmark = pytest.mark.django_db

TOKEN = "s3cr3t-hook-token"


def send_test_url(contact_point, **query) -> str:
    path = reverse("admin:contactpoints_contactpoint_send_test", args=[contact_point.pk])
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@pytest.fixture
def ops(make_contact_point, receiver):
    """Two webhooks on the loopback receiver (the second with a token), and a paused third."""
    contact_point = make_contact_point(
        "Ops",
        [
            ("webhook", {"url": receiver.url + "/first"}),
            ("webhook", {"url": receiver.url + "/second", "authorization_credentials": TOKEN}),
            ("webhook", {"url": receiver.url + "/paused"}),
        ],
    )
    contact_point.integrations.filter(position=2).update(paused=True)
    return contact_point


def ticked(html: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="integrations" value="([^"]+)"[^>]*checked', html)


def result_rows(html: str) -> list[str]:
    return re.findall(r'<tr class="cp-result-.*?</tr>', html, re.S)


def uids(contact_point) -> list[str]:
    return list(contact_point.integrations.values_list("uid", flat=True))


def test_form_ticks_every_integration_that_would_send_now(admin_client, ops):
    html = admin_client.get(send_test_url(ops)).content.decode()

    assert ticked(html) == uids(ops)[:2]
    assert "(paused)" in html  # the third is listed, marked, not ticked
    assert 'name="labels"' in html and 'name="annotations"' in html


def test_from_one_integration_only_that_one_is_ticked(admin_client, ops):
    second = uids(ops)[1]
    assert ticked(admin_client.get(send_test_url(ops, integration=second)).content.decode()) == [second]


def test_sends_to_the_ticked_ones_with_the_custom_labels_and_shows_each_result(admin_client, ops, receiver):
    first, second, _ = uids(ops)
    receiver.answer_with(Answer(200), Answer(400, b"bad payload"))
    data = {
        "integrations": [first, second],
        "labels": 'severity=critical\nteam="db"',
        "annotations": "summary=Checking the pager",
    }
    html = admin_client.post(send_test_url(ops), data).content.decode()

    requests = receiver.wait_for(2)
    assert sorted(r.path for r in requests) == ["/first", "/second"]
    body = requests[0].json()
    assert body["commonLabels"] == {
        "alertname": "TestAlert",
        "instance": "Grafana",
        "severity": "critical",
        "team": "db",
    }
    assert body["commonAnnotations"]["summary"] == "Checking the pager"

    assert "Results: 1 failed" in html
    outcomes = {}
    for row in result_rows(html):
        uid = re.search(r'data-integration="([^"]+)"', row).group(1)
        outcomes[uid] = row
        assert re.search(r"\d+ ms", row)
    assert set(outcomes) == {first, second}
    failed = next(row for row in outcomes.values() if "cp-result-failed" in row)
    assert "cp-badge-error" in failed and "400" in failed
    assert sum("cp-badge-ok" in row for row in outcomes.values()) == 1
    assert TOKEN not in html


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"labels": "severity critical"}, "labels", "Line 1: write it as name=value."),
        ({"annotations": "a=1\na=2"}, "annotations", "Line 2: a is given twice."),
        ({"integrations": []}, "integrations", "Choose at least one integration."),
    ],
)
def test_form_errors_are_shown_next_to_the_field_and_nothing_is_sent(admin_client, ops, receiver, data, field, message):
    posted = {"integrations": uids(ops)[:1], **data}
    html = admin_client.post(send_test_url(ops), posted).content.decode()

    row = re.search(rf'<div class="form-row errors field-{field}">.*?</ul>', html, re.S).group(0)
    assert message in row
    assert not result_rows(html)
    assert not receiver.requests


def test_a_contact_point_without_integrations_says_to_add_one(admin_client, make_contact_point):
    empty = make_contact_point("Empty")
    html = admin_client.get(send_test_url(empty)).content.decode()
    assert "has no integrations yet" in html
    assert f"?contact_point={empty.pk}" in html


def test_viewing_is_not_enough_to_page_people(client, django_user_model, ops, receiver):
    viewer = django_user_model.objects.create_user("viewer", password="viewer-s3cr3t", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_contactpoint"))
    client.force_login(viewer)

    assert client.get(send_test_url(ops)).status_code == 403
    assert client.post(send_test_url(ops), {"integrations": uids(ops)}).status_code == 403
    assert not receiver.requests


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("severity=critical\n\n team = db ", {"severity": "critical", "team": "db"}),
        ('summary="Disk = full"', {"summary": "Disk = full"}),
        ("url=https://a.example/?x=1", {"url": "https://a.example/?x=1"}),
        ("empty=", {"empty": ""}),
    ],
)
def test_label_lines(text, expected):
    assert parse_label_lines(text) == expected
