"""Industry template imports and the bundle parts kept for features still to come."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow


class TemplateImport(Base):
    """One import of a template bundle: who, when, with which options, and what it did."""

    __tablename__ = "template_imports"
    __table_args__ = (Index("ix_template_imports_bundle_id", "bundle_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bundle_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    name_zh: Mapped[str] = mapped_column(String(200), default="")
    name_en: Mapped[str] = mapped_column(String(200), default="")
    # builtin (shipped with OrderFlow) or upload (a zip from an admin).
    source: Mapped[str] = mapped_column(String(16), default="builtin")
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The import summary: every item with what was done to it.
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    imported_by: Mapped[str | None] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class TemplateItem(Base):
    """A bundle part this installation keeps as data until a feature acts on it: alert rules,
    notification texts, status mappings, status boards. Exported with the bundle again."""

    __tablename__ = "template_items"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_template_items_kind_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # alert_rule, notification_text, status_mapping, status_board
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    bundle_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
