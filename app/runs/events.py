"""Publishing order events to subscriptions, in the caller's transaction.

The active subscriptions are read once per transaction (one small query, none for the
events of a batch after the first). Order intake passes the catalog stamp it reads anyway,
which fingerprints the subscriptions: it then uses this process's copy while the stamp is
unchanged, and publishing costs no query at all. Each matching subscription gets one outbox message; the outbox signs, delivers,
retries and dead-letters it like any webhook.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..jsontext import canonical, jsonable
from ..models import Order, Subscription, utcnow
from .cache import CatalogStamp
from .writer import Writes

# kind: (English, Chinese) description; the one list of what can be subscribed to.
EVENTS: dict[str, tuple[str, str]] = {
    "order.created": ("An order was received", "收到新订单"),
    "order.updated": ("A flow changed fields of an order", "流程修改了订单字段"),
    "order.status_changed": ("The order moved to another state", "订单状态变更"),
    "order.decided": ("An approval of the order was decided", "订单的审批已决定"),
    "order.incident": ("A run of the order stopped in an incident", "订单的运行出现异常"),
}
_CACHE_KEY = "subscriptions.active"


@dataclass(frozen=True)
class Target:
    """What publishing needs of an active subscription (detached from any session)."""

    id: int
    url: str
    events: frozenset[str]
    channel: str | None


_ACTIVE = select(
    Subscription.id, Subscription.url, Subscription.events, Subscription.channel
).where(Subscription.active.is_(True))


@dataclass
class _Published:
    """What this transaction knows: the active subscriptions, the events it queued."""

    transaction: object
    targets: list[Target] | None
    events: set[str]


class _ByStamp:
    """This process's copy of the active subscriptions, for one catalog stamp."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[object, ...] | None = None
        self._targets: list[Target] = []

    def get(self, db: Session, stamp: tuple[object, ...]) -> list[Target]:
        with self._lock:
            if stamp == self._stamp:
                return self._targets
        targets = _read(db)
        with self._lock:
            self._stamp, self._targets = stamp, targets
        return targets


_by_stamp = _ByStamp()


def _read(db: Session) -> list[Target]:
    return [
        Target(row.id, row.url, frozenset(row.events or ()), row.channel)
        for row in db.execute(_ACTIVE)
    ]


def _state(db: Session, stamp: CatalogStamp | None) -> _Published:
    transaction = db.get_transaction()
    state = db.info.get(_CACHE_KEY)
    if state is None or state.transaction is not transaction:
        db.info[_CACHE_KEY] = state = _Published(transaction, None, set())
    if state.targets is None:
        # A stamp read in this transaction, before any change of it: the process copy fits.
        if stamp is not None and stamp.subscriptions:
            state.targets = _by_stamp.get(db, stamp.subscriptions)
        else:
            state.targets = _read(db)
    return state


def forget(db: Session) -> None:
    """Read the subscriptions afresh in this transaction (after one changed)."""
    state = db.info.get(_CACHE_KEY)
    if state is not None:
        state.targets = None


def event_id(kind: str, order: Order, key: Any) -> str:
    """A stable id of an event: the same order, kind and key give the same id."""
    text = canonical([kind, order.tracking_id, jsonable(key)])
    return "evt_" + hashlib.sha256(text.encode()).hexdigest()[:32]


def order_summary(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "channel": order.channel,
        "external_id": order.external_id,
        "tracking_id": order.tracking_id,
        "status": order.status,
        "customer_id": order.customer_id,
        "amount": order.amount,
        "currency": (order.data or {}).get("currency"),
        "created_at": _iso(order.created_at),
        "updated_at": _iso(order.updated_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def publish(
    db: Session,
    kind: str,
    order: Order,
    data: dict[str, Any] | None = None,
    *,
    key: Any = None,
    now: datetime | None = None,
    writes: Writes | None = None,
    stamp: CatalogStamp | None = None,
) -> int:
    """Queue ``kind`` about ``order`` for every active subscription that wants it; returns
    how many messages were queued. No commit.

    ``key`` identifies the event among the order's events of this kind (a status event's
    id, a task's key); without it the data and the time do. A batch passes its ``writes``, which then
    inserts the messages with its other rows; intake passes its catalog ``stamp``.
    """
    if kind not in EVENTS:
        raise ValueError(f"unknown order event {kind!r}; known: {', '.join(EVENTS)}")
    state = _state(db, stamp)
    targets = [
        t
        for t in state.targets or ()
        if kind in t.events and (t.channel is None or t.channel == order.channel)
    ]
    if not targets:
        return 0
    moment = now or utcnow()
    data = jsonable(data or {})
    # Without a key, the same change made again later is another event: its time tells.
    identity = event_id(kind, order, [data, moment.isoformat()] if key is None else key)
    if identity in state.events:  # the very same event twice in one transaction
        return 0
    state.events.add(identity)
    body = {
        "id": identity,
        "type": kind,
        "occurred_at": moment.isoformat(),
        "order": order_summary(order),
        "data": data,
    }
    own = writes is None
    writes = writes or Writes(db, moment)
    for target in targets:
        writes.outbox.append(
            {
                "run_id": None,
                "subscription_id": target.id,
                # Also the Idempotency-Key: the same for every retry and replay.
                "effect_id": f"{identity}.{target.id}",
                "kind": "webhook",
                "payload": {"url": target.url, "body": body},
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": moment,
                "created_at": moment,
            }
        )
    if own:
        writes.flush()
    return len(targets)
