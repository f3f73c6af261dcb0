"""Rebuilding the facts, cost breakdown and order types of orders that changed.

An order's facts are a pure function of the order, its runs' audit trail, its outbox
messages and its status events, so rebuilding them is always safe; the refresher rebuilds
every order touched since its last pass. Observers (per-order alert rules) see each rebuilt
order with its evaluation context in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from ..costs.compute import Breakdown, Catalog, order_context
from ..models import OrderCost, OrderDimension, OrderFact
from . import history
from .rollups import hour_of

CHUNK = 500


@dataclass
class Rebuilt:
    """One rebuilt order, as observers see it."""

    data: history.OrderData
    breakdown: Breakdown
    context: dict[str, Any]


Observer = Callable[[Session, Sequence[Rebuilt], datetime], None]


@dataclass
class Touched:
    """The hours whose recomputed rollups need rebuilding."""

    created: set[datetime]
    delivered: set[datetime]


def rebuild(
    db: Session,
    order_ids: Iterable[int],
    now: datetime,
    *,
    catalog: Catalog | None = None,
    observers: Sequence[Observer] = (),
) -> Touched:
    """Rebuild facts, costs and order types of ``order_ids``; returns the hours touched."""
    ids = sorted(set(order_ids))
    touched = Touched(set(), set())
    if not ids:
        return touched
    catalog = catalog or Catalog.load(db)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        previous = dict(
            db.execute(
                select(OrderFact.order_id, OrderFact.delivered_at).where(
                    OrderFact.order_id.in_(chunk)
                )
            ).all()
        )
        for moment in previous.values():
            if moment is not None:
                touched.delivered.add(hour_of(moment))
        rebuilt = [rebuilt_view(data, catalog, now) for data in history.load(db, chunk, now)]
        _write(db, chunk, rebuilt, catalog, now)
        for item in rebuilt:
            touched.created.add(hour_of(item.data.created_at))
            if item.data.delivered_at is not None:
                touched.delivered.add(hour_of(item.data.delivered_at))
        for observe in observers:
            observe(db, rebuilt, now)
    return touched


def rebuilt_view(data: history.OrderData, catalog: Catalog, now: datetime) -> Rebuilt:
    context = order_context(data.doc, data.history, data.vars)
    breakdown = catalog.breakdown(context, now)
    context["cost"] = breakdown.cost_view()
    return Rebuilt(data, breakdown, context)


def fact_row(item: Rebuilt, costed: bool, now: datetime) -> dict[str, Any]:
    data, h = item.data, item.data.history
    doc = data.doc
    address = _object(doc.get("shipping_address"))
    customer = _object(doc.get("customer"))
    on_time = None
    if data.delivered_at is not None and data.promised_at is not None:
        on_time = data.delivered_at <= data.promised_at
    manual = bool(h["approvals"] or h["incidents"] or h["retries"] or h["manual_actions"])
    return {
        "order_id": data.order_id,
        "created_at": data.created_at,
        "channel": data.channel,
        "status": data.status,
        "status_at": data.status_at or data.created_at,
        "urgent": doc.get("urgent") is True,
        "amount": data.amount,
        "province": _text(address.get("province"), 64),
        "customer_tier": _text(customer.get("tier"), 32),
        "outcome": _text(h["outcome"], 64),
        "promised_at": data.promised_at,
        "delivered_at": data.delivered_at,
        "lead_seconds": (data.delivered_at - data.created_at).total_seconds()
        if data.delivered_at is not None
        else None,
        "on_time": on_time,
        "manual": manual,
        "incidents": int(h["incidents"]),
        "retries": int(h["retries"]),
        "approvals": int(h["approvals"]),
        "cost_total": item.breakdown.total if costed else None,
        "updated_at": now,
    }


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if value not in (None, "") else None


def _write(
    db: Session, chunk: list[int], rebuilt: list[Rebuilt], catalog: Catalog, now: datetime
) -> None:
    for model in (OrderFact, OrderCost, OrderDimension):
        db.execute(delete(model).where(model.order_id.in_(chunk)))
    if not rebuilt:
        return
    costed = bool(catalog.drivers)
    db.execute(insert(OrderFact), [fact_row(item, costed, now) for item in rebuilt])
    driver_ids = {d.key: d.id for d in catalog.drivers}
    costs = [
        {"order_id": item.data.order_id, "driver_id": driver_ids[key], "quantity": q, "amount": a}
        for item in rebuilt
        for key, (q, a) in item.breakdown.items.items()
    ]
    if costs:
        db.execute(insert(OrderCost), costs)
    types = [
        {"order_id": item.data.order_id, "dimension_id": dim, "value": value}
        for item in rebuilt
        for dim, value in item.breakdown.types.items()
    ]
    if types:
        db.execute(insert(OrderDimension), types)
