"""The refresher reads each row once even when transactions commit out of id order, and
new events wake it without the ingest path waiting."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from app.db import in_transaction
from app.metrics import tail, tasks
from app.metrics.refresh import refresh
from app.models import MetricCursor, Order, OrderFact, utcnow
from app.orders.services import ingest
from app.queue import huey

from ..conftest import USING_PG
from ..flows_fixtures import order_doc
from .scenario import H


def _order(db, ident: int) -> None:
    now = utcnow()
    db.execute(
        insert(Order).values(
            id=ident, channel="taobao", external_id=f"X{ident}", tracking_id=secrets.token_urlsafe(12),
            status="created", data={"external_id": f"X{ident}"}, created_at=now, updated_at=now,
        )
    )  # fmt: skip


def _facts(database) -> set[int]:
    with database.session() as db:
        return set(db.scalars(select(OrderFact.order_id)))


def test_rows_committed_late_below_the_cursor_are_still_read(database):
    in_transaction(database, lambda db: [_order(db, i) for i in (1, 2, 5)])
    refresh(database)
    assert _facts(database) == {1, 2, 5}
    with database.session() as db:
        cursor = db.get(MetricCursor, "orders")
        assert cursor.position == 5 and [r[:2] for r in cursor.gaps["ranges"]] == [[3, 4]]
    in_transaction(database, lambda db: _order(db, 3))  # a transaction that committed late
    report = refresh(database)
    assert report.orders == 1 and _facts(database) == {1, 2, 3, 5}
    with database.session() as db:
        assert [r[:2] for r in db.get(MetricCursor, "orders").gaps["ranges"]] == [[4, 4]]
    # A gap still empty after the time-to-live was a rolled-back insert: forgotten.
    refresh(database, now=utcnow() + tail.GAP_TTL + timedelta(minutes=1))
    with database.session() as db:
        assert db.get(MetricCursor, "orders").gaps == {}
    assert refresh(database).orders == 0


def test_a_second_pass_finds_nothing_to_do(database, scenario):
    with database.session() as db:
        before = db.scalar(select(func.count()).select_from(OrderFact))
    report = refresh(database)
    assert (report.events, report.status_events, report.orders) == (0, 0, 0)
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(OrderFact)) == before == 5


def _wakes() -> int:
    return sum(1 for task in huey.pending() if task.name.endswith("metrics_soon"))


def _queue_report() -> str:
    """What the queue holds, for a failure message."""
    return f"queue {huey.name}: pending {[t.name for t in huey.pending()]}, scheduled {[t.name for t in huey.scheduled()]}"


def test_committed_events_schedule_one_refresh_soon(app, database):
    tasks._next_wake = 0.0
    before = _wakes()
    _, created, _ = in_transaction(database, lambda db: ingest(db, order_doc("W1")))
    assert created, "W1 was already stored: the ingest wrote nothing"
    assert _wakes() == before + 1, _queue_report()
    in_transaction(database, lambda db: ingest(db, order_doc("W2")))  # within the debounce
    assert _wakes() == before + 1
    tasks._next_wake = 0.0

    def rolled_back(db):
        ingest(db, order_doc("W3"))
        raise RuntimeError("rolled back")

    try:
        in_transaction(database, rolled_back)
    except RuntimeError:
        pass
    assert _wakes() == before + 1


def test_the_tick_refreshes_and_evaluates(app, database, scenario):
    with app.app_context():
        result = tasks.tick()
    assert result["caught_up"] and result["events"] == 0 and result["rules"] == {}


def test_daily_rollups_add_up_to_the_hourly_ones(database, scenario):
    from zoneinfo import ZoneInfo

    from app.metrics import histogram, rollups
    from app.models import DurationDaily, DurationHourly, NodeDaily, NodeHourly

    zone = ZoneInfo("Asia/Shanghai")
    start, end = scenario.at(-30 * H), scenario.at(40 * H)

    def merged(model_h, model_d, column, whole_days):
        total: dict = {}
        with database.session() as db:
            for _t, hist in rollups.read(
                db, model_h, model_d, start, end, zone, [column], whole_days=whole_days
            ):
                histogram.merge(total, hist)
        return total

    for hourly, daily in ((DurationHourly, DurationDaily), (NodeHourly, NodeDaily)):
        by_days = merged(hourly, daily, hourly.hist, True)
        assert by_days == merged(hourly, daily, hourly.hist, False) and by_days
    with database.session() as db:
        before = {(r.metric, r.day, r.channel): r.hist for r in db.scalars(select(DurationDaily))}
        assert rollups.rebuild_daily(db, zone) > 0
        db.flush()
        after = {(r.metric, r.day, r.channel): r.hist for r in db.scalars(select(DurationDaily))}
        db.rollback()
    assert after == before


@pytest.mark.skipif(USING_PG, reason="SQLite only: PostgreSQL locks the row with FOR UPDATE")
def test_the_refresh_lock_is_taken_by_a_write_first(database):
    """A writer committing while the refresher starts must not cost the refresher its pass.

    SQLite refuses at once (no busy wait) the first write of a transaction that has read
    before another writer committed; under a busy ingest that failed every retry."""
    from sqlalchemy import event

    other = database.engine.connect()
    seen: list[str] = []

    def interleave(conn, cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if conn is other or seen or statement.startswith("BEGIN"):
            return
        seen.append(statement.split()[0].upper())
        try:  # a concurrent ingest commits right after the refresher's first statement
            other.exec_driver_sql("PRAGMA busy_timeout=50")
            other.execute(insert(Order).values(
                id=99, channel="taobao", external_id="X99", tracking_id="t99", status="created",
                data={}, created_at=utcnow(), updated_at=utcnow(),
            ))  # fmt: skip
            other.commit()
        except Exception:  # the refresher already holds the write lock: the writer waits
            other.rollback()

    event.listen(database.engine, "after_cursor_execute", interleave)
    try:
        with database.session() as db:
            assert tail.lock(db, "refresh-race", utcnow()) is not None
            db.commit()
    finally:
        event.remove(database.engine, "after_cursor_execute", interleave)
        other.close()
    assert seen == ["INSERT"]


def test_a_tick_that_meets_a_busy_database_is_postponed_not_failed(
    app, database, monkeypatch, caplog
):
    from app.errors import ConflictError
    from app.metrics import hooks
    from app.metrics import refresh as refresh_module

    def busy(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise ConflictError("the data kept changing under this update; try again")

    key = (hooks._where(database), "2026-12-01T08", "taobao", "page")
    hooks._pending[key] = 3
    monkeypatch.setattr(hooks, "in_transaction", busy)
    monkeypatch.setattr(refresh_module, "in_transaction", busy)
    with app.app_context():
        result = tasks.tick()
    assert result == {"postponed": True}
    assert "metrics tick postponed" in caplog.text
    assert hooks._pending.pop(key) == 3  # the look-up counts wait for the next flush
