"""Runs: start flows for orders, feed events to runs, persist what the engine decides.

A run advances in one database transaction: the snapshot, its audit events and its effects
(timers, tasks, reservations, outbox messages, alerts) commit together or not at all. The
run row carries an optimistic lock, so two processes applying events to the same run never
both win; the loser's transaction is retried from a fresh read (``db.in_transaction``), and
the engine then ignores what was already applied.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from flow_engine import (
    CANCELLED,
    COMPLETED,
    AuditEvent,
    CompiledFlow,
    Event,
    Retry,
    RunSnapshot,
    StepResult,
    exclusive_winners,
    start_run,
    step,
)
from rule_dsl import DslError

from ..errors import ConflictError, NotFoundError
from ..inventory.services import StockView, available_for
from ..jsontext import jsonable
from ..models import Alert, FlowVersion, Order, Run, RunEvent, utcnow
from ..org.directory import directory_cache
from ..reference.services import reference_cache
from .cache import CatalogStamp, LiveVersion, catalog_stamp, compiled_version, live_flows
from .effects import EffectContext, perform
from .events import publish
from .stand import stand_of
from .writeback import ACCEPTED, Refused
from .writer import Writes, new_run_row

log = logging.getLogger(__name__)

# Awaited effects answered inside the transaction feed back at most this many times per
# event; a flow that keeps reserving in a loop without waiting is parked and alerted on.
MAX_INLINE_ANSWERS = 100
FINISHED_STATUSES = frozenset({COMPLETED, CANCELLED})


@dataclass(frozen=True)
class EventOutcome:
    """What applying one event did."""

    run: Run
    accepted: bool
    ignored: str | None = None


def order_skus(order_doc: Mapping[str, Any]) -> list[str]:
    lines = order_doc.get("lines") or ()
    return [s for s in (ln.get("sku") for ln in lines if isinstance(ln, Mapping)) if s]


def reference_for(
    db: Session,
    order_doc: Mapping[str, Any],
    stamp: CatalogStamp | None = None,
    stock: StockView | None = None,
) -> dict[str, Any]:
    """Reference tables, the organisation (``ref.org``) and live stock of the order's SKUs,
    as flows see them in ``ref`` (from the batch's ``stock`` view when given)."""
    tables = reference_cache.get(db, stamp.reference if stamp else None)
    org = directory_cache.get(db, stamp.org if stamp else None)
    skus = order_skus(order_doc)
    inventory = stock.available(skus) if stock is not None else available_for(db, skus)
    return {**tables, "org": org, "inventory": inventory}


def enrich_customer(order_doc: Mapping[str, Any], ref: Mapping[str, Any]) -> dict[str, Any]:
    """Merge the customer master data (reference table ``customers``) into the order's
    customer: master data wins for fields it has, the order keeps the others."""
    customer = order_doc.get("customer")
    if not isinstance(customer, Mapping) or not customer.get("id"):
        return dict(order_doc)
    row = reference_cache.row("customers", str(customer["id"]))
    if row is None:
        return dict(order_doc)
    return {**order_doc, "customer": {**customer, **row}}


def start_runs(
    db: Session,
    order: Order,
    *,
    event: str = "order.created",
    now: datetime | None = None,
    writes: Writes | None = None,
    stamp: CatalogStamp | None = None,
) -> list[Run]:
    """Start a run of every live flow whose trigger matches ``order``. No commit.

    With ``writes`` given (a batch), the caller flushes it; otherwise it is flushed here. A
    batch also passes the ``stamp`` it read once.
    """
    now = now or utcnow()
    stamp = stamp or catalog_stamp(db)
    versions = live_flows.get(db, stamp, event)
    if not versions:
        return []
    ref = reference_for(db, order.data, stamp, writes.stock if writes is not None else None)
    doc = enrich_customer(order.data, ref)
    own = writes is None
    writes = writes or Writes(db, now, stamp)
    matched = []
    for version in versions:
        try:
            if version.flow.matches(event, doc, now=now, ref=ref):
                matched.append(version)
        except DslError as err:
            report_trigger_failure(db, order, version, err)
    runs = [
        begin_run(db, order, version, doc, ref, now, writes)
        for version in first_of_exclusive_groups(matched)
    ]
    if own:
        writes.flush()
    return runs


def first_of_exclusive_groups(matched: list[LiveVersion]) -> list[LiveVersion]:
    """The matched live versions that start: of an exclusive group only the first."""
    return exclusive_winners(matched, lambda version: version.flow)


def reserve_runs(
    db: Session,
    order_ids: list[int],
    writes: Writes,
    stamp: CatalogStamp,
    *,
    event: str = "order.created",
) -> None:
    """Insert the run rows a batch of new orders may need (one per order and live flow for
    ``event``) with one statement; :func:`start_runs` then uses them."""
    versions = live_flows.get(db, stamp, event)
    writes.reserve_runs([(order_id, v.id) for order_id in order_ids for v in versions])


def report_trigger_failure(db: Session, order: Order, version: LiveVersion, err: DslError) -> None:
    """Tell people (an alert per flow version and order) that a trigger filter failed."""
    key = version.flow_key
    log.warning("trigger filter of %s failed on order %s: %s", key, order.id, err)
    db.add(
        Alert(
            order_id=order.id,
            source=f"trigger:{key}",
            severity="warning",
            title=f"流程 {key} 的触发条件无法判断订单 {order.external_id}",
            message=f"The trigger filter of flow {key} failed on order {order.external_id}: {err.message}",
            dedup_key=f"trigger:{version.id}:order:{order.id}",
            data={"error": err.to_dict()},
        )
    )


def begin_run(
    db: Session,
    order: Order,
    version: LiveVersion,
    doc: Mapping[str, Any],
    ref: Mapping[str, Any],
    now: datetime,
    writes: Writes,
) -> Run:
    """Start a run of ``version`` for ``order`` (``doc`` the enriched order document); its
    writes go to ``writes``."""
    row = new_run_row(order.id, version.id, now)
    # The run id is part of the engine's deterministic ids, so the row comes first.
    run_id = writes.run_id(row)
    result = start_run(version.flow, doc, run_id=str(run_id), now=now, ref=ref)
    state = _settle(db, run_id, order.id, 1, version.flow, result, ref, now, writes)
    # The buffered update will write exactly these values and bump the lock to 2.
    run = Run(id=run_id, **(row | state | {"lock_version": 2}))
    make_transient_to_detached(run)
    db.add(run)  # persistent and clean: the buffered update writes the same values
    return run


def apply_event(
    db: Session, run_id: int, event: Event, *, now: datetime | None = None
) -> EventOutcome:
    """Apply ``event`` to run ``run_id`` and perform what follows. No commit.

    An event the run is not waiting for (a second decision on the same task, a timer that was
    cancelled) changes nothing and says why in ``ignored``.
    """
    now = now or utcnow()
    run = db.get(Run, run_id, with_for_update=not _is_sqlite(db))
    if run is None:
        raise NotFoundError(_l("Run %(id)s does not exist.", id=run_id))
    version = db.get(FlowVersion, run.flow_version_id)
    if version is None:  # FK guarantees it; a missing row means a damaged database
        raise ConflictError(f"run {run_id} points at a missing flow version")
    flow = compiled_version(version)
    snapshot = RunSnapshot.from_dict(run.snapshot)
    ref = reference_for(db, snapshot.order)
    result = step(flow, snapshot, event, now=now, ref=ref)
    if not result.accepted:
        return EventOutcome(run, False, result.ignored)
    writes = Writes(db, now)
    state = _settle(db, run.id, run.order_id, run.lock_version, flow, result, ref, now, writes)
    writes.flush()
    for name, value in {**state, "lock_version": run.lock_version + 1}.items():
        set_committed_value(run, name, value)
    return EventOutcome(run, True)


def retry(
    db: Session,
    run_id: int,
    *,
    actor: str,
    order: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> EventOutcome:
    """Resume a run that stopped in an incident, optionally with corrected order data."""
    run = db.get(Run, run_id)
    if run is None:
        raise NotFoundError(_l("Run %(id)s does not exist.", id=run_id))
    if run.status != "incident":
        raise ConflictError(
            _l(
                "Only runs in an incident can be retried; this one is %(status)s.",
                status=run.status,
            )
        )
    return apply_event(db, run_id, Retry(actor=actor, order=order), now=now)


def _settle(
    db: Session,
    run_id: int,
    order_id: int,
    lock_version: int,
    flow: CompiledFlow,
    result: StepResult,
    ref: Mapping[str, Any],
    now: datetime,
    writes: Writes,
) -> dict[str, Any]:
    """Perform ``result``'s effects, feed inline answers back, buffer the audit and the new
    run state; returns the run's new column values."""
    ctx = EffectContext(db, run_id, order_id, now, writes)
    audit = list(result.audit)
    for _ in range(MAX_INLINE_ANSWERS):
        answers = [a for a in (perform(ctx, e) for e in result.effects) if a is not None]
        if not answers:
            break
        result = _feed(flow, result.snapshot, answers, ref, now)
        audit.extend(result.audit)
    else:
        # Validation rejects loops without a wait; this guards against one that only waits
        # on effects answered at once. The run stays parked and someone is told.
        log.error("run %s: more than %d inline effect answers; parked", run_id, MAX_INLINE_ANSWERS)
        for effect in result.effects:
            perform(ctx, effect)  # its answer is not fed back: the run stays parked
        db.add(
            Alert(
                run_id=run_id,
                order_id=order_id,
                source=f"run:{run_id}",
                severity="critical",
                title=f"运行 {run_id} 在库存预占上循环，已暂停",
                message=f"Run {run_id} kept reserving inventory without waiting and was parked.",
                dedup_key=f"inline-loop:run:{run_id}",
            )
        )
    writes.audit.extend(_audit_rows(run_id, audit))
    for refused in writes.fields.collect(order_id, run_id, flow, audit, now):
        _refused_field(run_id, order_id, flow, refused, writes)
    state = _run_state(result.snapshot, now)
    writes.run_state(run_id, lock_version, state)
    if state["finished_at"] is not None and flow.flow.trigger.concurrency == "queue":
        writes.queue_done.add(run_id)  # the flow's next queued event of the order may start
    for raised in (a for a in audit if a.kind == "incident"):
        _announce_incident(db, run_id, order_id, raised, now, writes, state.get("incident"))
    for passed in audit:
        if _auto_decided(passed):
            _announce_auto_decision(db, run_id, order_id, flow, passed, state, now, writes)
    return state


def _auto_decided(entry: AuditEvent) -> bool:
    """An approval step the run decided itself (its SLA's ``on_timeout``: approve/reject)."""
    data = entry.data or {}
    return (
        entry.kind == "node_passed"
        and entry.node_type == "approval"
        and data.get("auto") is True
        and data.get("decision") in ("approved", "rejected")
    )


def _announce_auto_decision(
    db: Session,
    run_id: int,
    order_id: int,
    flow: CompiledFlow,
    entry: AuditEvent,
    state: Mapping[str, Any],
    now: datetime,
    writes: Writes,
) -> None:
    """``order.decided`` for an approval decided by its time limit, as a person's decision
    is announced (app.approvals.services.decide)."""
    order = db.get(Order, order_id)
    if order is None:
        return
    data = {
        "task": None,
        "node_id": entry.node_id,
        "run_id": run_id,
        "flow": flow.key,
        "decision": entry.data["decision"],
        "decided_by": None,
        "decided_at": now.isoformat(),
        "comment": None,
        "auto": True,
        "reason": "sla_timeout",
        "run_status": state["status"],
    }
    publish(db, "order.decided", order, data, key=[run_id, entry.node_id, entry.seq], now=now,
            writes=writes)  # fmt: skip


def _refused_field(
    run_id: int, order_id: int, flow: CompiledFlow, refused: Refused, writes: Writes
) -> None:
    """Tell people that a run set a built-in order field to a value it does not accept (the
    order keeps its value; the run's copy has the one set)."""
    en, zh = ACCEPTED[refused.field]
    shown = str(jsonable(refused.value))[:80]
    node = refused.node_name or refused.node_id
    writes.alert(
        {
            "run_id": run_id,
            "order_id": order_id,
            "source": f"flow:{refused.node_id}",
            "severity": "warning",
            "title": f"流程 {flow.key} 的节点「{node}」把订单字段 {refused.field} 设为 {shown}，"
            f"未写入订单：应为{zh}",
            "message": f"Node '{node}' of flow {flow.key} set order field {refused.field} to"
            f" {shown}; not written to the order: it takes {en}.",
            "dedup_key": f"field-refused:{flow.key}:{refused.field}:order:{order_id}"[:200],
            "data": {"field": refused.field, "node_id": refused.node_id, "repeats": 1},
        }
    )


# Incidents no one would otherwise notice: a task or message for nobody. Each raises an alert
# and tells the admins, since no approver exists to see the order wait.
PEOPLE_INCIDENTS = ("no_approver", "no_recipient")


def _announce_incident(
    db: Session,
    run_id: int,
    order_id: int,
    raised: AuditEvent,
    now: datetime,
    writes: Writes,
    incident: Mapping[str, Any] | None = None,
) -> None:
    order = db.get(Order, order_id)  # in the session already when the run just started
    if order is None:
        return
    data = {"run_id": run_id, "node_id": raised.node_id, "node_type": raised.node_type,
            **(raised.data or {})}  # fmt: skip
    publish(db, "order.incident", order, data, key=[run_id, raised.seq], now=now, writes=writes)
    code = (raised.data or {}).get("code")
    if code in PEOPLE_INCIDENTS:
        _alert_nobody(run_id, order, raised, code, incident or {}, now, writes)


def _alert_nobody(
    run_id: int,
    order: Order,
    raised: AuditEvent,
    code: str,
    incident: Mapping[str, Any],
    now: datetime,
    writes: Writes,
) -> None:
    """An alert on the alerts page and a notice to every admin, in the reader's language:
    which order, which node and why nobody could take the task."""
    en = str(incident.get("message") or (raised.data or {}).get("message") or code)
    zh = str(incident.get("message_zh") or en)
    node = raised.node_id or ""
    link = f"/runs/{run_id}"
    writes.alert(
        {
            "run_id": run_id,
            "order_id": order.id,
            "source": f"run:{run_id}",
            "severity": "critical",
            "title": f"订单 {order.external_id} 在节点 {node} 停下：{zh}"[:300],
            "message": f"Order {order.external_id} stopped at node {node}: {en}",
            "dedup_key": f"{code}:run:{run_id}:{node}"[:200],
            "data": {"code": code, "node_id": node, "repeats": 1,
                     "text": {"zh": {"title": zh}, "en": {"title": en}}},
        }
    )  # fmt: skip
    writes.outbox.append(
        {
            "run_id": run_id,
            "subscription_id": None,
            "effect_id": f"{code}:{run_id}:{raised.seq}",
            "kind": "notify",
            "payload": {
                "recipients": [{"access_role": "admin"}],
                "channels": ["inbox", "email"],
                "message": {
                    "zh": f"【严重】订单 {order.external_id} 在节点 {node} 无人处理：{zh}\n{link}",
                    "en": f"[critical] Order {order.external_id} waits for nobody at node "
                    f"{node}: {en}\n{link}",
                },
                "params": {},
                "url": link,
            },
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
    )


def _feed(
    flow: CompiledFlow,
    snapshot: RunSnapshot,
    answers: list[Event],
    ref: Mapping[str, Any],
    now: datetime,
) -> StepResult:
    audit: list = []
    effects: list = []
    for answer in answers:
        step_result = step(flow, snapshot, answer, now=now, ref=ref)
        snapshot = step_result.snapshot
        audit.extend(step_result.audit)
        effects.extend(step_result.effects)
    return StepResult(snapshot, tuple(audit), tuple(effects))


def _audit_rows(run_id: int, audit: list[AuditEvent]) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id,
            "seq": a.seq,
            "at": a.at,
            "kind": a.kind,
            "node_id": a.node_id,
            "node_type": a.node_type,
            "branch": a.branch,
            "actor": a.actor,
            "data": a.data,  # stored as JSON by the column's serializer (decimals exact)
        }
        for a in audit
    ]


def _run_state(snapshot: RunSnapshot, now: datetime) -> dict[str, Any]:
    finished = snapshot.status in FINISHED_STATUSES
    stored = snapshot.to_dict()
    return {
        "snapshot": stored,
        "status": snapshot.status,
        "outcome": snapshot.outcome,
        "current_nodes": list(snapshot.current_nodes),
        "incident": jsonable(snapshot.incident.to_dict()) if snapshot.incident else None,
        "stand": stand_of(snapshot.status, stored),
        "updated_at": now,
        "finished_at": now if finished else None,
    }


def _is_sqlite(db: Session) -> bool:
    return db.get_bind().dialect.name == "sqlite"


def timeline(db: Session, run_id: int) -> list[RunEvent]:
    return list(
        db.scalars(select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.seq))
    )


def runs_of_order(db: Session, order_id: int) -> list[Run]:
    return list(db.scalars(select(Run).where(Run.order_id == order_id).order_by(Run.id)))
