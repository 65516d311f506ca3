"""project/celery.py: what a worker loads as it starts."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.e2e.conftest import ROOT

# What the worker's start-up does before it consumes: Django set up, the task modules imported
# (Celery's Django fixup hooks its checks to the latter).
WORKER_START_UP = """
import sys
from project.celery import app
app.loader.import_default_modules()
print("project.urls" in sys.modules)
"""


def start_up_loads_the_urlconf(**env: str) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", WORKER_START_UP],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1] == "True"


def test_a_worker_starts_without_the_views_it_never_serves():
    assert not start_up_loads_the_urlconf()


def test_an_operator_can_have_the_worker_run_djangos_checks():
    assert start_up_loads_the_urlconf(CELERY_SKIP_CHECKS="")
