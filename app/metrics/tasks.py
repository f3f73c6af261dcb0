"""Background work of figures and alerts: refresh the facts, then evaluate due alert rules.

Every minute on schedule, and a few seconds after new run events or status reports
committed (:func:`wake`, at most once per :data:`WAKE_DELAY` per process, so a busy ingest
path pays one queue write every few seconds, not one per order). Only one tick runs at a
time across all workers (a queue lock, and the refresher's own database lock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from huey import crontab
from huey.exceptions import TaskLockedException

from ..costs.services import orders_since
from ..db import Database, get_db
from ..errors import ConflictError
from ..models import utcnow
from ..queue import huey, task_app
from .refresh import rebuild_orders, refresh

log = logging.getLogger(__name__)
WAKE_DELAY = 5.0
_wake_lock = threading.Lock()
_next_wake = 0.0


# Run after each refresh in the same tick, each reporting under its name (``rules``: the
# alert rules that were due): registered when the app is built (``app.wiring``).
AFTER_REFRESH: dict[str, Callable[[Database, datetime | None], Any]] = {}


def tick(now: datetime | None = None, *, budget: float = 20.0) -> dict[str, Any]:
    """Refresh the facts, then run what follows them (due alert rules); returns what
    happened."""
    from .hooks import flush_lookups

    app = task_app()
    database = get_db(app)
    try:
        with huey.lock_task("orderflow-metrics-tick"), app.app_context():
            flush_lookups(database)
            report = refresh(database, now=now, budget=budget)
            after = {name: then(database, now) for name, then in AFTER_REFRESH.items()}
    except TaskLockedException:
        return {"skipped": True}
    except ConflictError as err:
        # Every pass commits where it got to; the next tick (a minute at most) goes on.
        log.warning("metrics tick postponed: %s", err)
        return {"postponed": True}
    return {
        "events": report.events,
        "status_events": report.status_events,
        "orders": report.rebuilt,
        "caught_up": report.caught_up,
        **after,
    }


@huey.periodic_task(crontab(minute="*"))
def metrics_tick() -> dict[str, Any]:
    return tick()


@huey.task()
def metrics_soon() -> dict[str, Any]:
    return tick(budget=5.0)


@huey.task()
def rebuild_recent(days: int) -> int:
    """Rebuild the orders placed in the last ``days`` days (costs after a change)."""
    from datetime import timedelta

    app = task_app()
    database = get_db(app)
    with app.app_context():
        with database.session() as db:
            ids = orders_since(db, utcnow() - timedelta(days=days))
        return rebuild_orders(database, ids)


def rebuild_costs(days: int) -> None:
    """Queue a rebuild of the last ``days`` days' orders."""
    rebuild_recent(days)


def wake() -> None:
    """Ask for a tick soon (debounced per process; safe to call after every commit)."""
    global _next_wake
    now = time.monotonic()
    if now < _next_wake:
        return
    with _wake_lock:
        if now < _next_wake:
            return
        _next_wake = now + WAKE_DELAY
    try:
        metrics_soon.schedule(delay=WAKE_DELAY)
    except Exception:  # the minute tick catches up; a lost wake-up only delays figures
        log.warning("could not schedule a metrics refresh", exc_info=True)
