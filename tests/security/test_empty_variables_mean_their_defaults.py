"""An empty variable in the environment (`DATABASE_URL=`) means its default, for every variable
project/settings.py reads: the settings come out as if it were not set at all, and commands run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT

SETTINGS_SOURCE = (ROOT / "project" / "settings.py").read_text()
# Every env("NAME", ...), env.int("NAME", ...), env.db("NAME", ...) and so on.
VARIABLES = sorted(set(re.findall(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", SETTINGS_SOURCE)))

DUMP_SETTINGS = """
import json
import django
from django.conf import settings
django.setup()
print(json.dumps({name: repr(getattr(settings, name)) for name in dir(settings) if name.isupper()}))
"""


def run(argv: list[str], **variables: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name not in VARIABLES}
    env.update(DJANGO_SETTINGS_MODULE="project.settings", **variables)
    return subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def settings_with(**variables: str) -> dict[str, str]:
    answer = run([sys.executable, "-c", DUMP_SETTINGS], **variables)
    assert answer.returncode == 0, answer.stderr[-3000:]
    return json.loads(answer.stdout)


def test_the_settings_read_the_variables_this_test_empties():
    assert {"DATABASE_URL", "REDIS_URL", "EMAIL_URL", "ALLOWED_HOSTS", "INTAKE_MAX_BYTES", "DEBUG"} <= set(VARIABLES)


@pytest.fixture(scope="module")
def defaults() -> dict[str, str]:
    return settings_with()


@pytest.mark.parametrize("value", ["", " "], ids=["empty", "blank"])
def test_every_empty_variable_gives_the_settings_of_an_unset_one(defaults, value):
    emptied = settings_with(**dict.fromkeys(VARIABLES, value))
    differences = {name: (emptied.get(name), shown) for name, shown in defaults.items() if emptied.get(name) != shown}
    assert differences == {}


@pytest.mark.parametrize("name", ["DATABASE_URL", "REDIS_URL", "EMAIL_URL", "CONN_MAX_AGE", "ENCRYPTION_KEYS"])
def test_a_command_runs_with_an_empty_variable(name):
    answer = run([sys.executable, "manage.py", "check"], **{name: ""})
    assert answer.returncode == 0, answer.stderr[-3000:]
    assert "System check identified no issues" in answer.stdout
