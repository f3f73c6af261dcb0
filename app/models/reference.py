"""Reference tables (warehouses, carriers, customers, ...) that rules and routes read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow


class ReferenceTable(Base):
    __tablename__ = "reference_tables"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_field: Mapped[str] = mapped_column(String(64), default="id")
    description: Mapped[str] = mapped_column(Text, default="")
    # [{"name": "region", "type": "string", "label_zh": "区域"}, ...]
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # Bumped on every change so that caches of the table know they are stale.
    revision: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReferenceRow(Base):
    __tablename__ = "reference_rows"
    __table_args__ = (UniqueConstraint("table_id", "key", name="uq_reference_rows_table_id_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("reference_tables.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
