"""The Celery app: deliveries run here, the database stays the source of truth."""

import logging
import os

import redis
from celery import Celery
from celery.signals import worker_ready
from kombu.transport import redis as kombu_redis

from project.heap import freeze_start_up_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Celery's Django fixup runs every system check as a worker starts, and the URL checks import the
# URLconf with every view behind it (the admin, DRF, drf-spectacular) that a worker never serves:
# 6-7 MB of each worker's memory. The checks run where Django runs them, in manage.py's commands
# (`make run` migrates first); CELERY_SKIP_CHECKS= (empty) brings them back to the worker.
os.environ.setdefault("CELERY_SKIP_CHECKS", "1")

logger = logging.getLogger(__name__)

app = Celery("contactpoints")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _freeze_start_up_objects(**_: object) -> None:
    freeze_start_up_objects()


def _keep_worker_alive_after_the_broker_closed() -> None:
    """Work around a worker crash on losing Redis (celery 5.7.0, kombu 5.7.0: no upstream fix yet).

    On a lost connection Celery's consumer first calls `connection.collect()`, which tears the
    transport down (`transport.client = None`) while a channel whose close failed mid-poll stays
    the default channel; then `connection.close()` closes that channel again, its QoS restores
    the unacknowledged messages through a new pool, and building the pool reads
    `transport.client.hostname`: AttributeError, which is no connection error, so the worker
    logs "Unrecoverable error" and exits. (celery/worker/consumer/consumer.py
    `on_connection_error_after_connected`; kombu/transport/redis.py `Channel._connparams`.)

    Nothing can be restored through a transport that is gone, and nothing needs to be: the
    messages stay in Redis's unacked index, which redelivers them after the visibility timeout,
    and here a message is only a wake for deliveries that PostgreSQL holds (beat's sweeper rings
    again). So skip the restore on a closed transport; every other restore runs unchanged.
    """
    restore_unacked = kombu_redis.QoS.restore_unacked
    if getattr(restore_unacked, "skips_closed_transport", False):
        return

    def restore_unless_the_transport_is_gone(self: kombu_redis.QoS, client: object = None) -> None:
        transport = self.channel.connection
        if client is None and (transport is None or transport.client is None):
            logger.warning(
                "broker connection already closed: %d unacknowledged message(s) left to Redis's "
                "visibility timeout; the sweeper rings for due deliveries meanwhile",
                len(self._delivered),
            )
            self._delivered.clear()
            return None
        return restore_unacked(self, client)

    restore_unless_the_transport_is_gone.skips_closed_transport = True
    kombu_redis.QoS.restore_unacked = restore_unless_the_transport_is_gone

    # The same torn-down transport reached by another path: an acknowledgement the hub had
    # scheduled before the connection was lost builds a pool too (`Message.ack_log_error` →
    # `QoS.ack` → `Channel._connparams`). Reading a gone transport is a connection error: Celery
    # logs "Couldn't ack" and reconnects, and the unacknowledged wake returns after the visibility
    # timeout, where before the AttributeError stopped the worker.
    connparams = kombu_redis.Channel._connparams

    def connparams_of_a_live_transport(self: kombu_redis.Channel, asynchronous: bool = False) -> dict:
        if self.connection is None or self.connection.client is None:
            raise redis.exceptions.ConnectionError("the broker connection is closed")
        return connparams(self, asynchronous=asynchronous)

    kombu_redis.Channel._connparams = connparams_of_a_live_transport


_keep_worker_alive_after_the_broker_closed()
