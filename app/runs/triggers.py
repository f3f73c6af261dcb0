"""Trigger dispatch: every order event starts each matching live flow once.

Events other than ``order.created`` (whose identity is the order itself, stored once by
intake) come here: ``order.status_changed`` and one event per order state
(``order.paid``, ``order.shipped`` ...) from status events, ``order.updated`` when flows
change declared order fields, ``alert.opened``, and schedule ticks (:mod:`.schedule`).
Each started run claims a trigger receipt, unique per (flow, event identity), in the
caller's transaction: a replayed event, or the same event processed twice at once, finds
the receipt already there and starts nothing (on PostgreSQL the second insert waits for
the first transaction and then sees its row; SQLite runs one writer at a time).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rule_dsl import DslError

from ..db import insert_ignoring_duplicates
from ..models import FlowVersion, Order, Run, TriggerReceipt, utcnow
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
RECEIPTS = TriggerReceipt.__table__
SKIP = "skip"
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
    for the order is still open (not completed or cancelled; a run in an incident is open).
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
    writes = writes or Writes(db, now)
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
        if version.flow.flow.trigger.concurrency == SKIP and _has_open_run(db, version, order):
            log.info("flow %s: order %s has an open run; %s skipped", version.flow_key,
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


def _has_open_run(db: Session, version: LiveVersion, order: Order) -> bool:
    if db.get_bind().dialect.name == "postgresql":
        # Two events of one order at once must not both find no open run: the order's row
        # lock makes the second wait, then see the first one's run (SQLite: one writer).
        db.execute(select(Order.id).where(Order.id == order.id).with_for_update())
    found = db.scalars(
        select(Run.id)
        .join(FlowVersion, FlowVersion.id == Run.flow_version_id)
        .where(
            FlowVersion.flow_id == version.flow_id,
            Run.order_id == order.id,
            Run.status.not_in(FINISHED_STATUSES),
        )
        .limit(1)
    ).first()
    return found is not None


def _claim(db: Session, version: LiveVersion, event: OrderEvent, now: datetime) -> int | None:
    """Insert the (flow, event) receipt; its id, or None when it was there already."""
    row = {
        "flow_id": version.flow_id,
        "event_key": event.key[:200],
        "order_id": event.order.id,
        "created_at": now,
    }
    insert = insert_ignoring_duplicates(db.get_bind().dialect.name, RECEIPTS)
    return db.connection().execute(insert.returning(RECEIPTS.c.id), row).scalar()
