"""Schedule triggers: at each tick of its cron expression, a flow starts one run per open
order its filter matches (e.g. every working morning, the unpaid orders older than 48 h).

A minute task (:func:`app.runs.tasks.schedule_flows`) and ``orderflow flow schedule-tick
--now ...`` call :func:`tick`. The cron expression is read in the business calendar's
time zone; with ``business_days`` a tick on a day off (weekend, holiday, unless a make-up
working day) starts nothing. Each (flow, tick, order) starts once: the trigger receipt's
identity is ``schedule:<tick>:order:<id>``, so two workers ticking the same minute, or a
tick run again by hand, start nothing more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from huey import crontab
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..calendar.services import calendar
from ..inventory.services import StockView
from ..models import Order, utcnow
from .cache import CatalogStamp, LiveVersion, catalog_stamp, live_flows
from .services import order_skus
from .triggers import SCHEDULED, OrderEvent, start_runs_for_event
from .writer import Writes

log = logging.getLogger(__name__)
# Orders in these states are done with: schedules never look at them.
CLOSED_STATES = ("signed", "cancelled", "returned")
PAGE = 500


@dataclass(frozen=True)
class TickReport:
    """What one tick did: the flows whose schedule was due, and the runs started."""

    at: str
    due: tuple[str, ...]
    started: int


def tick(db: Session, now: datetime | None = None) -> TickReport:
    """Start the runs of every schedule-triggered flow due at ``now``'s minute. No commit."""
    now = now or utcnow()
    stamp = catalog_stamp(db)
    versions = live_flows.get(db, stamp, SCHEDULED)
    if not versions:
        return TickReport(now.isoformat(), (), 0)
    business = calendar(db)
    local = now.astimezone(business.zone).replace(second=0, microsecond=0)
    due = [v for v in versions if _due(v, local, business.is_working_day(local.date()))]
    due_ids = frozenset(v.id for v in due)
    started = _start_for_orders(db, due_ids, stamp, local, now) if due else 0
    if due:
        log.info("schedule tick %s: %s due, %d runs started", local.isoformat(),
                 ", ".join(v.flow_key for v in due), started)  # fmt: skip
    return TickReport(local.isoformat(), tuple(v.flow_key for v in due), started)


def _due(version: LiveVersion, local: datetime, working_day: bool) -> bool:
    schedule = version.flow.flow.trigger.schedule or {}
    fields = str(schedule.get("cron", "")).split()
    if len(fields) != 5:  # the flow schema allows no other form
        return False
    if schedule.get("business_days") and not working_day:
        return False
    return bool(crontab(*fields)(local.replace(tzinfo=None)))


def _start_for_orders(
    db: Session, due: frozenset[int], stamp: CatalogStamp, local: datetime, now: datetime
) -> int:
    """Judge every open order, a page at a time, against the due flows (one catalog read,
    one stock read per page)."""
    started = 0
    after = 0
    at = local.isoformat()
    while True:
        orders = list(
            db.scalars(
                select(Order)
                .where(Order.id > after, Order.status.not_in(CLOSED_STATES))
                .order_by(Order.id)
                .limit(PAGE)
            )
        )
        if not orders:
            return started
        writes = Writes(db, now)
        writes.stock = StockView(db, {sku for o in orders for sku in order_skus(o.data)})
        for order in orders:
            event = OrderEvent(SCHEDULED, order, f"schedule:{at}:order:{order.id}", {"at": at})
            started += len(
                start_runs_for_event(db, event, now=now, writes=writes, only=due, stamp=stamp)
            )
        writes.flush()
        after = orders[-1].id
