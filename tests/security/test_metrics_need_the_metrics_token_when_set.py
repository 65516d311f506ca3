"""Issue 9 #10: with METRICS_TOKEN set, /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

TOKEN = "metrics-s3cr3t-token"


@pytest.mark.parametrize(
    ("configured", "authorization", "status"),
    [
        ("", None, 200),  # unset: open, as before
        ("", "Bearer anything", 200),
        (TOKEN, None, 401),
        (TOKEN, "Bearer wrong", 401),
        (TOKEN, f"Bearer {TOKEN}x", 401),
        (TOKEN, f"Bearer {TOKEN[:-1]}", 401),
        (TOKEN, f"Basic {TOKEN}", 401),
        (TOKEN, TOKEN, 401),
        (TOKEN, f"Bearer {TOKEN}", 200),
        (TOKEN, f"bearer {TOKEN}", 200),
    ],
)
def test_metrics_need_the_metrics_token_when_set(client, settings, configured, authorization, status):
    settings.METRICS_TOKEN = configured
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = client.get("/metrics", **headers)

    assert response.status_code == status
    if status == 200:
        assert b"contactpoints_notifications_received_total" in response.content
    else:
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert b"contactpoints_" not in response.content
