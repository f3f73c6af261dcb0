"""Group commit: orders posted at the same moment share one transaction, and each request
still gets its own order or its own error."""

from __future__ import annotations

import threading
import time
from typing import Any

from app.orders.grouped import MAX_GROUP, GroupCommit


class Store:
    """Stand-in transaction functions that record what was stored together. The first
    single store waits for ``release`` so that the other requests queue up behind it."""

    def __init__(self, fail_group: bool = False, bad: str | None = None) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.calls: list[list[str]] = []
        self.fail_group = fail_group
        self.bad = bad

    def one(self, doc: dict[str, Any]) -> Any:
        if not self.started.is_set():
            self.started.set()
            assert self.release.wait(10)
        self.calls.append([doc["id"]])
        if doc["id"] == self.bad:
            raise ValueError(f"bad order {doc['id']}")
        return ("stored", doc["id"])

    def many(self, docs: list[dict[str, Any]]) -> list[Any]:
        self.calls.append([d["id"] for d in docs])
        if self.fail_group or any(d["id"] == self.bad for d in docs):
            raise ValueError("the group was refused")
        return [("stored", d["id"]) for d in docs]


def _submit_while_first_is_held(
    store: Store, ids: list[str], max_group: int = MAX_GROUP
) -> dict[str, Any]:
    groups = GroupCommit(store.one, store.many, max_group=max_group)
    answers: dict[str, Any] = {}

    def submit(doc_id: str) -> None:
        try:
            answers[doc_id] = groups.submit({"id": doc_id})
        except ValueError as err:
            answers[doc_id] = err

    first = threading.Thread(target=submit, args=(ids[0],))
    first.start()
    assert store.started.wait(10)  # the first request's transaction is running
    others = [threading.Thread(target=submit, args=(i,)) for i in ids[1:]]
    for t in others:
        t.start()
    deadline = time.monotonic() + 10
    while len(groups._queue) < len(ids) - 1 and time.monotonic() < deadline:
        time.sleep(0.001)
    store.release.set()
    for t in [first, *others]:
        t.join(10)
    answers["groups"] = groups.groups
    return answers


def test_orders_arriving_during_a_transaction_are_stored_together():
    store = Store()
    ids = [f"O{i}" for i in range(6)]
    answers = _submit_while_first_is_held(store, ids)
    assert store.calls[0] == ["O0"]  # a lone request is stored at once, alone
    assert sorted(store.calls[1]) == ids[1:] and len(store.calls) == 2
    assert answers["groups"] == 1
    assert all(answers[i] == ("stored", i) for i in ids)  # each gets its own order


def test_a_refused_group_is_stored_again_one_by_one():
    store = Store(bad="O3")
    ids = [f"O{i}" for i in range(5)]
    answers = _submit_while_first_is_held(store, ids)
    assert sorted(store.calls[1]) == ids[1:]  # the group, refused as a whole
    assert sorted(c[0] for c in store.calls[2:]) == ids[1:]  # then each alone
    assert isinstance(answers["O3"], ValueError) and "O3" in str(answers["O3"])
    assert all(answers[i] == ("stored", i) for i in ids if i != "O3")
    assert answers["groups"] == 0


def test_a_group_larger_than_the_limit_is_split():
    store = Store()
    ids = [f"O{i}" for i in range(8)]
    answers = _submit_while_first_is_held(store, ids, max_group=3)
    assert [len(c) for c in store.calls] == [1, 3, 3, 1]
    assert sorted(x for c in store.calls for x in c) == sorted(ids)
    assert all(answers[i] == ("stored", i) for i in ids)
    assert answers["groups"] == 2
