"""Admin-managed settings: order custom fields and the outbound host allowlist."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow


class CustomField(Base):
    """A field admins add to the order schema under ``custom`` without code."""

    __tablename__ = "order_custom_fields"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # string, number, integer, boolean, date-time
    type: Mapped[str] = mapped_column(String(16))
    label_en: Mapped[str] = mapped_column(String(128))
    label_zh: Mapped[str] = mapped_column(String(128))
    required: Mapped[bool] = mapped_column(default=False)
    options: Mapped[list[Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AllowedHost(Base):
    """A host outbound webhooks may be sent to; any other host is never contacted."""

    __tablename__ = "allowed_hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # An exact host name or address, or ``*.example.com`` for its subdomains.
    host: Mapped[str] = mapped_column(String(255), unique=True)
    note: Mapped[str] = mapped_column(String(255), default="")
    # Signs the webhooks sent to this host instead of the installation's shared secret
    # (``WEBHOOK_SECRET``), so that each receiving system checks its own; needed in clear.
    signing_secret: Mapped[str | None] = mapped_column(String(128))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
