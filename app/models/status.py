"""Status events from source systems (ERP, WMS, TMS, carriers), mapped to order states."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow


class StatusEvent(Base):
    """One status report as received, with what it did to the order's unified state."""

    __tablename__ = "status_events"
    __table_args__ = (
        UniqueConstraint("source", "event_id", name="uq_status_events_source_event_id"),
        Index("ix_status_events_order_id_source_time", "order_id", "source_time"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    # The sender's id of the event: the same event delivered twice is stored once.
    event_id: Mapped[str] = mapped_column(String(128))
    code: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))
    # applied (the order moved), late (an earlier milestone, recorded only), ignored.
    effect: Mapped[str] = mapped_column(String(16))
    source_time: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    location: Mapped[str | None] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class StatusSource(Base):
    """A source system's status codes as an admin configured them: replaces the built-in
    table of a source of the same key (erp, wms, tms, carrier), or adds a source."""

    __tablename__ = "status_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16), unique=True)
    # {CODE: order state}; codes are stored upper-case, as events are matched.
    codes: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
