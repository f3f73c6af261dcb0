"""An order's history in figures, read from its runs' audit trail, outbox and status events.

:func:`load` reads everything for a batch of orders with one query per source table, so the
refresher can rebuild the facts of hundreds of orders at a time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..costs.context import empty_history
from ..models import Order, OutboxMessage, Run, RunEvent, StatusEvent

DELIVERED_STATES = ("delivered", "signed")
SHORT_BRANCHES = ("insufficient", "unavailable")
DECIDED = ("approved", "rejected")
WAIT_TYPES = ("timer", "wait_event")


@dataclass
class OrderData:
    """One order as the facts, costs and per-order alerts need it."""

    order_id: int
    external_id: str
    channel: str
    status: str
    created_at: datetime
    amount: Decimal | None
    doc: dict[str, Any]
    history: dict[str, Any] = field(default_factory=empty_history)
    vars: dict[str, Any] = field(default_factory=dict)
    status_at: datetime | None = None
    delivered_at: datetime | None = None
    promised_at: datetime | None = None


def _hours(seconds: float) -> Decimal:
    return Decimal(str(round(max(seconds, 0.0) / 3600, 4)))


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def load(db: Session, order_ids: Iterable[int], now: datetime) -> list[OrderData]:
    """The orders with their histories (orders that no longer exist are left out)."""
    ids = sorted(set(order_ids))
    if not ids:
        return []
    orders = {
        row.id: OrderData(
            row.id,
            row.external_id,
            row.channel,
            row.status,
            row.created_at,
            row.amount,
            row.data if isinstance(row.data, dict) else {},
        )
        for row in db.execute(
            select(
                Order.id,
                Order.external_id,
                Order.channel,
                Order.status,
                Order.created_at,
                Order.amount,
                Order.data,
            ).where(Order.id.in_(ids))
        )
    }
    for data in orders.values():
        data.promised_at = _parse_time(data.doc.get("promised_at"))
        data.history["status"] = data.status
        data.history["returned"] = data.status == "returned"
    _runs(db, orders, now)
    _outbox(db, orders)
    _status(db, orders, now)
    return [orders[i] for i in ids if i in orders]


def _runs(db: Session, orders: Mapping[int, OrderData], now: datetime) -> None:
    ids = list(orders)
    runs = db.execute(
        select(Run.order_id, Run.id, Run.status, Run.outcome, Run.snapshot["vars"])
        .where(Run.order_id.in_(ids))
        .order_by(Run.id)
    ).all()
    run_order = {run_id: order_id for order_id, run_id, *_ in runs}
    for order_id, _run_id, status, outcome, variables in runs:
        h = orders[order_id].history
        h["runs"] += 1
        if status == "cancelled":
            h["cancelled"] = True
        if outcome is not None:
            h["outcome"] = outcome
        if isinstance(variables, dict):
            orders[order_id].vars.update(untag(variables))
    if not runs:
        return
    rows = db.execute(
        select(
            Run.order_id,
            RunEvent.run_id,
            RunEvent.kind,
            RunEvent.node_id,
            RunEvent.node_type,
            RunEvent.branch,
            RunEvent.actor,
            RunEvent.at,
        )
        .join(Run, Run.id == RunEvent.run_id)
        .where(Run.order_id.in_(ids))
        .order_by(RunEvent.run_id, RunEvent.seq)
    )
    waits: dict[tuple[int, str | None], tuple[datetime, str]] = {}
    incident_since: dict[int, datetime] = {}
    seconds: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for order_id, run_id, kind, node_id, node_type, branch, actor, at in rows:
        h = orders[order_id].history
        spent = seconds[order_id]
        if actor:
            h["manual_actions"] += 1
        if kind == "node_waiting":
            waits[(run_id, node_id)] = (at, "approval" if node_type == "approval" else "wait")
            if node_type == "approval":
                h["approvals"] += 1
        elif kind in ("node_passed", "token_cancelled"):
            entered = waits.pop((run_id, node_id), None)
            if entered is not None:
                spent[entered[1]] += (at - entered[0]).total_seconds()
            if kind == "node_passed" and node_type == "approval" and branch == "rejected":
                h["rejections"] += 1
            if kind == "node_passed" and branch in SHORT_BRANCHES:
                h["stockouts"] += 1
        elif kind == "incident":
            h["incidents"] += 1
            waits.pop((run_id, node_id), None)
            incident_since[run_id] = at
        elif kind in ("retried", "run_cancelled"):
            if kind == "retried":
                h["retries"] += 1
            started = incident_since.pop(run_id, None)
            if started is not None:
                spent["incident"] += (at - started).total_seconds()
    for (run_id, _node), (since, bucket) in waits.items():  # still waiting: until now
        seconds[run_order[run_id]][bucket] += (now - since).total_seconds()
    for run_id, started in incident_since.items():
        seconds[run_order[run_id]]["incident"] += (now - started).total_seconds()
    for order_id, spent in seconds.items():
        h = orders[order_id].history
        h["incident_hours"] = _hours(spent["incident"])
        h["approval_hours"] = _hours(spent["approval"])
        h["waiting_hours"] = _hours(spent["wait"])


def untag(value: Any) -> Any:
    """Plain values from a run snapshot's tagged JSON (docs/flows.md: ``{"$decimal": "12.50"}``
    is 12.50; datetimes and dates stay ISO text; durations become seconds)."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((tag, raw),) = value.items()
            if tag == "$decimal":
                return Decimal(str(raw))
            if tag in ("$datetime", "$date"):
                return str(raw)
            if tag == "$duration":
                return Decimal(str(raw))
        return {k: untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [untag(v) for v in value]
    return value


def _outbox(db: Session, orders: Mapping[int, OrderData]) -> None:
    rows = db.execute(
        select(Run.order_id, OutboxMessage.kind, OutboxMessage.status, OutboxMessage.attempts)
        .join(Run, Run.id == OutboxMessage.run_id)
        .where(Run.order_id.in_(list(orders)))
    )
    for order_id, kind, status, attempts in rows:
        h = orders[order_id].history
        if kind == "webhook":
            h["webhook_calls"] += 1
            h["webhook_retries"] += max(int(attempts or 0) - 1, 0)
            if status == "dead":
                h["webhook_failures"] += 1
        elif kind == "notify":
            h["notifications"] += 1


def _status(db: Session, orders: Mapping[int, OrderData], now: datetime) -> None:
    rows = db.execute(
        select(StatusEvent.order_id, StatusEvent.state, StatusEvent.source_time).where(
            StatusEvent.order_id.in_(list(orders)), StatusEvent.effect == "applied"
        )
    )
    for order_id, state, moment in rows:
        data = orders[order_id]
        if state == data.status and (data.status_at is None or moment > data.status_at):
            data.status_at = moment
        if state in DELIVERED_STATES and (data.delivered_at is None or moment < data.delivered_at):
            data.delivered_at = moment
    for data in orders.values():
        if data.status_at is None or data.status_at < data.created_at:
            data.status_at = data.created_at
        h = data.history
        h["status_hours"] = _hours((now - data.status_at).total_seconds())
        h["delivered"] = data.delivered_at is not None
        if data.delivered_at is not None and data.promised_at is not None:
            h["late_hours"] = _hours((data.delivered_at - data.promised_at).total_seconds())
