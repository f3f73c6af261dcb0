"""Shipments decided by flows: merge groups (合单) and warehouse allocations (拆单).

A merge group is a shipment of kind ``merge`` that stays ``open`` while orders may join it;
at most one group per key is open, which the database enforces. An allocation by a split node
records one shipment per warehouse (kind ``split`` when there are several, ``single`` when one
warehouse ships everything); the split-shipment rate is computed from these rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow

OPEN_MERGE = text("status = 'open' AND kind = 'merge'")


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (
        Index(
            "uq_shipments_open_group",
            "group_key",
            unique=True,
            sqlite_where=OPEN_MERGE,
            postgresql_where=OPEN_MERGE,
        ),
        Index("ix_shipments_kind_created_at", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # merge | split | single
    status: Mapped[str] = mapped_column(String(16))  # open | released | cancelled
    group_key: Mapped[str | None] = mapped_column(String(512))
    warehouse: Mapped[str | None] = mapped_column(String(64))
    closes_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]


class ShipmentOrder(Base):
    """One order (and the lines of it) in a shipment."""

    __tablename__ = "shipment_orders"
    __table_args__ = (
        UniqueConstraint("shipment_id", "order_id", name="uq_shipment_orders_shipment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(
        ForeignKey("shipments.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(16), default="in")  # in | left
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
