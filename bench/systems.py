"""The two systems under test, started through their external contracts only.

This project: `manage.py migrate`, `import_contact_points`, `create_api_token` for set-up, then
`manage.py run_all` (what `make run` runs) and `run_all --only worker` (`make worker`), all
configured by environment variables; alerts go to `POST /api/v1/intake/<uid>`.
Alertmanager: Debian's `prometheus-alertmanager` with a route that makes every alert its own
group, delivered at once to the same receiver.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import environ
import psycopg

from bench.procs import ProcessBook, Service, check_alive, http_ok, wait_until
from bench.receiver import ID_LABEL, SENT_LABEL
from bench.report import Stages, percentile
from tests.e2e.conftest import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
CONTACT_POINT_NAME = "bench-webhook"
ENCRYPTION_KEY = "kLB4MZt0hJ3gmXfXUJgZ3JqF1s9Ce4iLRxKcVx2hW2k="


def postgresql_settings(database_url: str) -> dict[str, Any] | None:
    """psycopg.connect()'s arguments for `database_url`; None when it is not a PostgreSQL URL."""
    config = environ.Env.db_url_config(database_url)
    if "postgresql" not in config["ENGINE"]:
        return None
    return {
        "host": config["HOST"],
        "port": config["PORT"] or 5432,
        "user": config["USER"],
        "password": config["PASSWORD"] or None,
        "dbname": config["NAME"],
    }


def start_redis(book: ProcessBook) -> tuple[Service, str]:
    binary = shutil.which("redis-server") or sys.exit("redis-server is needed (apt-get install redis-server)")
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    service = book.start("redis", [*argv, "--dir", str(book.folder)])
    wait_for_port(port)
    return service, f"redis://127.0.0.1:{port}/0"


@dataclass
class Alertmanager:
    service: Service
    port: int


def start_alertmanager(book: ProcessBook, webhook_url: str) -> Alertmanager:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        sys.exit("prometheus-alertmanager is needed (apt-get install prometheus-alertmanager)")
    config = {
        "route": {
            "receiver": "bench",
            "group_by": ["..."],  # every alert its own group: one webhook per alert, as ours sends
            "group_wait": "0s",
            "group_interval": "1h",  # no second flush of a group during the run
            "repeat_interval": "24h",
        },
        "receivers": [{"name": "bench", "webhook_configs": [{"url": webhook_url, "send_resolved": False}]}],
    }
    config_file = book.folder / "alertmanager.yml"
    config_file.write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    argv = [
        binary,
        f"--config.file={config_file}",
        f"--storage.path={book.folder / 'alertmanager-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # one peer, no gossip
    ]
    service = book.start("alertmanager", argv, classify=lambda pid, argv, depth: "alertmanager child")
    wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/-/ready"), service, 30, "becoming ready")
    return Alertmanager(service, port)


def classify_stack_process(pid: int, argv: list[str], depth: int) -> str:
    """Role of a process under `run_all`, by its command line (web master and workers apart)."""
    text = " ".join(argv)
    if "gunicorn" in text:
        return "web master" if depth == 1 else "web worker"
    if "beat" in argv:
        return "beat"
    if "worker" in argv:
        return "worker"
    if "redis-server" in text:
        return "stack redis"
    return Path(argv[0]).name if argv else "other"


class Project:
    """This project's make-run stack against a PostgreSQL database and a Redis of the bench's own."""

    def __init__(self, book: ProcessBook, database_url: str, redis_url: str, worker_threads: int | None) -> None:
        self.book = book
        self.port = free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PORT": str(self.port),
            "BIND": "127.0.0.1",
            "SECRET_KEY": "bench-secret",
            "ENCRYPTION_KEYS": ENCRYPTION_KEY,
            "OUTBOUND_ALLOW_NETWORKS": "127.0.0.0/8",
            "INTAKE_RATE_LIMIT": "10000000/min",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        if worker_threads:
            self.env["WORKER_CONCURRENCY"] = str(worker_threads)
        self.runner: Service | None = None

    def manage(self, *args: str, timeout_seconds: float = 300) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout_seconds, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def set_up(self, webhook_url: str) -> tuple[str, str]:
        """Migrate, provision a contact point with one webhook to the receiver; its uid and an intake token."""
        self.manage("migrate", "--no-input")
        self.manage("collectstatic", "--no-input", "--verbosity", "0")  # as `make run` does before run_all
        provisioning = {
            "apiVersion": 1,
            "contactPoints": [
                {
                    "name": CONTACT_POINT_NAME,
                    "receivers": [{"uid": "bench-webhook-1", "type": "webhook", "settings": {"url": webhook_url}}],
                }
            ],
        }
        file = self.book.folder / "contact-points.json"
        file.write_text(json.dumps(provisioning))
        self.manage("import_contact_points", str(file))
        intake_token = self.manage("create_api_token", "bench-intake", "--scope", "intake").split()[-1]
        self.admin_token = self.manage("create_api_token", "bench-admin", "--scope", "admin").split()[-1]
        return intake_token, self.admin_token

    def start(self) -> None:
        argv = [sys.executable, "manage.py", "run_all"]
        self.runner = self.book.start("run_all", argv, env=self.env, cwd=ROOT, classify=classify_stack_process)
        wait_until(lambda: http_ok(f"http://127.0.0.1:{self.port}/healthz"), self.runner, 90, "starting web")

    def check_running(self) -> None:
        if self.runner is None:
            raise RuntimeError("run_all is not running")
        check_alive(self.runner)

    def contact_point_uid(self) -> str:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v1/contact-points",
            headers={"Authorization": f"Bearer {self.admin_token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - our loopback port
            for contact_point in json.loads(answer.read()):
                if contact_point["name"] == CONTACT_POINT_NAME:
                    return contact_point["uid"]
        raise RuntimeError(f"no contact point named {CONTACT_POINT_NAME!r} after the import")

    def stages(self, phase: str, first_arrivals: dict[str, float]) -> Stages | None:
        """Split each alert's latency at two timestamps this project stores: the notification's
        `received_at` (the web has parsed the body) and its delivery's first attempt `started_at`
        (the worker starts the send). Read from the database, after the phase; all on one clock."""
        connect = postgresql_settings(self.env["DATABASE_URL"])
        if connect is None:
            return None
        query = """
            SELECT n.alerts -> 0 -> 'labels' ->> %(id)s, n.alerts -> 0 -> 'labels' ->> %(sent)s,
                EXTRACT(EPOCH FROM n.received_at), EXTRACT(EPOCH FROM MIN(a.started_at))
            FROM contactpoints_notification n
            JOIN contactpoints_delivery d ON d.notification_id = n.id
            JOIN contactpoints_attempt a ON a.delivery_id = d.id
            WHERE n.alerts -> 0 -> 'labels' ->> %(id)s LIKE %(phase)s
            GROUP BY n.id
        """
        with psycopg.connect(**connect) as connection:
            found = connection.execute(query, {"id": ID_LABEL, "sent": SENT_LABEL, "phase": f"{phase}:%"}).fetchall()
        splits = [
            (float(received) - float(sent), float(started) - float(received), first_arrivals[alert] - float(started))
            for alert, sent, received, started in found
            if alert in first_arrivals and sent
        ]
        if not splits:
            return None

        def figures(values: list[float]) -> tuple[float, float]:
            ordered = sorted(value * 1000 for value in values)
            return percentile(ordered, 0.50), percentile(ordered, 0.99)

        to_parsed, to_send, sending = zip(*splits, strict=True)
        return Stages(len(splits), figures(list(to_parsed)), figures(list(to_send)), figures(list(sending)))

    def start_programs(self, name: str, programs: list[str]) -> Service:
        """`run_all --only ...`: `make web`, `make worker`; roles prefixed "scan" in the RSS book."""
        argv = [sys.executable, "manage.py", "run_all", *(f"--only={program}" for program in programs)]

        def classify(pid: int, argv: list[str], depth: int) -> str:
            return f"scan {classify_stack_process(pid, argv, depth)}"

        service = self.book.start(name, argv, env=self.env, cwd=ROOT, classify=classify)
        if "web" in programs:
            wait_until(lambda: http_ok(f"http://127.0.0.1:{self.port}/healthz"), service, 90, "starting web")
        return service
