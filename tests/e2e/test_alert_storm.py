"""An alert storm on real parts (worker, beat, Redis): two Slack channels that each allow one
message a second get every alert, as digests, within a minute, and never a 429 after the first."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

from contactpoints.models import Delivery, DeliveryStatus
from tests.e2e.test_pipeline import wait_until
from tests.receivers import Answer, CapturedRequest, Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SLACK_PATH = "/services/T000/B000/STORM"
DIGEST_LINE = "notifications merged into this digest"


@dataclass
class SlackPace:
    """Slack's limit for one channel, as the receiver enforces it: a token bucket of one message a
    second ("short bursts >1 allowed": two at once), 429 with Retry-After: 1 beyond it."""

    rate_per_second: float = 1.0
    burst: int = 2
    answers: list[tuple[float, int]] = field(default_factory=list)  # (arrived at, status)
    _tokens: float = 2.0
    _last: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: CapturedRequest) -> Answer:
        with self._lock:
            now = request.received_at
            if self._last is not None:
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate_per_second)
            self._last = now
            allowed = self._tokens >= 1
            if allowed:
                self._tokens -= 1
            self.answers.append((now, 200 if allowed else 429))
        if allowed:
            return Answer(200, b"ok", {"Content-Type": "text/plain"})
        return Answer(429, b"rate_limited", {"Retry-After": "1", "Content-Type": "text/plain"})

    def statuses_after_first_429(self) -> list[int]:
        statuses = [status for _, status in self.answers]
        return statuses[statuses.index(429) + 1 :] if 429 in statuses else []


def storm_alert(team: str, number: int) -> dict:
    return {"labels": {"alertname": "DatacenterDown", "team": team, "instance": f"{team}-host-{number}"}}


def accepted_texts(receiver: Receiver, pace: SlackPace) -> list[str]:
    statuses = [status for _, status in pace.answers]
    return [r.json()["attachments"][0]["text"] for r, s in zip(receiver.requests, statuses, strict=True) if s == 200]


def instances_in(texts: list[str], team: str) -> set[str]:
    return {word for text in texts for word in text.split() if word.startswith(f"{team}-host-")}


def test_a_storm_to_two_slack_channels_is_paced_coalesced_and_drained(
    celery_worker, make_contact_point, api, intake_token
):
    # The ops channel was just busy with other traffic: its first message gets a 429.
    paces = {"ops": SlackPace(_tokens=0.0), "dev": SlackPace()}
    receivers = {team: Receiver(respond=paces[team]) for team in paces}
    sizes = {"ops": 500, "dev": 100}
    try:
        for team, receiver in receivers.items():
            make_contact_point(f"{team} storm", [("slack", {"url": f"{receiver.url}{SLACK_PATH}"})])
        started = time.monotonic()
        for number in range(max(sizes.values())):  # both storms at once, one alert per notification
            for team, size in sizes.items():
                if number < size:
                    response = api.post(
                        f"/api/v1/intake/{team}-storm", {"alerts": [storm_alert(team, number)]}, token=intake_token
                    )
                    assert response.status_code == 202, response.content
        posted_in = time.monotonic() - started

        def drained():
            return not Delivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists()

        wait_until(drained, timeout_seconds=90)
        drained_in = time.monotonic() - started
    finally:
        for receiver in receivers.values():
            receiver.close()

    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == sum(sizes.values())
    assert posted_in < 15, f"posting took {posted_in:.1f} s"
    assert drained_in < 60, f"drained in {drained_in:.1f} s"
    for team, pace in paces.items():
        texts = accepted_texts(receivers[team], pace)
        assert instances_in(texts, team) == {f"{team}-host-{n}" for n in range(sizes[team])}, team
        assert any(DIGEST_LINE in text for text in texts), team
        assert 429 not in pace.statuses_after_first_429(), pace.answers  # the first 429 paused the channel
        assert len(pace.answers) < 60, f"{team}: {len(pace.answers)} requests for {sizes[team]} alerts"
    assert paces["ops"].answers[0][1] == 429
    # Paced apart, not one after the other: each channel got messages while the other did too.
    ops_times = [at for at, _ in paces["ops"].answers]
    dev_times = [at for at, _ in paces["dev"].answers]
    assert min(abs(a - b) for a in ops_times for b in dev_times) < 0.5
    assert dev_times[0] - started < 5, "the second channel waited behind the first"
