"""The rows that runs produce in one transaction, written together.

Advancing a run appends its audit events, outbox messages, timers and the new run state
here; :meth:`Writes.flush` writes each kind with one statement (many rows at once) before
the transaction commits. Batching keeps the per-order cost of the ingest path low: most of
a run's writes cost a few dictionary appends instead of a statement each.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from flow_engine import NEW

from ..db import on_commit
from ..inventory.services import RESERVATIONS, StockView
from ..models import Alert, OutboxMessage, Run, RunEvent, RunTimer, table_of
from ..order_fields import declared_custom_fields
from .cache import CatalogStamp
from .writeback import FieldWrites, OrderUpdate

ALERTS = table_of(Alert)
RUNS = table_of(Run)
RUN_EVENTS = table_of(RunEvent)
OUTBOX = table_of(OutboxMessage)
TIMERS = table_of(RunTimer)
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
        stand=bindparam("stand"),
        updated_at=bindparam("updated_at"),
        finished_at=bindparam("finished_at"),
        lock_version=bindparam("expected_version") + 1,
    )
)
_INSERT_RUN = RUNS.insert().returning(RUNS.c.id)
# Many rows with RETURNING in one statement: rows come back in no set order (asking for the
# parameters' order makes SQLite insert them one at a time), so each row says what it is.
_INSERT_RUNS = RUNS.insert().returning(RUNS.c.id, RUNS.c.order_id, RUNS.c.flow_version_id)
_INSERT_TIMERS = TIMERS.insert().returning(TIMERS.c.id, TIMERS.c.due_at)
_INSERT_OUTBOX = OUTBOX.insert().returning(OUTBOX.c.id)

# Told of the order fields runs changed, after they are written (``order.updated``); set by
# the app at start-up (``app.runs.order_events.init_app``).
OrderUpdateListener = Callable[[Session, list[OrderUpdate], datetime, CatalogStamp | None], None]
_order_update_listener: OrderUpdateListener | None = None


def listen_to_order_updates(listener: OrderUpdateListener) -> None:
    """Call ``listener`` with the order field changes of each flush, once written."""
    global _order_update_listener
    _order_update_listener = listener


class Writes:
    def __init__(self, db: Session, now: datetime, stamp: CatalogStamp | None = None) -> None:
        self.db = db
        self.now = now
        # The catalog as this transaction read it before starting runs: the order.updated
        # their field changes announce is dispatched against the same one, not read again.
        self.stamp = stamp
        self.audit: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.timers: list[dict[str, Any]] = []
        self.reservations: list[dict[str, Any]] = []
        self.runs: dict[int, dict[str, Any]] = {}
        # A batch reads the stock of all its SKUs once (see StockView); single events read it
        # afresh.
        self.stock: StockView | None = None
        # Alerts raised, by dedup key; see alert.
        self.alerts: dict[str, dict[str, Any]] = {}
        # Run rows a batch inserted ahead, by (order id, flow version id); see reserve_runs.
        self.reserved: dict[tuple[int, int], int] = {}
        # Declared order fields the runs set (see writeback).
        self.fields = FieldWrites(lambda: declared_custom_fields(db))
        # Runs of ``concurrency: queue`` flows that finished: their flows' queued events of
        # the order start at flush (see triggers.start_queued).
        self.queue_done: set[int] = set()

    def reserve_runs(self, pairs: list[tuple[int, int]]) -> None:
        """Insert the rows of the runs a batch may start, ``(order id, flow version id)``
        each, with one statement. A run's id is part of the engine's ids, so its row must
        exist before the run starts; rows whose trigger then does not match are deleted at
        :meth:`flush`."""
        if not pairs:
            return
        rows = [new_run_row(order_id, version_id, self.now) for order_id, version_id in pairs]
        for run_id, order_id, version_id in self.db.connection().execute(_INSERT_RUNS, rows):
            self.reserved[(order_id, version_id)] = run_id

    def run_id(self, row: dict[str, Any]) -> int:
        """The id of the run ``row`` (from :func:`new_run_row`): reserved ahead by the batch,
        or inserted now."""
        run_id = self.reserved.pop((row["order_id"], row["flow_version_id"]), None)
        if run_id is None:
            run_id = self.db.connection().execute(_INSERT_RUN, row).scalar_one()
        return run_id

    def flush_reservations(self) -> None:
        """Write the stock taken and the reservation records now (before something reads
        them); raises StaleDataError if another transaction took the stock meanwhile."""
        if self.stock is not None:
            self.stock.write()
        if self.reservations:
            self.db.connection().execute(RESERVATIONS.insert(), self.reservations)
            self.reservations = []

    def alert(self, row: dict[str, Any]) -> None:
        """Raise the alert ``row`` (alerts table columns, ``data["repeats"]`` 1) at flush.
        There is one open alert per ``dedup_key``: a repeat, in this transaction or of an
        alert still open, counts in that alert's ``data["repeats"]``."""
        held = self.alerts.get(row["dedup_key"])
        if held is None:
            self.alerts[row["dedup_key"]] = row
        else:
            held["data"] = {**held["data"], "repeats": held["data"]["repeats"] + 1}

    def _flush_alerts(self) -> None:
        rows, self.alerts = self.alerts, {}
        still_open = self.db.scalars(
            select(Alert)
            .where(Alert.dedup_key.in_(sorted(rows)), Alert.status == "open")
            .order_by(Alert.id)
        )
        for alert in still_open:
            row = rows.pop(alert.dedup_key or "", None)  # selected by key: never empty
            if row is not None:  # the oldest open alert of a key counts the repeats
                repeats = int(alert.data.get("repeats", 1)) + row["data"]["repeats"]
                alert.data = {**alert.data, "repeats": repeats}
        if rows:
            self.db.connection().execute(ALERTS.insert(), list(rows.values()))

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
        if self.reserved:  # runs whose trigger did not match
            conn.execute(delete(RUNS).where(RUNS.c.id.in_(sorted(self.reserved.values()))))
            self.reserved = {}
        if self.runs:
            params = list(self.runs.values())
            changed = conn.execute(_UPDATE_RUN, params).rowcount
            if changed != len(params):
                raise StaleDataError(f"{len(params) - changed} run(s) changed by another process")
        if self.audit:
            conn.execute(RUN_EVENTS.insert(), self.audit)
        if self.timers:
            soon = self.now + WAKE_AHEAD
            for timer_id, due in conn.execute(_INSERT_TIMERS, self.timers).all():
                if due <= soon:
                    on_commit(self.db, partial(wake_timer, timer_id, due))
        if self.outbox:
            ids = [row[0] for row in conn.execute(_INSERT_OUTBOX, self.outbox).all()]
            on_commit(self.db, lambda: wake_outbox_many(ids))
        if self.alerts:
            self._flush_alerts()
        updated = self.fields.flush(self.db, self.now)
        # Stock last: concurrent batches take the same popular items, and each holds their
        # rows from this UPDATE until its commit, so the less that follows it the better.
        self.flush_reservations()
        self.audit, self.outbox, self.timers, self.runs = [], [], [], {}
        if self.queue_done:
            from .triggers import start_queued

            done, self.queue_done = self.queue_done, set()
            if start_queued(self.db, done, self):
                self.flush()
        if updated and _order_update_listener is not None:
            # Flows started by order.updated may take stock too: after this batch's is written.
            _order_update_listener(self.db, updated, self.now, self.stamp)


def new_run_row(order_id: int, version_id: int, now: datetime) -> dict[str, Any]:
    """The row of a run not started yet (the engine's first step fills it in)."""
    return {
        "flow_version_id": version_id,
        "order_id": order_id,
        "status": NEW,
        "snapshot": {},
        "lock_version": 1,
        "current_nodes": [],
        "started_at": now,
        "updated_at": now,
    }
