"""``concurrency: queue``: an event that arrives while the flow's run of the order is open
waits (stored with the event, durable) and starts its run when that run finishes, in
arrival order, once; a replay queues nothing more; a queued event of a flow archived
meanwhile is dropped with its reason; the sweep starts what a crash left waiting."""

from __future__ import annotations

from sqlalchemy import select, update

from app.db import get_db, in_transaction
from app.flows import services as flows
from app.models import Alert, Flow, FlowVersion, Order, Run, TriggerReceipt
from app.runs import services as runs
from app.runs import tasks
from app.runs.order_events import announce_order_event
from flow_engine import CancelRun

from .test_event_triggers import WAIT, _flow, _order, _status


def _runs(app, key: str) -> list[Run]:
    with get_db(app).session() as db:
        return list(db.scalars(select(Run).join(FlowVersion).where(
            FlowVersion.flow.has(key=key)).order_by(Run.id)))  # fmt: skip


def _receipts(app) -> list[tuple[str, str, int | None]]:
    with get_db(app).session() as db:
        rows = db.scalars(select(TriggerReceipt).order_by(TriggerReceipt.id))
        return [(r.event_key, r.status, r.run_id) for r in rows]


def _cancel(app, run_id: int) -> None:
    in_transaction(get_db(app), lambda db: runs.apply_event(db, run_id, CancelRun(actor="ops")))


def test_a_second_event_waits_for_the_open_run_and_starts_when_it_completes(app, api):
    _flow(app, "queued", "order.status_changed", nodes=WAIT, concurrency="queue")
    order = _order(api, "Q1")
    assert _status(api, order, "PAID", "Q-1").json["runs_started"] == 1
    # The run waits for shipping; the next event of the order waits for the run.
    assert _status(api, order, "PICKED", "Q-2", source="wms").json["runs_started"] == 0
    [first] = _runs(app, "queued")
    assert first.status == "waiting"
    assert _receipts(app) == [("status:erp:Q-1", "started", first.id),
                              ("status:wms:Q-2", "queued", None)]  # fmt: skip
    # Shipping completes the first run; in the same transaction the queued event starts the
    # second, and the shipping event itself queues behind it.
    shipped = _status(api, order, "OUTBOUND_CONFIRMED", "Q-3", source="wms")
    assert shipped.json["runs_resumed"] == 1
    first, second = _runs(app, "queued")
    assert first.status == "completed" and second.status == "waiting"
    assert second.started_at >= first.finished_at
    assert _receipts(app) == [("status:erp:Q-1", "started", first.id),
                              ("status:wms:Q-2", "started", second.id),
                              ("status:wms:Q-3", "queued", None)]  # fmt: skip
    # Cancelling the second run starts the third, for the last event.
    _cancel(app, second.id)
    assert [r.status for r in _runs(app, "queued")] == ["completed", "cancelled", "waiting"]
    assert [s for _, s, _ in _receipts(app)] == ["started"] * 3


def test_a_replayed_event_is_queued_once(app, api):
    _flow(app, "queued-alerts", "alert.opened", nodes=WAIT, concurrency="queue")
    order = _order(api, "Q2")
    database = get_db(app)

    def announce(key: str):
        def work(db):
            stored = db.get(Order, order["id"])
            return announce_order_event(db, "alert.opened", stored, {"alert_id": 1}, key=key)

        return len(in_transaction(database, work))

    assert announce("alert:1:1") == 1
    assert announce("alert:1:2") == 0
    assert announce("alert:1:2") == 0  # the same event again
    assert [s for _, s, _ in _receipts(app)] == ["started", "queued"]
    [first] = _runs(app, "queued-alerts")
    _cancel(app, first.id)
    assert len(_runs(app, "queued-alerts")) == 2
    assert announce("alert:1:2") == 0  # replayed after it ran: nothing more
    assert len(_runs(app, "queued-alerts")) == 2


def test_a_queued_event_of_an_archived_flow_is_dropped_with_its_reason(app, api):
    _flow(app, "queued-then-archived", "order.status_changed", nodes=WAIT, concurrency="queue")
    order = _order(api, "Q3")
    _status(api, order, "PAID", "A-1")
    _status(api, order, "PICKED", "A-2", source="wms")
    database = get_db(app)

    def archive(db):
        flow = db.scalars(select(Flow).where(Flow.key == "queued-then-archived")).one()
        flows.archive(db, None, flow)

    in_transaction(database, archive)
    [first] = _runs(app, "queued-then-archived")
    _cancel(app, first.id)
    assert len(_runs(app, "queued-then-archived")) == 1
    with database.session() as db:
        receipt = db.scalars(select(TriggerReceipt).where(
            TriggerReceipt.event_key == "status:wms:A-2")).one()  # fmt: skip
        assert receipt.status == "dropped" and "archived" in receipt.reason
        alert = db.scalars(select(Alert).where(Alert.order_id == order["id"])).one()
        assert "queued-then-archived" in alert.title and "已归档" in alert.title
        assert "status:wms:A-2" in alert.message


def test_the_sweep_starts_an_event_left_queued_after_its_run_finished(app, api):
    """A run finished without starting the queue (a worker killed in between, a version
    without the queue): the next sweep, and start-up, start the waiting event."""
    _flow(app, "queued-crash", "order.status_changed", nodes=WAIT, concurrency="queue")
    order = _order(api, "Q4")
    _status(api, order, "PAID", "C-1")
    _status(api, order, "PICKED", "C-2", source="wms")
    [first] = _runs(app, "queued-crash")
    database = get_db(app)
    in_transaction(database, lambda db: db.execute(
        update(Run).where(Run.id == first.id).values(status="completed")))  # fmt: skip
    assert tasks.sweep_now()["queued_started"] == 1
    assert [r.status for r in _runs(app, "queued-crash")] == ["completed", "waiting"]
    assert tasks.sweep_now()["queued_started"] == 0
    assert [s for _, s, _ in _receipts(app)] == ["started", "started"]
