"""Overlap before publish: which other live flows also start for recent orders the draft
would start for, and what both would do (approval tasks, webhooks, reservations, fields).

The draft and every other live flow on the same trigger event are compiled once and
simulated over the last orders (one query), exclusive groups applied as at intake. Nothing
is written.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
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
from ..runs.services import enrich_customer, order_skus
from .backtest import matches_quietly
from .services import _issues_error

DEFAULT_LAST = 200
MAX_LAST = 2_000
# What a run does that a second run on the same order would do again.
EFFECT_KINDS = {
    "create_approval_tasks": "approval",
    "webhook": "webhook",
    "reserve_inventory": "reservation",
}
KINDS = ("approval", "webhook", "reservation", "set_field")


@dataclass
class Overlap:
    """The draft and one other live flow over the same orders."""

    flow: str
    name: Mapping[str, str]
    version: int
    both_match: int = 0  # both triggers match
    both_run: int = 0  # both would start a run (exclusive groups applied)
    kinds: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    fields: set[str] = field(default_factory=set)  # order fields both would set
    exclusive_group: str | None = None  # shared with the draft
    first: str | None = None  # the flow of the shared group that runs when both match
    examples: list[str] = field(default_factory=list)  # external ids of orders both run on

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "name": dict(self.name),
            "version": self.version,
            "both_match": self.both_match,
            "both_run": self.both_run,
            "kinds": dict(self.kinds),
            "fields": sorted(self.fields),
            "exclusive_group": self.exclusive_group,
            "first": self.first,
            "examples": self.examples,
        }


@dataclass
class OverlapReport:
    flow: str
    event: str
    orders: int = 0
    draft_runs: int = 0  # orders the draft would start a run for
    errors: int = 0  # simulations that failed (a filter or node could not evaluate)
    elapsed_ms: float = 0.0
    overlaps: list[Overlap] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "event": self.event,
            "orders": self.orders,
            "draft_runs": self.draft_runs,
            "errors": self.errors,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "overlaps": [o.to_dict() for o in self.overlaps],
        }


def overlap_report(
    db: Session,
    flow: Flow,
    draft: CompiledFlow | Mapping[str, Any] | None = None,
    *,
    last: int = DEFAULT_LAST,
) -> OverlapReport:
    """Compare the draft (or the ``draft`` document or compiled flow given) with the other
    live flows over the last ``last`` orders."""
    if not 1 <= last <= MAX_LAST:
        raise ValidationError(
            _l("Compare between 1 and %(n)d recent orders.", n=MAX_LAST), fields={"last": "range"}
        )
    started = time.perf_counter()
    if not isinstance(draft, CompiledFlow):
        draft = _compile(draft if draft is not None else flow.draft)
    others = _other_live(db, flow.key, draft.trigger_event)
    report = OverlapReport(flow.key, draft.trigger_event)
    pairs = {o.key: Overlap(o.key, o.flow.name, int(o.version)) for o in others}
    for other in others:
        group = other.flow.trigger.exclusive_group
        if group is not None and group == draft.flow.trigger.exclusive_group:
            pairs[other.key].exclusive_group = group
            pairs[other.key].first = exclusive_winners([draft, other], lambda f: f)[0].key
    orders = list(
        db.scalars(select(Order).order_by(Order.created_at.desc(), Order.id.desc()).limit(last))
    )
    skus = {s for o in orders for s in order_skus(o.data)}
    ref = {
        **reference_cache.get(db),
        "org": directory_cache.get(db),
        "inventory": available_for(db, sorted(skus)),
    }
    for order in orders:
        report.orders += 1
        _compare(report, pairs, draft, others, order, enrich_customer(order.data, ref), ref)
    report.overlaps = sorted(
        (p for p in pairs.values() if p.both_match),
        key=lambda p: (-p.both_run, -p.both_match, p.flow),
    )
    report.elapsed_ms = (time.perf_counter() - started) * 1000
    return report


def _compile(doc: Mapping[str, Any] | None) -> CompiledFlow:
    if doc is None:
        raise ValidationError(_l("There is no draft to compare."), code="no_draft")
    try:
        return compile_flow(doc, version="draft")
    except FlowValidationError as err:
        raise _issues_error(err.issues) from err


def describe(pair: Overlap, orders: int) -> list[str]:
    """What the draft and the other flow would both do, in sentences of the request's language."""
    n, total = pair.both_match, orders
    if pair.exclusive_group is not None:
        return [
            _(
                "Same exclusive group %(group)s: on the %(n)d of the last %(total)d orders both"
                " match, only %(first)s runs.",
                group=pair.exclusive_group,
                n=n,
                total=total,
                first=pair.first,
            )
        ]
    out = [
        _("Both start a run for %(n)d of the last %(total)d orders.", n=pair.both_run, total=total)
    ]
    sentences = {
        "approval": _l("Both create approval tasks for %(n)d of the last %(total)d orders."),
        "webhook": _l("Both call webhooks for %(n)d of the last %(total)d orders."),
        "reservation": _l("Both reserve stock for %(n)d of the last %(total)d orders."),
        "set_field": _l("Both set order fields for %(n)d of the last %(total)d orders."),
    }
    for kind in KINDS:
        if pair.kinds[kind]:
            out.append(str(sentences[kind]) % {"n": pair.kinds[kind], "total": total})
    if pair.fields:
        out.append(_("Both write %(fields)s.", fields=", ".join(sorted(pair.fields))))
    return out


def report_json(report: OverlapReport) -> dict[str, Any]:
    """The report as JSON, each overlap with its sentences in the request's language."""
    out = report.to_dict()
    for item, pair in zip(out["overlaps"], report.overlaps, strict=True):
        item["summary"] = describe(pair, report.orders)
    return out


def _other_live(db: Session, key: str, event: str) -> list[CompiledFlow]:
    versions = db.scalars(
        select(FlowVersion)
        .where(FlowVersion.is_live.is_(True), FlowVersion.trigger_event == event)
        .order_by(FlowVersion.flow_id)
    )
    return [f for f in (compiled_version(v) for v in versions) if f.key != key]


def _compare(
    report: OverlapReport,
    pairs: dict[str, Overlap],
    draft: CompiledFlow,
    others: list[CompiledFlow],
    order: Order,
    doc: Mapping[str, Any],
    ref: Mapping[str, Any],
) -> None:
    now = order.created_at
    matched = [f for f in [draft, *others] if matches_quietly(f, doc, now, ref)]
    if draft not in matched:
        return
    running = exclusive_winners(matched, lambda f: f)
    draft_runs = draft in running
    report.draft_runs += draft_runs
    mine = _effects(report, draft, order, doc, ref) if draft_runs else None
    for other in matched:
        if other is draft:
            continue
        pair = pairs[other.key]
        pair.both_match += 1
        if mine is None or other not in running:
            continue
        pair.both_run += 1
        if len(pair.examples) < 5:
            pair.examples.append(order.external_id)
        kinds, fields = _effects(report, other, order, doc, ref)
        for kind in kinds & mine[0]:
            pair.kinds[kind] += 1
        pair.fields |= fields & mine[1]


def _effects(
    report: OverlapReport,
    flow: CompiledFlow,
    order: Order,
    doc: Mapping[str, Any],
    ref: Mapping[str, Any],
) -> tuple[set[str], set[str]]:
    """The effect kinds one run would produce until it waits or ends, and the fields it sets."""
    try:
        sim = simulate(flow, doc, now=order.created_at, ref=ref, run_id=f"overlap-{order.id}")
    except (DslError, FlowError):
        report.errors += 1
        return set(), set()
    kinds = {EFFECT_KINDS[e.kind] for e in sim.effects if e.kind in EFFECT_KINDS}
    # Run variables are the run's own; only order fields are seen by others.
    fields = {
        path
        for a in sim.audit
        for path in (a.data.get("changes") or {})
        if str(path).startswith("order.")
    }
    if fields:
        kinds.add("set_field")
    return kinds, fields
