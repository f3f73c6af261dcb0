"""The rows that runs produce in one transaction, written together.

Advancing a run appends its audit events, outbox messages, timers and the new run state
here; :meth:`Writes.flush` writes each kind with one statement (many rows at once) before
the transaction commits. Batching keeps the per-order cost of the ingest path low: most of
a run's writes cost a few dictionary appends instead of a statement each.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..db import on_commit
from ..inventory.services import RESERVATIONS, StockView
from ..models import OutboxMessage, Run, RunEvent, RunTimer

RUNS = Run.__table__
RUN_EVENTS = RunEvent.__table__
OUTBOX = OutboxMessage.__table__
TIMERS = RunTimer.__table__
# Timers due later than this are fired by the minute sweep; sooner ones get their own wake-up.
WAKE_AHEAD = timedelta(seconds=90)

_UPDATE_RUN = (
    update(RUNS)
    .where(RUNS.c.id == bindparam("run_id"), RUNS.c.lock_version == bindparam("expected_version"))
    .values(
        status=bindparam("status"),
        outcome=bindparam("outcome"),
        snapshot=bindparam("snapshot"),
        current_nodes=bindparam("current_nodes"),
        incident=bindparam("incident"),
        updated_at=bindparam("updated_at"),
        finished_at=bindparam("finished_at"),
        lock_version=bindparam("expected_version") + 1,
    )
)
_INSERT_TIMERS = TIMERS.insert().returning(
    TIMERS.c.id, TIMERS.c.due_at, sort_by_parameter_order=True
)
_INSERT_OUTBOX = OUTBOX.insert().returning(OUTBOX.c.id, sort_by_parameter_order=True)


class Writes:
    def __init__(self, db: Session, now: datetime) -> None:
        self.db = db
        self.now = now
        self.audit: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.timers: list[dict[str, Any]] = []
        self.reservations: list[dict[str, Any]] = []
        self.runs: dict[int, dict[str, Any]] = {}
        # A batch reads the stock of all its SKUs once (see StockView); single events read it
        # afresh.
        self.stock: StockView | None = None

    def flush_reservations(self) -> None:
        """Write the stock taken and the reservation records now (before something reads
        them); raises StaleDataError if another transaction took the stock meanwhile."""
        if self.stock is not None:
            self.stock.write()
        if self.reservations:
            self.db.connection().execute(RESERVATIONS.insert(), self.reservations)
            self.reservations = []

    def timer(self, run_id: int, key: str, due: datetime) -> None:
        self.timers.append({"run_id": run_id, "timer_key": key, "due_at": due, "status": "pending"})

    def cancel_buffered_timer(self, run_id: int, key: str) -> bool:
        """Drop a timer scheduled earlier in this same transaction; True if there was one."""
        for i, t in enumerate(self.timers):
            if t["run_id"] == run_id and t["timer_key"] == key:
                del self.timers[i]
                return True
        return False

    def run_state(self, run_id: int, expected_version: int, values: dict[str, Any]) -> None:
        """Record the run's new state; a later state of the same run replaces an earlier one."""
        previous = self.runs.get(run_id)
        version = previous["expected_version"] if previous else expected_version
        self.runs[run_id] = {"run_id": run_id, "expected_version": version, **values}

    def flush(self) -> None:
        """Write everything buffered; raises StaleDataError if a run changed meanwhile."""
        from .tasks import wake_outbox_many, wake_timer

        conn = self.db.connection()
        if self.runs:
            params = list(self.runs.values())
            changed = conn.execute(_UPDATE_RUN, params).rowcount
            if changed != len(params):
                raise StaleDataError(f"{len(params) - changed} run(s) changed by another process")
        self.flush_reservations()
        if self.audit:
            conn.execute(RUN_EVENTS.insert(), self.audit)
        if self.timers:
            soon = self.now + WAKE_AHEAD
            for timer_id, due in conn.execute(_INSERT_TIMERS, self.timers).all():
                if due <= soon:
                    on_commit(self.db, lambda t=timer_id, d=due: wake_timer(t, d))
        if self.outbox:
            ids = [row[0] for row in conn.execute(_INSERT_OUTBOX, self.outbox).all()]
            on_commit(self.db, lambda: wake_outbox_many(ids))
        self.audit, self.outbox, self.timers, self.runs = [], [], [], {}
