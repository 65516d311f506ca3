"""A Celery worker outlives a Redis restart and takes work again once Redis is back.

Finding 13: with unacknowledged messages in hand, losing Redis made the worker exit with
`Unrecoverable error: AttributeError("'NoneType' object has no attribute 'hostname'")`
(celery 5.7.0 closes the connection twice; the second close restores the messages through a
transport already torn down). project/celery.py works around it. The worker here has its own
private Redis, so stopping it disturbs nothing else; messages that only it can receive prove
that it, not another worker on the same database, is the one that carries on.
"""

from __future__ import annotations

import re
import time
from types import SimpleNamespace
from unittest import mock

import pytest
from celery import Celery
from kombu.transport import redis as kombu_redis
from redis import exceptions as redis_errors

from contactpoints.broker import DELIVER_DUE_TASK
from contactpoints.models import Delivery, DeliveryStatus
from tests.e2e.conftest import PrivateRedis, start_worker, worker_environment
from tests.e2e.test_pipeline import ALERT, delivery_settled, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Countdown messages stay unacknowledged in the worker until they are due: the state in which
# losing Redis used to kill it.
HELD_MESSAGES = 8
HELD_FOR_SECONDS = 600


def publish_wakes(redis_url: str, count: int = 1, countdown: float | None = None) -> list[str]:
    """Wakes sent straight to `redis_url` by an app of our own: only the worker there can take them."""
    app = Celery(broker=redis_url, set_as_current=False)
    try:
        return [app.send_task(DELIVER_DUE_TASK, queue="deliveries", countdown=countdown).id for _ in range(count)]
    finally:
        app.close()


def wait_for_log_count(worker, pattern: str, count: int, timeout_seconds: float = 40.0) -> None:
    def seen() -> bool:
        assert worker.process.poll() is None, f"the worker exited:\n{worker.log()[-3000:]}"
        return len(re.findall(pattern, worker.log())) >= count

    wait_until(seen, timeout_seconds=timeout_seconds)


@pytest.mark.parametrize("outage", ["stop", "kill"], ids=["redis-shut-down", "redis-killed"])
def test_worker_holding_unacked_messages_survives_a_redis_restart_and_delivers_after(
    outage, django_db_setup, tmp_path, receiver, make_contact_point, api, intake_token
):
    redis = PrivateRedis(tmp_path)
    redis.start()
    worker = start_worker(f"celery-worker-redis-{outage}", worker_environment(redis.url))
    try:
        worker.wait_for_log("ready.")
        publish_wakes(redis.url, HELD_MESSAGES, countdown=HELD_FOR_SECONDS)
        wait_for_log_count(worker, rf"Task {re.escape(DELIVER_DUE_TASK)}\[[^]]+\] received", HELD_MESSAGES)

        getattr(redis, outage)()
        wait_for_log_count(worker, "Connection to broker lost", 1)
        time.sleep(2)  # it used to die within a tenth of a second
        assert worker.process.poll() is None, f"the worker exited:\n{worker.log()[-3000:]}"
        redis.start()  # the same port: the worker reconnects by itself
        wait_for_log_count(worker, "Connected to redis://", 2)

        contact_point = make_contact_point("After the outage", [("webhook", {"url": receiver.url})])
        with mock.patch("contactpoints.broker.wake"):  # the only wake is ours, on the private Redis
            response = api.post(f"/api/v1/intake/{contact_point.uid}", ALERT, token=intake_token)
        assert response.status_code == 202, response.content
        (wake,) = publish_wakes(redis.url)

        # The wake is taken, delivers, then lingers on the doorbell until the worker stops.
        wait_for_log_count(worker, rf"Task {re.escape(DELIVER_DUE_TASK)}\[{wake}\] received", 1)
        receiver.wait_for(1, timeout_seconds=30)
        (delivery,) = wait_until(lambda: delivery_settled(response.json()["id"]), timeout_seconds=30)
        assert delivery.status == DeliveryStatus.DELIVERED
        assert Delivery.objects.filter(notification_id=response.json()["id"]).count() == 1
        assert len(receiver.requests) == 1
        assert "Unrecoverable error" not in worker.log()
    finally:
        worker.stop()
        redis.stop()


@pytest.mark.parametrize("torn_down", [None, SimpleNamespace(client=None)], ids=["no-transport", "no-client"])
def test_an_ack_through_a_torn_down_transport_is_a_connection_error_not_a_crash(torn_down):
    """The other path to the same crash: an ack the hub scheduled before the connection was lost
    builds a pool from the gone transport. As a connection error, Celery logs "Couldn't ack" and
    reconnects (kombu's Message.ack_log_error catches the transport's connection errors)."""
    import project.celery  # noqa: F401 - installs the workaround, as the worker's app does

    channel = SimpleNamespace(connection=torn_down)
    with pytest.raises(redis_errors.ConnectionError) as raised:
        kombu_redis.Channel._connparams(channel)
    assert isinstance(raised.value, kombu_redis.Transport.connection_errors)
