"""Backtest: run a draft and the published version side by side over stored orders and
report the orders whose path, outcome, fields, chosen warehouse or carrier, or approvers
differ. Nothing is written."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from flow_engine import (
    CompiledFlow,
    FlowError,
    FlowValidationError,
    compile_flow,
    exclusive_winners,
    simulate,
)
from rule_dsl import DslError

from ..errors import ValidationError
from ..inventory.services import available_for
from ..models import Flow, FlowVersion, Order
from ..org.directory import directory_cache
from ..reference.services import reference_cache
from ..runs.cache import compiled_version
from ..runs.services import enrich_customer
from .services import _issues_error, live_version

MAX_ORDERS = 10_000
CHANGE_KINDS = ("path", "outcome", "fields", "warehouse", "approver")


@dataclass(frozen=True)
class Outcome:
    """Where one order ends in one version of the flow."""

    triggered: bool
    status: str | None = None
    outcome: str | None = None
    path: tuple[str, ...] = ()
    fields: Mapping[str, Any] = field(default_factory=dict)
    waiting_at: tuple[str, ...] = ()
    error: str | None = None
    # What route and split nodes chose: "node: GZ-01" (split: the warehouses, comma separated).
    routes: tuple[str, ...] = ()
    # Who approval nodes asked: "node: role finance" / "node: user li".
    approvers: tuple[str, ...] = ()
    # The flow of the same exclusive group that starts instead (the trigger matched).
    excluded_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "triggered": self.triggered,
            "status": self.status,
            "outcome": self.outcome,
            "path": list(self.path),
            "fields": dict(self.fields),
            "waiting_at": list(self.waiting_at),
            "error": self.error,
            "routes": list(self.routes),
            "approvers": list(self.approvers),
            "excluded_by": self.excluded_by,
        }


@dataclass(frozen=True)
class OrderDiff:
    order_id: int
    external_id: str
    channel: str
    changes: tuple[str, ...]
    published: Outcome
    draft: Outcome

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "external_id": self.external_id,
            "channel": self.channel,
            "changes": list(self.changes),
            "published": self.published.to_dict(),
            "draft": self.draft.to_dict(),
        }


@dataclass
class BacktestReport:
    flow_key: str
    published_version: int | None
    orders: int = 0
    changed: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANGE_KINDS, 0))
    diffs: list[OrderDiff] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow_key,
            "published_version": self.published_version,
            "orders": self.orders,
            "changed": self.changed,
            "counts": dict(self.counts),
            "diffs": [d.to_dict() for d in self.diffs],
        }


def matches_quietly(
    flow: CompiledFlow, doc: Mapping[str, Any], now: datetime, ref: Mapping[str, Any]
) -> bool:
    """Whether ``flow``'s trigger matches; a filter that cannot be evaluated starts nothing
    (intake alerts on it instead)."""
    try:
        return flow.matches(flow.trigger_event, doc, now=now, ref=ref)
    except DslError:
        return False


def group_rivals(db: Session, key: str, *flows: CompiledFlow | None) -> list[CompiledFlow]:
    """The other live flows sharing an exclusive group with one of ``flows``."""
    groups = {f.flow.trigger.exclusive_group for f in flows if f is not None} - {None}
    if not groups:
        return []
    versions = db.scalars(select(FlowVersion).where(FlowVersion.is_live.is_(True)))
    live = (compiled_version(v) for v in versions)
    return [f for f in live if f.key != key and f.flow.trigger.exclusive_group in groups]


def ahead_in_group(
    flow: CompiledFlow,
    rivals: list[CompiledFlow],
    doc: Mapping[str, Any],
    now: datetime,
    ref: Mapping[str, Any],
) -> str | None:
    """The key of the live flow of ``flow``'s exclusive group that would start for this
    order instead of ``flow`` (whose trigger matched), or None."""
    group = flow.flow.trigger.exclusive_group
    matched = [
        f
        for f in rivals
        if f.flow.trigger.exclusive_group == group
        and f.trigger_event == flow.trigger_event
        and matches_quietly(f, doc, now, ref)
    ]
    first = exclusive_winners([flow, *matched], lambda f: f)
    return None if flow in first else next(f.key for f in matched if f in first)


def _outcome(
    flow: CompiledFlow | None,
    order: Order,
    doc: Mapping[str, Any],
    ref: Mapping[str, Any],
    rivals: list[CompiledFlow],
) -> Outcome:
    if flow is None:
        return Outcome(triggered=False)
    try:
        if not flow.matches(flow.trigger_event, doc, now=order.created_at, ref=ref):
            return Outcome(triggered=False)
        if flow.flow.trigger.exclusive_group is not None:
            ahead = ahead_in_group(flow, rivals, doc, order.created_at, ref)
            if ahead is not None:
                return Outcome(triggered=False, excluded_by=ahead)
        report = simulate(
            flow, doc, now=order.created_at, ref=ref, run_id=f"backtest-{order.id}"
        ).to_dict()
    except (DslError, FlowError) as err:
        return Outcome(triggered=True, status="error", error=str(err))
    routes, approvers = _choices(report["steps"])
    return Outcome(
        triggered=True,
        status=report["status"],
        outcome=report["outcome"],
        path=tuple(report["path"]),
        fields=report["fields_set"],
        waiting_at=tuple(p["node"] for p in report["pending"]),
        routes=routes,
        approvers=approvers,
    )


def _choices(steps: list[dict[str, Any]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What the route/split nodes chose and whom the approval nodes asked, step by step."""
    routes: list[str] = []
    approvers: list[str] = []
    for step in steps:
        decision = step.get("decision") or {}
        node = step.get("node")
        if step.get("type") == "route" and "chosen" in decision:
            routes.append(f"{node}: {decision['chosen'] or '-'}")
        elif step.get("type") == "split" and "shipments" in decision:
            shipments = decision["shipments"]
            where = (
                ", ".join(str(s.get("warehouse")) for s in shipments)
                if isinstance(shipments, list)
                else str(shipments)
            )
            routes.append(f"{node}: {where}")
        elif step.get("type") == "approval" and decision.get("assignees"):
            for who in decision["assignees"]:
                kind = next((k for k in ("user", "role", "expression") if k in who), "")
                approvers.append(f"{node}: {kind} {who.get(kind)}")
    return tuple(routes), tuple(approvers)


def _changes(a: Outcome, b: Outcome) -> tuple[str, ...]:
    out = []
    if a.path != b.path or a.triggered != b.triggered:
        out.append("path")
    if (a.status, a.outcome, a.waiting_at, a.error) != (b.status, b.outcome, b.waiting_at, b.error):
        out.append("outcome")
    if a.fields != b.fields:
        out.append("fields")
    if a.routes != b.routes:
        out.append("warehouse")
    if a.approvers != b.approvers:
        out.append("approver")
    return tuple(out)


def backtest(
    db: Session,
    flow: Flow,
    draft_doc: Mapping[str, Any] | None = None,
    *,
    last: int = 100,
    progress: Callable[[int], None] | None = None,
) -> BacktestReport:
    """Compare the draft (or ``draft_doc``) with the live version over the last ``last`` orders."""
    if not 1 <= last <= MAX_ORDERS:
        raise ValidationError(
            _l("Backtest between 1 and %(n)d orders.", n=MAX_ORDERS), fields={"last": "range"}
        )
    doc = draft_doc if draft_doc is not None else flow.draft
    if doc is None:
        raise ValidationError(_l("There is no draft to backtest."), code="no_draft")
    try:
        draft = compile_flow(doc, version="draft")
    except FlowValidationError as err:
        raise _issues_error(err.issues) from err
    version = live_version(db, flow)
    published = compiled_version(version) if version else None
    rivals = group_rivals(db, flow.key, draft, published)
    orders = list(
        db.scalars(select(Order).order_by(Order.created_at.desc(), Order.id.desc()).limit(last))
    )
    tables = reference_cache.get(db)
    skus = {
        ln.get("sku") for o in orders for ln in o.data.get("lines") or () if isinstance(ln, Mapping)
    }
    ref = {
        **tables,
        "org": directory_cache.get(db),
        "inventory": available_for(db, [s for s in skus if s]),
    }
    report = BacktestReport(flow.key, version.number if version else None)
    for done, order in enumerate(orders, start=1):
        doc_in = enrich_customer(order.data, ref)
        before = _outcome(published, order, doc_in, ref, rivals)
        after = _outcome(draft, order, doc_in, ref, rivals)
        changes = _changes(before, after)
        report.orders += 1
        if changes:
            report.changed += 1
            for kind in changes:
                report.counts[kind] += 1
            report.diffs.append(
                OrderDiff(order.id, order.external_id, order.channel, changes, before, after)
            )
        if progress is not None:
            progress(done)
    return report
