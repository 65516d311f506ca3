"""`make bench`: intake throughput and end-to-end delivery throughput and latency, printed.

Starts the real parts on loopback: gunicorn, a Celery worker (thread pool), a private
redis-server, a webhook receiver, against a PostgreSQL database of its own. Prints figures;
asserts nothing (speed goals belong here, not in tests that fail on a noisy machine).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import free_port, wait_for_port  # noqa: E402 - shared loopback helpers


class TimingReceiver:
    """Webhook receiver that notes when each alert (by its `sent` label) arrived."""

    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.count = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the second waits for a
            # delayed ACK (40 ms) and every answer would look slow.
            disable_nagle_algorithm = True

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.time()
                sent = json.loads(body)["alerts"][0]["labels"].get("sent")
                with receiver.lock:
                    receiver.count += 1
                    if sent:
                        receiver.latencies_ms.append((arrived - float(sent)) * 1000)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def wait_for(self, count: int, timeout_seconds: float) -> bool:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.count >= count:
                return True
            time.sleep(0.01)
        return False


class Stack:
    """The service's processes, started like `make run` starts them."""

    def __init__(self, database_url: str, web_workers: int, worker_threads: int, worker_processes: int = 1):
        self.folder = Path(tempfile.mkdtemp(prefix="bench-"))
        self.redis_port = free_port()
        self.web_port = free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "SECRET_KEY": "bench-secret",
            "ENCRYPTION_KEYS": "kLB4MZt0hJ3gmXfXUJgZ3JqF1s9Ce4iLRxKcVx2hW2k=",
            "OUTBOUND_ALLOW_NETWORKS": "127.0.0.0/8",
            "INTAKE_RATE_LIMIT": "10000000/min",
            "LOG_LEVEL": "WARNING",
        }
        self.web_workers, self.worker_threads = web_workers, worker_threads
        self.worker_processes = worker_processes
        self.processes: list[subprocess.Popen] = []

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, capture_output=True, text=True
        ).stdout

    def spawn(self, *argv: str) -> None:
        log = open(self.folder / f"{Path(argv[2] if len(argv) > 2 else argv[0]).name}.log", "a")  # noqa: SIM115
        self.processes.append(subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT))

    def start(self) -> None:
        redis_server = shutil.which("redis-server") or sys.exit("redis-server is needed (apt-get install redis-server)")
        self.spawn(
            redis_server, "--port", str(self.redis_port), "--save", "", "--appendonly", "no", "--dir", str(self.folder)
        )
        wait_for_port(self.redis_port)
        self.manage("migrate", "--no-input")
        self.spawn(
            sys.executable,
            "-m",
            "gunicorn",
            "project.wsgi",
            "-w",
            str(self.web_workers),
            "-b",
            f"127.0.0.1:{self.web_port}",
            "--log-level",
            "warning",
        )
        for number in range(self.worker_processes):  # as `make worker` adds capacity
            self.spawn(
                sys.executable,
                "-m",
                "celery",
                "-A",
                "project",
                "worker",
                "-n",
                f"bench{number}@%h",
                "--pool",
                "threads",
                "--concurrency",
                str(self.worker_threads),
                "-Q",
                "deliveries",
                "-l",
                "warning",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            )
        wait_for_port(self.web_port, 30)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        if not os.environ.get("BENCH_KEEP_LOGS"):
            shutil.rmtree(self.folder, ignore_errors=True)
        else:
            print(f"logs kept in {self.folder}")


def setup_contact_point(stack: Stack, name: str, webhook_url: str) -> tuple[str, str]:
    script = (
        "from contactpoints.models import ContactPoint, Integration, ApiToken;"
        f"cp, _ = ContactPoint.objects.get_or_create(name={name!r});"
        "cp.integrations.all().delete();"
        f"i = Integration(contact_point=cp, type='webhook'); i.assign_settings({{'url': {webhook_url!r}}}); i.save();"
        "print(cp.uid, ApiToken.issue('bench', 'intake')[1])"
    )
    uid, token = stack.manage("shell", "-c", script).split()[-2:]  # shell may print a banner first
    return uid, token


class Client:
    """One keep-alive connection per thread."""

    def __init__(self, port: int, path: str, token: str):
        self.port, self.path = port, path
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        self.local = threading.local()

    def post(self, body: bytes) -> int:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request("POST", self.path, body, self.headers)
        response = connection.getresponse()
        response.read()
        return response.status


def alert_body(alert_count: int, sent: float | None = None) -> bytes:
    labels = {"alertname": "Bench", "instance": "host"}
    if sent is not None:
        labels["sent"] = repr(sent)
    return json.dumps([{"labels": {**labels, "n": str(i)}} for i in range(alert_count)]).encode()


def bench_intake(client: Client, requests: int, alerts_per_request: int, threads: int) -> None:
    body = alert_body(alerts_per_request)
    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        statuses = list(pool.map(lambda _: client.post(body), range(requests)))
    elapsed = time.monotonic() - started
    accepted = statuses.count(202)
    print(
        f"intake, {alerts_per_request} alert(s) per request, {threads} clients: "
        f"{accepted / elapsed:,.0f} requests/s, {accepted * alerts_per_request / elapsed:,.0f} alerts/s "
        f"({accepted}/{requests} accepted in {elapsed:.1f} s)"
    )


def bench_burst(client: Client, receiver: TimingReceiver, notifications: int, threads: int) -> None:
    receiver.count, receiver.latencies_ms = 0, []
    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: client.post(alert_body(1)), range(notifications)))
    done = receiver.wait_for(notifications, 120)
    elapsed = time.monotonic() - started
    print(
        f"end to end, burst of {notifications}: {receiver.count / elapsed:,.0f} webhooks/s delivered "
        f"({receiver.count}/{notifications}{'' if done else ', TIMED OUT'} in {elapsed:.1f} s)"
    )


def bench_latency(client: Client, receiver: TimingReceiver, rate_per_second: int, seconds: int) -> None:
    receiver.count, receiver.latencies_ms = 0, []
    total = rate_per_second * seconds
    interval = 1.0 / rate_per_second
    start = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        for i in range(total):
            delay = start + i * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(client.post, alert_body(1, sent=time.time()))
    receiver.wait_for(total, 60)
    latencies = sorted(receiver.latencies_ms)
    if not latencies:
        print("latency: nothing arrived")
        return
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"end to end at {rate_per_second} alerts/s for {seconds} s: alert to webhook p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms ({len(latencies)}/{total} arrived)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/contactpoints_bench"),
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--web-workers", type=int, default=(os.cpu_count() or 1) * 2 + 1)
    parser.add_argument("--worker-processes", type=int, default=1)
    parser.add_argument("--worker-threads", type=int, default=(os.cpu_count() or 1) * 4)  # as WORKER_CONCURRENCY
    args = parser.parse_args()
    ensure_database(args.database_url)
    stack = Stack(args.database_url, args.web_workers, args.worker_threads, args.worker_processes)
    receiver = TimingReceiver()
    print(
        f"machine: {os.cpu_count()} cores; web workers {args.web_workers}, "
        f"{args.worker_processes} worker process(es) of {args.worker_threads} threads"
    )
    try:
        stack.start()
        uid, token = setup_contact_point(stack, "Bench", receiver.url)
        client = Client(stack.web_port, f"/api/v1/intake/{uid}", token)
        bench_latency(client, receiver, rate_per_second=100, seconds=10)
        bench_burst(client, receiver, notifications=args.requests, threads=16)
        # Intake alone: a contact point with no integrations, so no worker competes for the CPU.
        empty_uid, _ = setup_contact_point(stack, "Bench intake only", receiver.url)
        stack.manage(
            "shell",
            "-c",
            f"from contactpoints.models import Integration; "
            f"Integration.objects.filter(contact_point__uid={empty_uid!r}).delete()",
        )
        intake = Client(stack.web_port, f"/api/v1/intake/{empty_uid}", token)
        bench_intake(intake, args.requests, 1, threads=16)
        bench_intake(intake, max(1, args.requests // 10), 100, threads=16)
    finally:
        stack.stop()


def ensure_database(database_url: str) -> None:
    """Create the bench database when missing (PostgreSQL only)."""
    import environ

    config = environ.Env.db_url_config(database_url)
    if "postgresql" not in config["ENGINE"]:
        return
    import psycopg

    with psycopg.connect(
        host=config["HOST"],
        port=config["PORT"] or 5432,
        user=config["USER"],
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{config["NAME"]}"')


if __name__ == "__main__":
    main()
