"""The cost heatmap: cost by order type (one dimension's values) x cost driver.

For each type it shows how many orders it had and what each driver cost; shares compare a
type's part of a driver's cost with its part of the orders. A ratio above 1 means the type
costs more than its volume explains (8 % of orders, 24 % of exception handling: 3.0).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import CostDimension, CostDriver, CostHourly, OrderCost, OrderDimension

TOP = 30


def _f(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def heatmap(
    db: Session, dimension: CostDimension, start: datetime, end: datetime
) -> dict[str, Any]:
    """Cells of the heatmap over orders placed in ``[start, end)`` (UTC hours)."""
    rows = db.execute(
        select(CostHourly.value, CostHourly.driver_id, func.sum(CostHourly.orders),
               func.sum(CostHourly.quantity), func.sum(CostHourly.amount))
        .where(CostHourly.dimension_id == dimension.id, CostHourly.hour >= start, CostHourly.hour < end)
        .group_by(CostHourly.value, CostHourly.driver_id)
    ).all()  # fmt: skip
    volume: dict[str, int] = defaultdict(int)
    cells: dict[tuple[str, int], tuple[int, Decimal, Decimal]] = {}
    for value, driver_id, orders, quantity, amount in rows:
        if driver_id == 0:
            volume[value] += int(orders or 0)
        else:
            cells[(value, driver_id)] = (
                int(orders or 0),
                Decimal(quantity or 0),
                Decimal(amount or 0),
            )
    drivers = list(db.scalars(select(CostDriver).order_by(CostDriver.position, CostDriver.id)))
    all_orders = sum(volume.values())
    driver_totals: dict[int, Decimal] = defaultdict(Decimal)
    for (_value, driver_id), (_n, _q, amount) in cells.items():
        driver_totals[driver_id] += amount
    types = sorted(volume, key=lambda v: (-volume[v], v))[:TOP]
    out_cells = []
    for value in types:
        share_orders = volume[value] / all_orders if all_orders else 0
        for driver in drivers:
            n, quantity, amount = cells.get((value, driver.id), (0, Decimal(0), Decimal(0)))
            total = driver_totals.get(driver.id, Decimal(0))
            share_cost = float(amount / total) if total else 0.0
            out_cells.append({
                "type": value, "driver": driver.key, "amount": _f(amount), "quantity": float(quantity),
                "share_cost": round(share_cost * 100, 2), "share_orders": round(share_orders * 100, 2),
                "ratio": round(share_cost / share_orders, 2) if share_orders and total else None,
                "per_order": _f(amount / volume[value]) if volume[value] else None,
            })  # fmt: skip
    type_totals = {
        value: _f(
            sum((cells.get((value, d.id), (0, 0, Decimal(0)))[2] for d in drivers), Decimal(0))
        )
        for value in types
    }
    return {
        "dimension": dimension.key,
        "types": [
            {
                "type": v,
                "orders": volume[v],
                "cost": type_totals[v],
                "share_orders": round(volume[v] * 100 / all_orders, 2) if all_orders else 0,
            }
            for v in types
        ],  # fmt: skip
        "drivers": [
            {
                "key": d.key,
                "name_zh": d.name_zh,
                "name_en": d.name_en,
                "unit": d.unit,
                "unit_rate": float(d.unit_rate),
                "total": _f(driver_totals.get(d.id, Decimal(0))),
            }
            for d in drivers
        ],  # fmt: skip
        "cells": out_cells,
        "orders": all_orders,
        "cost": _f(sum(driver_totals.values(), Decimal(0))),
    }


def breakdown(db: Session, order_id: int) -> dict[str, Any]:
    """One order's stored cost per driver and its order types."""
    items = db.execute(
        select(CostDriver.key, CostDriver.name_zh, CostDriver.name_en, CostDriver.unit,
               CostDriver.unit_rate, OrderCost.quantity, OrderCost.amount)
        .join(OrderCost, OrderCost.driver_id == CostDriver.id)
        .where(OrderCost.order_id == order_id)
        .order_by(CostDriver.position, CostDriver.id)
    ).all()  # fmt: skip
    types = db.execute(
        select(CostDimension.key, CostDimension.name_zh, CostDimension.name_en, OrderDimension.value)
        .join(OrderDimension, OrderDimension.dimension_id == CostDimension.id)
        .where(OrderDimension.order_id == order_id)
        .order_by(CostDimension.position, CostDimension.id)
    ).all()  # fmt: skip
    total = sum((Decimal(i.amount) for i in items), Decimal(0))
    return {
        "items": [
            {
                "driver": i.key,
                "name_zh": i.name_zh,
                "name_en": i.name_en,
                "unit": i.unit,
                "unit_rate": float(i.unit_rate),
                "quantity": float(i.quantity),
                "amount": _f(Decimal(i.amount)),
            }
            for i in items
        ],  # fmt: skip
        "total": _f(total),
        "types": [
            {"dimension": t.key, "name_zh": t.name_zh, "name_en": t.name_en, "value": t.value}
            for t in types
        ],
    }
