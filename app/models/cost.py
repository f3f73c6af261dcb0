"""Cost attribution: cost drivers, order types (dimensions) and each order's breakdown."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class CostDriver(Base):
    """Something that costs money per order: ``formula`` (rule language, a number) gives the
    quantity from the order and its run history; the cost is quantity times ``unit_rate``."""

    __tablename__ = "cost_drivers"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200), default="")
    name_en: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    formula: Mapped[str] = mapped_column(Text)
    # What one unit of the quantity is: 次 / minute / hour / order / kg ...
    unit: Mapped[str] = mapped_column(String(32), default="")
    unit_rate: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CostDimension(Base):
    """A way to sort orders into types for the cost heatmap (channel, urgency, SKU
    attribute, route...): ``expression`` (rule language) gives the type's name."""

    __tablename__ = "cost_dimensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200), default="")
    name_en: Mapped[str] = mapped_column(String(200), default="")
    expression: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderCost(Base):
    """One driver's share of one order's cost."""

    __tablename__ = "order_costs"

    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    driver_id: Mapped[int] = mapped_column(
        ForeignKey("cost_drivers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))


class OrderDimension(Base):
    """The type of one order along one dimension (e.g. urgency: 加急)."""

    __tablename__ = "order_dimensions"

    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    dimension_id: Mapped[int] = mapped_column(
        ForeignKey("cost_dimensions.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    value: Mapped[str] = mapped_column(String(64))
