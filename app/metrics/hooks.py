"""Hooks that feed the figures without touching the code paths they watch.

- After a transaction that wrote run events, status events or orders commits, a refresh is
  scheduled (debounced, see :func:`app.metrics.tasks.wake`). The hook notices the inserts
  through the engine's ``after_execute`` event, which costs one attribute check per
  statement on the ingest path.
- Order look-ups are tallied per hour: the public tracking page (``self``) and staff
  opening an order's page (``assisted``). Live page refreshes (htmx polling) are not
  counted.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any

from flask import Flask, Response, request
from sqlalchemy import event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..db import Database, get_db, get_session, in_transaction
from ..errors import ConflictError
from ..models import LookupHourly, Order, utcnow
from .rollups import hour_of
from .tasks import wake

log = logging.getLogger(__name__)
WATCHED = frozenset({"run_events", "status_events", "orders"})
SESSION_KEY = "orderflow.metrics.session"
DIRTY_KEY = "orderflow.metrics.dirty"
LOOKUPS = {"tracking.track": "self", "orders.detail": "assisted"}
# Look-ups are counted in memory and written at most every FLUSH_SECONDS per process (and by
# every background tick), so a page view costs one indexed read, not a write.
FLUSH_SECONDS = 10.0
_lock = threading.Lock()
_pending: dict[tuple[str, Any, str, str], int] = {}  # (database, hour, channel, via)
_flushed = 0.0


def _remember_session(session: Session, _transaction: Any, connection: Any) -> None:
    connection.info[SESSION_KEY] = weakref.ref(session)


def _watch(conn: Any, clauseelement: Any, *_args: Any) -> None:
    table = getattr(clauseelement, "table", None)
    if table is None or getattr(table, "name", None) not in WATCHED:
        return
    if not getattr(clauseelement, "is_insert", False):
        return
    ref = conn.info.get(SESSION_KEY)
    session = ref() if ref is not None else None
    if session is not None:
        session.info[DIRTY_KEY] = True


def _after_commit(session: Session) -> None:
    if session.info.pop(DIRTY_KEY, False):
        wake()


def _after_rollback(session: Session, *_args: Any) -> None:
    session.info.pop(DIRTY_KEY, None)


def _tally(response: Response) -> Response:
    via = LOOKUPS.get(request.endpoint or "")
    if via is None or request.method != "GET" or response.status_code != 200:
        return response
    if request.headers.get("HX-Request"):
        return response
    try:
        _count(via)
    except Exception:  # a tally must never break the page it counts
        log.warning("could not count an order look-up", exc_info=True)
    return response


def _count(via: str) -> None:
    channel = _channel(get_session(), request.view_args or {})
    if channel is None:
        return
    global _flushed
    database = get_db()
    key = (_where(database), hour_of(utcnow()), channel, via)
    with _lock:
        _pending[key] = _pending.get(key, 0) + 1
        due = time.monotonic() - _flushed >= FLUSH_SECONDS
        if due:
            _flushed = time.monotonic()
    if due:
        flush_lookups(database)


def flush_lookups(database: Database) -> int:
    """Write the look-ups this process counted since the last flush; returns how many."""
    where = _where(database)
    with _lock:
        counts = {k[1:]: n for k, n in _pending.items() if k[0] == where}
        for key in [k for k in _pending if k[0] == where]:
            del _pending[key]
    if not counts:
        return 0
    module = postgresql if database.engine.dialect.name == "postgresql" else sqlite
    table = LookupHourly.__table__

    def work(db: Session) -> None:
        for (hour, channel, via), n in sorted(counts.items()):
            db.execute(
                module.insert(table)
                .values(hour=hour, channel=channel, via=via, count=n)
                .on_conflict_do_update(
                    index_elements=["hour", "channel", "via"], set_={"count": table.c.count + n}
                )
            )

    try:
        in_transaction(database, work)
    except ConflictError:
        with _lock:  # keep the counts for the next flush instead of losing them
            for (hour, channel, via), n in counts.items():
                key = (where, hour, channel, via)
                _pending[key] = _pending.get(key, 0) + n
        raise
    return sum(counts.values())


def _where(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=True)


def _channel(db: Session, args: dict[str, Any]) -> str | None:
    if "tracking_id" in args:
        query = select(Order.channel).where(Order.tracking_id == str(args["tracking_id"]))
    elif "order_id" in args:
        query = select(Order.channel).where(Order.id == int(args["order_id"]))
    else:
        return None
    return db.scalars(query).first()


def install(app: Flask) -> None:
    """Hook the app's engine, sessions and requests (web, workers and commands alike)."""
    database = get_db(app)
    pairs = (
        (database.sessionmaker, "after_begin", _remember_session),
        (database.sessionmaker, "after_commit", _after_commit),
        (database.sessionmaker, "after_soft_rollback", _after_rollback),
        (database.engine, "after_execute", _watch),
    )
    for target, name, fn in pairs:
        if not event.contains(target, name, fn):
            event.listen(target, name, fn)
    app.after_request(_tally)
