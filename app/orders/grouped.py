"""Group commit for orders posted one per request.

A channel that sends each order in its own request pays a transaction per order: the commit,
the statements and the catalog read. While one request's transaction runs, the orders that
arrive in the process's other threads queue up here; the next transaction stores all of them
together through the batch path (:func:`intake.receive_many`), and each request gets its own
order back. Nothing waits on purpose: a lone request is stored at once, alone, exactly as
before; grouping only happens when requests already overlap.

A group is all or nothing, so when its transaction fails (an invalid order, a conflict) every
order of it is stored again on its own: each request gets its own answer or its own error,
never a neighbour's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

R = TypeVar("R")  # what storing one item gives its request (an order's Received ...)

MAX_GROUP = 50


class _Pending(Generic[R]):
    __slots__ = ("item", "done", "lead", "result", "error")

    def __init__(self, item: Any) -> None:
        self.item = item
        self.done = threading.Event()
        self.lead = False  # woken to store the next group instead of with a result
        self.result: R | None = None
        self.error: BaseException | None = None

    def answer(self) -> R:
        if self.error is not None:
            raise self.error
        if self.result is None:  # the storing thread was interrupted before it got here
            raise RuntimeError("the order's group was not stored")
        return self.result


class GroupCommit(Generic[R]):
    """Stores orders arriving at once in one transaction; one instance per process and kind
    of request.

    ``store_one(item)`` stores a single request's order in its own transaction (an item is
    what the request brought: an order document, a signed channel delivery);
    ``store_many(items)`` stores several in one, all or nothing, returning one result per
    item.
    """

    def __init__(
        self,
        store_one: Callable[[Any], R],
        store_many: Callable[[Sequence[Any]], list[R]],
        max_group: int = MAX_GROUP,
    ) -> None:
        self._store_one = store_one
        self._store_many = store_many
        self._max = max_group
        self._lock = threading.Lock()
        self._queue: list[_Pending[R]] = []
        self._busy = False  # a thread is storing a group
        self.groups = 0  # transactions that stored more than one order (for tests and stats)

    def submit(self, item: Any) -> R:
        """Store ``item``'s order, with whatever else arrives meanwhile; raises its own
        error."""
        pending: _Pending[R] = _Pending(item)
        with self._lock:
            self._queue.append(pending)
            lead = not self._busy
            self._busy = True
        if not lead:
            pending.done.wait()
            if not pending.lead:
                return pending.answer()
        self._lead()
        return pending.answer()

    def _lead(self) -> None:
        """Store the next group (which holds this thread's own order), then hand over."""
        with self._lock:
            group = self._queue[: self._max]
            del self._queue[: self._max]
        try:
            self._store(group)
        finally:
            with self._lock:
                if self._queue:  # the first one waiting stores the next group
                    heir = self._queue[0]
                    heir.lead = True
                    heir.done.set()
                else:
                    self._busy = False
            for pending in group:
                pending.done.set()

    def _store(self, group: list[_Pending[R]]) -> None:
        if len(group) > 1:
            try:
                received = self._store_many([p.item for p in group])
            except Exception as err:  # noqa: BLE001 - each order is stored again alone below
                log.debug(
                    "group of %d orders refused (%s); storing them one by one", len(group), err
                )
            else:
                self.groups += 1
                for pending, answer in zip(group, received, strict=True):
                    pending.result = answer
                return
        for pending in group:
            try:
                pending.result = self._store_one(pending.item)
            except Exception as err:  # noqa: BLE001 - re-raised in the request it belongs to
                pending.error = err
