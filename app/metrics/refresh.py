"""The refresher: keeps facts and rollups up to date with orders, runs and status events.

One pass, in one transaction: lock the refresher, read the run events, status events and
orders added since the last pass (each table through its :mod:`cursor <app.metrics.tail>`),
derive visits, stock-outs, status lag and the append-only rollups, rebuild the facts of every
order touched, recompute the hourly rollups of the hours those orders fall in, and move the
cursors. :func:`refresh` repeats passes until it has caught up or used its time budget.
It runs in the background workers (every minute and soon after new events) and from
``orderflow metrics refresh``; the ingest path never waits for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..clock import zone as business_zone
from ..db import Database, in_transaction
from ..models import (
    DurationDaily,
    DurationHourly,
    Order,
    RunEvent,
    StatusEvent,
    StatusLagFact,
    utcnow,
)
from . import events, facts, rollups, tail
from .rollups import Twin

log = logging.getLogger(__name__)
LOCK = "refresh"
BATCH = {"sqlite": 2000, "postgresql": 20000}


@dataclass
class Report:
    """What one or more passes did."""

    passes: int = 0
    events: int = 0
    status_events: int = 0
    orders: int = 0
    rebuilt: int = 0
    busy: bool = False
    caught_up: bool = True
    seconds: float = 0.0

    def add(self, other: Report) -> None:
        self.passes += other.passes
        self.events += other.events
        self.status_events += other.status_events
        self.orders += other.orders
        self.rebuilt += other.rebuilt
        self.busy = other.busy
        self.caught_up = other.caught_up


def refresh(
    database: Database,
    *,
    now: datetime | None = None,
    budget: float = 20.0,
    observers: Sequence[facts.Observer] | None = None,
) -> Report:
    """Run passes until caught up, busy elsewhere, or ``budget`` seconds are used."""
    if observers is None:
        observers = default_observers()
    started = time.monotonic()
    total = Report()
    while True:
        report = in_transaction(database, lambda db: run_pass(db, now, observers))
        total.add(report)
        if report.busy or report.caught_up or time.monotonic() - started > budget:
            break
    total.seconds = time.monotonic() - started
    if total.events or total.status_events or total.orders:
        log.info(
            "metrics refresh: %d events, %d status events, %d new orders, %d orders rebuilt "
            "in %.2fs",
            total.events,
            total.status_events,
            total.orders,
            total.rebuilt,
            total.seconds,
        )
    return total


# Told of every rebuilt order (per-order alert rules): registered when the app is built
# (``app.wiring``).
OBSERVERS: list[facts.Observer] = []


def default_observers() -> list[facts.Observer]:
    """Whoever follows rebuilt orders (the per-order alert rules)."""
    return list(OBSERVERS)


def run_pass(
    db: Session, now: datetime | None = None, observers: Sequence[facts.Observer] = ()
) -> Report:
    """One pass in the caller's transaction (no commit)."""
    moment = now or utcnow()
    report = Report(passes=1)
    if tail.lock(db, LOCK, moment) is None:
        report.busy = True
        return report
    limit = BATCH.get(db.get_bind().dialect.name, 2000)
    dirty: set[int] = set()

    # Only a pass holding the refresher's lock reads these, so they are never skipped.
    run_cursor = tail.cursor(db, "run_events", moment)
    status_cursor = tail.cursor(db, "status_events", moment)
    order_cursor = tail.cursor(db, "orders", moment)

    zone = business_zone()
    run_slice = tail.read(db, run_cursor, RunEvent.id, limit)
    derived = events.process(db, run_slice.all_ids, zone)
    dirty |= derived.orders
    report.events = derived.events

    status_slice = tail.read(db, status_cursor, StatusEvent.id, limit)
    report.status_events, orders_of_status = _status_events(db, status_slice.all_ids, zone)
    dirty |= orders_of_status

    order_slice = tail.read(db, order_cursor, Order.id, limit)
    report.orders = len(order_slice.all_ids)
    dirty |= set(order_slice.all_ids)

    touched = facts.rebuild(db, dirty, moment, observers=observers)
    report.rebuilt = len(dirty)
    rollups.recompute_orders(db, touched.created)
    rollups.recompute_costs(db, touched.created)
    rollups.recompute_deliveries(db, touched.delivered)

    for cursor, batch in (
        (run_cursor, run_slice),
        (status_cursor, status_slice),
        (order_cursor, order_slice),
    ):
        tail.advance(cursor, batch, moment)
    report.caught_up = all(
        len(batch.ids) < limit for batch in (run_slice, status_slice, order_slice)
    )
    return report


def _status_events(db: Session, ids: list[int], zone: ZoneInfo) -> tuple[int, set[int]]:
    """Status lag facts and rollups for new status events; returns (count, their orders)."""
    if not ids:
        return 0, set()
    s = StatusEvent
    rows = db.execute(
        select(s.id, s.order_id, s.source, s.state, s.source_time, s.received_at, Order.channel)
        .join(Order, Order.id == s.order_id)
        .where(s.id.in_(ids))
    ).all()
    lag = Twin(DurationHourly, DurationDaily, zone)
    facts_rows = []
    for ident, order_id, source, state, source_time, received_at, channel in rows:
        seconds = max((received_at - source_time).total_seconds(), 0.0)
        facts_rows.append(
            {
                "status_event_id": ident,
                "order_id": order_id,
                "channel": channel,
                "source": source,
                "state": state,
                "received_at": received_at,
                "lag_seconds": seconds,
            }
        )
        for acc in lag.at(("status_lag",), received_at, (channel,)):
            acc.duration(seconds)
    if facts_rows:
        db.execute(insert(StatusLagFact), facts_rows)
    lag.flush(db)
    return len(rows), {row[1] for row in rows}


def rebuild_orders(
    database: Database, order_ids: Sequence[int], *, now: datetime | None = None, chunk: int = 1000
) -> int:
    """Rebuild the facts, costs and rollups of ``order_ids`` (after a cost driver or order
    type changed), a chunk per transaction, each under the refresher's lock."""
    ids = sorted(set(order_ids))

    def work(part: list[int], db: Session) -> None:
        moment = now or utcnow()
        tail.lock(db, LOCK, moment, wait=True)
        touched = facts.rebuild(db, part, moment, observers=default_observers())
        rollups.recompute_orders(db, touched.created)
        rollups.recompute_costs(db, touched.created)
        rollups.recompute_deliveries(db, touched.delivered)

    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        in_transaction(database, partial(work, part))
    return len(ids)
