"""Backtest: run a draft and the published version side by side over stored orders and
report the orders whose path, outcome, fields, chosen warehouse or carrier, or approvers
differ. Nothing is written."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from flow_engine import (
    CompiledFlow,
    FlowError,
    FlowValidationError,
    SimulationReport,
    compile_flow,
    divergence,
    exclusive_winners,
    flow_digest,
    simulate,
    simulate_pair,
)
from flow_engine._codec import plain
from flow_engine.simulate import _STEP_KINDS
from rule_dsl import DslError

from ..errors import ValidationError
from ..inventory.services import available_for
from ..models import Flow, FlowVersion, Order
from ..org.directory import directory_cache
from ..reference.services import reference_cache
from ..runs.cache import compiled_version
from ..runs.services import enrich_customer, order_skus
from .services import _issues_error, live_version

MAX_ORDERS = 10_000
BATCH = 500
CHANGE_KINDS = ("path", "outcome", "fields", "warehouse", "approver")


@dataclass(frozen=True)
class Outcome:
    """Where one order ends in one version of the flow."""

    triggered: bool
    status: str | None = None
    outcome: str | None = None
    path: tuple[str, ...] = ()
    # The values as the flow set them (Decimal, datetime ...): to_dict() writes them as text.
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
            "fields": plain(self.fields),
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


def _replay(
    flow: CompiledFlow | None,
    order: Any,
    doc: Mapping[str, Any],
    ref: Mapping[str, Any],
    rivals: list[CompiledFlow],
) -> Outcome | SimulationReport:
    """The simulation of ``order`` in ``flow``, or its :class:`Outcome` when the flow does
    not start for it (no flow, its trigger does not match, another flow of its exclusive
    group comes first) or the simulation fails."""
    if flow is None:
        return Outcome(triggered=False)
    try:
        skipped = _not_started(flow, order, doc, ref, rivals)
        if skipped is not None:
            return skipped
        return simulate(flow, doc, now=order.created_at, ref=ref, run_id=f"backtest-{order.id}")
    except (DslError, FlowError) as err:
        return Outcome(triggered=True, status="error", error=str(err))


def _not_started(
    flow: CompiledFlow,
    order: Any,
    doc: Mapping[str, Any],
    ref: Mapping[str, Any],
    rivals: list[CompiledFlow],
) -> Outcome | None:
    """The :class:`Outcome` of an order ``flow`` does not start for (its trigger does not
    match, another flow of its exclusive group comes first), or None when it starts. A
    trigger filter that fails raises the DSL's error."""
    if not flow.matches(flow.trigger_event, doc, now=order.created_at, ref=ref):
        return Outcome(triggered=False)
    if flow.flow.trigger.exclusive_group is not None:
        ahead = ahead_in_group(flow, rivals, doc, order.created_at, ref)
        if ahead is not None:
            return Outcome(triggered=False, excluded_by=ahead)
    return None


def _outcome(
    flow: CompiledFlow | None,
    order: Any,
    doc: Mapping[str, Any],
    ref: Mapping[str, Any],
    rivals: list[CompiledFlow],
) -> Outcome:
    """Where ``order`` ends in ``flow``, read straight from the simulation's snapshot and
    audit trail: only the path, outcome, fields set and choices (no full report)."""
    sim = _replay(flow, order, doc, ref, rivals)
    if isinstance(sim, Outcome):
        return sim
    return _read(sim)


def _read(sim: SimulationReport) -> Outcome:
    """The :class:`Outcome` of a simulation that ran, read from its snapshot and audit."""
    snap = sim.result.snapshot
    fields: dict[str, Any] = {}
    routes: list[str] = []
    approvers: list[str] = []
    for a in sim.audit:
        if a.kind not in _STEP_KINDS:
            continue
        data = a.data
        changes = data.get("changes")
        if changes:
            fields.update(changes)  # compared as values; made JSON only when shown
        kind = a.node_type
        if kind == "route" and "chosen" in data:
            chosen = data["chosen"]
            shown = chosen if isinstance(chosen, str) and chosen else plain(chosen) or "-"
            routes.append(f"{a.node_id}: {shown}")
        elif kind == "split" and "shipments" in data:
            routes.append(f"{a.node_id}: {_where(plain(data['shipments']))}")
        elif kind == "approval" and data.get("assignees"):
            approvers.extend(_asked(a.node_id, plain(data["assignees"])))
    return Outcome(
        triggered=True,
        status=snap.status,
        outcome=snap.outcome,
        path=tuple(snap.path),
        fields=fields,
        waiting_at=tuple(t.node_id for t in snap.tokens),
        routes=tuple(routes),
        approvers=tuple(approvers),
    )


def _where(shipments: Any) -> str:
    if isinstance(shipments, list):
        return ", ".join(str(s.get("warehouse")) for s in shipments)
    return str(shipments)


def _asked(node: Any, assignees: list[dict[str, Any]]) -> list[str]:
    out = []
    for who in assignees:
        kind = next((k for k in ("user", "role", "expression") if k in who), "")
        out.append(f"{node}: {kind} {who.get(kind)}")
    return out


def full_report_outcome(
    flow: CompiledFlow | None,
    order: Any,
    doc: Mapping[str, Any],
    ref: Mapping[str, Any],
    rivals: list[CompiledFlow],
) -> Outcome:
    """The same answer as :func:`_outcome` read from the simulator's full JSON report (the
    way the simulator screen sees a run): the reference the fast reading is checked against."""
    sim = _replay(flow, order, doc, ref, rivals)
    if isinstance(sim, Outcome):
        return sim
    report = sim.to_dict()
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
            routes.append(f"{node}: {_where(decision['shipments'])}")
        elif step.get("type") == "approval" and decision.get("assignees"):
            approvers.extend(_asked(node, decision["assignees"]))
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


@dataclass
class Replay:
    """A draft and the live version, compiled once, ready to replay orders on."""

    flow_key: str
    published_version: int | None
    draft: CompiledFlow
    published: CompiledFlow | None
    rivals: list[CompiledFlow]
    # The nodes where the two can part ways (None: they differ beyond their nodes).
    apart: frozenset[str] | None = None


def prepare(db: Session, flow: Flow, draft_doc: Mapping[str, Any] | None = None) -> Replay:
    """Compile the draft (or ``draft_doc``) and find the live version and its group rivals."""
    doc = draft_doc if draft_doc is not None else flow.draft
    if doc is None:
        raise ValidationError(_l("There is no draft to backtest."), code="no_draft")
    try:
        draft = compiled_draft(doc)
    except FlowValidationError as err:
        raise _issues_error(err.issues) from err
    version = live_version(db, flow)
    published = compiled_version(version) if version else None
    rivals = group_rivals(db, flow.key, draft, published)
    apart = divergence(published, draft) if published is not None else None
    number = version.number if version else None
    return Replay(flow.key, number, draft, published, rivals, apart)


_drafts: OrderedDict[str, CompiledFlow] = OrderedDict()


def compiled_draft(doc: Mapping[str, Any]) -> CompiledFlow:
    """The compiled draft, reused while the document is unchanged (a job and its pages, the
    synchronous endpoint called again on the same draft)."""
    try:
        key = flow_digest(doc)
    except (KeyError, TypeError, ValueError, AttributeError):  # not a flow: compile says why
        return compile_flow(doc, version="draft")
    flow = _drafts.get(key)
    if flow is None:
        flow = _drafts[key] = compile_flow(doc, version="draft")
        while len(_drafts) > 8:
            _drafts.popitem(last=False)
    return flow


class StoredOrder(NamedTuple):
    """The columns of a stored order a backtest reads."""

    id: int
    external_id: str
    channel: str
    created_at: datetime
    data: dict[str, Any]


Cursor = tuple[datetime, int]


def _newest_first(query: Any, after: Cursor | None) -> Any:
    """``query`` ordered newest first, behind the order at ``after`` when given."""
    query = query.order_by(Order.created_at.desc(), Order.id.desc())
    return query if after is None else query.where(_behind(after))


def _behind(after: Cursor) -> Any:
    """Orders older than the order at ``after`` (by time, then id). The leading ``<=`` is
    what lets the database seek in the time index instead of scanning it from the newest
    order at every page."""
    at, oid = after
    return and_(Order.created_at <= at, or_(Order.created_at < at, Order.id < oid))


def order_batches(
    db: Session,
    last: int,
    *,
    after: Cursor | None = None,
    skip: int = 0,
    size: int | None = None,
) -> Iterator[list[StoredOrder]]:
    """The ``last`` most recent orders, newest first, ``size`` at a time (keyset pages: memory
    stays one batch whatever ``last`` is). ``after`` resumes behind an order already replayed,
    ``skip`` being how many of the ``last`` were."""
    columns = (Order.id, Order.external_id, Order.channel, Order.created_at, Order.data)
    left = last - skip
    while left > 0:
        query = _newest_first(select(*columns), after).limit(min(size or BATCH, left))
        rows = [StoredOrder(*r) for r in db.execute(query)]
        if not rows:
            return
        yield rows
        left -= len(rows)
        after = (rows[-1].created_at, rows[-1].id)


def key_ranges(
    db: Session,
    last: int,
    *,
    after: Cursor | None = None,
    skip: int = 0,
    size: int | None = None,
) -> Iterator[tuple[Cursor | None, Cursor]]:
    """The batches of :func:`order_batches`, each named by the order it starts behind (None:
    the newest) and its own last order, found by one indexed lookup per batch: whoever
    replays a batch reads its orders itself with :func:`orders_between`, so the order
    documents are decoded once, where they are used."""
    left = last - skip
    keys = select(Order.created_at, Order.id)
    while left > 0:
        wanted = min(size or BATCH, left)
        tail = db.execute(_newest_first(keys, after).offset(wanted - 1).limit(1)).first()
        if tail is None:  # fewer orders left than a batch: it ends at the oldest
            oldest = keys.order_by(Order.created_at, Order.id).limit(1)
            if after is not None:
                oldest = oldest.where(_behind(after))
            tail = db.execute(oldest).first()
            if tail is not None:
                yield after, (tail[0], tail[1])
            return
        yield after, (tail[0], tail[1])
        left -= wanted
        after = (tail[0], tail[1])


def orders_between(db: Session, after: Cursor | None, last: Cursor) -> list[StoredOrder]:
    """The orders behind ``after`` (all when None) down to ``last`` included, newest first."""
    last_at, last_id = last
    columns = (Order.id, Order.external_id, Order.channel, Order.created_at, Order.data)
    query = select(*columns).where(
        Order.created_at >= last_at, or_(Order.created_at > last_at, Order.id >= last_id)
    )
    return [StoredOrder(*r) for r in db.execute(_newest_first(query, after))]


def batch_ref(db: Session, rows: list[StoredOrder]) -> dict[str, Any]:
    """What flows read in ``ref`` for these orders: tables, org, stock of their SKUs."""
    return {
        **reference_cache.get(db),
        "org": directory_cache.get(db),
        "inventory": batch_stock(db, rows),
    }


def batch_stock(db: Session, rows: list[StoredOrder]) -> dict[str, Any]:
    """The ``inventory`` of ``ref`` for these orders: the stock of their SKUs."""
    return available_for(db, {sku for o in rows for sku in order_skus(o.data)})


def replay_batch(
    replay: Replay, rows: list[StoredOrder], ref: Mapping[str, Any]
) -> list[tuple[StoredOrder, Outcome, Outcome]]:
    """Where each order ends before (live version) and after (draft)."""
    out = []
    for order in rows:
        doc_in = enrich_customer(order.data, ref)
        pair = _paired(replay, order, doc_in, ref)
        if pair is not None:
            out.append((order, pair[0], pair[1]))
            continue
        before = _outcome(replay.published, order, doc_in, ref, replay.rivals)
        after = _outcome(replay.draft, order, doc_in, ref, replay.rivals)
        out.append((order, before, after))
    return out


def _paired(
    replay: Replay, order: Any, doc: Mapping[str, Any], ref: Mapping[str, Any]
) -> tuple[Outcome, Outcome] | None:
    """Both outcomes from one paired simulation, the stretch of the run the two versions
    share walked once; None when they cannot be paired (they differ beyond their nodes, or
    a trigger or the simulation fails: each is then replayed alone, so an error is told for
    the version that has it). Versions that differ only in their nodes have the same trigger
    and exclusive group: an order one does not start for, the other does not either."""
    published, apart = replay.published, replay.apart
    if published is None or apart is None:
        return None
    try:
        skipped = _not_started(published, order, doc, ref, replay.rivals)
        if skipped is not None:
            return skipped, skipped
        sims = simulate_pair(
            published, replay.draft, doc, now=order.created_at, ref=ref,
            run_id=f"backtest-{order.id}", apart=apart,
        )  # fmt: skip
    except (DslError, FlowError):
        return None
    before = _read(sims.first)
    return before, before if sims.alike else _read(sims.second)


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
    replay = prepare(db, flow, draft_doc)
    report = BacktestReport(flow.key, replay.published_version)
    for rows in order_batches(db, last):
        for order, before, after in replay_batch(replay, rows, batch_ref(db, rows)):
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
                progress(report.orders)
    return report
