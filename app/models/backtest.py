"""Backtest jobs: a draft replayed against the live version over stored orders in the
background, with its progress, its impact summary and the orders that change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow


class BacktestJob(Base):
    __tablename__ = "backtest_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_key: Mapped[str] = mapped_column(String(64), index=True)
    # The draft document as it was when the job started (later edits do not move it).
    draft: Mapped[dict[str, Any]] = mapped_column(JSONType)
    last: Mapped[int]
    # queued | running | done | cancelled | failed
    status: Mapped[str] = mapped_column(String(16), default="queued")
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    # The last order replayed (newest first): a restarted job resumes behind it.
    cursor_at: Mapped[datetime | None]
    cursor_id: Mapped[int | None]
    published_version: Mapped[int | None]
    # Who runs the job now: a resumed job gets a new claim, and a run that lost its claim
    # (its worker only seemed dead) stops at its next batch instead of running twice.
    claim: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class BacktestChange(Base):
    """One order whose path, outcome, fields, warehouse or carrier, or approvers change."""

    __tablename__ = "backtest_changes"
    __table_args__ = (Index("ix_backtest_changes_job_id_id", "job_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("backtest_jobs.id", ondelete="CASCADE"))
    order_id: Mapped[int]
    external_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(32))
    changes: Mapped[list[str]] = mapped_column(JSONType)
    published: Mapped[dict[str, Any]] = mapped_column(JSONType)
    draft: Mapped[dict[str, Any]] = mapped_column(JSONType)
