"""Merge groups (合单) and warehouse allocations (拆单), written inside the run's transaction.

A merge node asks to put its order into the open group of its key. The first order opens the
group until the end of its window; later orders join it and wait for the same closing time,
so the whole group leaves together as one shipment. At most one group per key is open (a
partial unique index): when two first orders race, the loser's insert fails inside a
savepoint and it joins the winner's group instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import rows_matched
from ..errors import ConflictError
from ..models import Order, Shipment, ShipmentOrder

MERGE, SPLIT, SINGLE = "merge", "split", "single"
OPEN, RELEASED, CANCELLED = "open", "released", "cancelled"
IN, LEFT = "in", "left"
KEY_LENGTH = 512


def _open_group(db: Session, key: str) -> Shipment | None:
    query = select(Shipment).where(
        Shipment.group_key == key, Shipment.kind == MERGE, Shipment.status == OPEN
    )
    return db.scalars(query.with_for_update()).first()


def _members_of(db: Session, shipment_ids: Iterable[int]) -> dict[int, list[str]]:
    """External ids of the orders in each shipment, in joining order, with one query."""
    query = (
        select(ShipmentOrder.shipment_id, Order.external_id)
        .join(ShipmentOrder, ShipmentOrder.order_id == Order.id)
        .where(ShipmentOrder.shipment_id.in_(list(shipment_ids)), ShipmentOrder.status == IN)
        .order_by(ShipmentOrder.id)
    )
    out: dict[int, list[str]] = {}
    for shipment_id, external_id in db.execute(query):
        out.setdefault(shipment_id, []).append(external_id)
    return out


def _members(db: Session, shipment_id: int) -> list[str]:
    return _members_of(db, [shipment_id]).get(shipment_id, [])


def join_group(
    db: Session,
    *,
    group_key: str,
    order_id: int,
    run_id: int | None,
    until: datetime,
    now: datetime,
) -> dict[str, Any]:
    """Put the order into the open group of ``group_key`` (opening one until ``until``).

    Returns what the merge node is answered with: the group's shipment id, closing time, the
    external ids of its orders so far and whether this order opened it.
    """
    key = group_key[:KEY_LENGTH]
    # A group whose window has passed ships as it is; its key is free for a new group.
    db.execute(
        update(Shipment)
        .where(
            Shipment.group_key == key,
            Shipment.kind == MERGE,
            Shipment.status == OPEN,
            Shipment.closes_at <= now,
        )
        .values(status=RELEASED, released_at=now)
    )
    group = _open_group(db, key)
    opened = False
    if group is None:
        candidate = Shipment(
            kind=MERGE, status=OPEN, group_key=key, closes_at=until, created_at=now
        )
        try:
            with db.begin_nested():
                db.add(candidate)
        except IntegrityError:
            group = _open_group(db, key)  # another order opened it first: join theirs
            if group is None:
                raise ConflictError("the merge group changed while joining it") from None
        else:
            group, opened = candidate, True
    member = db.scalars(
        select(ShipmentOrder).where(
            ShipmentOrder.shipment_id == group.id, ShipmentOrder.order_id == order_id
        )
    ).first()
    if member is None:
        db.add(ShipmentOrder(shipment_id=group.id, order_id=order_id, run_id=run_id, lines=[],
                             status=IN, created_at=now))  # fmt: skip
    else:
        member.status, member.run_id = IN, run_id
    db.flush()
    closes_at = group.closes_at or until
    return {"group_key": key, "shipment": str(group.id), "closes_at": closes_at.isoformat(),
            "orders": _members(db, group.id), "opened": opened}  # fmt: skip


def _shipment_id(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def release_group(db: Session, shipment: Any, now: datetime) -> bool:
    """Close a merge group when its window ends (once; later calls change nothing)."""
    shipment_id = _shipment_id(shipment)
    if shipment_id is None:
        return False
    changed = rows_matched(
        db,
        update(Shipment)
        .where(Shipment.id == shipment_id, Shipment.kind == MERGE, Shipment.status == OPEN)
        .values(status=RELEASED, released_at=now),
    )
    return changed == 1


def leave_group(db: Session, shipment: Any, order_id: int, now: datetime) -> None:
    """A cancelled order leaves its group; a group nobody is left in is cancelled."""
    shipment_id = _shipment_id(shipment)
    if shipment_id is None:
        return
    db.execute(
        update(ShipmentOrder)
        .where(ShipmentOrder.shipment_id == shipment_id, ShipmentOrder.order_id == order_id)
        .values(status=LEFT)
    )
    if not _members(db, shipment_id):
        db.execute(
            update(Shipment)
            .where(Shipment.id == shipment_id, Shipment.status == OPEN)
            .values(status=CANCELLED, released_at=now)
        )


def record_allocation(
    db: Session,
    *,
    order_id: int,
    run_id: int | None,
    shipments: Iterable[Mapping[str, Any]],
    now: datetime,
) -> list[int]:
    """Record a split node's allocation: one shipment per warehouse, with its lines."""
    planned = list(shipments)
    kind = SPLIT if len(planned) > 1 else SINGLE
    ids = []
    for plan in planned:
        shipment = Shipment(kind=kind, status=RELEASED, warehouse=str(plan.get("warehouse"))[:64],
                            created_at=now, released_at=now)  # fmt: skip
        db.add(shipment)
        db.flush()
        lines = [{"sku": str(ln["sku"]), "qty": int(ln["qty"])} for ln in plan.get("lines", ())]
        db.add(ShipmentOrder(shipment_id=shipment.id, order_id=order_id, run_id=run_id,
                             lines=lines, status=IN, created_at=now))  # fmt: skip
        ids.append(shipment.id)
    return ids


def of_order(db: Session, order_id: int) -> list[dict[str, Any]]:
    """The shipments an order is in, with the other orders sharing them."""
    rows = db.execute(
        select(Shipment, ShipmentOrder)
        .join(ShipmentOrder, ShipmentOrder.shipment_id == Shipment.id)
        .where(ShipmentOrder.order_id == order_id)
        .order_by(Shipment.id)
    ).all()
    members = _members_of(db, [s.id for s, _ in rows])
    return [
        {
            "id": s.id,
            "kind": s.kind,
            "status": s.status,
            "warehouse": s.warehouse,
            "closes_at": s.closes_at,
            "lines": member.lines,
            "in_shipment": member.status == IN,
            "orders": members.get(s.id, []),
        }
        for s, member in rows
    ]


def stats(
    db: Session, start: datetime, end: datetime, channels: Iterable[str] = ()
) -> dict[str, Any]:
    """Split and merge figures for shipments created in ``[start, end)``.

    ``split_rate`` is the share of allocated orders that ship from more than one warehouse;
    ``merge_rate`` the share of held orders that left in a group with another order.
    """
    wanted = tuple(channels)

    def orders_in(*where: Any) -> Any:
        query = (
            select(func.count(func.distinct(ShipmentOrder.order_id)))
            .join(Shipment, Shipment.id == ShipmentOrder.shipment_id)
            .where(Shipment.created_at >= start, Shipment.created_at < end, *where)
        )
        if wanted:
            query = query.join(Order, Order.id == ShipmentOrder.order_id).where(
                Order.channel.in_(wanted)
            )
        return db.scalar(query) or 0

    allocated = orders_in(Shipment.kind.in_((SPLIT, SINGLE)))
    split = orders_in(Shipment.kind == SPLIT)
    held = orders_in(Shipment.kind == MERGE, ShipmentOrder.status == IN)
    shared = (
        select(ShipmentOrder.shipment_id)
        .where(ShipmentOrder.status == IN)
        .group_by(ShipmentOrder.shipment_id)
        .having(func.count() > 1)
    )
    merged = orders_in(Shipment.kind == MERGE, ShipmentOrder.status == IN, Shipment.id.in_(shared))
    return {
        "allocated_orders": allocated,
        "split_orders": split,
        "split_rate": round(split * 100 / allocated, 2) if allocated else None,
        "held_orders": held,
        "merged_orders": merged,
        "merge_rate": round(merged * 100 / held, 2) if held else None,
    }
