"""Runs of orders through flow versions, their audit trail and their timers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_flow_version_id_status", "flow_version_id", "status"),
        Index("ix_runs_stand_order_id", "stand", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_version_id: Mapped[int] = mapped_column(ForeignKey("flow_versions.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    outcome: Mapped[str | None] = mapped_column(String(64))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # Optimistic lock, kept by app/runs/writer.py (the only code that updates runs): an
    # update that read an older row version changes nothing and is retried.
    lock_version: Mapped[int] = mapped_column(default=1)
    current_nodes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    incident: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Where the run stands for the orders board (app/runs/stand.py), kept with the snapshot.
    stand: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class RunEvent(Base):
    """One audit-trail entry: node, branch taken, fields changed, actor, time, reason."""

    __tablename__ = "run_events"
    __table_args__ = (UniqueConstraint("run_id", "seq", name="uq_run_events_run_id_seq"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    seq: Mapped[int]
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    node_id: Mapped[str | None] = mapped_column(String(64))
    node_type: Mapped[str | None] = mapped_column(String(32))
    branch: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class RunTimer(Base):
    """A durable timer of a run; the database is the truth, Huey only wakes it up."""

    __tablename__ = "run_timers"
    __table_args__ = (
        UniqueConstraint("run_id", "timer_key", name="uq_run_timers_run_id_timer_key"),
        Index("ix_run_timers_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    timer_key: Mapped[str] = mapped_column(String(128))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    fired_at: Mapped[datetime | None]


class TriggerReceipt(Base):
    """One event that started (or was judged for) a flow: each event starts each flow once.

    ``event_key`` is the event's identity (``status:<source>:<event id>`` ...); the unique
    pair is what makes a replayed event, or the same event processed twice at once, start
    nothing new: the second insert finds the first one's row.

    ``status``: ``started`` (the event started run ``run_id``, or was judged), ``queued`` (a
    flow with ``concurrency: queue`` had a run of the order open: the event waits here, with
    its ``event_kind`` and ``event_data``, and starts its run when that run finishes) or
    ``dropped`` (a queued event that could not start; ``reason`` says why).
    """

    __tablename__ = "trigger_receipts"
    __table_args__ = (
        UniqueConstraint("flow_id", "event_key", name="uq_trigger_receipts_flow_id_event_key"),
        Index("ix_trigger_receipts_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    event_key: Mapped[str] = mapped_column(String(200))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="started", server_default="started")
    event_kind: Mapped[str | None] = mapped_column(String(64))
    event_data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    reason: Mapped[str | None] = mapped_column(String(400))
