"""Turning new audit-trail entries into node visits, stock-outs and flow rollups.

A token that waits at a node (``node_waiting``) opens a visit; the node passing (or the
token being cancelled, or failing) closes it. Closed visits that passed add their dwell
time to the node's hourly histogram, to the edge they came in by, and for approval nodes
decided by a person to the approval turnaround rollup. Every ``node_passed`` counts one
pass of its node and branch, which gives node and edge volumes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, insert, select
from sqlalchemy.orm import Session

from ..models import (
    DurationDaily,
    DurationHourly,
    EdgeDaily,
    EdgeHourly,
    NodeDaily,
    NodeHourly,
    NodeVisit,
    Order,
    Run,
    RunEvent,
    StockoutFact,
)
from .history import DECIDED, SHORT_BRANCHES
from .rollups import Twin

CLOSING = ("node_passed", "token_cancelled", "incident")


@dataclass
class Visit:
    """An open or just-closed visit (``row`` is set for visits read from the database)."""

    run_id: int
    order_id: int
    version: int
    node_id: str
    node_type: str | None
    from_node: str | None
    channel: str
    enter_seq: int
    entered_at: datetime
    left_at: datetime | None = None
    exit: str | None = None
    row: NodeVisit | None = None


@dataclass
class EventEffects:
    """What a batch of events changed: orders to refresh."""

    orders: set[int] = field(default_factory=set)
    events: int = 0


def process(db: Session, ids: list[int], zone: ZoneInfo) -> EventEffects:
    """Derive visits, stock-outs and rollups from the run events ``ids`` (days of the daily
    rollups in ``zone``)."""
    out = EventEffects()
    if not ids:
        return out
    e, r = RunEvent, Run
    short = and_(e.kind == "node_passed", e.branch.in_(SHORT_BRANCHES))
    rows = db.execute(
        select(
            e.id, e.run_id, e.seq, e.at, e.kind, e.node_id, e.node_type, e.branch,
            r.flow_version_id, r.order_id, Order.channel, case((short, e.data), else_=None),
        )
        .join(r, r.id == e.run_id)
        .join(Order, Order.id == r.order_id)
        .where(e.id.in_(ids))
        .order_by(e.run_id, e.seq)
    ).all()  # fmt: skip
    out.events = len(rows)
    runs = {row[1] for row in rows}
    open_visits: dict[tuple[int, str], list[Visit]] = defaultdict(list)
    for visit in db.scalars(
        select(NodeVisit).where(NodeVisit.run_id.in_(runs), NodeVisit.left_at.is_(None))
    ):
        open_visits[(visit.run_id, visit.node_id)].append(_from_row(visit))
    state = _State(db, zone)
    last_passed: dict[int, str] = {}
    for (
        ident,
        run_id,
        seq,
        at,
        kind,
        node_id,
        node_type,
        branch,
        version,
        order_id,
        channel,
        data,
    ) in rows:  # noqa: E501
        out.orders.add(order_id)
        if kind == "node_waiting" and node_id:
            origin = last_passed.get(run_id) or _previous_pass(db, run_id, seq)
            opened = Visit(run_id, order_id, version, node_id, node_type, origin, channel, seq, at)
            open_visits[(run_id, node_id)].append(opened)
            state.new.append(opened)
            continue
        if kind in CLOSING and node_id:
            waiting = open_visits.get((run_id, node_id))
            if waiting:
                exit_ = (branch or "-") if kind == "node_passed" else kind
                state.close(waiting.pop(0), at, exit_)
        elif kind in ("run_cancelled", "run_completed"):
            for (visit_run, _node), waiting in open_visits.items():
                if visit_run == run_id:
                    while waiting:
                        state.close(waiting.pop(0), at, "cancelled")
        if kind == "node_passed" and node_id:
            last_passed[run_id] = node_id
            for acc in state.nodes.at((version, node_id), at):
                acc.numbers["passes"] += 1
                acc.tally("branches", branch or "-")
            if data:
                state.stockouts(ident, order_id, channel, at, data)
    state.write()
    return out


def _from_row(row: NodeVisit) -> Visit:
    return Visit(
        row.run_id, row.order_id, row.flow_version_id, row.node_id, row.node_type,
        row.from_node, row.channel, row.enter_seq, row.entered_at, row=row,
    )  # fmt: skip


def _previous_pass(db: Session, run_id: int, seq: int) -> str | None:
    return db.scalars(
        select(RunEvent.node_id)
        .where(RunEvent.run_id == run_id, RunEvent.seq < seq, RunEvent.kind == "node_passed")
        .order_by(RunEvent.seq.desc())
        .limit(1)
    ).first()


class _State:
    def __init__(self, db: Session, zone: ZoneInfo) -> None:
        self.db = db
        self.new: list[Visit] = []
        self.stock: list[dict[str, Any]] = []
        self.nodes = Twin(NodeHourly, NodeDaily, zone)
        self.edges = Twin(EdgeHourly, EdgeDaily, zone)
        self.durations = Twin(DurationHourly, DurationDaily, zone)

    def close(self, visit: Visit, at: datetime, exit_: str) -> None:
        visit.left_at, visit.exit = at, exit_
        dwell = max((at - visit.entered_at).total_seconds(), 0.0)
        if visit.row is not None:
            visit.row.left_at, visit.row.exit, visit.row.dwell_seconds = at, exit_, dwell
        if exit_ in ("cancelled", "incident", "token_cancelled"):
            return
        for acc in self.nodes.at((visit.version, visit.node_id), at):
            acc.duration(dwell, count="waits")
        if visit.from_node:
            for acc in self.edges.at((visit.version, visit.from_node, visit.node_id), at):
                acc.duration(dwell)
        if visit.node_type == "approval" and exit_ in DECIDED:
            for acc in self.durations.at(("approval",), at, (visit.channel,)):
                acc.duration(dwell)

    def stockouts(
        self, event_id: int, order_id: int, channel: str, at: datetime, data: Any
    ) -> None:
        shortages = data.get("shortages") if isinstance(data, dict) else None
        items: Iterable[dict[str, Any]]
        if isinstance(shortages, dict):  # route split: {sku: missing quantity}
            items = [{"sku": k, "requested": v, "available": 0} for k, v in shortages.items()]
        elif isinstance(shortages, list):  # reservation: [{sku, warehouse, requested, available}]
            items = [s for s in shortages if isinstance(s, dict)]
        else:
            return
        for item in items:
            if not item.get("sku"):
                continue
            self.stock.append({
                "run_event_id": event_id, "order_id": order_id, "channel": channel,
                "sku": str(item["sku"])[:64],
                "warehouse": str(item["warehouse"])[:64] if item.get("warehouse") else None,
                "requested": _int(item.get("requested")), "available": _int(item.get("available")),
                "at": at,
            })  # fmt: skip

    def write(self) -> None:
        rows = [
            {
                "run_id": v.run_id, "order_id": v.order_id, "flow_version_id": v.version,
                "node_id": v.node_id, "node_type": v.node_type, "from_node": v.from_node,
                "channel": v.channel, "enter_seq": v.enter_seq, "entered_at": v.entered_at,
                "left_at": v.left_at, "exit": v.exit,
                "dwell_seconds": (v.left_at - v.entered_at).total_seconds() if v.left_at else None,
            }
            for v in self.new
        ]  # fmt: skip
        if rows:
            self.db.execute(insert(NodeVisit), rows)
        if self.stock:
            self.db.execute(insert(StockoutFact), self.stock)
        self.db.flush()
        for acc in (self.nodes, self.edges, self.durations):
            acc.flush(self.db)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
