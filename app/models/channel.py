"""Inbound sales channels, the webhook deliveries seen from them, cross-channel dedup keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow


class Channel(Base):
    """A configured inbound channel: its webhook secret and its field mapping (data)."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Part of the webhook URL: /api/v1/channels/<key>/webhook.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    # Which shipped mapping the payloads follow: shopify, taobao, douyin, b2b_po.
    kind: Mapped[str] = mapped_column(String(32))
    # The canonical order's ``channel`` value written for orders from here.
    order_channel: Mapped[str] = mapped_column(String(32))
    # Signs the channel's webhooks (HMAC-SHA256); needed in clear to verify them.
    secret: Mapped[str] = mapped_column(String(128))
    # Overrides of the shipped mapping: {"fields": {...}, "dedup": [...]}.
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookReceipt(Base):
    """A signed delivery already accepted: the same signature is refused inside the window."""

    __tablename__ = "webhook_receipts"
    __table_args__ = (Index("ix_webhook_receipts_received_at", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    signature: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderDedupKey(Base):
    """One buyer order across channels: a second order with the same key is the same order."""

    __tablename__ = "order_dedup_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntakeRule(Base):
    """How orders of some channels are prepared before they are stored: addresses cleaned
    with the Chinese address parser, the same buyer order across channels recognised by the
    values at ``dedup`` paths. Installed by template bundles (their ``intake`` section)."""

    __tablename__ = "intake_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Where the rule came from: "template:<bundle id>"; one rule per source.
    source: Mapped[str] = mapped_column(String(80), unique=True)
    # The canonical ``channel`` values it applies to; empty: every channel.
    channels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    clean_address: Mapped[bool] = mapped_column(default=False)
    dedup: Mapped[list[str]] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
