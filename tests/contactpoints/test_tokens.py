"""API tokens (contract §3): revoked means 401 everywhere, last use recorded at most once a
minute, and no admin page ever shows a token's hash."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from contactpoints.models import ApiToken

LAST_USED_RESOLUTION = ApiToken.LAST_USED_RESOLUTION

pytestmark = pytest.mark.django_db

INTAKE_BODY = {"title": "Disk full", "message": "db-1"}


@pytest.fixture
def contact_point(make_contact_point):
    return make_contact_point("Ops", [("webhook", {"url": "http://127.0.0.1:9/"})])


def revoke_in_the_admin(admin_client, token: ApiToken) -> None:
    admin_client.post(
        reverse("admin:contactpoints_apitoken_changelist"),
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
    )


@pytest.mark.parametrize(
    ("scope", "method", "path"),
    [
        ("intake", "post", "/api/v1/intake/ops"),
        ("admin", "post", "/api/v1/intake/ops"),
        ("admin", "get", "/api/v1/contact-points"),
        ("admin", "get", "/api/v1/deliveries"),
        ("admin", "get", "/api/v1/provisioning/contact-points"),
    ],
)
def test_a_token_revoked_in_the_admin_gets_401_at_once(api, admin_client, contact_point, scope, method, path):
    token, plain = ApiToken.issue("ci", scope)
    call = getattr(api, method)
    before = call(path, INTAKE_BODY, token=plain) if method == "post" else call(path, token=plain)
    assert before.status_code in (200, 202)

    revoke_in_the_admin(admin_client, token)

    after = call(path, INTAKE_BODY, token=plain) if method == "post" else call(path, token=plain)
    assert after.status_code == 401
    assert after.json() == {"message": "invalid or revoked token"}
    assert after["WWW-Authenticate"].startswith("Bearer")


def test_revoking_one_token_leaves_the_others(api, admin_client):
    revoked, revoked_plain = ApiToken.issue("old", "admin")
    _, kept_plain = ApiToken.issue("new", "admin")
    revoke_in_the_admin(admin_client, revoked)
    assert api.get("/api/v1/contact-points", token=revoked_plain).status_code == 401
    assert api.get("/api/v1/contact-points", token=kept_plain).status_code == 200


@pytest.mark.parametrize(
    ("last_used_ago", "recorded_again"),
    [
        (None, True),  # never used: the first use is recorded
        (timedelta(seconds=5), False),
        (LAST_USED_RESOLUTION - timedelta(seconds=1), False),
        (LAST_USED_RESOLUTION + timedelta(seconds=1), True),
        (timedelta(days=30), True),
    ],
)
@pytest.mark.parametrize("use", ["api", "intake"])  # the intake's hot path records it in its own statement
def test_last_use_is_recorded_at_most_once_a_minute(api, contact_point, last_used_ago, recorded_again, use):
    token, plain = ApiToken.issue("ci", "admin")
    before = None if last_used_ago is None else timezone.now() - last_used_ago
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=before)

    if use == "api":
        assert api.get("/api/v1/contact-points", token=plain).status_code == 200
    else:
        assert api.post(f"/api/v1/intake/{contact_point.uid}", INTAKE_BODY, token=plain).status_code == 202

    token.refresh_from_db()
    if recorded_again:
        assert timezone.now() - token.last_used_at < timedelta(seconds=5)
    else:
        assert token.last_used_at == before


def test_many_uses_within_a_minute_write_once(api, django_assert_num_queries):
    token, plain = ApiToken.issue("ci", "admin")
    api.get("/api/v1/templates", token=plain)  # first use: looks the token up, records the use
    first_use = ApiToken.objects.get(pk=token.pk).last_used_at
    with django_assert_num_queries(2):  # the token, the templates: no UPDATE
        api.get("/api/v1/templates", token=plain)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first_use


def test_a_failed_attempt_records_no_use(api):
    token, _ = ApiToken.issue("ci", "admin")
    assert api.get("/api/v1/contact-points", token="cpt_wrong").status_code == 401
    token.refresh_from_db()
    assert token.last_used_at is None


def admin_pages(token: ApiToken) -> list[str]:
    changelist = reverse("admin:contactpoints_apitoken_changelist")
    return [
        changelist,
        f"{changelist}?q={token.hint}",
        f"{changelist}?revoked_at__isnull=True",
        reverse("admin:contactpoints_apitoken_change", args=[token.pk]),
        reverse("admin:contactpoints_apitoken_history", args=[token.pk]),
        reverse("admin:contactpoints_apitoken_delete", args=[token.pk]),
        reverse("admin:contactpoints_apitoken_add"),
    ]


def test_no_admin_page_shows_a_tokens_hash_or_value(admin_client, api):
    token, plain = ApiToken.issue("ci", "admin")
    api.get("/api/v1/contact-points", token=plain)  # used: last_used_at is shown
    token.refresh_from_db()

    for page in admin_pages(token):
        response = admin_client.get(page)
        html = response.content.decode()
        assert response.status_code == 200, page
        assert token.token_hash not in html, page
        assert token.token_hash[:16] not in html, page
        assert plain not in html, page
    revoke_page = admin_client.post(
        reverse("admin:contactpoints_apitoken_changelist"),
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
        follow=True,
    ).content.decode()
    assert token.token_hash not in revoke_page and plain not in revoke_page


def test_searching_the_admin_by_hash_finds_nothing(admin_client):
    token, _ = ApiToken.issue("ci", "admin")
    changelist = reverse("admin:contactpoints_apitoken_changelist")
    html = admin_client.get(f"{changelist}?q={token.token_hash}").content.decode()
    assert "0 API tokens" in html
