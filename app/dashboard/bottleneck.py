"""Where orders wait in a flow: per node and edge, volume and time (median, p90).

Node time is how long tokens waited at the node (approvals, timers, external events;
nodes that decide or act at once take no time). Edge time is from leaving the edge's source
to leaving its target, i.e. the gap a supervisor sees between two milestones such as QC
release and loading. Volumes count tokens that passed. ``waiting`` counts tokens at the
node now, with the age of the oldest. Read from hourly rollups; exact from the visits when
the range holds at most :data:`EXACT_LIMIT` waits.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import NotFoundError
from ..metrics import histogram, rollups
from ..models import (
    EdgeDaily,
    EdgeHourly,
    Flow,
    FlowVersion,
    NodeDaily,
    NodeHourly,
    NodeVisit,
    Order,
)
from .ranges import Range

EXACT_LIMIT = 20_000
PASSED_EXITS_EXCLUDED = ("cancelled", "incident", "token_cancelled")


@dataclass
class Scope:
    flow: Flow
    versions: list[FlowVersion]
    doc: dict[str, Any]

    @property
    def version_ids(self) -> list[int]:
        return [v.id for v in self.versions]


def scope(db: Session, key: str, version: str | None) -> Scope:
    """The flow and the versions to read: one number, ``all``, or the live version."""
    flow = db.scalars(select(Flow).where(Flow.key == key)).one_or_none()
    if flow is None:
        raise NotFoundError(_l("There is no flow %(key)s.", key=key))
    versions = list(
        db.scalars(
            select(FlowVersion).where(FlowVersion.flow_id == flow.id).order_by(FlowVersion.number)
        )
    )
    if not versions:
        raise NotFoundError(_l("Flow %(key)s has no published version yet.", key=key))
    if version == "all":
        return Scope(flow, versions, versions[-1].doc)
    chosen = None
    if version and version.isdigit():
        chosen = next((v for v in versions if v.number == int(version)), None)
        if chosen is None:
            raise NotFoundError(_l("Flow %(key)s has no version %(n)s.", key=key, n=version))
    chosen = chosen or next((v for v in versions if v.is_live), versions[-1])
    return Scope(flow, [chosen], chosen.doc)


def _stats(hist: histogram.Hist, values: list[float] | None) -> dict[str, Any]:
    if values is not None:
        return {
            "p50": histogram.exact_percentile(values, 0.5),
            "p90": histogram.exact_percentile(values, 0.9),
        }
    return {"p50": histogram.percentile(hist, 0.5), "p90": histogram.percentile(hist, 0.9)}


def heatmap(db: Session, s: Scope, r: Range, now: datetime) -> dict[str, Any]:
    """Node and edge figures of ``s`` over ``r`` (the JSON the flow views colour by)."""
    ids = s.version_ids
    nodes: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"passes": 0, "waits": 0, "total": 0.0, "hist": {}, "branches": defaultdict(int)}
    )
    n_, e_ = NodeHourly, EdgeHourly
    node_rows = rollups.read(db, NodeHourly, NodeDaily, r.start, r.end, r.zone,
                             [n_.node_id, n_.passes, n_.waits, n_.total, n_.hist, n_.branches],
                             [n_.flow_version_id.in_(ids)], whole_days=not r.hourly)  # fmt: skip
    for _moment, node_id, passes, waits, total, hist, branches in node_rows:
        item = nodes[node_id]
        item["passes"] += passes
        item["waits"] += waits
        item["total"] += total
        histogram.merge(item["hist"], hist)
        for branch, n in (branches or {}).items():
            item["branches"][branch] += int(n)
    edges: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "total": 0.0, "hist": {}}
    )
    edge_rows = rollups.read(db, EdgeHourly, EdgeDaily, r.start, r.end, r.zone,
                             [e_.from_node, e_.to_node, e_.count, e_.total, e_.hist],
                             [e_.flow_version_id.in_(ids)], whole_days=not r.hourly)  # fmt: skip
    for _moment, source, target, count, total, hist in edge_rows:
        item = edges[(source, target)]
        item["count"] += count
        item["total"] += total
        histogram.merge(item["hist"], hist)
    exact_nodes, exact_edges = _exact(db, ids, r, sum(n["waits"] for n in nodes.values()))
    waiting = {
        node_id: (int(n), oldest)
        for node_id, n, oldest in db.execute(
            select(NodeVisit.node_id, func.count(), func.min(NodeVisit.entered_at))
            .where(NodeVisit.flow_version_id.in_(ids), NodeVisit.left_at.is_(None))
            .group_by(NodeVisit.node_id)
        )
    }
    out_nodes = {}
    for node in s.doc.get("nodes") or []:
        node_id = node.get("id")
        item = nodes.get(node_id) or {
            "passes": 0,
            "waits": 0,
            "total": 0.0,
            "hist": {},
            "branches": {},
        }
        now_waiting, oldest = waiting.get(node_id, (0, None))
        values = exact_nodes.get(node_id, []) if exact_nodes is not None else None
        out_nodes[node_id] = {
            "type": node.get("type"),
            "passes": item["passes"],
            "waits": item["waits"],
            "mean": item["total"] / item["waits"] if item["waits"] else None,
            **_stats(item["hist"], values),
            "waiting": now_waiting,
            "oldest_hours": round((now - oldest).total_seconds() / 3600, 2) if oldest else None,
            "branches": dict(item["branches"]),
        }
    out_edges = []
    for edge in s.doc.get("edges") or []:
        source, target, branch = edge.get("from"), edge.get("to"), edge.get("branch")
        passed = out_nodes.get(source, {}).get("branches", {})
        # A token takes an edge when its source passes by the edge's branch ("-": none).
        volume = passed.get(branch or "-", 0)
        timing = edges.get((source, target), {"count": 0, "total": 0.0, "hist": {}})
        values = exact_edges.get((source, target), []) if exact_edges is not None else None
        out_edges.append({
            "id": edge.get("id"), "from": source, "to": target, "branch": branch, "volume": volume,
            "timed": timing["count"], **_stats(timing["hist"], values),
        })  # fmt: skip
    return {
        "flow": s.flow.key,
        "versions": [v.number for v in s.versions],
        "range": {"start": r.start.isoformat(), "end": r.end.isoformat()},
        "estimated": exact_nodes is None,
        "nodes": out_nodes,
        "edges": out_edges,
    }


def _exact(
    db: Session, ids: list[int], r: Range, waits: int
) -> tuple[dict[str, list[float]] | None, dict[tuple[str, str], list[float]] | None]:
    if waits > EXACT_LIMIT:
        return None, None
    v = NodeVisit
    nodes: dict[str, list[float]] = defaultdict(list)
    edges: dict[tuple[str, str], list[float]] = defaultdict(list)
    for node_id, source, dwell in db.execute(
        select(v.node_id, v.from_node, v.dwell_seconds).where(
            v.flow_version_id.in_(ids), v.left_at >= r.start, v.left_at < r.end,
            v.exit.not_in(PASSED_EXITS_EXCLUDED),
        )
    ):  # fmt: skip
        # A visit gets left_at and dwell_seconds together when it closes.
        nodes[node_id].append(dwell)  # type: ignore[arg-type]
        if source:
            edges[(source, node_id)].append(dwell)  # type: ignore[arg-type]
    return nodes, edges


def slowest(
    db: Session, s: Scope, node_id: str, r: Range, now: datetime, limit: int = 20
) -> dict[str, Any]:
    """The orders that spent longest at ``node_id`` in the range, and those waiting there now."""
    v = NodeVisit
    columns = (
        v.order_id,
        Order.external_id,
        Order.channel,
        v.entered_at,
        v.left_at,
        v.dwell_seconds,
        v.exit,
        v.run_id,
    )
    done = db.execute(
        select(*columns).join(Order, Order.id == v.order_id)
        .where(v.flow_version_id.in_(s.version_ids), v.node_id == node_id, v.left_at >= r.start,
               v.left_at < r.end, v.exit.not_in(PASSED_EXITS_EXCLUDED))
        .order_by(v.dwell_seconds.desc()).limit(limit)
    ).all()  # fmt: skip
    open_ = db.execute(
        select(*columns).join(Order, Order.id == v.order_id)
        .where(v.flow_version_id.in_(s.version_ids), v.node_id == node_id, v.left_at.is_(None))
        .order_by(v.entered_at).limit(limit)
    ).all()  # fmt: skip

    def row(item: Any, waiting: bool) -> dict[str, Any]:
        order_id, external_id, channel, entered, left, dwell, exit_, run_id = item
        seconds = (now - entered).total_seconds() if waiting else dwell
        return {"order_id": order_id, "external_id": external_id, "channel": channel, "run_id": run_id,
                "entered_at": entered, "left_at": left, "seconds": seconds, "exit": exit_, "waiting": waiting}  # fmt: skip

    return {
        "node": node_id,
        "finished": [row(i, False) for i in done],
        "waiting": [row(i, True) for i in open_],
    }
