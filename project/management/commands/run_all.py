"""`make run`: web (gunicorn), the Celery worker and beat in the foreground, with Redis if none answers.

`--only worker` is `make worker` (one more worker for capacity), `--only web` is `make web`.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from project.supervisor import Child, Supervisor, browser_host, local_redis_argv, redacted_url, redis_answers

PROGRAMS = ("web", "worker", "beat")
# gunicorn's gthread worker, keeping a busy keep-alive connection on its thread (project/web_worker.py).
WEB_WORKER_CLASS = "project.web_worker.KeepAliveThreadWorker"
REDIS_START_TIMEOUT_SECONDS = 10.0


def web_argv() -> list[str]:
    host = f"[{settings.BIND}]" if ":" in settings.BIND else settings.BIND
    return [
        sys.executable, "-m", "gunicorn", "project.wsgi:application",
        "--bind", f"{host}:{settings.PORT}",
        "--workers", str(settings.WEB_CONCURRENCY),
        "--worker-class", WEB_WORKER_CLASS, "--threads", str(settings.WEB_THREADS), "--keep-alive", "5",
        *(["--access-logfile", "-"] if settings.WEB_ACCESS_LOG else []),
        "--error-logfile", "-",
        "--graceful-timeout", "10",
        # Signals are how we steer it; its default control socket in ~ would clash across checkouts.
        "--no-control-socket",
    ]  # fmt: skip


# glibc gives each thread that allocates an arena of its own, up to 8 per core, and memory freed in
# one is not reused by another: a worker's 40 threads (pool, senders, recorders) held 8 MB more at
# their peak than with two arenas (a 10,000-notification burst: 132 against 124 MB). The
# environment wins, as everywhere.
PROGRAM_ENV_DEFAULTS = {"MALLOC_ARENA_MAX": "2"}


def worker_argv() -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "project", "worker",
        "--pool", "threads", "--concurrency", str(settings.WORKER_CONCURRENCY),
        "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "-l", settings.LOG_LEVEL,
        # A node name of its own, so `make worker` beside `make run` is not a duplicate node.
        "-n", f"worker{os.getpid()}@%h",
    ]  # fmt: skip


def beat_argv(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "project", "beat", "-l", settings.LOG_LEVEL,
            "--schedule", str(run_dir / "celerybeat-schedule")]  # fmt: skip


def program_argv(name: str, run_dir: Path) -> list[str]:
    return {"web": web_argv, "worker": worker_argv, "beat": lambda: beat_argv(run_dir)}[name]()


def admin_url() -> str:
    return f"http://{browser_host(settings.BIND)}:{settings.PORT}/admin/"


class Command(BaseCommand):
    help = "Run web (gunicorn), the Celery worker and beat in the foreground; Ctrl-C or SIGTERM stops all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only", action="append", choices=PROGRAMS,
            help="run only this program (repeatable); Redis is then neither checked nor started",
        )  # fmt: skip

    def handle(self, *args: object, only: list[str] | None, **options: object) -> None:
        run_dir = Path(settings.BASE_DIR) / ".run"
        run_dir.mkdir(exist_ok=True)
        programs = only or PROGRAMS
        with Supervisor() as supervisor:
            if only is None:
                self._ensure_redis(supervisor, run_dir)
            elif not redis_answers(settings.REDIS_URL):
                supervisor.say(f"Warning: nothing answers at REDIS_URL ({redacted_url(settings.REDIS_URL)}) yet.")
            if supervisor.stopping:  # Ctrl-C while Redis was starting
                return
            for name in programs:
                supervisor.start(Child(name, program_argv(name, run_dir), env_defaults=PROGRAM_ENV_DEFAULTS))
            if "web" in programs:
                host = browser_host(settings.BIND).strip("[]")
                supervisor.announce_when_listening(host, settings.PORT, f"Admin: {admin_url()}  (Ctrl-C stops all)")
            status = supervisor.run()
        sys.exit(status)

    def _ensure_redis(self, supervisor: Supervisor, run_dir: Path) -> None:
        url = settings.REDIS_URL
        if redis_answers(url):
            return
        shown = redacted_url(url)
        argv = local_redis_argv(url, run_dir)
        if argv is None:
            raise CommandError(f"Nothing answers at REDIS_URL ({shown}). Start Redis there, or set REDIS_URL.")
        if shutil.which(argv[0]) is None:
            raise CommandError(
                f"Nothing answers at REDIS_URL ({shown}) and redis-server is not installed.\n"
                "Install Redis (Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: `brew install redis`) "
                "so `make run` can start one, or start Redis yourself and set REDIS_URL in .env."
            )
        supervisor.say(f"Nothing answers at {shown}: starting redis-server (no persistence, log in .run/redis.log).")
        redis_child = supervisor.start(Child("redis", argv, stop_last=True))
        answered = supervisor.wait_until(lambda: redis_answers(url), redis_child, REDIS_START_TIMEOUT_SECONDS)
        if not answered and not supervisor.stopping:
            raise CommandError(f"redis-server did not answer at {shown}; see .run/redis.log.")
