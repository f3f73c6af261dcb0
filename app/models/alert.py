"""Alerts raised by flows (alert nodes) and by alert rules, and the rules themselves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow


class AlertRule(Base):
    """A threshold rule supervisors configure: what to watch, when it breaches, who hears.

    ``definition`` holds the kind's parameters (a DSL condition, a dataset with a window and
    a threshold, a streak length, a time in state...); ``app/alerts/rules.py`` checks it.
    """

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200), default="")
    name_en: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # order | aggregate | streak | stuck | backlog
    kind: Mapped[str] = mapped_column(String(16))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    # [{"user": "wangmin"}, {"role": "supervisor"}]
    recipients: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    # Channels: inbox and the notification channel kinds (app.notifications.kinds).
    channels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # No second notice for the same rule and key within this many seconds.
    cooldown_seconds: Mapped[int] = mapped_column(default=3600)
    auto_resolve: Mapped[bool] = mapped_column(default=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    # Evaluated at most this often on schedule (events may wake it sooner).
    every_seconds: Mapped[int] = mapped_column(default=60)
    # What an opening does besides notifying: {"webhook": {"url": ...}, "start_flows": true}.
    actions: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, server_default="{}")
    # ui, api, or template:<bundle id> for rules a template bundle brought in.
    source: Mapped[str] = mapped_column(String(80), default="ui")
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_evaluated_at: Mapped[datetime | None]
    last_duration_ms: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_status_created_at", "status", "created_at"),
        Index("ix_alerts_rule_id_status", "rule_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    # One open alert per key: a repeat updates the open one instead of adding another.
    dedup_key: Mapped[str | None] = mapped_column(String(200), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    # Raised by a rule: the rule, the group it is about (a channel, a SKU, an order...),
    # how often it was seen, and when someone was last told.
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alert_rules.id", ondelete="SET NULL"))
    key: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(32))
    occurrences: Mapped[int] = mapped_column(default=1)
    last_seen_at: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]
    notifications: Mapped[int] = mapped_column(default=0)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    resolved_by: Mapped[str | None] = mapped_column(String(64))


class AlertOrder(Base):
    """An order behind a rule's alert (at most a few hundred are kept per alert)."""

    __tablename__ = "alert_orders"

    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True, index=True
    )
