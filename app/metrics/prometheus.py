"""The Prometheus text exposition of OrderFlow's operational figures (``GET /metrics``).

Counters are totals since the rollups began; gauges describe the last hour or day; the
two percentile families are summaries with ``quantile`` labels. Everything is read from
rollups and indexed facts, so a scrape costs a handful of small queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import (
    Alert,
    DeliveryHourly,
    DurationHourly,
    LookupHourly,
    MetricCursor,
    NodeVisit,
    OrderHourly,
    OutboxMessage,
    Run,
    RunEvent,
)
from . import histogram
from .rollups import hour_of

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, Any]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def _num(value: Any) -> str:
    if value is None:
        return "NaN"
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)


class _Doc:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_: str, samples: Iterable[tuple[dict[str, Any], Any]],
               suffix: str = "") -> None:  # fmt: skip
        self.lines.append(f"# HELP {name} {help_}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.lines.append(f"{name}{suffix}{_labels(labels)} {_num(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def render(db: Session, now: datetime) -> str:
    """The exposition text at ``now``."""
    doc = _Doc()
    hour = hour_of(now)
    day_ago = hour - timedelta(hours=23)
    totals = db.execute(
        select(OrderHourly.channel, func.sum(OrderHourly.orders), func.sum(OrderHourly.manual),
               func.sum(OrderHourly.costed), func.sum(OrderHourly.cost_total))
        .group_by(OrderHourly.channel)
    ).all()  # fmt: skip
    doc.family("orderflow_orders_total", "counter", "Orders received, by sales channel.",
               [({"channel": c}, int(n or 0)) for c, n, *_ in totals])  # fmt: skip
    recent = db.execute(
        select(OrderHourly.channel, func.sum(OrderHourly.orders), func.sum(OrderHourly.manual),
               func.sum(OrderHourly.costed), func.sum(OrderHourly.cost_total))
        .where(OrderHourly.hour >= day_ago).group_by(OrderHourly.channel)
    ).all()  # fmt: skip
    last_hour = dict(
        db.execute(
            select(OrderHourly.channel, func.sum(OrderHourly.orders))
            .where(OrderHourly.hour == hour)
            .group_by(OrderHourly.channel)
        ).all()
    )
    doc.family("orderflow_orders_this_hour", "gauge", "Orders received in the current hour.",
               [({"channel": c}, int(n or 0)) for c, n in sorted(last_hour.items())])  # fmt: skip
    doc.family("orderflow_manual_intervention_ratio", "gauge",
               "Share of the last 24 hours' orders that needed a person.",
               [({"channel": c}, (m or 0) / n if n else None) for c, n, m, *_ in recent])  # fmt: skip
    doc.family("orderflow_unit_fulfilment_cost", "gauge",
               "Fulfilment cost per order over the last 24 hours (CNY).",
               [({"channel": c}, Decimal(cost or 0) / k if k else None) for c, _n, _m, k, cost in recent])  # fmt: skip
    deliveries = db.execute(
        select(func.sum(DeliveryHourly.promised), func.sum(DeliveryHourly.on_time)).where(
            DeliveryHourly.hour >= day_ago
        )
    ).one()
    promised, kept = deliveries
    doc.family("orderflow_on_time_delivery_ratio", "gauge",
               "Share of the last 24 hours' deliveries that kept the promised time.",
               [({}, (kept or 0) / promised if promised else None)])  # fmt: skip
    lookups = dict(
        db.execute(
            select(LookupHourly.via, func.sum(LookupHourly.count))
            .where(LookupHourly.hour >= day_ago)
            .group_by(LookupHourly.via)
        ).all()
    )
    looked = sum(int(v or 0) for v in lookups.values())
    doc.family("orderflow_self_service_tracking_ratio", "gauge",
               "Share of the last 24 hours' order look-ups made by customers on the tracking page.",
               [({}, int(lookups.get("self") or 0) / looked if looked else None)])  # fmt: skip
    _summary(doc, db, "orderflow_status_lag_seconds", "status_lag", hour, (0.5, 0.95),
             "Status report lag over the last hour (receive time minus source time).")  # fmt: skip
    _summary(doc, db, "orderflow_approval_turnaround_seconds", "approval", day_ago, (0.5, 0.9),
             "Approval request to decision over the last 24 hours.")  # fmt: skip
    alerts = db.execute(
        select(Alert.severity, func.count()).where(Alert.status == "open").group_by(Alert.severity)
    ).all()
    by_severity = defaultdict(int, {s: int(n) for s, n in alerts})
    doc.family("orderflow_alerts_open", "gauge", "Open alerts by severity.",
               [({"severity": s}, by_severity[s]) for s in ("info", "warning", "critical")])  # fmt: skip
    runs = dict(
        db.execute(
            select(Run.status, func.count())
            .where(Run.status.in_(("waiting", "incident")))
            .group_by(Run.status)
        ).all()
    )
    doc.family("orderflow_runs", "gauge", "Runs waiting or stopped in an incident.",
               [({"status": s}, int(runs.get(s) or 0)) for s in ("waiting", "incident")])  # fmt: skip
    waiting = db.execute(
        select(NodeVisit.node_type, func.count())
        .where(NodeVisit.left_at.is_(None))
        .group_by(NodeVisit.node_type)
    ).all()
    doc.family("orderflow_tokens_waiting", "gauge", "Tokens waiting at flow nodes, by node type.",
               [({"node_type": t or "unknown"}, int(n)) for t, n in waiting])  # fmt: skip
    outbox = dict(
        db.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.status.in_(("pending", "dead")))
            .group_by(OutboxMessage.status)
        ).all()
    )
    doc.family("orderflow_outbox_messages", "gauge", "Outbox messages pending or dead-lettered.",
               [({"status": s}, int(outbox.get(s) or 0)) for s in ("pending", "dead")])  # fmt: skip
    cursor = db.get(MetricCursor, "run_events")
    newest = db.scalar(select(func.max(RunEvent.id))) or 0
    doc.family("orderflow_metrics_backlog_events", "gauge",
               "Run events not yet read into the figures.",
               [({}, max(int(newest) - int(cursor.position if cursor else 0), 0))])  # fmt: skip
    doc.family("orderflow_metrics_refreshed_seconds_ago", "gauge",
               "Seconds since the figures were last refreshed.",
               [({}, (now - cursor.updated_at).total_seconds() if cursor else None)])  # fmt: skip
    return doc.text()


def _summary(doc: _Doc, db: Session, name: str, metric: str, since: datetime,
             quantiles: tuple[float, ...], help_: str) -> None:  # fmt: skip
    whole: histogram.Hist = {}
    count, total = 0, 0.0
    for n, s, hist in db.execute(
        select(DurationHourly.count, DurationHourly.total, DurationHourly.hist).where(
            DurationHourly.metric == metric, DurationHourly.hour >= since
        )
    ):
        histogram.merge(whole, hist)
        count += n
        total += s
    doc.family(name, "summary", help_,
               [({"quantile": q}, histogram.percentile(whole, q)) for q in quantiles])  # fmt: skip
    doc.lines.append(f"{name}_sum {_num(total)}")
    doc.lines.append(f"{name}_count {count}")
