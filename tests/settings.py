"""Test settings: the project's settings with test keys, loopback allowed, fast retries."""

import os

# The end-to-end tests share the test database with a worker process: PostgreSQL, not SQLite.
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("ENCRYPTION_KEYS", "kLB4MZt0hJ3gmXfXUJgZ3JqF1s9Ce4iLRxKcVx2hW2k=")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("OUTBOUND_ALLOW_NETWORKS", "127.0.0.0/8")
os.environ.setdefault("DELIVERY_RETRY_BASE_SECONDS", "0.2")
# In-process tests call deliver_due() and expect it back at once; the e2e worker lingers as in production.
os.environ.setdefault("DELIVERY_WAKE_LINGER_SECONDS", "0")
# In-process tests expect new deliveries `pending`, whatever worker listens on the test database;
# the end-to-end tests turn hand-offs on, in the worker's environment and for their own requests.
os.environ.setdefault("DELIVERY_HANDOFF", "0")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")  # apart from a local `make run`
os.environ.setdefault("PUBLIC_URL", "http://localhost:8000")
# Every test client is 127.0.0.1 and the counters outlive a test: the throttle's own tests set a limit.
os.environ.setdefault("BASIC_AUTH_FAILURE_LIMIT", "1000000/min")

from project.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test users
