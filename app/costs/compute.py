"""Each order's cost breakdown and order types, from the configured drivers and dimensions.

A :class:`Catalog` compiles every active driver's formula and dimension's expression once
(type-checked against the order schema with its custom fields) and is then applied to many
orders: quantity = formula(context), cost = quantity x unit rate, rounded to the cent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rule_dsl import DslError, Expression, compile_expression

from ..models import CostDimension, CostDriver
from ..order_fields import effective_schema
from .context import order_context_schema, schema_key

log = logging.getLogger(__name__)
CENT = Decimal("0.01")
NO_VALUE = "—"
_compiled: dict[tuple[str, str, str | None], Expression] = {}
_lock = threading.Lock()


def compiled(source: str, schema: Mapping[str, Any], expect: str | None) -> Expression:
    """Compile ``source`` against ``schema`` once per process (raises DslError)."""
    key = (source, schema_key(schema), expect)
    with _lock:
        hit = _compiled.get(key)
    if hit is not None:
        return hit
    expr = compile_expression(source, schema, expect=expect)
    with _lock:
        if len(_compiled) > 2000:
            _compiled.clear()
        _compiled[key] = expr
    return expr


@dataclass(frozen=True)
class DriverSpec:
    id: int
    key: str
    unit_rate: Decimal
    expr: Expression | None
    error: str | None = None


@dataclass(frozen=True)
class DimensionSpec:
    id: int
    key: str
    expr: Expression | None
    error: str | None = None


@dataclass
class Breakdown:
    """One order's cost per driver (key -> (quantity, amount)), total and order types."""

    items: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    total: Decimal = Decimal("0.00")
    types: dict[int, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def cost_view(self) -> dict[str, Any]:
        """What per-order alert conditions read as ``cost``."""
        out: dict[str, Any] = {key: amount for key, (_q, amount) in self.items.items()}
        out["total"] = self.total
        return out


@dataclass
class Catalog:
    """The active drivers and dimensions, compiled, and the schema they were checked with."""

    drivers: list[DriverSpec]
    dimensions: list[DimensionSpec]
    order_schema: dict[str, Any]

    @classmethod
    def load(cls, db: Session) -> Catalog:
        order_schema = effective_schema(db)
        schema = order_context_schema(order_schema)
        drivers = []
        for row in db.scalars(
            select(CostDriver)
            .where(CostDriver.active.is_(True))
            .order_by(CostDriver.position, CostDriver.id)
        ):
            expr, error = _try(row.formula, schema, "number")
            drivers.append(DriverSpec(row.id, row.key, Decimal(row.unit_rate), expr, error))
        dimensions = []
        for dim in db.scalars(
            select(CostDimension)
            .where(CostDimension.active.is_(True))
            .order_by(CostDimension.position, CostDimension.id)
        ):
            expr, error = _try(dim.expression, schema, None)
            dimensions.append(DimensionSpec(dim.id, dim.key, expr, error))
        return cls(drivers, dimensions, order_schema)

    @property
    def driver_keys(self) -> list[str]:
        return [d.key for d in self.drivers]

    def breakdown(self, context: Mapping[str, Any], now: datetime) -> Breakdown:
        out = Breakdown()
        total = Decimal("0")
        for driver in self.drivers:
            if driver.expr is None:
                out.errors[driver.key] = driver.error or ""
                continue
            try:
                value = driver.expr(context, now=now)
            except DslError as err:
                out.errors[driver.key] = err.message
                continue
            quantity = _number(value)
            amount = (quantity * driver.unit_rate).quantize(CENT, rounding=ROUND_HALF_UP)
            out.items[driver.key] = (quantity, amount)
            total += amount
        out.total = total.quantize(CENT, rounding=ROUND_HALF_UP)
        for dim in self.dimensions:
            value = None
            if dim.expr is not None:
                try:
                    value = dim.expr(context, now=now)
                except DslError as err:
                    out.errors[f"dimension:{dim.key}"] = err.message
            out.types[dim.id] = type_name(value)
        return out


def _try(source: str, schema: Mapping[str, Any], expect: str | None) -> tuple[Any, str | None]:
    try:
        return compiled(source, schema, expect), None
    except DslError as err:
        log.warning("cost expression no longer compiles: %s (%s)", source, err.message)
        return None, err.message


def _number(value: Any) -> Decimal:
    if value is None or isinstance(value, bool):
        return Decimal("0")
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    return Decimal(str(value)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def type_name(value: Any) -> str:
    """The text an order type is stored under (at most 64 characters)."""
    if value is None or value == "":
        return NO_VALUE
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)[:64]


def order_context(
    doc: Mapping[str, Any],
    history: Mapping[str, Any],
    variables: Mapping[str, Any],
    cost: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The evaluation context of an order (see :mod:`app.costs.context`)."""
    customer = doc.get("customer")
    context: dict[str, Any] = {
        "order": doc,
        "customer": customer if isinstance(customer, Mapping) else {},
        "history": history,
        "vars": variables,
    }
    if cost is not None:
        context["cost"] = cost
    return context
