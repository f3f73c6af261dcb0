"""Orders: the canonical order document and its identity in the source channel."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_orders_channel_external_id"),
        Index("ix_orders_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    # Public, unguessable id for the customer tracking page.
    tracking_id: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(32), default="created", index=True)
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # Whether ``data["holds"]`` names a hold (kept with the document; the board's "held").
    on_hold: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrderFieldChange(Base):
    """One order field a flow changed: before, after, and which flow, version, node and run
    changed it. Two flows writing the same field both appear, in the order they were
    written; the later one's value is the order's (last writer wins)."""

    __tablename__ = "order_field_changes"
    __table_args__ = (Index("ix_order_field_changes_order_id_id", "order_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    # The path under the order document: custom.payment_hold, tags ...
    field: Mapped[str] = mapped_column(String(128))
    before: Mapped[Any] = mapped_column(JSONType, nullable=True)
    after: Mapped[Any] = mapped_column(JSONType, nullable=True)
    flow_key: Mapped[str] = mapped_column(String(64))
    flow_version: Mapped[int]
    node_id: Mapped[str] = mapped_column(String(64))
    node_name: Mapped[str] = mapped_column(String(200), default="")
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
