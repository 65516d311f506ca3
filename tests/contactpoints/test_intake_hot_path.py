"""The intake's hot path (a Bearer token on PostgreSQL, no Idempotency-Key) answers exactly as the
full DRF view does, in one database round trip, and counts each request once against the rate limit."""

from __future__ import annotations

import base64
import json

import pytest
from django.contrib.auth.models import Permission
from django.db import DataError, OperationalError, connection

from contactpoints import intake, services
from contactpoints.api import intake_view
from contactpoints.models import ApiToken, Notification, hash_token
from contactpoints.redis_client import get_redis

pytestmark = pytest.mark.django_db

ALERT = {
    "labels": {"alertname": "DiskFull", "instance": "db-1"},
    "annotations": {"summary": "95%"},
    "startsAt": "2026-12-01T10:00:00Z",
}


@pytest.fixture(autouse=True)
def on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the hot path is PostgreSQL's (one data-modifying statement)")


@pytest.fixture
def contact_point(make_contact_point):
    return make_contact_point(
        "Hot", [("webhook", {"url": "http://127.0.0.1:9/a"}), ("webhook", {"url": "http://127.0.0.1:9/b"})]
    )


@pytest.fixture
def full_view_only(monkeypatch):
    """Every request through DRF's dispatch, as on SQLite."""
    monkeypatch.setattr(services, "stores_in_one_statement", lambda: False)


def post(client, path, body, authorization=None, content_type="application/json", **headers):
    if authorization:
        headers["HTTP_AUTHORIZATION"] = authorization
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    response = client.post(path, data=data, content_type=content_type, **headers)
    return response.status_code, response.json()


def answers(client, contact_point, token: str, revoked: str) -> list[tuple[int, dict]]:
    path = f"/api/v1/intake/{contact_point.uid}"
    bearer = f"Bearer {token}"
    return [
        post(client, "/api/v1/intake/no-such-uid", [ALERT], bearer),
        post(client, "/api/v1/intake/no-such-uid", [{"labels": "x"}], bearer),  # 404 comes first, as in the view
        post(client, path, [{"labels": {"alertname": 5}}], bearer),
        post(client, path, {"alerts": "nope"}, bearer),
        post(client, path, "{not json", bearer),
        post(client, path, "[" * 3000 + "]" * 3000, bearer),
        post(client, path, [ALERT], bearer, content_type="text/plain"),
        post(client, path, [ALERT] * 1001, bearer),
        post(client, path, [ALERT], "Bearer cpt_wrong"),
        post(client, path, [{"labels": 5}], "Bearer cpt_wrong"),  # no validation before authentication
        post(client, path, [ALERT], f"Bearer {revoked}"),
        post(client, path, [ALERT], "Bearer"),
    ]


@pytest.fixture
def tokens(db):
    revoked, revoked_plain = ApiToken.issue("revoked")
    revoked.revoked_at = revoked.created_at
    revoked.save()
    return ApiToken.issue("hot")[1], revoked_plain


def test_every_refusal_is_the_full_views_answer(client, contact_point, tokens, monkeypatch, settings):
    settings.INTAKE_MAX_ALERTS = 1000
    hot = answers(client, contact_point, *tokens)
    monkeypatch.setattr(services, "stores_in_one_statement", lambda: False)
    full = answers(client, contact_point, *tokens)
    assert [status for status, _ in hot] == [404, 404, 400, 400, 400, 400, 415, 413, 401, 401, 401, 401]
    assert hot == full
    assert not Notification.objects.exists()


def stored(answer: dict) -> dict:
    notification = Notification.objects.get(pk=answer["id"])
    deliveries = sorted(
        (d.integration_id, d.status, d.firing_only, d.attempts, d.next_attempt_at == notification.received_at)
        for d in notification.deliveries.all()
    )
    fields = ("contact_point_id", "status", "alerts", "receiver", "group_key", "group_labels", "external_url", "source")
    return {"answer": {**answer, "id": None}, "deliveries": deliveries} | {f: getattr(notification, f) for f in fields}


@pytest.mark.parametrize("integration_paused", [False, True])
def test_it_stores_what_the_full_view_stores_in_one_statement_then_waits_for_the_disk(
    client, contact_point, tokens, monkeypatch, django_assert_num_queries, integration_paused
):
    contact_point.integrations.filter(position=1).update(paused=integration_paused)
    body = {"alerts": [ALERT, {**ALERT, "status": "resolved"}], "externalURL": "http://am"}
    with django_assert_num_queries(2) as queries:
        status, hot = post(client, f"/api/v1/intake/{contact_point.uid}", body, f"Bearer {tokens[0]}")
    assert status == 202
    store, wait_for_the_disk = (query["sql"] for query in queries.captured_queries)
    assert "set_config('synchronous_commit', 'off', true)" in store  # its commit does not wait for the flush
    assert wait_for_the_disk == "SELECT pg_current_xact_id()"  # this one does, and the answer waits for it
    monkeypatch.setattr(services, "stores_in_one_statement", lambda: False)
    status, full = post(client, f"/api/v1/intake/{contact_point.uid}", body, f"Bearer {tokens[0]}")
    assert status == 202
    assert stored(hot) == stored(full)
    assert stored(hot)["deliveries"][1][1] == ("paused" if integration_paused else "pending")


def test_a_paused_contact_point_records_paused_deliveries(client, contact_point, tokens):
    contact_point.paused = True
    contact_point.save()
    status, answer = post(client, f"/api/v1/intake/{contact_point.uid}", [ALERT], f"Bearer {tokens[0]}")
    assert status == 202
    assert set(Notification.objects.get(pk=answer["id"]).deliveries.values_list("status", flat=True)) == {"paused"}


def test_idempotency_key_and_basic_auth_take_the_full_view(client, contact_point, tokens, django_user_model):
    path = f"/api/v1/intake/{contact_point.uid}"
    first = post(client, path, [ALERT], f"Bearer {tokens[0]}", HTTP_IDEMPOTENCY_KEY="k-1")
    again = post(client, path, [ALERT], f"Bearer {tokens[0]}", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first == again and first[0] == 202
    user = django_user_model.objects.create_user("poster", password="pw-poster-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="add_notification"))
    basic = "Basic " + base64.b64encode(b"poster:pw-poster-1").decode()
    assert post(client, path, [ALERT], basic)[0] == 202
    assert Notification.objects.count() == 2


def rate_count(token: str) -> int:
    identity = intake_view._token_identity(ApiToken.objects.get(name="hot").token_hash)
    keys = get_redis().keys(f"contactpoints:ratelimit:{identity}:*")
    return sum(int(get_redis().get(key)) for key in keys)


def test_each_request_counts_once_against_the_rate_limit(client, contact_point, tokens, settings):
    settings.INTAKE_RATE_LIMIT = "3/min"
    intake_view.intake_rate.cache_clear()
    path = f"/api/v1/intake/{contact_point.uid}"
    try:
        for key in get_redis().keys("contactpoints:ratelimit:*"):
            get_redis().delete(key)
        codes = [
            post(client, path, [ALERT], f"Bearer {tokens[0]}")[0],
            post(client, path, "{bad", f"Bearer {tokens[0]}")[0],  # refused: handed to the full view
            post(client, path, [ALERT], f"Bearer {tokens[0]}")[0],
            post(client, path, [ALERT], f"Bearer {tokens[0]}")[0],  # over the limit
        ]
        assert rate_count(tokens[0]) == 4
    finally:
        intake_view.intake_rate.cache_clear()
    assert codes == [202, 400, 202, 429]


def test_the_hot_paths_answer_carries_the_security_headers_with_or_without_a_trailing_slash(
    client, contact_point, tokens, monkeypatch, django_assert_num_queries
):
    path, bearer = f"/api/v1/intake/{contact_point.uid}", f"Bearer {tokens[0]}"
    answers = []
    for slash in ("", "/"):
        with django_assert_num_queries(2):  # the hot path's one statement, and its wait for the disk
            answers.append(
                client.post(path + slash, [ALERT], content_type="application/json", HTTP_AUTHORIZATION=bearer)
            )
    monkeypatch.setattr(services, "stores_in_one_statement", lambda: False)
    answers.append(client.post(path, [ALERT], content_type="application/json", HTTP_AUTHORIZATION=bearer))
    security = ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy")
    assert [answer["Content-Length"] for answer in answers] == [str(len(answer.content)) for answer in answers]
    hot, hot_with_slash, full = (
        [answer.status_code, *(answer.headers.get(name) for name in security)] for answer in answers
    )
    assert hot == hot_with_slash == full == [202, "nosniff", "DENY", "same-origin", "same-origin"]


def hot_path_document(token: str, uid: str, **overrides) -> dict:
    parsed = intake.parse_intake([ALERT], max_alerts=10)
    values = services._notification_values(uid, parsed) | overrides
    return services._statement_document(
        values,
        token_hash=hash_token(token),
        used_before=values["received_at"],
        contact_point_uid=uid,
        alert_count=1,
    )


# Committed for real, as on the hot path (autocommit): the wake follows the commit, and a failed
# statement leaves no transaction aborted behind it.
@pytest.mark.django_db(transaction=True)
def test_one_statement_stores_a_batch_and_answers_each_request_in_order(contact_point, tokens, monkeypatch):
    woken = []
    monkeypatch.setattr(services.broker, "wake", lambda also=None: woken.append(also))
    documents = [
        hot_path_document(tokens[0], contact_point.uid),
        hot_path_document("cpt_unknown", contact_point.uid),
        hot_path_document(tokens[0], "no-such-uid"),
        hot_path_document(tokens[1], contact_point.uid),  # revoked
        hot_path_document(tokens[0], contact_point.uid),
    ]
    found = services._store_hot_path_batch(documents)
    assert [(caller, target, sorted(statuses)) for caller, target, statuses in found] == [
        (True, True, ["pending", "pending"]),
        (False, False, []),
        (True, False, []),
        (False, False, []),
        (True, True, ["pending", "pending"]),
    ]
    assert set(Notification.objects.values_list("id", flat=True)) == {documents[0]["id"], documents[4]["id"]}
    assert len(woken) == 1  # one wake for the batch


@pytest.mark.django_db(transaction=True)
def test_a_value_the_database_refuses_fails_only_its_own_request(contact_point, tokens, monkeypatch):
    monkeypatch.setattr(services.broker, "wake", lambda also=None: True)
    too_long = "http://am/" + "x" * intake.EXTERNAL_URL_MAX_LENGTH
    documents = [
        hot_path_document(tokens[0], contact_point.uid),
        hot_path_document(tokens[0], contact_point.uid, external_url=too_long),
        hot_path_document(tokens[0], contact_point.uid),
    ]
    found = services._store_hot_path_batch(documents)
    assert isinstance(found[1], DataError)
    assert found[0][:2] == found[2][:2] == (True, True)
    assert set(Notification.objects.values_list("id", flat=True)) == {documents[0]["id"], documents[2]["id"]}


@pytest.mark.django_db(transaction=True)
def test_the_wake_goes_out_before_the_wait_for_the_disk_and_the_answer_after_it(
    client, contact_point, tokens, monkeypatch
):
    events = []
    monkeypatch.setattr(services.broker, "wake", lambda also=None: events.append("wake"))
    wait_until_on_disk = services._wait_until_on_disk
    monkeypatch.setattr(services, "_wait_until_on_disk", lambda: (wait_until_on_disk(), events.append("on disk")))
    status, answer = post(client, f"/api/v1/intake/{contact_point.uid}", [ALERT], f"Bearer {tokens[0]}")
    assert (status, events) == (202, ["wake", "on disk"])
    assert Notification.objects.filter(pk=answer["id"]).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('synchronous_commit')")
        assert cursor.fetchone() == ("on",)  # turned off for the store's own transaction only


def test_a_request_that_stores_nothing_does_not_wait_for_the_disk(client, tokens, django_assert_num_queries):
    with django_assert_num_queries(1):  # the statement that finds the token and no contact point
        status, answer = post(client, "/api/v1/intake/no-such-uid", [ALERT], f"Bearer {tokens[0]}")
    assert (status, answer) == (404, {"message": intake_view.no_contact_point("no-such-uid")})


@pytest.mark.django_db(transaction=True)
def test_a_store_that_may_not_have_reached_the_disk_is_not_answered_202(client, contact_point, tokens, monkeypatch):
    monkeypatch.setattr(services.broker, "wake", lambda also=None: True)

    def database_gone() -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "_wait_until_on_disk", database_gone)
    response = client.post(
        f"/api/v1/intake/{contact_point.uid}", [ALERT], content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {tokens[0]}",
    )  # fmt: skip
    assert response.status_code == 503 and response["Retry-After"]
    assert "database is unavailable" in response.json()["message"]
