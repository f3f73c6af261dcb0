"""Hourly rollups: added to as events arrive, or recomputed for the hours that changed.

Rollups of append-only sources (node passes and waits, edges, status lag, approval
turnaround) are *added to* in the same transaction that moves the source cursor, so each
event counts once. Rollups of per-order facts that change later (an order becomes manual,
gets delivered, its cost is known) are *recomputed* for every hour an order changed in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.orm import Session

from .. import models
from ..models import (
    CostHourly,
    DeliveryHourly,
    OrderCost,
    OrderDimension,
    OrderFact,
    OrderHourly,
)
from . import histogram

HOUR = timedelta(hours=1)


def hour_of(moment: datetime) -> datetime:
    """The UTC hour a moment falls in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime, zone: ZoneInfo) -> datetime:
    """The local midnight (as a UTC instant) of the business day a moment falls in."""
    local = moment.astimezone(zone)
    return datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(UTC)


@dataclass
class Acc:
    """Additions to one rollup row: numbers, histograms and count maps by column."""

    numbers: dict[str, Any] = field(default_factory=lambda: defaultdict(int))
    hists: dict[str, histogram.Hist] = field(default_factory=lambda: defaultdict(dict))
    maps: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))

    def duration(self, seconds: float, *, count: str = "count", total: str = "total") -> None:
        self.numbers[count] += 1
        self.numbers[total] += seconds
        histogram.add(self.hists["hist"], seconds)

    def tally(self, column: str, name: str) -> None:
        counts = self.maps[column]
        counts[name] = counts.get(name, 0) + 1


class Accumulator:
    """Additions to the rows of one rollup table, written with :meth:`flush`."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.rows: dict[tuple[Any, ...], Acc] = defaultdict(Acc)

    def __getitem__(self, key: tuple[Any, ...]) -> Acc:
        return self.rows[key]

    def flush(self, db: Session) -> None:
        if not self.rows:
            return
        table = self.model.__table__
        pk = list(table.primary_key.columns)
        names = [c.name for c in pk]
        keys = list(self.rows)
        existing: dict[tuple[Any, ...], Any] = {}
        for start in range(0, len(keys), 300):
            chunk = keys[start : start + 300]
            for row in db.scalars(select(self.model).where(tuple_(*pk).in_(chunk))):
                existing[tuple(_norm(getattr(row, n)) for n in names)] = row
        # Rows not stored yet are written with one insert; existing ones are added to.
        fresh: list[dict[str, Any]] = []
        defaults = {
            c.name: c.default.arg
            for c in table.columns
            if c.name not in names and c.default is not None and c.default.is_scalar
        }
        for key, acc in self.rows.items():
            row = existing.get(tuple(_norm(k) for k in key))
            if row is None:
                values: dict[str, Any] = {**defaults, **dict(zip(names, key, strict=True))}
                for column, delta in acc.numbers.items():
                    values[column] = (values.get(column) or 0) + delta
                for column in ("hist", "branches"):
                    if column in table.columns:
                        values[column] = {}
                for column, hist in acc.hists.items():
                    values[column] = histogram.stored(histogram.merge(dict(hist), {}))
                for column, counts in acc.maps.items():
                    values[column] = {name: int(n) for name, n in counts.items()}
                fresh.append(values)
                continue
            for column, delta in acc.numbers.items():
                setattr(row, column, (getattr(row, column) or 0) + delta)
            for column, hist in acc.hists.items():
                merged = histogram.merge(dict(hist), getattr(row, column))
                setattr(row, column, histogram.stored(merged))
            for column, counts in acc.maps.items():
                merged_counts = dict(getattr(row, column) or {})
                for name, n in counts.items():
                    merged_counts[name] = int(merged_counts.get(name, 0)) + n
                setattr(row, column, merged_counts)
        if fresh:
            db.execute(insert(self.model), fresh)
        db.flush()
        self.rows.clear()


class Twin:
    """Additions to an hourly rollup and its daily twin at once: ``twin.at(prefix, moment,
    suffix)`` gives the two rows' :class:`Acc` (the time column sits between prefix and
    suffix in both primary keys)."""

    def __init__(self, hourly: Any, daily: Any, zone: ZoneInfo) -> None:
        self.hourly = Accumulator(hourly)
        self.daily = Accumulator(daily)
        self.zone = zone

    def at(
        self, prefix: tuple[Any, ...], moment: datetime, suffix: tuple[Any, ...] = ()
    ) -> tuple[Acc, Acc]:
        return (
            self.hourly[(*prefix, hour_of(moment), *suffix)],
            self.daily[(*prefix, day_of(moment, self.zone), *suffix)],
        )

    def flush(self, db: Session) -> None:
        self.hourly.flush(db)
        self.daily.flush(db)


def read(db: Session, hourly: Any, daily: Any, start: datetime, end: datetime, zone: ZoneInfo,
         columns: Iterable[Any], where: Iterable[Any] = (), *, whole_days: bool = True) -> list[Any]:  # fmt: skip
    """Rows ``(time, *columns)`` covering ``[start, end)`` (whole UTC hours): the daily twin
    for the local days that lie entirely inside, hourly rows for the hours around them."""
    names = [c.key for c in columns]
    filters = list(where)
    first = day_of(start, zone)
    if first < start:
        first = _next_day(first, zone)
    last = day_of(end, zone)
    rows: list[Any] = []
    if not whole_days or last <= first:
        spans = [(start, end)]
    else:
        spans = [(start, first), (last, end)]
        rows += db.execute(
            select(daily.day, *(getattr(daily, n) for n in names)).where(
                daily.day >= first, daily.day < last, *_translate(filters, hourly, daily)
            )
        ).all()
    for low, high in spans:
        if low < high:
            rows += db.execute(
                select(hourly.hour, *columns).where(
                    hourly.hour >= low, hourly.hour < high, *filters
                )
            ).all()
    return rows


def _next_day(day: datetime, zone: ZoneInfo) -> datetime:
    local = day.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
    return local.replace(tzinfo=zone).astimezone(UTC)


def _translate(filters: list[Any], hourly: Any, daily: Any) -> list[Any]:
    """The same filters on the daily table's columns (filters name hourly columns)."""
    return [_swap(f, hourly, daily) for f in filters]


def _swap(clause: Any, hourly: Any, daily: Any) -> Any:
    from sqlalchemy.sql import visitors

    def replace(element: Any, **kw: Any) -> Any:
        table = getattr(element, "table", None)
        if table is hourly.__table__ and hasattr(element, "key"):
            return daily.__table__.c[element.key]
        return None

    return visitors.replacement_traverse(clause, {}, replace)


def _norm(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


# -- recomputed rollups --------------------------------------------------------------------


def _spans(hours: Iterable[datetime], gap: int = 48) -> list[list[datetime]]:
    """``hours`` in runs no more than ``gap`` hours apart: each run is read with one query
    (a backfill of weeks is a handful of queries, not one per hour)."""
    spans: list[list[datetime]] = []
    for hour in sorted(set(hours)):
        if spans and hour - spans[-1][-1] <= gap * HOUR and len(spans[-1]) < 500:
            spans[-1].append(hour)
        else:
            spans.append([hour])
    return spans


def _refill(db: Session, model: Any, span: list[datetime], rows: list[dict[str, Any]]) -> None:
    db.execute(delete(model).where(model.hour.in_(span)))
    if rows:
        db.execute(insert(model), rows)


def recompute_orders(db: Session, hours: Iterable[datetime]) -> None:
    """Rebuild orders, manual work and cost by creation hour for ``hours``."""
    f = OrderFact
    for span in _spans(hours):
        wanted = set(span)
        sums: dict[tuple[datetime, str], list[Any]] = {}
        for created, channel, manual, urgent, cost, amount in db.execute(
            select(f.created_at, f.channel, f.manual, f.urgent, f.cost_total, f.amount).where(
                f.created_at >= span[0], f.created_at < span[-1] + HOUR
            )
        ):
            hour = hour_of(created)
            if hour not in wanted:
                continue
            acc = sums.setdefault((hour, channel), [0, 0, 0, 0, Decimal(0), Decimal(0)])
            acc[0] += 1
            acc[1] += 1 if manual else 0
            acc[2] += 1 if urgent else 0
            if cost is not None:
                acc[3] += 1
                acc[4] += Decimal(cost)
            acc[5] += Decimal(amount or 0)
        rows = [
            {"hour": hour, "channel": channel, "orders": n, "manual": manual, "urgent": urgent,
             "costed": costed, "cost_total": cost, "amount_total": amount}
            for (hour, channel), (n, manual, urgent, costed, cost, amount) in sums.items()
        ]  # fmt: skip
        _refill(db, OrderHourly, span, rows)


def recompute_deliveries(db: Session, hours: Iterable[datetime]) -> None:
    """Rebuild delivered / promised / on-time counts by delivery hour for ``hours``."""
    f = OrderFact
    for span in _spans(hours):
        wanted = set(span)
        sums: dict[tuple[datetime, str], list[int]] = {}
        for delivered, channel, on_time in db.execute(
            select(f.delivered_at, f.channel, f.on_time).where(
                f.delivered_at >= span[0], f.delivered_at < span[-1] + HOUR
            )
        ):
            hour = hour_of(delivered)  # type: ignore[arg-type]  # the range leaves out NULL
            if hour not in wanted:
                continue
            acc = sums.setdefault((hour, channel), [0, 0, 0])
            acc[0] += 1
            acc[1] += 0 if on_time is None else 1
            acc[2] += 1 if on_time else 0
        rows = [
            {"hour": hour, "channel": channel, "delivered": n, "promised": promised,
             "on_time": on_time}
            for (hour, channel), (n, promised, on_time) in sums.items()
        ]  # fmt: skip
        _refill(db, DeliveryHourly, span, rows)


def recompute_costs(db: Session, hours: Iterable[datetime]) -> None:
    """Rebuild cost by order type and driver (and order counts per type) for ``hours``."""
    f, d, c = OrderFact, OrderDimension, OrderCost
    for span in _spans(hours):
        wanted = set(span)
        in_span = (f.created_at >= span[0], f.created_at < span[-1] + HOUR)
        # (hour, dimension, value, driver) → [orders, quantity, amount]; driver 0: the count.
        sums: dict[tuple[datetime, int, str, int], list[Any]] = {}
        for created, dim, value in db.execute(
            select(f.created_at, d.dimension_id, d.value)
            .join(f, f.order_id == d.order_id)
            .where(*in_span)
        ):
            hour = hour_of(created)
            if hour in wanted:
                sums.setdefault((hour, dim, value, 0), [0, Decimal(0), Decimal(0)])[0] += 1
        for created, dim, value, driver, quantity, amount in db.execute(
            select(f.created_at, d.dimension_id, d.value, c.driver_id, c.quantity, c.amount)
            .join(f, f.order_id == d.order_id)
            .join(c, c.order_id == d.order_id)
            .where(*in_span)
        ):
            hour = hour_of(created)
            if hour not in wanted:
                continue
            acc = sums.setdefault((hour, dim, value, driver), [0, Decimal(0), Decimal(0)])
            acc[0] += 1
            acc[1] += Decimal(quantity or 0)
            acc[2] += Decimal(amount or 0)
        rows = [
            {"hour": hour, "dimension_id": dim, "value": value, "driver_id": driver, "orders": n,
             "quantity": q, "amount": a}
            for (hour, dim, value, driver), (n, q, a) in sums.items()
        ]  # fmt: skip
        _refill(db, CostHourly, span, rows)


DAILY_TWINS = (
    ("DurationHourly", "DurationDaily"),
    ("NodeHourly", "NodeDaily"),
    ("EdgeHourly", "EdgeDaily"),
)


def rebuild_daily(db: Session, zone: ZoneInfo) -> int:
    """Recompute the daily rollups from the hourly ones (after the business time zone
    changed); returns the number of daily rows. No commit."""

    written = 0
    for hourly_name, daily_name in DAILY_TWINS:
        hourly, daily = getattr(models, hourly_name), getattr(models, daily_name)
        db.execute(delete(daily))
        twin = Twin(hourly, daily, zone)
        keys = [c.name for c in hourly.__table__.primary_key.columns if c.name != "hour"]
        numbers = [c.name for c in hourly.__table__.columns
                   if c.name not in keys and c.name != "hour" and c.name not in ("hist", "branches")]  # fmt: skip
        split = keys.index("channel") if "channel" in keys else len(keys)
        for row in db.scalars(select(hourly)):
            key = [getattr(row, k) for k in keys]
            acc = twin.daily[(*key[:split], day_of(row.hour, zone), *key[split:])]
            for name in numbers:
                acc.numbers[name] += getattr(row, name) or 0
            histogram.merge(acc.hists["hist"], row.hist)
            for name, n in (getattr(row, "branches", None) or {}).items():
                acc.maps["branches"][name] = acc.maps["branches"].get(name, 0) + int(n)
        written += len(twin.daily.rows)
        twin.daily.flush(db)
    return written
