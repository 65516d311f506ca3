"""Concurrent web and worker writes on a SQLite file, as `make run` out of the box has them.

Run as `python -m tests.security.sqlite_load` with DATABASE_URL=sqlite:///<file> (the test in
test_sqlite_takes_concurrent_writes.py does): it migrates, then sends intakes and provisioning
calls from many threads through Django's request handling while a worker thread claims, sends
and records deliveries, and prints one JSON line: the answers by status, and any errors.
"""

from __future__ import annotations

import json
import os
import threading
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402

from contactpoints import queue  # noqa: E402
from contactpoints.models import ApiToken, ContactPoint, Delivery, Integration  # noqa: E402
from tests.receivers import Receiver  # noqa: E402

CONNECTIONS = 16
INTAKES = 200
PROVISIONING_CALLS = 30


def set_up(receiver_url: str) -> tuple[ContactPoint, str, str]:
    call_command("migrate", verbosity=0)
    contact_point = ContactPoint.objects.create(name="Ops Team")
    integration = Integration(contact_point=contact_point, type="webhook", position=0)
    integration.assign_settings({"url": receiver_url})
    integration.save()
    return contact_point, ApiToken.issue("load", "intake")[1], ApiToken.issue("load-admin", "admin")[1]


def request(job: tuple[str, str, dict, str]) -> int:
    method, path, body, token = job
    client = Client(raise_request_exception=False)
    try:
        response = getattr(client, method)(
            path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        return response.status_code
    finally:
        connections.close_all()  # this thread's connection


def jobs(contact_point: ContactPoint, intake_token: str, admin_token: str) -> list[tuple[str, str, dict, str]]:
    intake = [
        ("post", f"/api/v1/intake/{contact_point.uid}", {"alerts": [{"labels": {"alertname": f"A{n}"}}]}, intake_token)
        for n in range(INTAKES)
    ]
    provisioning = [
        (
            "post",
            "/api/v1/provisioning/contact-points",
            {"name": f"Team {n}", "type": "webhook", "settings": {"url": "http://127.0.0.1:9/hook"}},
            admin_token,
        )
        for n in range(PROVISIONING_CALLS)
    ]
    mixed = []
    for n, job in enumerate(intake):  # provisioning spread among the intakes
        mixed.append(job)
        if n % (INTAKES // PROVISIONING_CALLS) == 0 and provisioning:
            mixed.append(provisioning.pop())
    return mixed + provisioning


def work(done: threading.Event, errors: list[str]) -> None:
    """The worker's side: claim, send and record until the web side is done and nothing is due."""
    try:
        while True:
            # Read before the pass: a pass that began before the last intake committed may miss it.
            web_done = done.is_set()
            statuses = queue.deliver_due()
            if web_done and not statuses:
                return
    except Exception:  # reported to the test, which fails on it
        errors.append(traceback.format_exc())
    finally:
        connections.close_all()


def main() -> None:
    receiver = Receiver()
    contact_point, intake_token, admin_token = set_up(f"{receiver.url}/hook")
    connection.close()
    done, worker_errors = threading.Event(), []
    worker = threading.Thread(target=work, args=(done, worker_errors))
    worker.start()
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        statuses = Counter(pool.map(request, jobs(contact_point, intake_token, admin_token)))
    done.set()
    worker.join(120)
    receiver.close()
    delivered = Delivery.objects.filter(status="delivered").count()
    print(json.dumps({"statuses": statuses, "worker_errors": worker_errors, "delivered": delivered}))


if __name__ == "__main__":
    main()
