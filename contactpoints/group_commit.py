"""Group commit for one process's threads: what arrives while one batch is being stored is stored
together, by one of the waiting threads, in the next statement.

No thread of its own and no timer: the first caller stores its item at once (a trickle pays
nothing), and while that statement waits for PostgreSQL's commit, other callers queue. When it
returns, the first queued caller is woken to store every queued item in one statement, and so
on. Under load each statement and each commit carries several requests, so PostgreSQL and the
web process spend less per request; no caller waits for more than the statement before its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


class _Waiter(Generic[Item]):
    __slots__ = ("item", "leads", "outcome", "woken")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.outcome: object = None
        self.woken = threading.Event()
        self.leads = False  # woken to store the queue, not because its own item is stored


class GroupCommit(Generic[Item, Outcome]):
    """`submit(item)` returns `store(batch)`'s outcome for that item, or raises the exception given
    for it. `store` gets up to `max_batch` items and returns one outcome per item, in order: a value,
    or an exception instance for an item that failed alone; an exception it raises fails the batch.
    """

    def __init__(self, store: Callable[[list[Item]], Sequence[Outcome | BaseException]], max_batch: int) -> None:
        self._store = store
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Waiter[Item]] = []
        self._storing = False

    @property
    def idle(self) -> bool:
        """Whether nothing is being stored now: an item submitted now is stored at once, alone."""
        return not self._storing

    def submit(self, item: Item) -> Outcome:
        waiter = _Waiter(item)
        with self._lock:
            self._queue.append(waiter)
            leads = not self._storing
            self._storing = True
        if not leads:
            waiter.woken.wait()
            leads = waiter.leads
        if leads:
            self._store_queued()
        if isinstance(waiter.outcome, BaseException):
            raise waiter.outcome
        return waiter.outcome  # type: ignore[return-value]

    def _store_queued(self) -> None:
        """Store the head of the queue (the caller's own item first), then hand on to the next in line."""
        with self._lock:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
        try:
            outcomes: Sequence[object] = self._store([waiter.item for waiter in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"{len(outcomes)} outcomes for a batch of {len(batch)}")
        # Every caller of the batch gets it, whatever it is: none of them was stored, and a caller
        # left without an outcome would wait for ever.
        except BaseException as exc:  # noqa: BLE001
            outcomes = [exc] * len(batch)
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].leads = True
                    self._queue[0].woken.set()
                else:
                    self._storing = False
        for waiter, outcome in zip(batch, outcomes, strict=True):
            waiter.outcome = outcome
            waiter.woken.set()
