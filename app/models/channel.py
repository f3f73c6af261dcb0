"""Inbound sales channels, the webhook deliveries seen from them, cross-channel dedup keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
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
    # How the platform signs (``app.channels.protocols``): the app key of 有赞 and 抖店, the
    # header, algorithm and encoding of the generic HMAC kind.
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelDelivery(Base):
    """The channel's delivery log: each signed message a channel accepted, with its raw
    payload and what it became (``status``: created, duplicate, status, duplicate_status,
    ignored, with ``order_id``), kept within the retention (``CHANNEL_DELIVERY_DAYS`` /
    ``_KEEP``). A message OrderFlow could not turn into an order or a status event yet (the
    mapping failed, or the order it names is unknown) is ``held``: the admin reads it, fixes
    the mapping and replays it (``replayed``) or dismisses it. The platform was told it was
    received, so it does not retry and give up."""

    __tablename__ = "channel_deliveries"
    __table_args__ = (Index("ix_channel_deliveries_channel_status", "channel_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    delivery_id: Mapped[str | None] = mapped_column(String(128))
    topic: Mapped[str] = mapped_column(String(16))
    platform_topic: Mapped[str] = mapped_column(String(64), default="")
    # What it became: created | duplicate | status | duplicate_status | ignored, or
    # held (waiting for a fix) | replayed (became an order or event) | dismissed
    status: Mapped[str] = mapped_column(String(16), default="held")
    reason: Mapped[str] = mapped_column(String(32))
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    payload: Mapped[Any] = mapped_column(JSONType, nullable=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    replayed_at: Mapped[datetime | None]


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


class ChannelPull(Base):
    """How a pull connector polls its platform's order API (Taobao/Tmall, JD): where, with
    which credentials (encrypted, ``app.channels.vault``), how often, and how far it got.

    ``cursor`` is the modified time up to which every order is stored; a window being paged
    keeps its end and the next page, so a restart resumes on the page after the last one
    committed."""

    __tablename__ = "channel_pulls"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), unique=True
    )
    api_url: Mapped[str] = mapped_column(String(300))
    # Fernet token of {"app_key", "app_secret", "session"}; never shown back.
    credentials: Mapped[str | None] = mapped_column(Text)
    interval_seconds: Mapped[int] = mapped_column(default=300)
    cursor: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    next_page: Mapped[int] = mapped_column(default=1)
    # running | backoff (rate limited or unreachable) | needs_token | needs_setup
    state: Mapped[str] = mapped_column(String(16), default="needs_setup")
    next_attempt_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(default=0)
    last_sync_at: Mapped[datetime | None]
    last_pulled: Mapped[int] = mapped_column(default=0)
    total_pulled: Mapped[int] = mapped_column(default=0)
    # rate_limited | token_expired | network | platform_error | credentials_unreadable
    last_error_code: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
