"""Outbound event subscriptions: an allowed endpoint that gets chosen order events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow


class Subscription(Base):
    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    url: Mapped[str] = mapped_column(String(2000))
    # Event kinds (``order.created`` ...) this endpoint gets.
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Only orders of this sales channel (None: every channel).
    channel: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True, index=True)
    # Its own signing secret; None signs with the host's secret (or the shared one).
    secret: Mapped[str | None] = mapped_column(String(128))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
