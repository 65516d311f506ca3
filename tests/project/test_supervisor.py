"""`make run`'s parts: the .env writer, the admin user, and the supervisor that runs the children."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import stat
import threading
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from project import envfile
from project.management.commands import run_all
from project.supervisor import (
    Child,
    RestartPolicy,
    Supervisor,
    browser_host,
    exit_description,
    local_redis_argv,
    redacted_url,
    redis_answers,
)

# --- .env -------------------------------------------------------------------------------------


def read_env(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_envfile_writes_fresh_secrets_when_missing(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    assert envfile.write_env_file(path) is True
    values = read_env(path)
    assert set(values) == {"SECRET_KEY", "ENCRYPTION_KEYS"}
    assert len(values["SECRET_KEY"]) >= 50
    Fernet(values["ENCRYPTION_KEYS"])  # raises if not a valid key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_envfile_never_touches_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("SECRET_KEY=mine\n")
    assert envfile.write_env_file(path) is False
    assert path.read_text() == "SECRET_KEY=mine\n"


def test_envfile_main_reports_only_when_it_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / ".env"
    envfile.main([str(path)])
    first = read_env(path)
    envfile.main([str(path)])
    assert capsys.readouterr().out.count("Wrote") == 1
    assert read_env(path) == first
    assert envfile.new_fernet_key() != envfile.new_fernet_key()


# --- ensure_admin -----------------------------------------------------------------------------


def run_ensure_admin() -> str:
    out = io.StringIO()
    call_command("ensure_admin", stdout=out, stderr=out)
    return out.getvalue()


@pytest.mark.django_db
def test_ensure_admin_creates_once_and_prints_the_generated_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    output = run_ensure_admin()
    password = output.split("password:")[1].split()[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password(password)

    assert run_ensure_admin() == ""
    assert get_user_model().objects.count() == 1


@pytest.mark.django_db
def test_ensure_admin_takes_the_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "from-the-environment")
    output = run_ensure_admin()
    assert "from-the-environment" not in output
    assert get_user_model().objects.get(username="admin").check_password("from-the-environment")


@pytest.mark.django_db
def test_ensure_admin_leaves_an_existing_superuser_alone() -> None:
    get_user_model().objects.create_superuser("ops", "", "pw-pw-pw-pw")
    run_ensure_admin()
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["ops"]


# --- the supervisor ---------------------------------------------------------------------------


# The first exit already counts as a crash loop: run() returns as soon as a child exits.
GIVE_UP_AT_FIRST_EXIT = RestartPolicy(crash_loop_exits=1)


def make_supervisor(
    stop_timeout_seconds: float = 5.0, restart_policy: RestartPolicy | None = None
) -> tuple[Supervisor, io.StringIO]:
    out = io.StringIO()
    supervisor = Supervisor(
        stop_timeout_seconds=stop_timeout_seconds, poll_seconds=0.05, out=out, restart_policy=restart_policy
    )
    return supervisor, out


def start(supervisor: Supervisor, name: str, script: str, **kwargs: bool) -> Child:
    return supervisor.start(Child(name, ["sh", "-c", script], **kwargs))


def group_is_gone(child: Child, timeout_seconds: float = 5.0) -> bool:
    # Killed orphans stay zombies until init reaps them, which takes a moment.
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(child.process.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def send_sigterm_soon(times: int = 1, gap_seconds: float = 0.3) -> None:
    """SIGTERM this process, as `kill` would; call it inside `with supervisor:` (handlers in place)."""

    def send() -> None:
        for _ in range(times):
            time.sleep(gap_seconds)
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=send, daemon=True).start()


# Restarts with backoff and the crash-loop verdict: tests/security/test_runner_restarts_crashed_programs.py


def test_a_child_exiting_cleanly_still_counts_as_a_failure() -> None:
    supervisor, _ = make_supervisor(restart_policy=GIVE_UP_AT_FIRST_EXIT)
    with supervisor:
        start(supervisor, "web", "exec sleep 30")
        start(supervisor, "beat", "exit 0")
        assert supervisor.run() == 1


def test_a_child_gets_its_environment_defaults_under_ours(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SET_BY_US", "ours")
    monkeypatch.setenv("SET_EMPTY", "")
    seen = tmp_path / "env"
    supervisor, _ = make_supervisor(restart_policy=GIVE_UP_AT_FIRST_EXIT)
    with supervisor:
        defaults = {"SET_BY_US": "default", "SET_EMPTY": "default", "ONLY_A_DEFAULT": "default"}
        script = f'echo "$SET_BY_US $SET_EMPTY $ONLY_A_DEFAULT" > {seen}'
        supervisor.start(Child("web", ["sh", "-c", script], env_defaults=defaults))
        supervisor.run()
    assert seen.read_text().split() == ["ours", "default", "default"]


def test_sigterm_stops_every_child_gracefully_and_succeeds() -> None:
    supervisor, _ = make_supervisor()
    before = signal.getsignal(signal.SIGTERM)
    with supervisor:
        redis = start(supervisor, "redis", "exec sleep 30", stop_last=True)
        children = [start(supervisor, name, "exec sleep 30") for name in ("web", "worker", "beat")]
        send_sigterm_soon()
        assert supervisor.run() == 0
    assert all(child.process.returncode == -signal.SIGTERM for child in [*children, redis])
    assert signal.getsignal(signal.SIGTERM) is before  # handlers restored


def test_a_child_ignoring_sigterm_is_killed_with_its_whole_group() -> None:
    supervisor, out = make_supervisor(stop_timeout_seconds=0.5)
    with supervisor:
        stubborn = start(supervisor, "web", "trap '' TERM; sleep 30 & wait")
        send_sigterm_soon()
        assert supervisor.run() == 0
    assert stubborn.process.returncode == -signal.SIGKILL
    assert group_is_gone(stubborn)
    assert "web did not stop in time; killing it." in out.getvalue()


def test_a_second_signal_kills_without_waiting() -> None:
    supervisor, _ = make_supervisor(stop_timeout_seconds=60)
    began = time.monotonic()
    with supervisor:
        stubborn = start(supervisor, "worker", "trap '' TERM; sleep 30 & wait")
        send_sigterm_soon(times=2)
        assert supervisor.run() == 0
    assert time.monotonic() - began < 10
    assert group_is_gone(stubborn)


def test_leftovers_of_a_dead_leader_are_stopped() -> None:
    # Like gunicorn workers outliving a crashed master: the group must not linger.
    supervisor, _ = make_supervisor(restart_policy=GIVE_UP_AT_FIRST_EXIT)
    with supervisor:
        orphaning = start(supervisor, "web", "sleep 30 & sleep 0.2; exit 2")
        assert supervisor.run() == 2
    assert group_is_gone(orphaning)


def test_leaving_early_stops_what_was_started() -> None:
    # A failure between starting Redis and run() (say, Redis never answers) leaves nothing behind.
    supervisor, _ = make_supervisor()
    with pytest.raises(RuntimeError), supervisor:
        redis = start(supervisor, "redis", "exec sleep 30", stop_last=True)
        raise RuntimeError("startup failed")
    assert redis.process.returncode == -signal.SIGTERM


def test_a_signal_while_waiting_for_a_child_ends_the_wait() -> None:
    supervisor, _ = make_supervisor()
    with supervisor:
        redis = start(supervisor, "redis", "exec sleep 30", stop_last=True)
        send_sigterm_soon()
        assert supervisor.wait_until(lambda: False, redis, timeout_seconds=20) is False
        assert supervisor.stopping
    assert redis.process.returncode == -signal.SIGTERM


@pytest.mark.parametrize(
    ("returncode", "description"),
    [(0, "status 0"), (3, "status 3"), (-signal.SIGKILL, "killed by SIGKILL"), (-signal.SIGTERM, "killed by SIGTERM")],
)
def test_exit_description(returncode: int, description: str) -> None:
    assert exit_description(returncode) == description


@pytest.mark.parametrize(("recent_exits", "pause"), [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (20, 30.0)])
def test_the_pause_before_a_restart_doubles_up_to_a_maximum(recent_exits: int, pause: float) -> None:
    assert RestartPolicy().pause_after(recent_exits) == pause


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_announces_once_the_port_listens() -> None:
    supervisor, out = make_supervisor()
    port = free_port()
    with supervisor:
        start(supervisor, "web", f"sleep 0.3; exec python3 -m http.server --bind 127.0.0.1 {port}")
        supervisor.announce_when_listening("127.0.0.1", port, "Admin: here")
        send_sigterm_soon(gap_seconds=2.0)
        supervisor.run()
    assert out.getvalue().count("Admin: here") == 1


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_starts_and_stops_a_scratch_redis(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert not redis_answers(url)
    supervisor, _ = make_supervisor()
    with supervisor:
        redis = supervisor.start(Child("redis", local_redis_argv(url, tmp_path), stop_last=True))
        assert supervisor.wait_until(lambda: redis_answers(url), redis, timeout_seconds=10)
    assert redis.process.returncode is not None
    assert not redis_answers(url)
    assert not list(tmp_path.glob("*.rdb"))  # nothing persisted


# --- Redis and URL helpers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "bind", "port"),
    [
        ("redis://127.0.0.1:6399/0", ["127.0.0.1"], "6399"),
        ("redis://localhost/1", ["127.0.0.1", "-::1"], "6379"),
        ("redis://[::1]:7000", ["::1"], "7000"),
        ("redis://127.0.0.2:6380", ["127.0.0.2"], "6380"),
    ],
)
def test_local_redis_argv(url: str, bind: list[str], port: str, tmp_path: Path) -> None:
    argv = local_redis_argv(url, tmp_path)
    assert argv[0] == "redis-server"
    assert argv[argv.index("--bind") + 1 : argv.index("--port")] == bind
    assert argv[argv.index("--port") + 1] == port
    assert argv[argv.index("--save") + 1] == ""
    assert argv[argv.index("--dir") + 1] == str(tmp_path)


@pytest.mark.parametrize("url", ["redis://redis.internal:6379/0", "rediss://127.0.0.1:6379", "unix:///tmp/r.sock"])
def test_no_local_redis_for_other_hosts_or_schemes(url: str, tmp_path: Path) -> None:
    assert local_redis_argv(url, tmp_path) is None


def test_a_redis_password_goes_to_a_private_file_not_the_command_line(tmp_path: Path) -> None:
    argv = local_redis_argv("redis://:s%40cret@127.0.0.1:6399/0", tmp_path)
    assert not any("cret" in arg for arg in argv)
    conf = Path(argv[1])
    assert conf.read_text() == 'requirepass "s@cret"\n'
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:hunter2@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"),
        ("redis://app:hunter2@cache:6379", "redis://app:***@cache:6379"),
    ],
)
def test_redacted_url(url: str, shown: str) -> None:
    assert redacted_url(url) == shown


@pytest.mark.parametrize(
    ("bind", "host"),
    [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "localhost"), ("::", "localhost"), ("::1", "[::1]"), ("", "localhost")],
)
def test_browser_host(bind: str, host: str) -> None:
    assert browser_host(bind) == host


# --- run_all ----------------------------------------------------------------------------------


def test_program_commands_follow_settings(settings, tmp_path: Path) -> None:
    settings.BIND, settings.PORT, settings.WEB_CONCURRENCY, settings.WORKER_CONCURRENCY = "0.0.0.0", 8123, 3, 7
    settings.WEB_THREADS, settings.WEB_ACCESS_LOG = 6, False
    web = run_all.program_argv("web", tmp_path)
    assert web[web.index("--bind") + 1] == "0.0.0.0:8123"
    assert web[web.index("--workers") + 1] == "3"
    assert (web[web.index("--worker-class") + 1], web[web.index("--threads") + 1]) == (run_all.WEB_WORKER_CLASS, "6")
    assert "--access-logfile" not in web
    settings.WEB_ACCESS_LOG = True
    web = run_all.program_argv("web", tmp_path)
    assert web[web.index("--access-logfile") + 1] == "-"
    worker = run_all.program_argv("worker", tmp_path)
    assert worker[worker.index("--pool") + 1] == "threads"
    assert worker[worker.index("--concurrency") + 1] == "7"
    assert worker[worker.index("-Q") + 1] == "deliveries"
    beat = run_all.program_argv("beat", tmp_path)
    assert beat[beat.index("--schedule") + 1] == str(tmp_path / "celerybeat-schedule")
    assert run_all.admin_url() == "http://localhost:8123/admin/"


def test_run_all_says_how_to_get_redis_when_it_cannot_start_one(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.REDIS_URL = f"redis://:secret@127.0.0.1:{free_port()}/0"
    monkeypatch.setattr(run_all.shutil, "which", lambda name: None)
    with pytest.raises(CommandError) as error:
        call_command("run_all")
    assert "redis-server is not installed" in str(error.value)
    assert "apt-get install redis-server" in str(error.value)
    assert "secret" not in str(error.value)


def test_run_all_cannot_start_redis_on_another_host(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.REDIS_URL = "redis://redis.example:6379/0"
    monkeypatch.setattr(run_all, "redis_answers", lambda url: False)  # tests stay on loopback
    with pytest.raises(CommandError, match="Start Redis there, or set REDIS_URL"):
        call_command("run_all")
