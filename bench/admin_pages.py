"""`make bench` (admin part): every admin list page with 1,000 contact points and 100,000 deliveries.

Seeds a PostgreSQL database of its own once (kept between runs), then times each list page
in-process through Django's test client as a logged-in superuser: median of several requests,
with the page's query count. Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONTACT_POINTS = 1_000
DELIVERIES = 100_000
REPEATS = 7
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/contactpoints_bench_admin"


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("ENCRYPTION_KEYS", "kLB4MZt0hJ3gmXfXUJgZ3JqF1s9Ce4iLRxKcVx2hW2k=")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    from bench.__main__ import ensure_database

    ensure_database(database_url)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed() -> None:
    """1,000 contact points with two integrations each; 50,000 notifications, 100,000 deliveries."""
    from django.utils import timezone

    from contactpoints.models import Attempt, ContactPoint, Delivery, Integration, Notification

    if Delivery.objects.count() >= DELIVERIES:
        return
    print("seeding (once; kept in the bench database)...", flush=True)
    started = time.monotonic()
    ContactPoint.objects.all().delete()
    contact_points = ContactPoint.objects.bulk_create(
        ContactPoint(name=f"Team {i:04d}", uid=f"team-{i:04d}") for i in range(CONTACT_POINTS)
    )
    integrations = []
    for contact_point in contact_points:
        for position, kind in enumerate(("webhook", "slack")):
            integration = Integration(contact_point=contact_point, type=kind, position=position)
            integration.assign_settings({"url": f"https://example.com/{contact_point.uid}/{kind}"})
            integrations.append(integration)
    Integration.objects.bulk_create(integrations, batch_size=1000)
    now = timezone.now()
    statuses = ("delivered",) * 8 + ("failed", "retrying")
    per_contact_point = DELIVERIES // (2 * CONTACT_POINTS)
    for index, contact_point in enumerate(contact_points):
        notifications = Notification.objects.bulk_create(
            Notification(
                contact_point=contact_point,
                status="firing",
                alerts=[{"status": "firing", "labels": {"alertname": "Bench"}, "annotations": {}}],
                receiver=contact_point.name,
                group_key=f"bench:{contact_point.uid}",
                received_at=now - timedelta(minutes=index * per_contact_point + n),
            )
            for n in range(per_contact_point)
        )
        pair = integrations[2 * index : 2 * index + 2]
        deliveries = Delivery.objects.bulk_create(
            Delivery(
                notification=notification,
                integration=integration,
                status=statuses[(n + k) % len(statuses)],
                attempts=1,
                created_at=notification.received_at,
            )
            for n, notification in enumerate(notifications)
            for k, integration in enumerate(pair)
        )
        Attempt.objects.bulk_create(
            Attempt(delivery=d, number=1, started_at=d.created_at, duration_ms=12, outcome="success", http_status=200)
            for d in deliveries
        )
    print(f"seeded in {time.monotonic() - started:.0f} s", flush=True)


def pages() -> list[tuple[str, str]]:
    from django.urls import reverse

    def changelist(model: str, query: str = "") -> str:
        return reverse(f"admin:contactpoints_{model}_changelist") + query

    return [
        ("contact points", changelist("contactpoint")),
        ("contact points, search", changelist("contactpoint", "?q=Team+05")),
        ("integrations", changelist("integration")),
        ("deliveries", changelist("delivery")),
        ("deliveries, failed", changelist("delivery", "?status__exact=failed")),
        ("deliveries, last page", changelist("delivery", "?p=999")),
        ("notifications", changelist("notification")),
        ("templates", changelist("notificationtemplate")),
        ("API tokens", changelist("apitoken")),
    ]


def time_pages() -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    print(f"{'page':28} {'median ms':>10} {'max ms':>8} {'queries':>8}")
    for name, url in pages():
        client.get(url)  # warm caches and connections
        timings = []
        for _ in range(REPEATS):
            reset_queries()
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
        status = "" if response.status_code == 200 else f"  (HTTP {response.status_code})"
        print(f"{name:28} {statistics.median(timings):10.0f} {max(timings):8.0f} {len(queries):8d}{status}")


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore", message="No directory at")  # static files are not collected here
    setup_django(os.environ.get("BENCH_ADMIN_DATABASE_URL", DEFAULT_DATABASE_URL))
    seed()
    print(f"admin list pages, {CONTACT_POINTS:,} contact points and {DELIVERIES:,} deliveries, {REPEATS} requests each")
    time_pages()


if __name__ == "__main__":
    main()
