"""The embedded default database (SQLite, what `make run` uses out of the box) answers no 5xx
while web requests and a worker write at once: WAL, a busy timeout, IMMEDIATE transactions."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.e2e.conftest import ROOT, free_port
from tests.security.sqlite_load import INTAKES, PROVISIONING_CALLS


def test_concurrent_intakes_provisioning_and_deliveries_on_sqlite_all_succeed(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        # No Redis: no wake flag or message is left where other tests look, and the worker
        # thread claims by itself (nothing is lost without the broker, contract §7).
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "PYTHONWARNINGS": "ignore",
    }
    run = subprocess.run(
        [sys.executable, "-m", "tests.security.sqlite_load"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "database is locked" not in run.stdout + run.stderr, run.stderr[-3000:]
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result == {
        "statuses": {"202": INTAKES + PROVISIONING_CALLS},
        "worker_errors": [],
        "delivered": INTAKES,
    }
