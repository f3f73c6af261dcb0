"""The dashboard's figures: one function per panel, each reading hourly rollups (the panels
themselves are declared in :mod:`.panels`).

Every panel returns its total for the range and a series per bucket (hour or day). Rates
are percentages of their base; unit cost is cost per costed order; durations are seconds.
Percentiles come from the rollups' histograms (within about 4.5 %) and are computed exactly
from the facts when the range holds at most :data:`EXACT_LIMIT` values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..metrics import histogram, rollups
from ..models import (
    Alert,
    DeliveryHourly,
    DurationDaily,
    DurationHourly,
    LookupHourly,
    NodeVisit,
    Order,
    OrderHourly,
    Shipment,
    ShipmentOrder,
    StatusLagFact,
)
from .ranges import Range

EXACT_LIMIT = 10_000
DECIDED = ("approved", "rejected")


@dataclass
class Panel:
    key: str
    unit: str
    total: dict[str, Any] = field(default_factory=dict)
    series: list[dict[str, Any]] = field(default_factory=list)
    estimated: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "unit": self.unit,
            "total": self.total,
            "series": self.series,
            "estimated": self.estimated,
        }


def _pct(part: float | Decimal, whole: float | Decimal) -> float | None:
    return round(float(part) * 100 / float(whole), 2) if whole else None


def _money(amount: Decimal, count: int) -> float | None:
    if not count:
        return None
    return float((Decimal(amount) / count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _rows(db: Session, model: Any, r: Range, *columns: Any, where: tuple[Any, ...] = ()) -> Any:
    query = select(model.hour, model.channel, *columns).where(
        model.hour >= r.start, model.hour < r.end, *where
    )
    if r.channels:
        query = query.where(model.channel.in_(r.channels))
    return db.execute(query).all()


def _counts(db: Session, model: Any, r: Range, *counts: Any, by: tuple[Any, ...] = ()) -> Any:
    """Per hour (and ``by``), the whole-number ``counts`` summed over channels by the database:
    a 90-day panel reads one row an hour instead of one an hour and channel."""
    query = select(model.hour, *by, *(func.sum(c) for c in counts)).where(
        model.hour >= r.start, model.hour < r.end
    )
    if r.channels:
        query = query.where(model.channel.in_(r.channels))
    return db.execute(query.group_by(model.hour, *by)).all()


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def orders(db: Session, r: Range) -> Panel:
    """Orders placed: per bucket and channel, the total and the average per hour."""
    sums: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_channel: dict[str, int] = defaultdict(int)
    for hour, channel, n in _rows(db, OrderHourly, r, OrderHourly.orders):
        sums[r.bucket(hour)][channel] += n
        by_channel[channel] += n
    total = sum(by_channel.values())
    series = [
        {"t": _iso(b), "orders": sum(sums[b].values()), "by_channel": dict(sums[b])}
        for b in r.buckets()
    ]
    return Panel("orders", "count", {"orders": total, "per_hour": round(total / r.hours, 2) if r.hours else None,
                                      "by_channel": dict(sorted(by_channel.items()))}, series)  # fmt: skip


def unit_cost(db: Session, r: Range) -> Panel:
    """Fulfilment cost per order (orders whose cost is known), by when orders were placed."""
    cost: dict[datetime, Decimal] = defaultdict(Decimal)
    costed: dict[datetime, int] = defaultdict(int)
    for hour, _channel, amount, n in _rows(
        db, OrderHourly, r, OrderHourly.cost_total, OrderHourly.costed
    ):
        cost[r.bucket(hour)] += Decimal(amount or 0)
        costed[r.bucket(hour)] += n
    total_cost, total_n = sum(cost.values(), Decimal(0)), sum(costed.values())
    series = [
        {"t": _iso(b), "unit_cost": _money(cost[b], costed[b]), "orders": costed[b]}
        for b in r.buckets()
    ]
    return Panel("unit_cost", "money", {"unit_cost": _money(total_cost, total_n), "orders": total_n,
                                         "cost": float(total_cost)}, series)  # fmt: skip


def _ratio_panel(db: Session, r: Range, key: str, model: Any, part: Any, whole: Any) -> Panel:
    hits: dict[datetime, int] = defaultdict(int)
    base: dict[datetime, int] = defaultdict(int)
    for hour, p, w in _counts(db, model, r, part, whole):
        bucket = r.bucket(hour)
        hits[bucket] += p
        base[bucket] += w
    h, b = sum(hits.values()), sum(base.values())
    series = [
        {"t": _iso(x), "rate": _pct(hits[x], base[x]), "count": hits[x], "base": base[x]}
        for x in r.buckets()
    ]
    return Panel(key, "percent", {"rate": _pct(h, b), "count": h, "base": b}, series)


def manual_rate(db: Session, r: Range) -> Panel:
    """Share of orders placed in the range that needed a person."""
    return _ratio_panel(db, r, "manual_rate", OrderHourly, OrderHourly.manual, OrderHourly.orders)


def on_time(db: Session, r: Range) -> Panel:
    """Share of orders delivered in the range (with a promised time) that kept the promise."""
    return _ratio_panel(
        db, r, "on_time", DeliveryHourly, DeliveryHourly.on_time, DeliveryHourly.promised
    )


def self_service(db: Session, r: Range) -> Panel:
    """Share of order status look-ups customers made themselves on the tracking page."""
    hits: dict[datetime, int] = defaultdict(int)
    base: dict[datetime, int] = defaultdict(int)
    for hour, via, n in _counts(db, LookupHourly, r, LookupHourly.count, by=(LookupHourly.via,)):
        bucket = r.bucket(hour)
        base[bucket] += n
        if via == "self":
            hits[bucket] += n
    h, b = sum(hits.values()), sum(base.values())
    series = [
        {"t": _iso(x), "rate": _pct(hits[x], base[x]), "count": hits[x], "base": base[x]}
        for x in r.buckets()
    ]
    return Panel("self_service", "percent", {"rate": _pct(h, b), "count": h, "base": b}, series)


def _durations(
    db: Session,
    r: Range,
    key: str,
    metric: str,
    quantiles: tuple[float, ...],
    exact: Callable[[], list[tuple[datetime, float]]],
) -> Panel:
    d = DurationHourly
    where = [d.metric == metric] + ([d.channel.in_(r.channels)] if r.channels else [])
    count = int(
        db.scalar(
            select(func.coalesce(func.sum(d.count), 0)).where(
                d.hour >= r.start, d.hour < r.end, *where
            )
        )
        or 0
    )
    hists: dict[datetime, histogram.Hist] = defaultdict(dict)
    whole: histogram.Hist = {}
    if count > EXACT_LIMIT:
        for moment, hist in rollups.read(db, DurationHourly, DurationDaily, r.start, r.end, r.zone, [d.hist], where,
                                          whole_days=not r.hourly):  # fmt: skip
            histogram.merge(hists[r.bucket(moment)], hist)
            histogram.merge(whole, hist)
    names = [f"p{int(q * 100)}" for q in quantiles]
    panel = Panel(key, "seconds")
    if count <= EXACT_LIMIT:
        values: dict[datetime, list[float]] = defaultdict(list)
        every: list[float] = []
        for moment, seconds in exact():
            values[r.bucket(moment)].append(seconds)
            every.append(seconds)
        panel.total = {
            "count": len(every),
            **{
                n: histogram.exact_percentile(every, q)
                for n, q in zip(names, quantiles, strict=True)
            },
        }
        panel.series = [{"t": _iso(b), "count": len(values[b]),
                         **{n: histogram.exact_percentile(values[b], q) for n, q in zip(names, quantiles, strict=True)}}
                        for b in r.buckets()]  # fmt: skip
        return panel
    panel.estimated = True
    panel.total = {
        "count": count,
        **{n: histogram.percentile(whole, q) for n, q in zip(names, quantiles, strict=True)},
    }
    panel.series = [{"t": _iso(b), "count": histogram.count(hists[b]),
                     **{n: histogram.percentile(hists[b], q) for n, q in zip(names, quantiles, strict=True)}}
                    for b in r.buckets()]  # fmt: skip
    return panel


def status_lag(db: Session, r: Range) -> Panel:
    """Receive time minus source time of status reports: median and 95th percentile."""

    def exact() -> list[tuple[datetime, float]]:
        f = StatusLagFact
        query = select(f.received_at, f.lag_seconds).where(
            f.received_at >= r.start, f.received_at < r.end
        )
        if r.channels:
            query = query.where(f.channel.in_(r.channels))
        return [(a, b) for a, b in db.execute(query)]

    return _durations(db, r, "status_lag", "status_lag", (0.5, 0.95), exact)


def approval_turnaround(db: Session, r: Range) -> Panel:
    """Request to decision of approval steps decided in the range: median and 90th percentile."""

    def exact() -> list[tuple[datetime, float]]:
        v = NodeVisit
        query = select(v.left_at, v.dwell_seconds).where(
            v.node_type == "approval", v.left_at >= r.start, v.left_at < r.end, v.exit.in_(DECIDED)
        )
        if r.channels:
            query = query.where(v.channel.in_(r.channels))
        # A visit gets left_at and dwell_seconds together when it closes.
        return [(a, b) for a, b in db.execute(query)]  # type: ignore[misc]

    return _durations(db, r, "approval_turnaround", "approval", (0.5, 0.9), exact)


def alerts_open(db: Session, r: Range) -> Panel:
    """Alerts open now by severity, and alerts raised per bucket of the range."""
    channel = func.coalesce(Alert.channel, Order.channel)
    query = (
        select(Alert.status, Alert.severity, func.count())
        .outerjoin(Order, Order.id == Alert.order_id)
        .where(Alert.status.in_(("open", "acknowledged")))
        .group_by(Alert.status, Alert.severity)
    )
    if r.channels:
        query = query.where(channel.in_(r.channels))
    now_open: dict[str, int] = {}
    acknowledged = 0
    for status, severity, n in db.execute(query):
        if status == "open":
            now_open[severity] = int(n)
        else:
            acknowledged += int(n)
    raised: dict[datetime, int] = defaultdict(int)
    moments = (
        select(Alert.created_at)
        .outerjoin(Order, Order.id == Alert.order_id)
        .where(Alert.created_at >= r.start, Alert.created_at < r.end)
    )
    if r.channels:
        moments = moments.where(channel.in_(r.channels))
    for (moment,) in db.execute(moments.limit(50_000)):
        raised[r.bucket(moment)] += 1
    series = [{"t": _iso(b), "raised": raised[b]} for b in r.buckets()]
    return Panel("alerts_open", "count", {"open": sum(now_open.values()), "by_severity": now_open,
                                           "acknowledged": int(acknowledged or 0),
                                           "raised": sum(raised.values())}, series)  # fmt: skip


def split_rate(db: Session, r: Range) -> Panel:
    """Share of orders allocated to warehouses in the range that ship in several parcels."""
    query = (
        select(ShipmentOrder.order_id, func.min(Shipment.created_at), func.max(Shipment.kind))
        .join(Shipment, Shipment.id == ShipmentOrder.shipment_id)
        .where(
            Shipment.kind.in_(("split", "single")),
            Shipment.created_at >= r.start,
            Shipment.created_at < r.end,
        )
        .group_by(ShipmentOrder.order_id)
    )
    if r.channels:
        query = query.join(Order, Order.id == ShipmentOrder.order_id).where(
            Order.channel.in_(r.channels)
        )
    hits: dict[datetime, int] = defaultdict(int)
    base: dict[datetime, int] = defaultdict(int)
    for _order, at, kind in db.execute(query):  # "split" sorts after "single"
        bucket = r.bucket(at)
        base[bucket] += 1
        hits[bucket] += kind == "split"
    h, b = sum(hits.values()), sum(base.values())
    series = [
        {"t": _iso(x), "rate": _pct(hits[x], base[x]), "count": hits[x], "base": base[x]}
        for x in r.buckets()
    ]
    return Panel("split_rate", "percent", {"rate": _pct(h, b), "count": h, "base": b}, series)


def channels(db: Session) -> list[str]:
    """Channels that have orders in the rollups (for the filter)."""
    return sorted(c for c in db.scalars(select(OrderHourly.channel).distinct()) if c)
