"""A hostile template fails its own delivery, in bounded time, and never holds up another (finding 2).

`match` ran Python's `re`, which holds the GIL: `(a|a)*c` against a few dozen `a`s froze every
thread of the worker for many seconds. And the deadline was per rendered field, so six looping
fields took six times the timeout and then sent a notification with blank fields.
"""

from __future__ import annotations

import threading
import time

import pytest

from contactpoints.sending import send_test_notification
from integrations.templating import DEFAULT_TIMEOUT_SECONDS, TemplateError, TemplateRenderer, build_template_data
from tests.integrations.helpers import FIRING

CATASTROPHIC = "{{ match('(a|a)*c', '" + "a" * 24 + "bc') }}"
LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
DATA = build_template_data([FIRING], receiver="cp", group_key="g", group_labels={}, external_url="http://localhost")


def test_a_catastrophic_regex_stops_at_the_time_limit_and_other_renders_go_on():
    failure: list[BaseException] = []

    def runaway() -> None:
        try:
            TemplateRenderer(timeout_seconds=1.0).render(CATASTROPHIC, DATA)
        except TemplateError as exc:
            failure.append(exc)

    hog = threading.Thread(target=runaway)
    hog.start()
    slowest, renders = 0.0, 0
    while hog.is_alive():
        # Timed with the pause: a thread waiting for the GIL waits where it wakes up.
        started = time.monotonic()
        assert TemplateRenderer().render("{{ Alerts.Firing|length }} firing", DATA) == "1 firing"
        time.sleep(0.01)
        slowest = max(slowest, time.monotonic() - started - 0.01)
        renders += 1
    hog.join(timeout=30)
    assert slowest < 0.5, f"a render next to the hostile regex took {slowest:.2f}s"
    assert renders > 10, "the other thread hardly ran while the regex did"
    assert failure, "the hostile regex ran to its end instead of stopping at the time limit"
    assert "time limit" in str(failure[0])


SLACK_FIELDS = ("title", "text", "footer", "color", "username", "icon_emoji")


@pytest.mark.django_db
def test_six_looping_fields_share_one_deadline_and_fail_the_delivery(make_contact_point, receiver):
    contact_point = make_contact_point(
        "Runaway", [("slack", {"url": receiver.url, **dict.fromkeys(SLACK_FIELDS, LOOP)})]
    )
    started = time.monotonic()
    (result,) = send_test_notification(contact_point)
    elapsed = time.monotonic() - started
    assert elapsed < 1.75 * DEFAULT_TIMEOUT_SECONDS, f"six looping fields took {elapsed:.1f}s"
    assert result["status"] == "failed"
    assert "time limit" in result["error"]
    assert receiver.requests == [], "a notification with blank fields was sent"


@pytest.mark.django_db
def test_the_runaway_delivery_does_not_hold_up_its_neighbour(make_contact_point, receiver):
    contact_point = make_contact_point(
        "Neighbours",
        [("slack", {"url": receiver.url, "title": LOOP}), ("webhook", {"url": receiver.url, "title": "fine"})],
    )
    runaway, neighbour = send_test_notification(contact_point)
    assert (runaway["type"], runaway["status"]) == ("slack", "failed")
    assert (neighbour["type"], neighbour["status"], neighbour["error"]) == ("webhook", "ok", "")
    assert neighbour["durationMs"] < 1000
    assert [request.json()["title"] for request in receiver.requests] == ["fine"]
