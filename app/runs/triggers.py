"""Trigger dispatch: every order event starts each matching live flow once.

Events other than ``order.created`` (whose identity is the order itself, stored once by
intake) come here: ``order.status_changed`` and one event per order state
(``order.paid``, ``order.shipped`` ...) from status events, ``order.updated`` when flows
change declared order fields, ``alert.opened``, and schedule ticks (:mod:`.schedule`).
Each started run claims a trigger receipt, unique per (flow, event identity), in the
caller's transaction: a replayed event, or the same event processed twice at once, finds
the receipt already there and starts nothing (on PostgreSQL the second insert waits for
the first transaction and then sees its row; SQLite runs one writer at a time).

A flow whose trigger says ``"concurrency": "queue"`` does not start a second run of an
order while one is open: the event is stored as a *queued* receipt (with its kind and data,
in the event's transaction) and starts its run when the open run finishes (completed or
cancelled), in the transaction that finished it, oldest event first. The minute sweep
(:func:`start_queued_due`, also run when a worker starts) starts any queued event whose
flow has no open run left for the order, so nothing waits for ever after a crash. A queued
event whose flow has no live version for it any more (archived, trigger changed) is
dropped with the reason on the receipt and an alert on the order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from rule_dsl import DslError

from ..db import insert_ignoring_duplicates
from ..jsontext import jsonable
from ..models import Alert, Flow, FlowVersion, Order, Run, TriggerReceipt, table_of, utcnow
from .cache import CatalogStamp, LiveVersion, catalog_stamp, live_flows
from .services import (
    FINISHED_STATUSES,
    begin_run,
    enrich_customer,
    first_of_exclusive_groups,
    reference_for,
    report_trigger_failure,
)
from .writer import Writes

log = logging.getLogger(__name__)
RECEIPTS = table_of(TriggerReceipt)
SKIP = "skip"
QUEUE = "queue"
STARTED, QUEUED, DROPPED = "started", "queued", "dropped"
# Queued events the sweep looks at per pass.
QUEUE_SWEEP_BATCH = 200
UPDATED = "order.updated"
SCHEDULED = "order.scheduled"
# Events a flow can start on besides one per order state (see status.trigger_events).
EVENTS = ("order.created", "order.status_changed", UPDATED, "alert.opened", SCHEDULED)


@dataclass(frozen=True)
class OrderEvent:
    """One event about an order that may start flows.

    - ``kind``: the trigger event name, e.g. ``"order.status_changed"``, ``"order.paid"``,
      ``"order.updated"``, ``"alert.opened"``.
    - ``order``: the order it is about (an alert without an order starts no flow).
    - ``key``: the event's identity, the same each time the same event is delivered, e.g.
      ``"status:erp:E-1001"`` or ``"alert:42:opened:3"`` (alert id, opening number). Up to
      200 characters.
    - ``data``: what the event says. ``order.status_changed``: ``{"from": "created", "to":
      "paid", "source": "erp", "code": "PAID", "event_id": "E-1001"}``; ``alert.opened``:
      ``{"alert_id": 42, "rule": "stockout", "severity": "critical", "title": ...,
      "data": {...}}``; ``order.updated``: ``{"fields": ["custom.payment_hold"], "flow":
      "late-payment-freeze", "run_id": 812}`` (the flow that wrote them is not started
      again by them); ``order.scheduled``: ``{"at": "2026-12-07T09:00:00+08:00"}``.
    """

    kind: str
    order: Order
    key: str
    data: Mapping[str, Any] = field(default_factory=dict)


def start_runs_for_event(
    db: Session,
    event: OrderEvent,
    *,
    now: datetime | None = None,
    writes: Writes | None = None,
    only: frozenset[int] | None = None,
    stamp: CatalogStamp | None = None,
) -> list[Run]:
    """Start a run of every live flow whose trigger matches ``event``, each at most once per
    event identity. No commit (the caller's transaction holds the runs and the receipts).
    ``only``: the flow version ids to consider (a schedule tick's due flows); a batch passes
    the ``stamp`` it read once.

    A flow whose trigger says ``"concurrency": "skip"`` starts nothing while one of its runs
    for the order is still open (not completed or cancelled; a run in an incident is open);
    with ``"queue"`` the event is queued instead (see the module's description).
    With ``writes`` given the caller flushes it; otherwise it is flushed here.
    """
    now = now or utcnow()
    stamp = stamp or catalog_stamp(db)
    versions = live_flows.get(db, stamp, event.kind)
    if only is not None:
        versions = [v for v in versions if v.id in only]
    if not versions:
        return []
    order = event.order
    ref = reference_for(db, order.data, stamp, writes.stock if writes is not None else None)
    # Flows see the order's current status (the stored document keeps the one it arrived with).
    doc = enrich_customer({**order.data, "status": order.status}, ref)
    own = writes is None
    writes = writes or Writes(db, now, stamp)
    matched = []
    for version in versions:
        try:
            if version.flow.matches(event.kind, doc, now=now, ref=ref, data=event.data):
                if not _own_update(event, version):
                    matched.append(version)
        except DslError as err:
            report_trigger_failure(db, order, version, err)
    runs = []
    for version in first_of_exclusive_groups(matched):
        mode = version.flow.flow.trigger.concurrency
        if mode == SKIP and _has_open_run(db, version.flow_id, order.id):
            log.info("flow %s: order %s has an open run; %s skipped", version.flow_key,
                     order.id, event.key)  # fmt: skip
            continue
        if mode == QUEUE and (
            _has_open_run(db, version.flow_id, order.id) or _has_queued(db, version, order)
        ):
            if _claim(db, version, event, now, queued=True) is not None:
                log.info("flow %s: order %s has an open run; %s queued", version.flow_key,
                         order.id, event.key)  # fmt: skip
            continue
        receipt = _claim(db, version, event, now)
        if receipt is None:
            continue  # this event already started (or is starting) this flow
        run = begin_run(db, order, version, doc, ref, now, writes)
        db.connection().execute(
            update(RECEIPTS).where(RECEIPTS.c.id == receipt).values(run_id=run.id)
        )
        runs.append(run)
    if own:
        writes.flush()
    return runs


def _own_update(event: OrderEvent, version: LiveVersion) -> bool:
    """A flow's own field changes do not start it again (no loop through order.updated)."""
    return event.kind == UPDATED and event.data.get("flow") == version.flow_key


def _lock_order(db: Session, order_id: int) -> None:
    if db.get_bind().dialect.name == "postgresql":
        # Two events of one order at once must not both find no open run, and a run
        # finishing must see an event queued meanwhile: the order's row lock makes the
        # second wait, then see the first one's rows (SQLite: one writer at a time).
        db.execute(select(Order.id).where(Order.id == order_id).with_for_update())


def _has_open_run(db: Session, flow_id: int, order_id: int) -> bool:
    _lock_order(db, order_id)
    found = db.scalars(
        select(Run.id)
        .join(FlowVersion, FlowVersion.id == Run.flow_version_id)
        .where(
            FlowVersion.flow_id == flow_id,
            Run.order_id == order_id,
            Run.status.not_in(FINISHED_STATUSES),
        )
        .limit(1)
    ).first()
    return found is not None


def _has_queued(db: Session, version: LiveVersion, order: Order) -> bool:
    """Events of the flow and order still waiting: a new one queues behind them."""
    found = db.scalars(
        select(RECEIPTS.c.id)
        .where(
            RECEIPTS.c.flow_id == version.flow_id,
            RECEIPTS.c.order_id == order.id,
            RECEIPTS.c.status == QUEUED,
        )
        .limit(1)
    ).first()
    return found is not None


def _claim(
    db: Session, version: LiveVersion, event: OrderEvent, now: datetime, *, queued: bool = False
) -> int | None:
    """Insert the (flow, event) receipt; its id, or None when it was there already. A
    queued receipt keeps the event's kind and data, to start its run later."""
    row = {
        "flow_id": version.flow_id,
        "event_key": event.key[:200],
        "order_id": event.order.id,
        "created_at": now,
        "status": QUEUED if queued else STARTED,
        "event_kind": event.kind if queued else None,
        "event_data": jsonable(dict(event.data)) if queued else None,
    }
    insert = insert_ignoring_duplicates(db.get_bind().dialect.name, RECEIPTS)
    return db.connection().execute(insert.returning(RECEIPTS.c.id), row).scalar()


def start_queued(db: Session, finished_runs: Iterable[int], writes: Writes) -> list[Run]:
    """Start the queued events of the flows and orders whose runs ``finished_runs`` just
    finished (called by :meth:`Writes.flush`, which has written their new state). No
    commit; the started runs' writes go to ``writes``, which the caller flushes."""
    pairs = db.execute(
        select(FlowVersion.flow_id, Run.order_id)
        .join(Run, Run.flow_version_id == FlowVersion.id)
        .where(Run.id.in_(sorted(finished_runs)))
        .distinct()
    ).all()
    started: list[Run] = []
    for flow_id, order_id in sorted(pairs):
        started += _drain(db, flow_id, order_id, writes)
    return started


def start_queued_due(db: Session, now: datetime | None = None) -> int:
    """Start every queued event whose flow has no open run of its order any more (the
    minute sweep, and start-up after a crash). No commit; returns the runs started."""
    now = now or utcnow()
    pairs = db.execute(
        select(RECEIPTS.c.flow_id, RECEIPTS.c.order_id, func.min(RECEIPTS.c.id).label("first"))
        .where(RECEIPTS.c.status == QUEUED)
        .group_by(RECEIPTS.c.flow_id, RECEIPTS.c.order_id)
        .order_by("first")
        .limit(QUEUE_SWEEP_BATCH)
    ).all()
    if not pairs:
        return 0
    writes = Writes(db, now)
    started = 0
    for flow_id, order_id, _ in pairs:
        started += len(_drain(db, flow_id, order_id, writes))
    writes.flush()
    return started


def _drain(db: Session, flow_id: int, order_id: int, writes: Writes) -> list[Run]:
    """Start the queued events of one flow and order, oldest first, while the run each
    starts finishes at once; the first whose run stays open keeps the rest waiting."""
    if _has_open_run(db, flow_id, order_id):
        return []  # another run of the flow is still open (started before it queued)
    queued = db.execute(
        select(RECEIPTS.c.id, RECEIPTS.c.event_key, RECEIPTS.c.event_kind)
        .where(
            RECEIPTS.c.flow_id == flow_id,
            RECEIPTS.c.order_id == order_id,
            RECEIPTS.c.status == QUEUED,
        )
        .order_by(RECEIPTS.c.id)
    ).all()
    order = db.get(Order, order_id) if queued else None
    if order is None:
        return []
    now = writes.now
    stamp = catalog_stamp(db)
    started: list[Run] = []
    for receipt_id, key, kind in queued:
        version = next(
            (v for v in live_flows.get(db, stamp, kind or "") if v.flow_id == flow_id), None
        )
        if version is None:
            _drop(db, receipt_id, flow_id, order, key, kind or "")
            continue
        ref = reference_for(db, order.data, stamp, writes.stock)
        doc = enrich_customer({**order.data, "status": order.status}, ref)
        run = begin_run(db, order, version, doc, ref, now, writes)
        db.connection().execute(
            update(RECEIPTS)
            .where(RECEIPTS.c.id == receipt_id)
            .values(status=STARTED, run_id=run.id, created_at=now)
        )
        log.info("flow %s: queued event %s of order %s started run %s", version.flow_key, key,
                 order_id, run.id)  # fmt: skip
        started.append(run)
        if run.status not in FINISHED_STATUSES:
            break
    return started


def _drop(db: Session, receipt_id: int, flow_id: int, order: Order, key: str, kind: str) -> None:
    flow = db.get(Flow, flow_id)
    flow_key = flow.key if flow is not None else str(flow_id)
    archived = flow is not None and flow.archived_at is not None
    reason = (
        f"flow {flow_key} was archived while the event waited"
        if archived
        else f"flow {flow_key} has no live version starting on {kind} any more"
    )
    db.connection().execute(
        update(RECEIPTS).where(RECEIPTS.c.id == receipt_id).values(status=DROPPED, reason=reason)
    )
    log.warning("queued event %s of order %s dropped: %s", key, order.id, reason)
    why_zh = "流程已归档" if archived else f"流程已没有由 {kind} 触发的生效版本"
    db.add(
        Alert(
            order_id=order.id,
            source=f"trigger:{flow_key}",
            severity="warning",
            title=f"订单 {order.external_id} 排队的事件 {key} 未启动流程 {flow_key}：{why_zh}",
            message=f"The queued event {key} of order {order.external_id} started no run: {reason}.",
            dedup_key=f"queue-dropped:{flow_id}:order:{order.id}:{key}"[:200],
            data={"event_key": key, "event": kind, "flow": flow_key, "reason": reason},
        )
    )
