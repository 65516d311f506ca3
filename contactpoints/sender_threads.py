"""How many sender threads a batch takes: as many as keep one of them computing while the others
wait for answers, and no more.

A send spends some CPU (rendering, building, reading the answer) and some time waiting for its
destination. With answers that take 200 ms and 1 ms of CPU a send, 32 threads keep a worker busy;
with a receiver that answers in 0.2 ms, a second thread already has nothing to wait for, and every
thread beyond it only contends for the interpreter's lock (in `make bench`, 32 threads against 2
or 4 cost the worker a tenth to a quarter more CPU per delivery, and the intake a third of its
rate, on two shared cores). So each destination's wait is learned from its sends, and a batch
takes 1 + (its sends' waits) / (their CPU) threads, at most DELIVERY_SEND_CONCURRENCY.

A send's wait is its time on the clock minus its thread's CPU time, so it also counts the time the
send stood ready but waited for the lock or for a core: on a busy machine, most waits are inflated,
and more threads inflate them more. A destination's wait is therefore the shortest of its last
RECENT_SENDS (as TCP's BBR takes the shortest round trip it saw lately): one send that did not wait
for the interpreter shows the destination's own answer time, and a destination that turns slow
shows it within RECENT_SENDS sends. A destination not seen yet counts as slow. And a batch does
not wait for that: each send that took SLOW_SEND_SECONDS or longer adds a thread to its batch
while sends are left (contactpoints.sending.send_many).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from threading import Lock

# A destination with no sends yet is taken to answer this slowly: its first batch gets every thread.
UNKNOWN_WAIT_SECONDS = 1.0
RECENT_SENDS = 32
# A send this long waited for its destination, not for the CPU (a send costs well under a millisecond of it).
SLOW_SEND_SECONDS = 0.05
# How far one send moves the CPU estimate (an average: CPU time is not inflated by waiting).
CPU_WEIGHT = 0.1
MAX_DESTINATIONS = 10_000


class SenderThreads:
    def __init__(self, most: int) -> None:
        self.most = max(most, 1)
        self._lock = Lock()
        self._waits: dict[str, deque[float]] = {}
        self._cpu_seconds: float | None = None

    def observe(self, destination_key: str, seconds: float, cpu_seconds: float) -> None:
        """One send to `destination_key` took `seconds` on the clock, `cpu_seconds` of its thread's CPU."""
        wait = max(seconds - cpu_seconds, 0.0)
        with self._lock:
            recent = self._waits.get(destination_key)
            if recent is None:
                if len(self._waits) >= MAX_DESTINATIONS:
                    self._waits.clear()  # integrations come and go; the ones in use are learned again at once
                recent = self._waits[destination_key] = deque(maxlen=RECENT_SENDS)
            recent.append(wait)
            cpu = self._cpu_seconds
            self._cpu_seconds = cpu_seconds if cpu is None else cpu + (cpu_seconds - cpu) * CPU_WEIGHT

    def for_batch(self, destination_keys: Iterable[str]) -> int:
        """Threads for a batch of sends to these destinations (one key per send)."""
        keys = list(destination_keys)
        if not keys:
            return 0
        with self._lock:
            cpu = self._cpu_seconds
            shortest = {key: min(self._waits[key]) for key in set(keys) if key in self._waits}
        waits = sum(shortest.get(key, UNKNOWN_WAIT_SECONDS) for key in keys)
        if not cpu:
            return min(self.most, len(keys))
        return max(1, min(self.most, len(keys), math.ceil(1 + waits / (cpu * len(keys)))))
