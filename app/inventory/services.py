"""Stock and reservations. A reservation is one conditional UPDATE per line inside the
run's transaction: two orders can never hold the same last unit, on SQLite or PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..models import InventoryItem, Reservation, table_of, utcnow

log = logging.getLogger(__name__)
RESERVATIONS = table_of(Reservation)


def set_stock(db: Session, sku: str, warehouse: str, on_hand: int) -> InventoryItem:
    """Set the physical stock of ``sku`` in ``warehouse`` (reservations are kept)."""
    item = db.scalars(
        select(InventoryItem).where(InventoryItem.sku == sku, InventoryItem.warehouse == warehouse)
    ).one_or_none()
    if item is None:
        item = InventoryItem(sku=sku, warehouse=warehouse, on_hand=on_hand, reserved=0)
        db.add(item)
    else:
        item.on_hand = on_hand
        item.updated_at = utcnow()
    db.flush()
    return item


def available_for(db: Session, skus: Iterable[str]) -> dict[str, dict[str, int]]:
    """``{warehouse: {sku: available}}`` for the given SKUs, as flows read it in ``ref``."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    rows = db.connection().execute(_AVAILABLE, {"skus": wanted})
    out: dict[str, dict[str, int]] = {}
    for warehouse, sku, available in rows:
        out.setdefault(warehouse, {})[sku] = int(available)
    return out


def reserve(
    db: Session,
    *,
    effect_id: str,
    run_id: int | None,
    allocations: Iterable[Mapping[str, Any]],
    rows: list[dict[str, Any]] | None = None,
    view: StockView | None = None,
) -> dict[str, Any]:
    """Reserve every allocation or none. Returns ``{"status": "reserved" | "insufficient", ...}``.

    Runs inside the caller's transaction; when a later line falls short, the lines already
    taken are given back before returning, so nothing stays reserved. The reservation
    records are appended to ``rows`` when given (the caller writes them with its other rows
    before commit), else inserted here.

    Without ``view`` the stock is taken at once, one conditional UPDATE per line. A batch
    passes its :class:`StockView`: the stock is then taken from the view and written with one
    conditional UPDATE per item for the whole batch (:meth:`StockView.write`).
    """
    lines: dict[tuple[str, str], int] = {}
    for a in allocations:
        key = (str(a["warehouse"]), str(a["sku"]))
        lines[key] = lines.get(key, 0) + int(a["qty"])
    if view is not None:
        short = view.take(lines)
        if short:
            return {"status": "insufficient", "shortages": short}
        taken = [(w, s, q) for (w, s), q in sorted(lines.items())]
        return _reserved(db, effect_id, run_id, taken, rows)
    done: list[tuple[str, str, int]] = []
    short = []
    for (warehouse, sku), qty in sorted(lines.items()):
        if _adjust(db, warehouse, sku, qty) == 1:
            done.append((warehouse, sku, qty))
        else:
            short.append({"warehouse": warehouse, "sku": sku, "requested": qty})
    if short:
        for warehouse, sku, qty in done:  # all or nothing: give back what this call took
            _adjust(db, warehouse, sku, -qty)
        available = available_for(db, [s["sku"] for s in short])
        for s in short:
            s["available"] = available.get(s["warehouse"], {}).get(s["sku"], 0)
        return {"status": "insufficient", "shortages": short}
    return _reserved(db, effect_id, run_id, done, rows)


def _reserved(
    db: Session,
    effect_id: str,
    run_id: int | None,
    done: list[tuple[str, str, int]],
    rows: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    # The unique (effect, sku, warehouse) constraint refuses a second reservation by one effect.
    now = utcnow()
    records = [
        {"effect_id": effect_id, "run_id": run_id, "sku": s, "warehouse": w, "qty": q,
         "status": "held", "created_at": now}
        for w, s, q in done
    ]  # fmt: skip
    if rows is None:
        db.connection().execute(RESERVATIONS.insert(), records)
    else:
        rows.extend(records)
    return {"status": "reserved", "allocations": [_line(w, s, q) for w, s, q in done]}


def _adjust(db: Session, warehouse: str, sku: str, qty: int) -> int:
    """Change the reserved count by ``qty`` if the stock allows it; returns rows changed."""
    statement = _TAKE if qty > 0 else _GIVE_BACK
    params = {"w": warehouse, "s": sku, "q": qty, "now": utcnow()}
    return db.connection().execute(statement, params).rowcount


# Statements on the ingest path are built once and reused with new parameters.
_AVAILABLE = select(
    InventoryItem.warehouse, InventoryItem.sku, InventoryItem.on_hand - InventoryItem.reserved
).where(InventoryItem.sku.in_(bindparam("skus", expanding=True)))
_ITEM = and_(InventoryItem.sku == bindparam("s"), InventoryItem.warehouse == bindparam("w"))
_TAKE = (
    update(InventoryItem)
    .where(_ITEM, InventoryItem.on_hand - InventoryItem.reserved >= bindparam("q"))
    .values(reserved=InventoryItem.reserved + bindparam("q"), updated_at=bindparam("now"))
)
_GIVE_BACK = (
    update(InventoryItem)
    .where(_ITEM)
    .values(reserved=InventoryItem.reserved + bindparam("q"), updated_at=bindparam("now"))
)


def release(db: Session, *, run_id: int | None, allocations: Iterable[Mapping[str, Any]]) -> int:
    """Give back held reservations of ``run_id`` matching ``allocations``; returns units freed."""
    freed = 0
    for a in allocations:
        held = db.scalars(
            select(Reservation)
            .where(
                Reservation.run_id == run_id,
                Reservation.sku == str(a["sku"]),
                Reservation.warehouse == str(a["warehouse"]),
                Reservation.status == "held",
            )
            .order_by(Reservation.id)
        ).all()
        for r in held:
            db.execute(
                update(InventoryItem)
                .where(InventoryItem.sku == r.sku, InventoryItem.warehouse == r.warehouse)
                .values(reserved=InventoryItem.reserved - r.qty, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            r.status = "released"
            r.released_at = utcnow()
            freed += r.qty
    db.flush()
    return freed


def _line(warehouse: str, sku: str, qty: int) -> dict[str, Any]:
    return {"warehouse": warehouse, "sku": sku, "qty": qty}


class StockView:
    """Available stock of a batch's SKUs, read with one query and kept up to date by the
    batch's own reservations and releases.

    A batch of orders runs in one transaction. Its reservations are taken from the view and
    summed per item; :meth:`write` then takes each item's total with one conditional UPDATE,
    in a fixed order, instead of one UPDATE per order line (on PostgreSQL every UPDATE of a
    row adds a row version that later UPDATEs in the same transaction must step over, so a
    batch of orders for the same few SKUs slowed down with its size). On SQLite the batch
    holds the write lock throughout and the view is exact. On PostgreSQL another transaction
    may take stock meanwhile: when an item's total no longer fits, :meth:`write` raises
    ``StaleDataError`` and the batch is run again from a fresh read (``in_transaction``).
    """

    def __init__(self, db: Session, skus: Iterable[str]) -> None:
        self.db = db
        self.known: set[str] = set()
        self.stock: dict[str, dict[str, int]] = {}
        # Units taken from the view and not yet written: {(warehouse, sku): qty}.
        self.pending: dict[tuple[str, str], int] = {}
        self._load(skus)

    def take(self, lines: Mapping[tuple[str, str], int]) -> list[dict[str, Any]]:
        """Take every ``{(warehouse, sku): qty}`` line, or none; returns the shortages."""
        self._load(sku for _, sku in lines)
        short = []
        for (warehouse, sku), qty in sorted(lines.items()):
            available = self.stock.get(warehouse, {}).get(sku, 0)
            if available < qty:
                short.append(
                    {"warehouse": warehouse, "sku": sku, "requested": qty, "available": available}
                )
        if short:
            return short
        for (warehouse, sku), qty in lines.items():
            self.stock[warehouse][sku] -= qty
            self.pending[(warehouse, sku)] = self.pending.get((warehouse, sku), 0) + qty
        return []

    def write(self) -> None:
        """Write the units taken since the last write: one conditional UPDATE per item, sent
        together (one round trip on PostgreSQL); every item must match exactly one row."""
        if not self.pending:
            return
        now = utcnow()
        params = [
            {"w": warehouse, "s": sku, "q": qty, "now": now}
            for (warehouse, sku), qty in sorted(self.pending.items())
        ]
        changed = self.db.connection().execute(_TAKE, params).rowcount
        if changed != len(params):
            items = ", ".join(f"{p['s']} in {p['w']}" for p in params)
            raise StaleDataError(f"the stock of one of {items} changed meanwhile")
        self.pending = {}

    def _load(self, skus: Iterable[str]) -> None:
        wanted = {s for s in skus if s and s not in self.known}
        if not wanted:
            return
        for warehouse, by_sku in available_for(self.db, wanted).items():
            self.stock.setdefault(warehouse, {}).update(by_sku)
        self.known |= wanted

    def available(self, skus: Iterable[str]) -> dict[str, dict[str, int]]:
        """``{warehouse: {sku: available}}`` for ``skus``, as :func:`available_for` gives it."""
        wanted = sorted(set(skus))
        self._load(wanted)
        out: dict[str, dict[str, int]] = {}
        for warehouse, by_sku in self.stock.items():
            # Look up the order's few SKUs rather than walk the warehouse's many.
            picked = {s: by_sku[s] for s in wanted if s in by_sku}
            if picked:
                out[warehouse] = picked
        return out

    def forget(self, skus: Iterable[str]) -> None:
        """Read these SKUs again next time (stock was given back outside the view)."""
        self.write()
        gone = set(skus)
        self.known -= gone
        for by_sku in self.stock.values():
            for sku in gone:
                by_sku.pop(sku, None)
