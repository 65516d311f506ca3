"""Kafka REST Proxy (spec §4.6): validation table, v2 and v3 requests at a loopback receiver, v3 answers."""

from __future__ import annotations

import base64

import pytest

from integrations.base import Result, SettingsError
from integrations.kafka import Kafka
from integrations.values import sha256_hex
from tests.integrations.helpers import (
    EXAMPLE_MESSAGE,
    EXAMPLE_TITLE,
    GROUP_KEY,
    alert,
    loopback_transport,
    make_context,
)
from tests.receivers import Answer

PASSWORD = "s3cr3t-kafka-password"
RECORD = {
    "description": EXAMPLE_TITLE,
    "client": "ContactPoints",
    "details": EXAMPLE_MESSAGE,
    "alert_state": "alerting",
    "client_url": "http://localhost/alerting/list",
    "incident_key": sha256_hex(GROUP_KEY),
}
V3_OK = Answer(200, b'{"error_code":200,"cluster_id":"c1","topic_name":"alerts","partition_id":0,"offset":5}')


def send(receiver, settings=None, alerts=None, secure=None, **options):
    settings = {"kafkaRestProxy": f"{receiver.url}/", "kafkaTopic": "alerts", **(settings or {})}
    ctx = make_context(Kafka, settings, alerts, secure_settings=secure, **options)
    return Kafka().send(ctx, loopback_transport())


def send_v3(receiver, settings=None, answer=V3_OK, **options):
    receiver.answer_with(answer)
    return send(receiver, {"apiVersion": "v3", "kafkaClusterId": "c1", **(settings or {})}, **options)


def sent_record(receiver) -> dict:
    (request,) = receiver.requests
    body = request.json()
    return body["records"][0]["value"] if "records" in body else body["value"]["data"]


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "key", "error"),
    [
        ({}, "kafkaRestProxy", "could not find kafka rest proxy endpoint property in settings"),
        ({"kafkaTopic": "t"}, "kafkaRestProxy", "could not find kafka rest proxy endpoint property in settings"),
        ({"kafkaRestProxy": "http://k"}, "kafkaTopic", "could not find kafka topic property in settings"),
        (
            {"kafkaRestProxy": "http://k", "kafkaTopic": ""},
            "kafkaTopic",
            "could not find kafka topic property in settings",
        ),
        (
            {"kafkaRestProxy": "http://k", "kafkaTopic": "t", "apiVersion": "v1"},
            "apiVersion",
            "unsupported api version: v1",
        ),
        (
            {"kafkaRestProxy": "http://k", "kafkaTopic": "t", "apiVersion": "V3"},
            "apiVersion",
            "unsupported api version: V3",
        ),
        (
            {"kafkaRestProxy": "http://k", "kafkaTopic": "t", "apiVersion": "v3"},
            "kafkaClusterId",
            "kafka cluster id must be provided when using api version 3",
        ),
        (
            {"kafkaRestProxy": "http://k", "kafkaTopic": "t", "apiVersion": "v3", "kafkaClusterId": " "},
            "kafkaClusterId",
            "kafka cluster id must be provided when using api version 3",
        ),
    ],
)
def test_invalid_settings(settings, key, error):
    with pytest.raises(SettingsError) as raised:
        Kafka.validate(settings)
    assert raised.value.errors[0] == (key, error)
    assert raised.value.message == error


def test_defaults_and_trailing_slashes():
    config = Kafka.validate({"kafkaRestProxy": "http://k:8082/kafka//", "kafkaTopic": "t"}, {"password": "p"})
    assert config["kafkaRestProxy"] == "http://k:8082/kafka"
    assert (config["apiVersion"], config["password"]) == ("v2", "p")
    assert config["description"] == '{{ template("default.title") }}'
    assert config["details"] == '{{ template("default.message") }}'
    assert Kafka.secret_keys() == ["password"]


def test_example_is_accepted():
    assert Kafka.validate(Kafka.example)["apiVersion"] == "v2"


# -- requests ------------------------------------------------------------------------------


def test_v2_request(receiver):
    outcome = send(receiver)
    assert outcome.result is Result.SUCCESS
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/topics/alerts")
    assert request.headers["content-type"] == "application/vnd.kafka.json.v2+json"
    assert request.headers["accept"] == "application/vnd.kafka.v2+json"
    assert request.headers["user-agent"] == "ContactPoints/0.1.0"
    assert "authorization" not in request.headers
    assert request.json() == {"records": [{"value": RECORD}]}
    assert list(sent_record(receiver)) == list(RECORD)


def test_v3_request(receiver):
    outcome = send_v3(receiver, {"kafkaRestProxy": f"{receiver.url}/kafka/"})
    assert outcome.result is Result.SUCCESS
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/kafka/v3/clusters/c1/topics/alerts/records")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.json() == {"value": {"type": "JSON", "data": RECORD}}


@pytest.mark.parametrize(
    ("settings", "secure", "authorization"),
    [
        (
            {"username": "kafka"},
            {"password": PASSWORD},
            "Basic " + base64.b64encode(f"kafka:{PASSWORD}".encode()).decode(),
        ),
        ({"username": "kafka"}, {}, None),
        ({}, {"password": PASSWORD}, None),
    ],
)
def test_basic_auth_needs_both_user_and_password(receiver, settings, secure, authorization):
    send(receiver, settings, secure=secure)
    assert receiver.requests[0].headers.get("authorization") == authorization


def test_basic_auth_on_v3(receiver):
    send_v3(receiver, {"username": "kafka"}, secure={"password": PASSWORD})
    expected = "Basic " + base64.b64encode(f"kafka:{PASSWORD}".encode()).decode()
    assert receiver.requests[0].headers["authorization"] == expected


def test_topic_and_cluster_id_are_templates(receiver):
    send_v3(receiver, {"kafkaTopic": "t-{{ CommonLabels.lbl1 }}", "kafkaClusterId": "{{ Receiver }}-cluster"})
    assert receiver.requests[0].path == "/v3/clusters/cp-cluster/topics/t-val1/records"


def test_description_and_details_are_templates(receiver):
    send(receiver, {"description": "D {{ Status }}", "details": "{{ CommonLabels.missing }}"})
    record = sent_record(receiver)
    assert record["description"] == "D firing"
    assert "details" not in record  # empty details are left out


def test_empty_description_is_still_sent(receiver):
    send(receiver, {"description": '{{ template("nope") }}'})
    assert sent_record(receiver)["description"] == ""


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_resolved_state_is_ok(receiver, version):
    settings = {"apiVersion": version, "kafkaClusterId": "c1"}
    receiver.answer_with(V3_OK)
    send(receiver, settings, alerts=[alert("a", "resolved")], group_labels={"alertname": "a"})
    record = sent_record(receiver)
    assert (record["alert_state"], record["description"]) == ("ok", "[RESOLVED] a ")
    assert record["incident_key"] == RECORD["incident_key"]


# -- classification ------------------------------------------------------------------------


def failed_publish(body: bytes) -> str:
    return f"webhook failed validation: failed to publish message to Kafka. response: {body.decode()}"


@pytest.mark.parametrize(
    ("answer", "result", "error"),
    [
        (V3_OK, Result.SUCCESS, ""),
        (Answer(200, b'{"error_code":201}'), Result.SUCCESS, ""),
        (
            Answer(200, b'{"error_code":400,"message":"bad"}'),
            Result.FAILED,
            failed_publish(b'{"error_code":400,"message":"bad"}'),
        ),
        (Answer(200, b'{"error_code":50002}'), Result.FAILED, failed_publish(b'{"error_code":50002}')),
        (Answer(200, b'{"cluster_id":"c1"}'), Result.FAILED, failed_publish(b'{"cluster_id":"c1"}')),  # no code: 0
        (Answer(200, b"null"), Result.FAILED, failed_publish(b"null")),
        (
            Answer(500, b'{"error_code":500}'),
            Result.RETRY,
            'webhook response status 500 Internal Server Error: {"error_code":500}',
        ),
        (Answer(404, b"no cluster"), Result.FAILED, "webhook response status 404 Not Found: no cluster"),
    ],
)
def test_v3_classification(receiver, answer, result, error):
    outcome = send_v3(receiver, answer=answer)
    assert (outcome.result, outcome.error, outcome.http_status) == (result, error, answer.status)


@pytest.mark.parametrize("body", [b"ok", b"[]", b'{"error_code":"200"}', b'{"error_code":200.5}'])
def test_v3_unreadable_answer_fails(receiver, body):
    outcome = send_v3(receiver, answer=Answer(200, body))
    assert outcome.result is Result.FAILED
    assert outcome.error.startswith("webhook failed validation: ")


def test_v2_ignores_the_answer_body(receiver):
    receiver.answer_with(Answer(200, b'{"error_code":500}'))
    assert send(receiver).result is Result.SUCCESS
