"""Alertmanager (spec §4.1): URL list rules, the raw-alert body at a loopback receiver, per-URL
outcomes, and an end-to-end run against a real Prometheus Alertmanager."""

from __future__ import annotations

import base64
import socket
from datetime import UTC, datetime

import pytest

from integrations.alertmanager import Alertmanager, alertmanager_urls
from integrations.base import Result, SettingsError
from tests.alertmanager_peer import BLACKHOLE_CONFIG, listed_alerts, real_alertmanager
from tests.integrations.helpers import FIRING, alert, loopback_transport, make_context
from tests.receivers import Answer

# A stored alert as Grafana forwards it: private labels and annotations included.
RAW = {
    "status": "firing",
    "labels": {"alertname": "alert1", "lbl1": "val1", "__alert_rule_uid__": "rule-1"},
    "annotations": {"ann1": "annv1", "__dashboardUid__": "abcd", "__orgId__": "1"},
    "startsAt": "2024-05-01T10:00:00.123456Z",
    "endsAt": "",
    "generatorURL": "http://grafana.example/rules/alert1",
}
RAW_JSON = {
    "labels": {"__alert_rule_uid__": "rule-1", "alertname": "alert1", "lbl1": "val1"},
    "annotations": {"__dashboardUid__": "abcd", "__orgId__": "1", "ann1": "annv1"},
    "startsAt": "2024-05-01T10:00:00.123456Z",
    "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "http://grafana.example/rules/alert1",
    "Timeout": False,
}


def send(url: str, alerts: list[dict] | None = None, secure: dict | None = None, **settings):
    """Send `alerts` (stored alerts, also given to the context untouched) to `url`."""
    alerts = [RAW] if alerts is None else alerts
    ctx = make_context(Alertmanager, {"url": url, **settings}, alerts, secure_settings=secure)
    return Alertmanager().send(ctx, loopback_transport())


def sent_alerts(request) -> list[dict]:
    """The posted array, with each UpdatedAt checked (the moment of sending) and removed."""
    alerts = request.json()
    for posted in alerts:
        updated_at = datetime.fromisoformat(posted.pop("UpdatedAt"))
        assert abs((datetime.now(UTC) - updated_at).total_seconds()) < 10
    return alerts


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("", "could not find url property in settings"),
        ("  ", "could not find url property in settings"),
        (" , ,", "could not find url property in settings"),
        (
            "http://[::1",
            "invalid url property in settings: parse \"http://[::1/api/v2/alerts\": missing ']' in host",
        ),
        (
            "http://am.example, http://host:port",
            'invalid url property in settings: parse "http://host:port/api/v2/alerts": invalid port ":port" after host',
        ),
        (
            "http://a b.example",
            'invalid url property in settings: parse "http://a b.example/api/v2/alerts": '
            'invalid character " " in host name',
        ),
        (
            "http://am.example/%zz",
            'invalid url property in settings: parse "http://am.example/%zz/api/v2/alerts": invalid URL escape "%zz"',
        ),
        ("::9093", 'invalid url property in settings: parse "::9093/api/v2/alerts": missing protocol scheme'),
        (
            "http://am\x7f.example",
            'invalid url property in settings: parse "http://am\\x7f.example/api/v2/alerts": '
            "net/url: invalid control character in URL",
        ),
        (
            "127.0.0.1:9093",  # no scheme: Go reads it as a path
            'invalid url property in settings: parse "127.0.0.1:9093/api/v2/alerts": '
            "first path segment in URL cannot contain colon",
        ),
    ],
)
def test_invalid_settings(url, error):
    with pytest.raises(SettingsError) as raised:
        Alertmanager.validate({"url": url})
    assert raised.value.errors == [("url", error)]


@pytest.mark.parametrize(
    ("url", "urls"),
    [
        ("http://am.example:9093", ["http://am.example:9093/api/v2/alerts"]),
        ("http://am.example:9093/", ["http://am.example:9093/api/v2/alerts"]),
        ("http://am.example/prefix//", ["http://am.example/prefix//api/v2/alerts"]),  # one slash cut, as Go's
        (
            " http://a.example , ,http://b.example/ ",
            ["http://a.example/api/v2/alerts", "http://b.example/api/v2/alerts"],
        ),
        ("alertmanager:9093", ["alertmanager:9093/api/v2/alerts"]),  # Go parses it (an opaque URL)
    ],
)
def test_url_list(url, urls):
    config = Alertmanager.validate({"url": url})
    assert alertmanager_urls(config["url"]) == urls


def test_password_is_the_only_secret_and_example_validates():
    assert Alertmanager.secret_keys() == ["basicAuthPassword"]
    assert Alertmanager.validate(Alertmanager.example)["url"] == "https://alertmanager.example.com:9093"


# -- requests --------------------------------------------------------------------------------------


def test_posts_the_raw_alerts_to_every_url(receiver):
    outcome = send(
        f"{receiver.url}/am1/, {receiver.url}/am2",
        basicAuthUser="admin",
        secure={"basicAuthPassword": "pass-s3cr3t"},
    )
    assert outcome.result is Result.SUCCESS
    assert [r.path for r in receiver.requests] == ["/am1/api/v2/alerts", "/am2/api/v2/alerts"]
    credentials = base64.b64encode(b"admin:pass-s3cr3t").decode()
    for request in receiver.requests:
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"] == "ContactPoints/0.1.0"
        assert request.headers["authorization"] == f"Basic {credentials}"
        assert sent_alerts(request) == [RAW_JSON]
    first = receiver.requests[0].json()[0]
    assert list(first) == ["labels", "annotations", "startsAt", "endsAt", "generatorURL", "UpdatedAt", "Timeout"]
    assert list(first["labels"]) == ["__alert_rule_uid__", "alertname", "lbl1"]  # Go's sorted map keys


@pytest.mark.parametrize(
    ("settings", "secure"),
    [({"basicAuthUser": "admin"}, {}), ({}, {"basicAuthPassword": "pass-s3cr3t"})],
)
def test_basic_auth_needs_user_and_password(receiver, settings, secure):
    send(receiver.url, secure=secure, **settings)
    assert "authorization" not in receiver.requests[0].headers


def test_alerts_keep_the_batch_order(receiver):
    alerts = [alert("b", instance="2"), alert("a"), alert("c", instance="1")]
    send(receiver.url, alerts)
    names = [posted["labels"]["alertname"] for posted in receiver.requests[0].json()]
    assert names == ["c", "b", "a"]  # job, then instance, then the label set (spec §2.1)


def test_without_stored_alerts_the_template_data_is_sent(receiver):
    ctx = make_context(Alertmanager, {"url": receiver.url}, [RAW])
    ctx.raw_alerts = []
    assert Alertmanager().send(ctx, loopback_transport()).ok
    (posted,) = sent_alerts(receiver.requests[0])
    assert posted["labels"] == {"alertname": "alert1", "lbl1": "val1"}
    assert posted["generatorURL"] == "http://grafana.example/rules/alert1?orgId=1"


def test_zero_start_time_is_sent_as_go_zero_time(receiver):
    send(receiver.url, [FIRING])
    (posted,) = sent_alerts(receiver.requests[0])
    assert (posted["startsAt"], posted["endsAt"]) == ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z")


# -- resolved --------------------------------------------------------------------------------------


def test_resolved_alerts_carry_their_real_end(receiver):
    resolved = {**RAW, "status": "resolved", "endsAt": "2024-05-01T11:00:00Z"}
    send(receiver.url, [resolved, alert("other")])
    posted = {a["labels"]["alertname"]: a for a in sent_alerts(receiver.requests[0])}
    assert posted["alert1"] == {**RAW_JSON, "endsAt": "2024-05-01T11:00:00Z"}
    assert posted["other"]["endsAt"] == "0001-01-01T00:00:00Z"


def test_a_resolved_alert_without_an_end_ends_now(receiver):
    before = datetime.now(UTC)
    send(receiver.url, [{**RAW, "status": "resolved"}])
    (posted,) = sent_alerts(receiver.requests[0])
    ends_at = datetime.fromisoformat(posted["endsAt"])
    assert before <= ends_at <= datetime.now(UTC)


# -- outcomes --------------------------------------------------------------------------------------

REFUSED = "refused"  # a URL where nothing listens


@pytest.mark.parametrize(
    ("answers", "result", "error"),
    [
        ([200], Result.SUCCESS, ""),
        ([202, 500], Result.SUCCESS, ""),
        ([500, 204], Result.SUCCESS, ""),
        ([REFUSED, 200], Result.SUCCESS, ""),
        ([400], Result.FAILED, "failed to send alert to Alertmanager: failed to send HTTP request - status code 400"),
        ([503], Result.RETRY, "failed to send alert to Alertmanager: failed to send HTTP request - status code 503"),
        ([429], Result.RETRY, "failed to send alert to Alertmanager: failed to send HTTP request - status code 429"),
        (
            [400, 404],
            Result.FAILED,
            "failed to send alert to Alertmanager: failed to send HTTP request - status code 404",
        ),
        # Retried when any URL failed for a transient reason; the error is the last one.
        (
            [503, 400],
            Result.RETRY,
            "failed to send alert to Alertmanager: failed to send HTTP request - status code 400",
        ),
        (
            [REFUSED, 400],
            Result.RETRY,
            "failed to send alert to Alertmanager: failed to send HTTP request - status code 400",
        ),
    ],
)
def test_outcome_over_all_urls(receiver, answers, result, error):
    urls, http_answers = [], []
    for index, answer in enumerate(answers):
        if answer == REFUSED:
            urls.append(f"http://127.0.0.1:{closed_port()}")
        else:
            urls.append(f"{receiver.url}/am{index}")
            http_answers.append(Answer(answer, b'{"error":"nope"}'))
    receiver.answer_with(*http_answers)
    outcome = send(",".join(urls))
    assert (outcome.result, outcome.error) == (result, error)
    assert len(receiver.requests) == len(http_answers)  # every URL was tried


def test_connection_errors_alone_are_retried():
    port = closed_port()
    outcome = send(f"http://127.0.0.1:{port}")
    assert outcome.result is Result.RETRY
    assert outcome.error.startswith(f"failed to send alert to Alertmanager: cannot connect to http://127.0.0.1:{port}")


def test_retry_after_is_kept(receiver):
    receiver.answer_with(Answer(429, b"", {"Retry-After": "30"}))
    outcome = send(receiver.url)
    assert (outcome.result, outcome.http_status, outcome.retry_after_seconds) == (Result.RETRY, 429, 30.0)


# -- a real Alertmanager ---------------------------------------------------------------------------


@pytest.fixture
def real_alertmanager_url(tmp_path):
    with real_alertmanager(BLACKHOLE_CONFIG, tmp_path) as url:
        yield url


@pytest.mark.e2e
def test_real_alertmanager_receives_and_resolves(real_alertmanager_url):
    labels = {"alertname": "DiskFull", "instance": "db1", "__alert_rule_uid__": "rule-1"}
    firing = {**alert("DiskFull"), "labels": labels}
    assert send(real_alertmanager_url, [firing]).ok

    (shown,) = [a for a in listed_alerts(real_alertmanager_url) if a["labels"].get("alertname") == "DiskFull"]
    assert shown["labels"] == labels  # private labels arrive too
    assert shown["annotations"] == {"summary": "DiskFull summary"}
    assert shown["generatorURL"] == "http://grafana.example/rules/DiskFull"

    resolved = {**firing, "status": "resolved", "endsAt": "2024-05-01T11:00:00Z"}
    assert send(real_alertmanager_url, [resolved]).ok
    still_active = [
        a
        for a in listed_alerts(real_alertmanager_url, "?active=true")
        if a["labels"].get("alertname") == "DiskFull" and a["status"]["state"] == "active"
    ]
    assert still_active == []
