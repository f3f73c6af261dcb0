"""Notifications: in-app messages, the channels the admin configures, message templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow


class Notification(Base):
    """One in-app message for one user; the header shows how many are unread."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id_read_at", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The message and recipient it came from: a retried delivery never adds it twice.
    source_key: Mapped[str] = mapped_column(String(200), unique=True)
    event: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    # The title and body in each page language ({"zh": [title, body], "en": [...]}), so the
    # inbox speaks the reader's language; title/body are the ones in the user's own setting.
    texts: Mapped[dict[str, list[str]] | None] = mapped_column(JSONType)
    url: Mapped[str | None] = mapped_column(String(512))
    task_key: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]

    def in_language(self, language: str) -> tuple[str, str]:
        """(title, body) in ``language`` where it was stored in it, else as first written."""
        pair = (self.texts or {}).get(language)
        return (pair[0], pair[1]) if pair else (self.title, self.body)


class NotificationChannel(Base):
    """An outbound channel: SMTP email, a WeCom / DingTalk / Feishu group robot, an SMS gateway."""

    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(default=True)
    # Connection settings (host, webhook URL, signing secret, ...); secrets never leave the
    # server in a page.
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The events this channel carries (approval_needed, approval_reminder, ...).
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationTemplate(Base):
    """An admin's wording of one event's message for one kind of channel and one language."""

    __tablename__ = "notification_templates"
    __table_args__ = (
        UniqueConstraint("channel_kind", "event", "language", name="uq_notification_templates_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_kind: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(255), default="")
    body: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
