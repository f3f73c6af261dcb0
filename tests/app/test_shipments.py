"""Merge groups and split allocations recorded by the app, and the split-shipment rate."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import get_db, in_transaction
from app.models import Run, Shipment, ShipmentOrder, utcnow
from app.orders import services as orders
from app.runs import services as runs
from app.runs.tasks import sweep_now
from app.shipments import services as shipments
from flow_engine import CancelRun

from .flows_fixtures import flow_doc, load_reference, order_doc, publish

MERGE_FLOW = flow_doc(
    "po-merge",
    [{"id": "start", "type": "start"},
     {"id": "hold", "type": "merge", "config": {"window": "30m"}},
     {"id": "done", "type": "end", "config": {"outcome": "shipped"}}],
    [("start", "hold"), ("hold", "done")],
)  # fmt: skip
SPLIT_FLOW = flow_doc(
    "allocate",
    [{"id": "start", "type": "start"},
     {"id": "alloc", "type": "split", "config": {"constraints": ["active"]}},
     {"id": "one", "type": "end", "config": {"outcome": "single"}},
     {"id": "many", "type": "end", "config": {"outcome": "split"}},
     {"id": "none", "type": "end", "config": {"outcome": "backorder"}}],
    [("start", "alloc"), ("alloc", "one", "single"), ("alloc", "many", "split"),
     ("alloc", "none", "unavailable")],
)  # fmt: skip
STOCK = {
    "warehouses": [{"id": "GZ", "cost": 1}, {"id": "SH", "cost": 2}],
    "inventory": {"GZ": {"SKU-1": 5, "SKU-2": 1}, "SH": {"SKU-1": 5}},
}


@pytest.fixture
def database(app):
    return get_db(app)


def ingest(database, doc, now=None):
    return in_transaction(database, lambda db: orders.ingest(db, doc, now=now))[2]


def run_of(database, run_id):
    with database.session() as db:
        return db.get(Run, run_id)


def groups(database):
    with database.session() as db:
        found = db.scalars(select(Shipment).where(Shipment.kind == "merge").order_by(Shipment.id))
        return [(s.id, s.status, s.closes_at) for s in found]


def test_orders_of_one_customer_and_address_leave_together_in_one_shipment(app, database):
    in_transaction(database, lambda db: publish(db, MERGE_FLOW))
    t0 = utcnow()
    (first,) = ingest(database, order_doc("PO-1"), now=t0)
    (second,) = ingest(database, order_doc("PO-2"), now=t0 + timedelta(minutes=20))
    elsewhere = order_doc("PO-3", shipping_address={"province": "浙江", "city": "杭州"})
    (third,) = ingest(database, elsewhere, now=t0 + timedelta(minutes=21))
    [(group, status, closes), (other, _, _)] = groups(database)
    assert status == "open" and closes == t0 + timedelta(minutes=30)
    held = run_of(database, second.id).snapshot["vars"]["merge"]
    assert held["shipment"] == str(group) and held["orders"] == ["PO-1", "PO-2"]
    assert held["opened"] is False and held["closes_at"] == closes.isoformat()
    assert run_of(database, third.id).snapshot["vars"]["merge"]["shipment"] == str(other)
    # The second order waits for the group's closing time, not 30 minutes of its own.
    with app.app_context():
        sweep_now(t0 + timedelta(minutes=30, seconds=1))
    assert run_of(database, first.id).outcome == "shipped"
    assert run_of(database, second.id).outcome == "shipped"
    assert run_of(database, third.id).status == "waiting"
    assert groups(database)[0][1] == "released"
    with database.session() as db:
        (one,) = [s for s in shipments.of_order(db, first.order_id) if s["kind"] == "merge"]
        assert one["orders"] == ["PO-1", "PO-2"] and one["status"] == "released"
        figures = shipments.stats(db, t0 - timedelta(hours=1), t0 + timedelta(hours=1))
    assert (figures["held_orders"], figures["merged_orders"], figures["merge_rate"]) == (
        3,
        2,
        66.67,
    )


def test_an_order_after_the_window_opens_a_new_group(app, database):
    in_transaction(database, lambda db: publish(db, MERGE_FLOW))
    t0 = utcnow()
    ingest(database, order_doc("PO-1"), now=t0)
    (late,) = ingest(database, order_doc("PO-2"), now=t0 + timedelta(minutes=31))
    statuses = [status for _, status, _ in groups(database)]
    assert statuses == ["released", "open"]  # the expired group ships as it is
    assert run_of(database, late.id).snapshot["vars"]["merge"]["orders"] == ["PO-2"]


def test_a_cancelled_order_leaves_its_group(app, database):
    in_transaction(database, lambda db: publish(db, MERGE_FLOW))
    t0 = utcnow()
    (first,) = ingest(database, order_doc("PO-1"), now=t0)
    ingest(database, order_doc("PO-2"), now=t0 + timedelta(minutes=1))
    in_transaction(
        database, lambda db: runs.apply_event(db, first.id, CancelRun(actor="ops"), now=t0)
    )
    with database.session() as db:
        members = db.scalars(select(ShipmentOrder.status).order_by(ShipmentOrder.id)).all()
    assert members == ["left", "in"]
    assert groups(database)[0][1] == "open"  # PO-2 still ships, alone


def test_two_first_orders_racing_open_one_group(app, database):
    in_transaction(database, lambda db: publish(db, MERGE_FLOW))
    t0 = utcnow()
    barrier = threading.Barrier(2)
    started: list = []
    errors: list = []

    def intake(external_id):
        try:
            barrier.wait(timeout=10)
            started.extend(ingest(database, order_doc(external_id), now=t0))
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=intake, args=(f"PO-{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(started) == 2
    (group,) = groups(database)
    shared = {run_of(database, r.id).snapshot["vars"]["merge"]["shipment"] for r in started}
    assert shared == {str(group[0])}
    with database.session() as db:
        assert len(db.scalars(select(ShipmentOrder)).all()) == 2


def test_allocations_are_recorded_and_give_the_split_shipment_rate(app, database):
    in_transaction(database, lambda db: (load_reference(db, STOCK), publish(db, SPLIT_FLOW)))
    t0 = utcnow()
    (single,) = ingest(database, order_doc("SO-1"), now=t0)
    two_lines = [{"sku": "SKU-1", "qty": 8, "price": 10}, {"sku": "SKU-2", "qty": 1, "price": 5}]
    (split,) = ingest(database, order_doc("SO-2", lines=two_lines), now=t0)
    (none,) = ingest(database, order_doc("SO-3", lines=[{"sku": "SKU-2", "qty": 9}]), now=t0)
    assert [run_of(database, r.id).outcome for r in (single, split, none)] == [
        "single",
        "split",
        "backorder",
    ]
    with database.session() as db:
        parts = shipments.of_order(db, split.order_id)
        assert [(p["kind"], p["warehouse"]) for p in parts] == [("split", "GZ"), ("split", "SH")]
        assert sum(ln["qty"] for p in parts for ln in p["lines"] if ln["sku"] == "SKU-1") == 8
        figures = shipments.stats(db, t0 - timedelta(minutes=1), t0 + timedelta(minutes=1))
        assert (figures["allocated_orders"], figures["split_orders"]) == (2, 1)
        assert figures["split_rate"] == 50.0
        window = (t0 - timedelta(minutes=1), t0 + timedelta(minutes=1))
        assert shipments.stats(db, *window, ["taobao"])["split_rate"] == 50.0
        assert shipments.stats(db, *window, ["jd"])["allocated_orders"] == 0
        assert shipments.stats(db, t0 - timedelta(minutes=1), t0)["split_rate"] is None
