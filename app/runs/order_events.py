"""Order events announced to the rest of OrderFlow.

Every change that other parts may react to (a status that moved the order, fields a flow
set, an alert about the order) is announced here once, in the transaction that made it:
the trigger dispatch starts the flows it matches (:mod:`app.runs.triggers`), and the kinds
admins subscribe to are queued for their subscriptions (:mod:`app.subscriptions`).

``order.updated`` chains are bounded: a flow's own field changes never start that same
flow again, and flows started by field changes that themselves change fields (A sets x,
B starts on x and sets y, C starts on y ...) go at most :data:`MAX_CHAIN` deep in one
transaction; deeper, the chain stops and an alert says where.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from ..models import Alert, Order, Run
from .cache import CatalogStamp, catalog_stamp
from .events import EVENTS as SUBSCRIBABLE
from .events import publish
from .triggers import OrderEvent, start_runs_for_event
from .writeback import OrderUpdate
from .writer import listen_to_order_updates

log = logging.getLogger(__name__)
MAX_CHAIN = 5
_DEPTH = "orderflow.order_updated_depth"


def init_app(app: Flask) -> None:
    listen_to_order_updates(announce_field_updates)


def announce_order_event(
    db: Session,
    kind: str,
    order: Order,
    data: Mapping[str, Any],
    *,
    key: str,
    now: datetime | None = None,
    stamp: CatalogStamp | None = None,
) -> list[Run]:
    """Announce event ``kind`` (``order.status_changed``, ``order.paid``,
    ``order.updated`` ...) about ``order``; ``key`` is the event's identity, the same when
    the same event is delivered again (see :class:`app.runs.triggers.OrderEvent`). Returns
    the runs it started. No commit. Events announced together pass the catalog ``stamp``
    read once."""
    if kind in SUBSCRIBABLE:
        publish(db, kind, order, dict(data), key=key, now=now, stamp=stamp)
    return start_runs_for_event(db, OrderEvent(kind, order, key, data), now=now, stamp=stamp)


def announce_field_updates(
    db: Session, updates: list[OrderUpdate], now: datetime, stamp: CatalogStamp | None = None
) -> None:
    """Announce ``order.updated`` for the order fields runs just wrote, against the catalog
    ``stamp`` the runs started with (read here when not given)."""
    depth = db.info.get(_DEPTH, 0)
    stamp = stamp or catalog_stamp(db)  # once for all the orders of a batch, not per order
    for update in updates:
        order = db.get(Order, update.order_id)
        if order is None:  # deleted in this same transaction
            continue
        if depth >= MAX_CHAIN:
            _chain_too_deep(db, order, update)
            continue
        data = {"fields": list(update.fields), "flow": update.flow_key, "run_id": update.run_id}
        db.info[_DEPTH] = depth + 1
        try:
            announce_order_event(db, "order.updated", order, data, key=update.key, now=now,
                                 stamp=stamp)  # fmt: skip
        finally:
            db.info[_DEPTH] = depth


def _chain_too_deep(db: Session, order: Order, update: OrderUpdate) -> None:
    key = f"update-chain:order:{order.id}"
    if any(isinstance(o, Alert) and o.dedup_key == key for o in db.new):
        return  # one alert per order and transaction, however many branches went too deep
    log.error("order %s: order.updated chain deeper than %d at flow %s; stopped",
              order.id, MAX_CHAIN, update.flow_key)  # fmt: skip
    db.add(
        Alert(
            order_id=order.id,
            run_id=update.run_id,
            source=f"trigger:{update.flow_key}",
            severity="critical",
            title=f"订单 {order.external_id} 的字段更新连锁触发超过 {MAX_CHAIN} 层，已停止",
            message=(
                f"Flows updating fields of order {order.external_id} started each other more"
                f" than {MAX_CHAIN} levels deep (last: {update.flow_key} set"
                f" {', '.join(update.fields)}); order.updated was not announced further."
            ),
            dedup_key=key,
            data={"fields": list(update.fields), "flow": update.flow_key},
        )
    )
