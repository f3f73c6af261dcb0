"""Evaluating a rule: which keys breach now, with their value and the orders behind them.

Every evaluation is a few indexed queries over fact tables, bounded by the rule's window,
so it stays fast however long the history is. The clock is passed in (``now``), which is
how tests and backtests check each kind at exact moments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, select, true
from sqlalchemy.orm import Session

from ..models import Flow, FlowVersion, NodeVisit, OrderFact
from . import sqlfilter
from .datasets import DATASETS, Dataset
from .rules import PERIODS, parse_duration

MAX_ORDERS = 200
ALL = "*"

_AGGREGATES: dict[str, Callable[[Any], ColumnElement[Any]]] = {
    "sum": func.sum,
    "avg": func.avg,
    "max": func.max,
}


@dataclass
class Breach:
    """A key over its threshold: the value seen and the orders behind it."""

    key: str
    value: Decimal
    orders: list[int] = field(default_factory=list)
    order_count: int = 0
    channel: str | None = None
    order_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """What an evaluation found; ``scope`` limits resolution to keys it looked at (None:
    every key of the rule)."""

    breaches: dict[str, Breach] = field(default_factory=dict)
    scope: set[str] | None = None
    values: dict[str, Decimal] = field(default_factory=dict)


def passes(op: str, value: Decimal, threshold: Decimal) -> bool:
    return {
        ">": value > threshold,
        ">=": value >= threshold,
        "<": value < threshold,
        "<=": value <= threshold,
    }[op]


def evaluate(
    db: Session, kind: str, definition: dict[str, Any], now: datetime, zone: ZoneInfo
) -> Outcome:
    """Evaluate a non-order rule at ``now``."""
    if kind == "aggregate":
        window = parse_duration(definition["window"]) or timedelta(hours=1)
        return aggregate(db, definition, now - window, now)
    if kind == "streak":
        return streak(db, definition, now, zone)
    if kind == "stuck":
        return stuck(db, definition, now)
    if kind == "backlog":
        return backlog(db, definition, now)
    raise ValueError(f"not a scheduled rule kind: {kind}")


# -- aggregates ----------------------------------------------------------------------------


def _filters(ds: Dataset, definition: dict[str, Any]) -> list[ColumnElement[bool]]:
    out = [ds.base()]
    if definition.get("filter"):
        out.append(sqlfilter.condition(definition["filter"], ds))
    return out


def measure(
    db: Session, definition: dict[str, Any], since: datetime, until: datetime
) -> dict[str, tuple[Decimal, int]]:
    """``{key: (value, rows)}`` of an aggregate over ``[since, until)``."""
    ds = DATASETS[definition["dataset"]]
    group_name = definition.get("group_by") or "none"
    group = ds.fields[group_name].column if group_name != "none" else None
    kind = definition["measure"]
    value: ColumnElement[Any]
    if kind == "rate":
        hit = sqlfilter.condition(definition["numerator"], ds)
        value = func.sum(case((hit, 1), else_=0))
    elif kind == "count":
        value = func.count()
    else:
        column = ds.fields[definition["field"]].column
        value = _AGGREGATES[kind](column)
    query = select(func.count(), value).where(
        ds.time >= since, ds.time < until, *_filters(ds, definition)
    )
    rows = _grouped(db, query, group)
    out: dict[str, tuple[Decimal, int]] = {}
    for key, n, raw in rows:
        if not n:
            continue
        number = Decimal(str(raw)) if raw is not None else Decimal(0)
        if kind == "rate":
            number = (number * 100 / n) if n else Decimal(0)
        out[_key(key)] = (number.quantize(Decimal("0.0001")), int(n))
    return out


def _grouped(db: Session, query: Any, group: Any) -> list[tuple[Any, ...]]:
    """Rows of ``query`` as (key, *columns): per value of ``group``, or one row keyed ``*``."""
    if group is None:
        return [(ALL, *row) for row in db.execute(query).all()]
    grouped = query.with_only_columns(group, *query.selected_columns).group_by(group)
    return [tuple(row) for row in db.execute(grouped).all()]


def _key(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)[:200]


def aggregate(db: Session, definition: dict[str, Any], since: datetime, until: datetime) -> Outcome:
    threshold = Decimal(str(definition["threshold"]))
    out = Outcome(scope=None)
    for key, (value, rows) in measure(db, definition, since, until).items():
        out.values[key] = value
        if rows >= int(definition.get("min_rows") or 1) and passes(
            definition["op"], value, threshold
        ):
            breach = Breach(key, value, details={"rows": rows})
            _behind(db, definition, breach, since, until)
            out.breaches[key] = breach
    return out


def _behind(
    db: Session, definition: dict[str, Any], breach: Breach, since: datetime, until: datetime
) -> None:
    ds = DATASETS[definition["dataset"]]
    where = [ds.time >= since, ds.time < until, *_filters(ds, definition)]
    if definition["measure"] == "rate":
        where.append(sqlfilter.condition(definition["numerator"], ds))
    group_name = definition.get("group_by") or "none"
    if group_name != "none":
        column = ds.fields[group_name].column
        where.append(
            column.is_(None) if breach.key == "—" else column == _typed(ds, group_name, breach.key)
        )
        if group_name == "channel":
            breach.channel = breach.key
    ids = list(
        db.scalars(select(ds.order_id).where(*where).order_by(ds.time.desc()).limit(MAX_ORDERS * 3))
    )
    breach.orders = list(dict.fromkeys(ids))[:MAX_ORDERS]
    breach.order_count = len(set(ids))


def _typed(ds: Dataset, name: str, key: str) -> Any:
    if ds.fields[name].type == "boolean":
        return key == "true"
    return key


def streak(db: Session, definition: dict[str, Any], now: datetime, zone: ZoneInfo) -> Outcome:
    """Keys over the threshold in ``periods`` consecutive periods ending now (or ending
    with the last complete period while the current one has not crossed it yet)."""
    period = definition["period"]
    needed = int(definition["periods"])
    starts = _period_starts(now, period, needed + 1, zone)  # newest first
    threshold = Decimal(str(definition["threshold"]))
    minimum = int(definition.get("min_rows") or 1)
    history: list[set[str]] = []
    values: dict[str, Decimal] = {}
    for i, start in enumerate(starts):
        end = now if i == 0 else starts[i - 1]
        breaching = set()
        for key, (value, rows) in measure(db, definition, start, end).items():
            if i == 0:
                values[key] = value
            if rows >= minimum and passes(definition["op"], value, threshold):
                breaching.add(key)
        history.append(breaching)
    out = Outcome(scope=None, values=values)
    for key in set().union(*history):
        run = _run_length(history, key)
        if run >= needed:
            breach = Breach(key, Decimal(run), details={"periods": run, "period": period})
            _behind(db, definition, breach, starts[-1], now)
            out.breaches[key] = breach
    return out


def _run_length(history: list[set[str]], key: str) -> int:
    begin = 0 if key in history[0] else 1
    run = 0
    for breaching in history[begin:]:
        if key not in breaching:
            break
        run += 1
    return run


def _period_starts(now: datetime, period: str, count: int, zone: ZoneInfo) -> list[datetime]:
    local = now.astimezone(zone)
    if period == "day":
        first = local.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        first = local.replace(minute=0, second=0, microsecond=0)
    step = PERIODS[period]
    out = []
    for i in range(count):
        moment = (first - i * step) if period == "hour" else _days_back(first, i, zone)
        out.append(moment)
    return out


def _days_back(first: datetime, days: int, zone: ZoneInfo) -> datetime:
    naive = first.replace(tzinfo=None) - timedelta(days=days)
    return naive.replace(tzinfo=zone)


# -- time in state -------------------------------------------------------------------------


def _versions(db: Session, flow_key: str | None) -> list[int] | None:
    if not flow_key:
        return None
    return list(
        db.scalars(
            select(FlowVersion.id)
            .join(Flow, Flow.id == FlowVersion.flow_id)
            .where(Flow.key == flow_key)
        )
    )


def stuck(db: Session, definition: dict[str, Any], now: datetime) -> Outcome:
    """Orders in a state, or tokens at a node or approval, for longer than the limit."""
    limit = parse_duration(definition["longer_than"]) or timedelta(hours=1)
    cutoff = now - limit
    group_name = definition.get("group_by") or "none"
    if definition["subject"] == "order_status":
        f = OrderFact
        where = [f.status.in_(definition["states"]), f.status_at < cutoff]
        since, ident = f.status_at, f.order_id
        columns = {"channel": f.channel, "state": f.status}
    else:
        v = NodeVisit
        where = [v.left_at.is_(None), v.entered_at < cutoff]
        versions = _versions(db, definition.get("flow"))
        if versions is not None:
            where.append(v.flow_version_id.in_(versions or [-1]))
        if definition.get("node"):
            where.append(v.node_id == definition["node"])
        if definition["subject"] == "approval":
            where.append(v.node_type == "approval")
        since, ident = v.entered_at, v.order_id
        columns = {"channel": v.channel, "node": v.node_id}
    return _counted(db, where, since, ident, (group_name, columns.get(group_name)), definition, now)


def backlog(db: Session, definition: dict[str, Any], now: datetime) -> Outcome:
    """Approvals waiting for a decision, compared with the threshold."""
    v = NodeVisit
    where = [v.left_at.is_(None), v.node_type == "approval"]
    versions = _versions(db, definition.get("flow"))
    if versions is not None:
        where.append(v.flow_version_id.in_(versions or [-1]))
    if definition.get("node"):
        where.append(v.node_id == definition["node"])
    older = parse_duration(definition.get("older_than"))
    if older is not None:
        where.append(v.entered_at < now - older)
    group = ("node", v.node_id if definition.get("group_by") == "node" else None)
    return _counted(db, where, v.entered_at, v.order_id, group, definition, now, compare=True)


def _counted(
    db: Session,
    where: list[ColumnElement[bool]],
    since: Any,
    ident: Any,
    group: tuple[str, Any],
    definition: dict[str, Any],
    now: datetime,
    *,
    compare: bool = False,
) -> Outcome:
    group_name, column = group
    rows = _grouped(db, select(func.count(), func.min(since)).where(and_(true(), *where)), column)
    out = Outcome(scope=None)
    for raw_key, n, oldest in rows:
        if not n and not compare:
            continue
        key = _key(raw_key)
        value = Decimal(int(n))
        out.values[key] = value
        if compare:
            hit = passes(definition["op"], value, Decimal(str(definition["threshold"])))
        else:
            hit = n >= int(definition.get("min_count") or 1)
        if not hit:
            continue
        breach = Breach(key, value, order_count=int(n))
        breach.details["oldest_hours"] = (
            round((now - oldest).total_seconds() / 3600, 1) if oldest else None
        )
        filters = list(where)
        if column is not None:
            filters.append(column == raw_key)
            if group_name == "channel":
                breach.channel = key
        breach.orders = list(
            dict.fromkeys(
                db.scalars(select(ident).where(*filters).order_by(since).limit(MAX_ORDERS))
            )
        )
        out.breaches[key] = breach
    return out


def order_ids_of(breaches: Iterable[Breach]) -> set[int]:
    return {i for b in breaches for i in b.orders}
