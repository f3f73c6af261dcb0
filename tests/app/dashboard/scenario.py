"""A small fixed operations history, built through the real ingest, approval and status
paths, whose figures are worked out by hand in the tests.

Flow ``fulfil``: orders above 5000 need an approval; then the order waits for the WMS to
report it packed (QC released) and for the TMS to report it shipped (loaded).

=====  =======  ======  ========  =========================  ===========================
order  channel  amount  placed    approval (decided)         packed / shipped / delivered
=====  =======  ======  ========  =========================  ===========================
A      taobao   100     T0+0:00   —                          2:00 / 6:00 / 15:00 (promise 20:00)
B      taobao   200     T0+0:10   —                          3:00 / 4:00 / 12:00 (promise 10:00)
C      tmall    6000    T0+0:20   approved at 2:20 (2 h)     4:00 / 8:00 / 28:00 (promise 30:00)
D      tmall    8000    T0+1:05   approved at 1:35 (30 min)  —
E      douyin   300     T0+1:30   —                          —
=====  =======  ======  ========  =========================  ===========================

Status reports arrive late by the ``LAG`` seconds listed with each event. T0 is 30 whole
hours before the current hour, so "the last 7 days" holds all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.approvals.services import decide
from app.db import Database, in_transaction
from app.metrics.refresh import refresh
from app.metrics.rollups import hour_of
from app.models import ApprovalTask, Order, Run, utcnow
from app.orders.services import ingest
from app.status import services as status
from app.users import services as users

from ..flows_fixtures import flow_doc, order_doc, publish
from ..org_fixtures import user_holds_access_roles

H = timedelta(hours=1)
M = timedelta(minutes=1)

ORDERS = {
    "A": ("taobao", "100", 0 * M, 20 * H, False),
    "B": ("taobao", "200", 10 * M, 10 * H, True),
    "C": ("tmall", "6000", 20 * M, 30 * H, False),
    "D": ("tmall", "8000", 65 * M, 12 * H, False),
    "E": ("douyin", "300", 90 * M, None, False),
}
APPROVALS = {"C": 140 * M, "D": 95 * M}
# (order, source, code, occurred, lag seconds)
STATUS = [
    ("A", "wms", "PACKED", 2 * H, 10),
    ("B", "wms", "PACKED", 3 * H, 30),
    ("C", "wms", "PACKED", 4 * H, 60),
    ("A", "tms", "DISPATCHED", 6 * H, 20),
    ("B", "tms", "DISPATCHED", 4 * H, 300),
    ("C", "tms", "DISPATCHED", 8 * H, 40),
    ("A", "tms", "DELIVERED", 15 * H, 5),
    ("B", "tms", "DELIVERED", 12 * H, 15),
    ("C", "tms", "DELIVERED", 28 * H, 600),
]
LAGS = [lag for *_rest, lag in STATUS]


def fulfil_flow() -> dict[str, Any]:
    return flow_doc(
        "fulfil",
        [
            {"id": "start", "type": "start"},
            {"id": "big", "type": "condition", "config": {"expression": "order.amount > 5000"}},
            {"id": "approve", "type": "approval", "config": {"assignees": [{"role": "approver"}]}},
            {"id": "qc", "type": "wait_event", "config": {"event": "packed", "timeout": "7d"}},
            {"id": "load", "type": "wait_event", "config": {"event": "shipped", "timeout": "7d"}},
            {"id": "done", "type": "end", "config": {"outcome": "shipped"}},
            {"id": "no", "type": "end", "config": {"outcome": "rejected"}},
            {"id": "late", "type": "end", "config": {"outcome": "late"}},
        ],
        [
            ("start", "big"), ("big", "approve", "true"), ("big", "qc", "false"),
            ("approve", "qc", "approved"), ("approve", "no", "rejected"),
            ("qc", "load", "received"), ("qc", "late", "timeout"),
            ("load", "done", "received"), ("load", "late", "timeout"),
        ],
    )  # fmt: skip


@dataclass
class Scenario:
    t0: datetime
    orders: dict[str, Order] = field(default_factory=dict)

    def at(self, offset: timedelta) -> datetime:
        return self.t0 + offset

    def id(self, name: str) -> int:
        return self.orders[name].id


def start_time() -> datetime:
    return hour_of(utcnow()) - 30 * H


def build(database: Database, *, t0: datetime | None = None, refreshed: bool = True) -> Scenario:
    """Publish ``fulfil``, place the orders and play the approvals and status reports."""
    s = Scenario(t0 or start_time())
    in_transaction(database, lambda db: publish(db, fulfil_flow()))
    in_transaction(
        database,
        lambda db: user_holds_access_roles(db, users.create_user(db, None, username="li", password="correct-horse", roles=["approver"])),
    )  # fmt: skip
    for name, (channel, amount, offset, promise, urgent) in ORDERS.items():
        extra: dict[str, Any] = {"channel": channel, "urgent": urgent}
        if promise is not None:
            extra["promised_at"] = s.at(promise).isoformat()
        doc = order_doc(name, amount, **extra)
        order, _created, _runs = in_transaction(
            database, lambda db, d=doc, o=offset: ingest(db, d, now=s.at(o))
        )
        s.orders[name] = order
    for name, offset in sorted(APPROVALS.items(), key=lambda kv: kv[1]):
        approve(database, s, name, offset)
    for n, (name, source, code, occurred, lag) in enumerate(STATUS):
        report(database, s, name, source, code, occurred, lag, f"{name}-{n}")
    if refreshed:
        refresh(database, now=utcnow())
    return s


def approve(
    database: Database, s: Scenario, name: str, offset: timedelta, decision: str = "approved"
) -> None:
    def work(db: Any) -> None:
        key = db.scalars(
            select(ApprovalTask.task_key)
            .join(Run, Run.id == ApprovalTask.run_id)
            .where(Run.order_id == s.id(name), ApprovalTask.status == "pending")
        ).first()
        decide(db, users.get_user(db, "li"), key, decision, comment="ok", now=s.at(offset))

    in_transaction(database, work)


def report(database: Database, s: Scenario, name: str, source: str, code: str, occurred: timedelta,
           lag: float, event_id: str) -> None:  # fmt: skip
    def work(db: Any) -> None:
        order = db.get(Order, s.id(name))
        status.record(db, order, source=source, event_id=event_id, code=code,
                      occurred_at=s.at(occurred), now=s.at(occurred) + timedelta(seconds=lag))  # fmt: skip

    in_transaction(database, work)
