"""Four weeks of order history for the demo: orders over days, hours and channels with a
promotion peak, their status reports (some late deliveries), completed runs of the demo's
live flows with decided approvals (some after their deadline), then the figures refreshed,
so the dashboard, the bottleneck view, costs and backtests have data on first start.

Everything is seeded (the same history each time, relative to ``now``) and written in bulk:
one insert per table, no round trip per order. Runs are written as the engine leaves them
when they are over (status ``completed``, an audit trail from ``run_started`` to
``run_completed``, a finished snapshot), walking each flow's graph the way its orders went.
"""

from __future__ import annotations

import copy
import random
import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from flow_engine._durations import parse_duration

from ..costs import services as costs
from ..models import (
    ApprovalAction,
    ApprovalTask,
    BusinessRole,
    FlowVersion,
    LookupHourly,
    Order,
    RoleHolder,
    Run,
    RunEvent,
    StatusEvent,
    User,
    utcnow,
)
from ..runs.cache import compiled_version

SEED = 17
DAYS = 28
# Orders a day by channel on an ordinary weekday; weekends and the promotion scale them.
CHANNELS = {"tmall": 3, "jd": 2, "douyin": 3, "taobao": 2, "wechat": 1, "b2b": 2, "crm": 1,
            "shopify": 1}  # fmt: skip
# A promotion (a 双12-style sale) this many days ago, for three days.
PEAK_DAYS_AGO = (12, 11, 10)
PEAK_FACTOR = 3.0
# Share of a day's orders by local hour (Asia/Shanghai is UTC+8): evenings peak.
HOURS = [1, 1, 0, 0, 0, 0, 1, 2, 4, 6, 7, 6, 5, 6, 7, 6, 5, 5, 6, 8, 10, 11, 8, 4]
WAITING = ("approval", "wait_event", "reserve_inventory", "timer")
PREFIX = "H"  # external ids of history orders start with it: loading again adds nothing


@dataclass
class _Flow:
    version_id: int
    key: str
    number: int
    doc: dict[str, Any]
    compiled: Any
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    out: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def load_history(db: Session, now: datetime | None = None, *, seed: int = SEED) -> int:
    """Write the history into the caller's transaction; returns how many orders it added
    (0 when it is there already or the demo has no sample orders to model it on)."""
    now = (now or utcnow()).replace(minute=0, second=0, microsecond=0)
    if db.scalars(select(Order.id).where(Order.external_id.like(f"{PREFIX}-%")).limit(1)).first():
        return 0
    models = _models(db)
    flows = _flows(db)
    if not models or not flows:
        return 0
    rng = random.Random(seed)  # noqa: S311 (demo data: the same history every time)
    deciders = _deciders(db)
    plan = _plan_orders(rng, models, now)
    rows = [p["row"] for p in plan]
    ids = db.scalars(insert(Order).returning(Order.id, sort_by_parameter_order=True), rows).all()
    writer = _Writer(rng, deciders, now)
    for order_id, p in zip(ids, plan, strict=True):
        p["id"] = order_id
        writer.status_events(p)
        writer.lookups(p)
        for flow in flows:
            if _matches(flow, p["row"]["data"], p["row"]["created_at"]):
                writer.plan_run(flow, p)
    writer.flush(db)
    costs.ensure_defaults(db)
    return len(plan)


def _models(db: Session) -> dict[str, list[dict[str, Any]]]:
    """The demo's sample orders by channel: what history orders are made from."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for channel, data in db.execute(select(Order.channel, Order.data).order_by(Order.id)):
        if isinstance(data, dict) and data.get("lines"):
            out[channel].append(data)
    return out


def _flows(db: Session) -> list[_Flow]:
    flows = []
    for version in db.scalars(
        select(FlowVersion).where(
            FlowVersion.is_live.is_(True), FlowVersion.trigger_event == "order.created"
        )
    ):
        doc = version.doc
        flow = _Flow(version.id, doc["key"], version.number, doc, compiled_version(version))
        flow.nodes = {n["id"]: n for n in doc["nodes"]}
        for edge in doc["edges"]:
            flow.out.setdefault(edge["from"], []).append(edge)
        flows.append(flow)
    return flows


def _deciders(db: Session) -> dict[str, list[str]]:
    """Usernames holding each business role (who decided the history's approvals)."""
    out: dict[str, list[str]] = defaultdict(list)
    for key, username in db.execute(
        select(BusinessRole.key, User.username)
        .join(RoleHolder, RoleHolder.role_id == BusinessRole.id)
        .join(User, User.id == RoleHolder.user_id)
        .order_by(User.username)
    ):
        out[key].append(username)
    return out


def _matches(flow: _Flow, doc: Mapping[str, Any], at: datetime) -> bool:
    try:
        return bool(flow.compiled.matches("order.created", doc, now=at, ref={}, data={}))
    except Exception:  # noqa: BLE001 (a filter that needs reference data: no history run)
        return False


def _plan_orders(
    rng: random.Random, models: Mapping[str, list[dict[str, Any]]], now: datetime
) -> list[dict[str, Any]]:
    plan = []
    today = now.replace(hour=0)
    for days_ago in range(DAYS, 0, -1):
        day = today - timedelta(days=days_ago)
        factor = PEAK_FACTOR if days_ago in PEAK_DAYS_AGO else 1.0
        if (day + timedelta(hours=8)).weekday() >= 5:
            factor *= 1.3
        for channel, per_day in CHANNELS.items():
            if channel not in models:
                continue
            count = max(0, round(per_day * factor * rng.uniform(0.7, 1.3)))
            for n in range(count):
                hour = rng.choices(range(24), HOURS)[0]
                placed = day + timedelta(hours=hour - 8, minutes=rng.randrange(60))
                doc = _order_doc(rng, rng.choice(models[channel]), channel, placed, n)
                doc["promotion"] = days_ago in PEAK_DAYS_AGO
                plan.append({"row": _order_row(doc, placed), "peak": days_ago in PEAK_DAYS_AGO})
    return plan


def _order_doc(
    rng: random.Random, model: Mapping[str, Any], channel: str, placed: datetime, n: int
) -> dict[str, Any]:
    doc = copy.deepcopy(dict(model))
    doc.pop("promotion", None)
    scale = rng.choice((0.5, 0.8, 1, 1, 1.2, 1.5, 2))
    amount = Decimal(0)
    for line in doc["lines"]:
        line["qty"] = max(1, round(float(line.get("qty") or 1) * scale))
        amount += Decimal(str(line.get("price") or 0)) * line["qty"]
    local = placed + timedelta(hours=8)
    doc["external_id"] = f"{PREFIX}-{channel.upper()}-{local:%Y%m%d}-{n:03d}"
    doc["channel"] = channel
    doc["status"] = "paid"
    doc["urgent"] = rng.random() < 0.12
    doc["amount"] = float(amount) if amount else doc.get("amount")
    doc["created_at"] = placed.replace(tzinfo=UTC).isoformat()
    promise = timedelta(hours=96 if channel in ("b2b", "crm", "shopify") else 48)
    doc["promised_at"] = (placed + promise).replace(tzinfo=UTC).isoformat()
    return doc


def _order_row(doc: dict[str, Any], placed: datetime) -> dict[str, Any]:
    amount = doc.get("amount")
    return {
        "channel": doc["channel"],
        "external_id": doc["external_id"],
        "tracking_id": secrets.token_urlsafe(12),
        "status": "paid",
        "customer_id": (doc.get("customer") or {}).get("id"),
        "amount": Decimal(str(amount)) if amount is not None else None,
        "data": doc,
        "created_at": placed,
        "updated_at": placed,
    }


# Status reports: (source, code, state, hours after the previous one: low, high).
LIFECYCLE = (
    ("erp", "PAYMENT_CONFIRMED", "paid", 0.02, 0.4),
    ("wms", "PICKED", "picking", 1, 5),
    ("wms", "PACKED", "packed", 0.3, 2),
    ("wms", "SHIPPED", "shipped", 0.5, 6),
    ("carrier", "DELIVERED", "delivered", 12, 40),
)


class _Writer:
    """Collects the rows of every table, then writes each table with one statement."""

    def __init__(self, rng: random.Random, deciders: Mapping[str, list[str]], now: datetime):
        self.rng, self.deciders, self.now = rng, deciders, now
        self.status: list[dict[str, Any]] = []
        self.order_status: list[dict[str, Any]] = []
        self.lookup: dict[tuple[datetime, str, str], int] = defaultdict(int)
        self.runs: list[dict[str, Any]] = []

    def status_events(self, p: dict[str, Any]) -> None:
        row = p["row"]
        at, state = row["created_at"], "paid"
        for source, code, new_state, low, high in LIFECYCLE:
            hours = self.rng.uniform(low, high)
            if p["peak"] and source != "erp":  # the promotion slows the warehouse and carriers
                hours *= self.rng.uniform(1.3, 2.2)
            at = at + timedelta(hours=hours)
            if at >= self.now:
                break
            lag = self.rng.expovariate(1 / (1200 if source == "carrier" else 90))
            self.status.append(
                {
                    "order_id": p["id"], "source": source, "code": code, "state": new_state,
                    "event_id": f"{row['external_id']}-{code}", "effect": "applied",
                    "source_time": at, "received_at": min(at + timedelta(seconds=lag), self.now),
                    "location": None, "data": {},
                }
            )  # fmt: skip
            state = new_state
        if state != "paid":
            self.order_status.append({"id": p["id"], "status": state})
        p["state"] = state

    def lookups(self, p: dict[str, Any]) -> None:
        row = p["row"]
        for via, most in (("self", 3), ("assisted", 1)):
            for _ in range(self.rng.randint(0, most)):
                at = row["created_at"] + timedelta(hours=self.rng.uniform(1, 60))
                if at < self.now:
                    hour = at.replace(minute=0, second=0, microsecond=0)
                    self.lookup[(hour, row["channel"], via)] += 1

    def plan_run(self, flow: _Flow, p: dict[str, Any]) -> None:
        started = p["row"]["created_at"] + timedelta(seconds=self.rng.uniform(0.2, 3))
        events: list[dict[str, Any]] = [
            {"kind": "run_started", "at": started,
             "data": {"flow": flow.key, "version": str(flow.number)}}
        ]  # fmt: skip
        tasks: list[dict[str, Any]] = []
        at, node_id, path, outcome = started, "start", [], None
        for _ in range(40):  # a path never visits more nodes than this
            node = flow.nodes[node_id]
            kind = node["type"]
            path.append(node_id)
            edges = flow.out.get(node_id, [])
            if kind == "end":
                events.append(_passed(at, node_id, kind, None))
                outcome = (node.get("config") or {}).get("outcome", "done")
                break
            edge = self._choose(kind, edges)
            if edge is None:
                return  # a graph this walk cannot finish: no history run for it
            branch = edge.get("branch")
            if kind in WAITING:
                events.append({"kind": "node_waiting", "at": at, "node_id": node_id,
                               "node_type": kind, "data": {}})  # fmt: skip
                if kind == "approval":
                    at, branch = self._approval(flow, node, p, at, events, tasks, branch)
                else:
                    at = at + timedelta(hours=self.rng.uniform(0.2, 6))
            events.append(_passed(at, node_id, kind, branch))
            at += timedelta(milliseconds=self.rng.randint(5, 80))
            node_id = edge["to"]
        if outcome is None or at >= self.now:
            return
        events.append({"kind": "run_completed", "at": at, "data": {}})
        self.runs.append(
            {"flow": flow, "order": p, "events": events, "tasks": tasks, "path": path,
             "outcome": outcome, "started": started, "finished": at}
        )  # fmt: skip

    def _choose(self, kind: str, edges: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
        if len(edges) <= 1:
            return edges[0] if edges else None
        by_branch = {e.get("branch"): e for e in edges}
        if kind == "approval":
            weights = {"approved": 0.82, "rejected": 0.18}
            usable = [b for b in weights if b in by_branch]
            if usable:
                return by_branch[self.rng.choices(usable, [weights[b] for b in usable])[0]]
        if kind == "condition" and {"true", "false"} <= set(by_branch):
            return by_branch["true" if self.rng.random() < 0.55 else "false"]
        weights_list = [3.0] + [1.0] * (len(edges) - 1)  # the first way out is the usual one
        return self.rng.choices(list(edges), weights_list)[0]

    def _approval(
        self,
        flow: _Flow,
        node: Mapping[str, Any],
        p: Mapping[str, Any],
        entered: datetime,
        events: list[dict[str, Any]],
        tasks: list[dict[str, Any]],
        branch: str | None,
    ) -> tuple[datetime, str | None]:
        config = node.get("config") or {}
        try:
            sla = parse_duration(str((config.get("sla") or {}).get("duration") or "4h"))
        except Exception:  # noqa: BLE001 (an unreadable SLA: the usual four hours)
            sla = timedelta(hours=4)
        # Most decisions come well within the deadline; about one in six after it.
        share = self.rng.lognormvariate(-1.2, 0.8) * (1.6 if p["peak"] else 1.0)
        decided = entered + sla * share + timedelta(minutes=self.rng.uniform(2, 20))
        role = next((a.get("role") for a in config.get("assignees") or [] if a.get("role")), None)
        people = self.deciders.get(role or "", []) or ["approver"]
        actor = self.rng.choice(people)
        events.append({"kind": "event_received", "at": decided, "node_id": node["id"],
                       "node_type": "approval", "actor": actor,
                       "data": {"decision": branch}})  # fmt: skip
        tasks.append(
            {"node_id": node["id"], "assignee": actor, "role": role, "status": branch,
             "due_at": entered + sla, "decided_by": actor, "decided_at": decided,
             "created_at": entered, "actor": actor,
             "payload": {"kind": "approval", "mode": config.get("mode", "any"),
                         "reason": config.get("reason"), "checks": [],
                         "order_id": p["row"]["external_id"]}}
        )  # fmt: skip
        return decided, branch

    def flush(self, db: Session) -> None:
        if self.status:
            db.execute(insert(StatusEvent), self.status)
        if self.order_status:
            db.execute(update(Order), self.order_status)
        if self.lookup:
            db.execute(
                insert(LookupHourly),
                [{"hour": h, "channel": c, "via": v, "count": n}
                 for (h, c, v), n in self.lookup.items()],
            )  # fmt: skip
        if not self.runs:
            return
        run_rows = [
            {"flow_version_id": r["flow"].version_id, "order_id": r["order"]["id"],
             "status": "completed", "outcome": r["outcome"], "snapshot": {}, "current_nodes": [],
             "stand": "done", "started_at": r["started"], "updated_at": r["finished"],
             "finished_at": r["finished"]}
            for r in self.runs
        ]  # fmt: skip
        ids = db.scalars(insert(Run).returning(Run.id, sort_by_parameter_order=True), run_rows)
        events, tasks, actions, snapshots = [], [], [], []
        for run_id, r in zip(ids.all(), self.runs, strict=True):
            for seq, event in enumerate(r["events"], start=1):
                events.append({"run_id": run_id, "seq": seq, "node_id": None, "node_type": None,
                               "branch": None, "actor": None, **event})  # fmt: skip
            for n, task in enumerate(r["tasks"], start=1):
                key = f"{run_id}:h{n}"
                actor = task.pop("actor")
                tasks.append({"task_key": key, "run_id": run_id, **task})
                actions.append({"task_key": key, "run_id": run_id, "action": "decided",
                                "actor": actor, "decision": task["status"], "via": "web",
                                "at": task["decided_at"]})  # fmt: skip
            snapshots.append({"id": run_id, "snapshot": _snapshot(run_id, r, len(r["events"]))})
        db.execute(insert(RunEvent), events)
        if tasks:
            db.execute(insert(ApprovalTask), tasks)
            db.execute(insert(ApprovalAction), actions)
        db.execute(update(Run), snapshots)


def _passed(at: datetime, node_id: str, kind: str, branch: str | None) -> dict[str, Any]:
    return {"kind": "node_passed", "at": at, "node_id": node_id, "node_type": kind,
            "branch": branch, "data": {}}  # fmt: skip


def _snapshot(run_id: int, r: Mapping[str, Any], seq: int) -> dict[str, Any]:
    flow = r["flow"]
    return {
        "format_version": 2, "run_id": str(run_id), "flow_key": flow.key,
        "flow_version": str(flow.number), "status": "completed",
        "order": r["order"]["row"]["data"], "vars": {}, "tokens": [],
        "started_at": r["started"].replace(tzinfo=UTC).isoformat(),
        "updated_at": r["finished"].replace(tzinfo=UTC).isoformat(),
        "seq": seq, "revision": 1, "forks": {}, "outcome": r["outcome"], "incident": None,
        "path": r["path"], "reservations": [], "pending_events": [], "closed": {},
    }  # fmt: skip
