"""Operational figures derived from orders, runs and status events.

Facts are per-order or per-visit rows kept up to date by ``app/metrics/refresh.py`` from the
append-only audit trail; rollups are hourly sums over them (UTC hours) that keep every
dashboard panel and alert evaluation fast however long the history grows. All of them can
be rebuilt from the source tables (``orderflow metrics rebuild``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Double, ForeignKey, Index, Integer, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow

BIGINT = BigInteger().with_variant(Integer(), "sqlite")


class MetricCursor(Base):
    """How far the refresher has read an append-only table, and the ids it has not seen yet
    below that point (rows of transactions that were still open)."""

    __tablename__ = "metric_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BIGINT, default=0)
    # {"ranges": [[first id, last id, first seen (ISO)], ...]}: ids below ``position`` that
    # were not committed when last read (an open transaction, or a rolled-back one).
    gaps: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderFact(Base):
    """What the dashboard and alerts need to know about one order, in plain columns."""

    __tablename__ = "order_facts"
    __table_args__ = (
        Index("ix_order_facts_created_at", "created_at"),
        Index("ix_order_facts_delivered_at", "delivered_at"),
        Index("ix_order_facts_status_status_at", "status", "status_at"),
    )

    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    # Since when the order has been in ``status`` (its last applied status event).
    status_at: Mapped[datetime]
    urgent: Mapped[bool] = mapped_column(default=False)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    province: Mapped[str | None] = mapped_column(String(64))
    customer_tier: Mapped[str | None] = mapped_column(String(32))
    # Outcome of the order's last finished run (approved, credit_hold, shipped...).
    outcome: Mapped[str | None] = mapped_column(String(64))
    promised_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    # From placing the order to its delivery.
    lead_seconds: Mapped[float | None] = mapped_column(Double)
    on_time: Mapped[bool | None]
    # A person had to act: an approval, an incident, a retry or a manual event.
    manual: Mapped[bool] = mapped_column(default=False)
    incidents: Mapped[int] = mapped_column(default=0)
    retries: Mapped[int] = mapped_column(default=0)
    approvals: Mapped[int] = mapped_column(default=0)
    cost_total: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NodeVisit(Base):
    """A token waiting at a node: entered with ``node_waiting``, left when the node passed
    (or was cancelled, or failed). Nodes that pass at once are only counted in rollups."""

    __tablename__ = "node_visits"
    __table_args__ = (
        Index("ix_node_visits_run_id_enter_seq", "run_id", "enter_seq", unique=True),
        Index("ix_node_visits_version_node_dwell", "flow_version_id", "node_id", "dwell_seconds"),
        Index("ix_node_visits_version_node_left_at", "flow_version_id", "node_id", "left_at"),
        Index("ix_node_visits_node_type_left_at", "node_type", "left_at"),
        Index(
            "ix_node_visits_open",
            "flow_version_id",
            "node_id",
            "entered_at",
            postgresql_where=text("left_at IS NULL"),
            sqlite_where=text("left_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    flow_version_id: Mapped[int] = mapped_column(ForeignKey("flow_versions.id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(64))
    node_type: Mapped[str | None] = mapped_column(String(32))
    # The node the token came from: the edge it travelled.
    from_node: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    enter_seq: Mapped[int]
    entered_at: Mapped[datetime]
    left_at: Mapped[datetime | None]
    dwell_seconds: Mapped[float | None] = mapped_column(Double)
    # The branch taken when it passed, or cancelled / incident.
    exit: Mapped[str | None] = mapped_column(String(64))


class StockoutFact(Base):
    """A SKU an order could not get: a reservation that found too little stock."""

    __tablename__ = "stockout_facts"
    __table_args__ = (
        Index("ix_stockout_facts_at", "at"),
        Index("ix_stockout_facts_sku_at", "sku", "at"),
    )

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True)
    run_event_id: Mapped[int] = mapped_column(BIGINT)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    sku: Mapped[str] = mapped_column(String(64))
    warehouse: Mapped[str | None] = mapped_column(String(64))
    requested: Mapped[int] = mapped_column(default=0)
    available: Mapped[int] = mapped_column(default=0)
    at: Mapped[datetime]


class StatusLagFact(Base):
    """How late a status report arrived: receive time minus the source system's time."""

    __tablename__ = "status_lag_facts"
    __table_args__ = (Index("ix_status_lag_facts_received_at", "received_at"),)

    status_event_id: Mapped[int] = mapped_column(
        BIGINT, ForeignKey("status_events.id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime]
    lag_seconds: Mapped[float] = mapped_column(Double)


# -- hourly rollups (UTC hours) ------------------------------------------------------------


class OrderHourly(Base):
    """Orders by the hour they were placed: volume, manual work, cost."""

    __tablename__ = "rollup_orders_hourly"

    hour: Mapped[datetime] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    orders: Mapped[int] = mapped_column(default=0)
    manual: Mapped[int] = mapped_column(default=0)
    urgent: Mapped[int] = mapped_column(default=0)
    costed: Mapped[int] = mapped_column(default=0)
    cost_total: Mapped[Decimal] = mapped_column(Numeric(18, 2), default=0)
    amount_total: Mapped[Decimal] = mapped_column(Numeric(18, 2), default=0)


class DeliveryHourly(Base):
    """Orders by the hour they were delivered: how many had a promise, how many kept it."""

    __tablename__ = "rollup_deliveries_hourly"

    hour: Mapped[datetime] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    delivered: Mapped[int] = mapped_column(default=0)
    promised: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[int] = mapped_column(default=0)


class DurationHourly(Base):
    """Durations by hour and channel with a histogram for percentiles: ``metric`` is
    ``status_lag`` (by receive hour) or ``approval`` (request to decision, by decision hour)."""

    __tablename__ = "rollup_durations_hourly"

    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    total: Mapped[float] = mapped_column(Double, default=0.0)
    hist: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)


class NodeHourly(Base):
    """Per flow version, node and hour: tokens that passed, waits that ended and how long."""

    __tablename__ = "rollup_nodes_hourly"

    flow_version_id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    passes: Mapped[int] = mapped_column(default=0)
    waits: Mapped[int] = mapped_column(default=0)
    total: Mapped[float] = mapped_column(Double, default=0.0)
    hist: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    # {"approved": 12, "rejected": 1}: how many left by each branch.
    branches: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)


class EdgeHourly(Base):
    """Per flow version, edge and hour: from leaving ``from_node`` to leaving ``to_node``."""

    __tablename__ = "rollup_edges_hourly"

    flow_version_id: Mapped[int] = mapped_column(primary_key=True)
    from_node: Mapped[str] = mapped_column(String(64), primary_key=True)
    to_node: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    total: Mapped[float] = mapped_column(Double, default=0.0)
    hist: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)


class LookupHourly(Base):
    """Order status look-ups by hour: ``self`` (customers on the tracking page) or
    ``assisted`` (staff opening the order, systems reading it through the API)."""

    __tablename__ = "rollup_lookups_hourly"

    hour: Mapped[datetime] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    via: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class CostHourly(Base):
    """Cost by the hour orders were placed, per order type (a dimension's value) and cost
    driver; ``driver_id`` 0 holds the order count of the type."""

    __tablename__ = "rollup_costs_hourly"

    hour: Mapped[datetime] = mapped_column(primary_key=True)
    dimension_id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    driver_id: Mapped[int] = mapped_column(primary_key=True)
    orders: Mapped[int] = mapped_column(default=0)
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=0)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2), default=0)


# -- daily rollups of the histograms (local calendar days of the business time zone) --------
# Long ranges read these instead of 24 hourly rows per day; ``day`` is the local midnight
# (as a UTC instant). ``orderflow metrics rebuild-daily`` rebuilds them from the hourly ones
# after a change of ORDERFLOW_TIMEZONE.


class DurationDaily(Base):
    __tablename__ = "rollup_durations_daily"

    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[datetime] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    total: Mapped[float] = mapped_column(Double, default=0.0)
    hist: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)


class NodeDaily(Base):
    __tablename__ = "rollup_nodes_daily"

    flow_version_id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[datetime] = mapped_column(primary_key=True)
    passes: Mapped[int] = mapped_column(default=0)
    waits: Mapped[int] = mapped_column(default=0)
    total: Mapped[float] = mapped_column(Double, default=0.0)
    hist: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    branches: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)


class EdgeDaily(Base):
    __tablename__ = "rollup_edges_daily"

    flow_version_id: Mapped[int] = mapped_column(primary_key=True)
    from_node: Mapped[str] = mapped_column(String(64), primary_key=True)
    to_node: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    total: Mapped[float] = mapped_column(Double, default=0.0)
    hist: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
