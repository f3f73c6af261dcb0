"""Approval tasks created by approval nodes (one per assignee and step), what approvers did
with them, and the single-use sign-in links sent in notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow


class ApprovalTask(Base):
    __tablename__ = "approval_tasks"
    __table_args__ = (
        Index("ix_approval_tasks_assignee_status", "assignee", "status"),
        Index("ix_approval_tasks_role_status", "role", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The engine's task id; decisions refer to it.
    task_key: Mapped[str] = mapped_column(String(128), unique=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[str] = mapped_column(String(64))
    # Whose task it is: one person (``assignee``), or whoever holds the business role
    # ``role`` for ``scope`` ("" when unscoped), or the members of ``department``; looked up
    # when the inbox is read, so a new role holder sees the open tasks of the role.
    assignee: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(64))
    scope: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(64), index=True)
    # Why the task is theirs, as the inbox says it: {"zh": "财务 · 上海", "en": "Finance · Shanghai"}.
    why: Mapped[dict[str, str] | None] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
    comment: Mapped[str | None] = mapped_column(Text)
    # What the approver sees: reason, checks with their values, order summary.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApprovalAction(Base):
    """The approval audit trail: decisions, delegations and out-of-office hand-overs, with the
    actor, the person acted for, the device and the comment."""

    __tablename__ = "approval_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_key: Mapped[str | None] = mapped_column(String(128), index=True)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), index=True
    )
    # decided | delegated | routed | away_set | away_cleared | added_before | added_after |
    # sent_back | resubmitted | cc | commented
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(64), index=True)
    on_behalf_of: Mapped[str | None] = mapped_column(String(64))
    to_user: Mapped[str | None] = mapped_column(String(64))
    decision: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    # web | link | bulk | api, and the device summarised from the browser's User-Agent.
    via: Mapped[str | None] = mapped_column(String(16))
    device: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ApprovalReader(Base):
    """Someone who may read an approval step without deciding it: copied on it (抄送, from the
    node's ``cc`` or by an approver) or mentioned in a comment. Reading extends to every task
    of the same step (run and node); ``task_key`` is the task shown in their 抄送我的 list."""

    __tablename__ = "approval_readers"
    __table_args__ = (
        Index("ix_approval_readers_step", "run_id", "node_id"),
        Index("ix_approval_readers_username", "username"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(64))
    task_key: Mapped[str] = mapped_column(String(128))
    # A person, or every member of a role (a node's cc may name a role).
    username: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(32))
    # cc | mention
    reason: Mapped[str] = mapped_column(String(16))
    added_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApprovalLink(Base):
    """A signed sign-in link for one task and one user; usable once, until it expires."""

    __tablename__ = "approval_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    task_key: Mapped[str] = mapped_column(String(128), index=True)
    username: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
