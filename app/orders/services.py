"""Orders in: store a checked canonical document once and start the flows it triggers.

Documents are checked before they get here, by :mod:`app.orders.intake` (every way an order
comes in goes through it) against the effective schema of :mod:`app.order_fields`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, make_transient_to_detached

from flow_engine import order_schema

from ..db import insert_ignoring_duplicates
from ..errors import ConflictError
from ..inventory.services import StockView
from ..models import Order, OrderFieldChange, Run, utcnow
from ..runs import services as runs
from ..runs.cache import catalog_stamp
from ..runs.writeback import on_hold
from ..runs.writer import Writes
from ..subscriptions import publish

log = logging.getLogger(__name__)


def field_history(db: Session, order_id: int) -> list[OrderFieldChange]:
    """The order fields flows changed, oldest first."""
    return list(
        db.scalars(
            select(OrderFieldChange)
            .where(OrderFieldChange.order_id == order_id)
            .order_by(OrderFieldChange.id)
        )
    )


# The built-in order fields flows may set, as the order page shows them.
DECIDED_FIELDS = ("priority", "warehouse", "carrier", "holds", "tags")


def decided_fields(order: Order, language: str) -> list[dict[str, Any]]:
    """The built-in fields flows set on ``order``: name, label, value and value as shown
    (labels and the priority's words from the order schema, in ``language``)."""
    props = order_schema()["properties"]
    out = []
    for name in DECIDED_FIELDS:
        spec = props[name]
        value = (order.data or {}).get(name)
        label = spec.get("x-label-zh") if language == "zh" else spec.get("x-label-en")
        shown: Any
        if isinstance(value, list):
            shown = ", ".join(str(v) for v in value)
        elif name == "priority" and language == "zh":
            shown = (spec.get("x-enum-zh") or {}).get(value, value)
        else:
            shown = value
        out.append({"name": name, "label": label or name, "value": value, "shown": shown})
    return out


def hold_change(before: Any, after: Any) -> dict[str, list[str]]:
    """The holds a change of ``holds`` placed and released."""
    old = [str(h) for h in before] if isinstance(before, list) else []
    new = [str(h) for h in after] if isinstance(after, list) else []
    return {
        "placed": [h for h in new if h not in old],
        "released": [h for h in old if h not in new],
    }


def find_existing(
    db: Session, *, channel: str, external_id: str, idempotency_key: str | None = None
) -> Order | None:
    if idempotency_key:
        found = db.scalars(
            select(Order).where(Order.idempotency_key == idempotency_key)
        ).one_or_none()
        if found is not None:
            return found
    return db.scalars(
        select(Order).where(Order.channel == channel, Order.external_id == external_id)
    ).one_or_none()


def ingest(
    db: Session,
    doc: Mapping[str, Any],
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> tuple[Order, bool, list[Run]]:
    """Store ``doc``, already checked by ``order_fields``, and start its flows in the
    caller's transaction.

    Returns ``(order, created, runs)``. An order seen before (same channel and external id,
    or same idempotency key) is returned as it is, with ``created`` false and no new runs,
    also when two identical requests race.
    """
    return _store(db, doc, idempotency_key=idempotency_key, now=now or utcnow())


def ingest_many(
    db: Session,
    docs: Sequence[Mapping[str, Any]],
    *,
    idempotency_keys: Sequence[str | None] | None = None,
    now: datetime | None = None,
) -> list[tuple[Order, bool, list[Run]]]:
    """Store a batch of orders, already checked by ``order_fields``, and start their flows
    in one transaction, all or nothing.

    The batch shares one catalog read and writes the runs' rows together, which is what makes bulk intake fast.
    ``idempotency_keys`` (one per order, or None) are stored with the orders; an order whose
    key or whose channel and external id were seen before comes back as it is, as in
    :func:`ingest`.
    """
    now = now or utcnow()
    stamp = catalog_stamp(db)
    writes = Writes(db, now, stamp)
    keys = idempotency_keys or [None] * len(docs)
    rows = [_order_row(doc, now=now, idempotency_key=k) for doc, k in zip(docs, keys, strict=True)]
    # One statement stores the whole batch; orders seen before are skipped by it and found.
    stored = _insert_many(db, rows)
    writes.stock = StockView(db, {sku for doc in docs for sku in runs.order_skus(doc)})
    runs.reserve_runs(db, sorted(stored.values()), writes, stamp)
    results: list[tuple[Order, bool, list[Run]]] = []
    for values in rows:
        order_id = stored.pop((values["channel"], values["external_id"]), None)
        if order_id is None:  # stored before, or earlier in this same batch
            results.append((_existing(db, values), False, []))
            continue
        order = _attach(db, order_id, values)
        # Announced before its runs start: what they report (an incident) comes after.
        publish(db, "order.created", order, {}, now=now, writes=writes, stamp=stamp)
        started = runs.start_runs(db, order, now=now, writes=writes, stamp=stamp)
        results.append((order, True, started))
    writes.flush()
    return results


def _order_row(
    doc: Mapping[str, Any], *, now: datetime, idempotency_key: str | None = None
) -> dict[str, Any]:
    customer = doc.get("customer")
    if not isinstance(customer, Mapping):
        customer = {}
    amount = doc.get("amount")
    return {
        "channel": str(doc["channel"]),
        "external_id": str(doc["external_id"]),
        "idempotency_key": idempotency_key,
        "tracking_id": secrets.token_urlsafe(12),
        "status": str(doc.get("status") or "created"),
        "customer_id": str(customer["id"]) if customer.get("id") is not None else None,
        "amount": Decimal(str(amount)) if amount is not None else None,
        "data": dict(doc),
        "on_hold": on_hold(doc),
        "created_at": now,
        "updated_at": now,
    }


def _existing(db: Session, values: Mapping[str, Any]) -> Order:
    existing = find_existing(
        db,
        channel=values["channel"],
        external_id=values["external_id"],
        idempotency_key=values["idempotency_key"],
    )
    if existing is None:  # a tracking id collision (2**-96): the caller's retry draws anew
        raise ConflictError("the order could not be stored; try again")
    return existing


def _attach(db: Session, order_id: int, values: Mapping[str, Any]) -> Order:
    order = Order(id=order_id, **values)
    make_transient_to_detached(order)
    db.add(order)  # persistent and clean, without reading back the row just written
    return order


def _store(
    db: Session,
    doc: Mapping[str, Any],
    *,
    now: datetime,
    idempotency_key: str | None = None,
) -> tuple[Order, bool, list[Run]]:
    values = _order_row(doc, now=now, idempotency_key=idempotency_key)
    # One statement that stores the order unless a concurrent request stored it first.
    order_id = db.connection().execute(_insert_ignoring_duplicates(db), values).scalar()
    if order_id is None:
        return _existing(db, values), False, []
    order = _attach(db, order_id, values)
    stamp = catalog_stamp(db)
    publish(db, "order.created", order, {}, now=now, stamp=stamp)
    # As for a batch: the order's stock read once, its lines taken from that view and
    # written with one statement for all of them at flush.
    writes = Writes(db, now, stamp)
    writes.stock = StockView(db, runs.order_skus(doc))
    started = runs.start_runs(db, order, now=now, stamp=stamp, writes=writes)
    writes.flush()
    return order, True, started


def _insert_many(db: Session, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Insert ``rows`` skipping duplicates; ``{(channel, external_id): id}`` of those stored."""
    table = Order.__table__
    statement = _insert_base(db.get_bind().dialect.name).returning(
        table.c.id, table.c.channel, table.c.external_id
    )
    result = db.connection().execute(statement, rows)
    return {(channel, external_id): order_id for order_id, channel, external_id in result}


def _insert_base(dialect: str) -> Any:
    return insert_ignoring_duplicates(dialect, Order.__table__)


@cache
def _insert_for(dialect: str) -> Any:
    return _insert_base(dialect).returning(Order.__table__.c.id)


def _insert_ignoring_duplicates(db: Session) -> Any:
    """INSERT .. ON CONFLICT DO NOTHING RETURNING id (built once per database kind)."""
    return _insert_for(db.get_bind().dialect.name)
