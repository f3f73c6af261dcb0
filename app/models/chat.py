"""Chat apps (飞书 Feishu, 企业微信 WeCom; DingTalk later): the connected app per platform,
the approval card sent to each person, and the receipts that refuse a replayed callback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow


class ChatApp(Base):
    """One connected app on one platform; its secrets are sealed (``app.channels.vault``)."""

    __tablename__ = "chat_apps"
    __table_args__ = (UniqueConstraint("platform", "app_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    app_id: Mapped[str] = mapped_column(String(64))
    # app secret, verification token and encrypt key, sealed together
    sealed: Mapped[str] = mapped_column(Text)
    base_url: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(default=True)
    # The platform's access token, sealed, and when it stops working.
    token_sealed: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None]
    # The organisation synced from the app's address book every night (app.chatapps.orgsync),
    # and the last sync: {"at", "applied", "counts"} or {"at", "error"}.
    org_sync_nightly: Mapped[bool] = mapped_column(default=False, server_default=false())
    org_sync_last: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatCard(Base):
    """The card one person got for one task: its message id, to update it in place."""

    __tablename__ = "chat_cards"
    __table_args__ = (UniqueConstraint("chat_app_id", "task_key", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_app_id: Mapped[int] = mapped_column(ForeignKey("chat_apps.id", ondelete="CASCADE"))
    task_key: Mapped[str] = mapped_column(String(128), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Feishu's message id; WeCom's card task_id (what its callbacks and updates name)
    message_id: Mapped[str] = mapped_column(String(128))
    # WeCom updates a card with a one-time code (from the send or from the person's click),
    # not with its message id; None once used.
    update_code: Mapped[str | None] = mapped_column(String(128))
    # the task state the card shows: pending, approved, rejected, delegated, withdrawn
    shows: Mapped[str] = mapped_column(String(16), default="pending")
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]


class ChatReceipt(Base):
    """A callback already taken (by the platform's event id or signature): a replay is refused."""

    __tablename__ = "chat_receipts"
    __table_args__ = (UniqueConstraint("chat_app_id", "event_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_app_id: Mapped[int] = mapped_column(ForeignKey("chat_apps.id", ondelete="CASCADE"))
    event_key: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
