"""Group commit: requests that arrive while one is being stored are stored together, each caller
gets its own outcome, and a trickle stores every request at once, alone."""

from __future__ import annotations

import threading
import time

import pytest

from contactpoints.group_commit import GroupCommit


class Store:
    """A store whose first call waits until released, so that the callers after it queue."""

    def __init__(self, fail_items=(), fail_batches_with=None):
        self.batches: list[list[int]] = []
        self.first_started = threading.Event()
        self.release_first = threading.Event()
        self.fail_items = set(fail_items)
        self.fail_batches_with = fail_batches_with

    def __call__(self, items: list[int]):
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.first_started.set()
            assert self.release_first.wait(10)
        elif self.fail_batches_with is not None:
            raise self.fail_batches_with
        return [ValueError(f"item {item}") if item in self.fail_items else item * 10 for item in items]


def submit_in_threads(group: GroupCommit, items: list[int]) -> tuple[dict[int, object], list[threading.Thread]]:
    outcomes: dict[int, object] = {}

    def call(item: int) -> None:
        try:
            outcomes[item] = group.submit(item)
        except Exception as exc:  # the test looks at what each caller got
            outcomes[item] = exc

    threads = [threading.Thread(target=call, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return outcomes, threads


def queue_behind_the_first(group: GroupCommit, store: Store, later: list[int]):
    first, first_threads = submit_in_threads(group, [0])
    assert store.first_started.wait(10)
    outcomes, threads = submit_in_threads(group, later)
    deadline = time.monotonic() + 10
    while len(group._queue) < len(later) and time.monotonic() < deadline:
        time.sleep(0.001)
    assert len(group._queue) == len(later)  # every later caller waits behind the first statement
    store.release_first.set()
    for thread in first_threads + threads:
        thread.join(10)
    return first | outcomes


def test_a_trickle_stores_each_item_at_once_alone():
    store = Store()
    store.release_first.set()
    group = GroupCommit(store, max_batch=8)
    assert [group.submit(item) for item in (1, 2, 3)] == [10, 20, 30]
    assert store.batches == [[1], [2], [3]]


def test_it_is_idle_only_while_nothing_is_being_stored():
    seen = []
    group = GroupCommit(lambda items: seen.append(group.idle) or [item * 10 for item in items], max_batch=8)
    assert group.idle
    assert group.submit(1) == 10
    assert seen == [False]  # during the statement
    assert group.idle


def test_callers_that_arrive_during_a_statement_share_the_next_one():
    store = Store()
    group = GroupCommit(store, max_batch=8)
    outcomes = queue_behind_the_first(group, store, [1, 2, 3, 4, 5])
    assert store.batches[0] == [0]
    assert sorted(store.batches[1]) == [1, 2, 3, 4, 5] and len(store.batches) == 2
    assert outcomes == {0: 0, 1: 10, 2: 20, 3: 30, 4: 40, 5: 50}  # each caller its own item's outcome


def test_a_batch_holds_at_most_max_batch_items_and_the_rest_follow():
    store = Store()
    group = GroupCommit(store, max_batch=2)
    outcomes = queue_behind_the_first(group, store, [1, 2, 3, 4, 5])
    assert [len(batch) for batch in store.batches] == [1, 2, 2, 1]
    assert sorted(item for batch in store.batches for item in batch) == [0, 1, 2, 3, 4, 5]
    assert outcomes == {item: item * 10 for item in range(6)}


def test_an_item_that_fails_alone_fails_only_its_caller():
    store = Store(fail_items={2})
    group = GroupCommit(store, max_batch=8)
    outcomes = queue_behind_the_first(group, store, [1, 2, 3])
    assert isinstance(outcomes[2], ValueError) and str(outcomes[2]) == "item 2"
    assert {item: outcomes[item] for item in (0, 1, 3)} == {0: 0, 1: 10, 3: 30}


def test_a_failed_batch_fails_its_callers_and_the_next_batch_is_still_stored():
    store = Store(fail_batches_with=ConnectionError("database gone"))
    group = GroupCommit(store, max_batch=8)
    outcomes = queue_behind_the_first(group, store, [1, 2])
    assert outcomes[0] == 0
    assert all(isinstance(outcomes[item], ConnectionError) for item in (1, 2))
    store.fail_batches_with = None
    assert group.submit(7) == 70  # nobody is left holding the turn
    assert store.batches[-1] == [7]


def test_a_store_that_answers_the_wrong_number_of_outcomes_fails_its_batch():
    group = GroupCommit(lambda items: [], max_batch=8)
    with pytest.raises(RuntimeError, match="0 outcomes for a batch of 1"):
        group.submit(1)
