"""A template's time limit counts the work its render does (the thread's CPU time), not the time it
waited for a core or the GIL on a loaded worker; a wall-clock backstop still ends a render that keeps
waiting."""

from __future__ import annotations

import dataclasses
import time

import pytest

from integrations import template_sandbox
from integrations.templating import TemplateError, TemplateRenderer

LIMIT_SECONDS = 0.2


class Waits:
    """An attribute that waits without working, as a starved render does."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    @property
    def value(self) -> str:
        time.sleep(self.seconds)
        return "done"


@dataclasses.dataclass
class Data:
    W: Waits


def render(source: str, data: dict) -> str:
    return TemplateRenderer(timeout_seconds=LIMIT_SECONDS).render(source, Data(**data))


def test_a_render_that_waits_past_its_limit_is_not_a_runaway():
    started = time.monotonic()
    assert render("{{ W.value }} {{ W.value }}", {"W": Waits(LIMIT_SECONDS)}) == "done done"
    assert time.monotonic() - started > LIMIT_SECONDS  # a wall-clock limit would have failed it


def test_a_render_that_keeps_waiting_ends_at_the_wall_clock_backstop():
    backstop = LIMIT_SECONDS * template_sandbox.WALL_CLOCK_FACTOR
    started = time.monotonic()
    with pytest.raises(TemplateError, match=r"time limit of 0\.2s"):
        render("{{ W.value }}{{ W.value }}{{ W.value }}", {"W": Waits(backstop * 0.6)})
    assert time.monotonic() - started < backstop * 2


def test_the_cpu_clock_is_read_only_once_the_limit_could_have_passed():
    now_cpu, now_wall = template_sandbox.render_clock(), time.monotonic()
    # A deadline already past on the CPU clock, but with the wall clock still inside the limit: a
    # thread's CPU time cannot outrun the wall clock, so this is the state of a deadline set just now.
    assert not template_sandbox.CpuDeadline(now_cpu - 1, now_wall + 10).passed()
    assert template_sandbox.CpuDeadline(now_cpu - 1, now_wall - 1).passed()
    assert not template_sandbox.CpuDeadline(now_cpu + 10, now_wall - 1).passed()


def test_a_busy_render_still_stops_at_its_cpu_limit():
    cpu_before = time.thread_time()
    with pytest.raises(TemplateError, match=r"time limit of 0\.2s"):
        render("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}", {"W": Waits(0)})
    # Stopped by the CPU limit, not by the wall-clock backstop (five times the limit) behind it.
    assert time.thread_time() - cpu_before < LIMIT_SECONDS * 3
