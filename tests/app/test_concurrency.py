"""Racing writers: two approvers deciding at once, two orders reserving the last unit."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.approvals.services import decide
from app.db import get_db, in_transaction
from app.errors import ConflictError
from app.models import ApprovalTask, InventoryItem, Reservation, Run
from app.orders import services as orders
from app.users import services as users

from .conftest import USING_PG
from .flows_fixtures import flow_doc, order_doc, publish


def _race(*jobs):
    """Run the callables at the same moment in threads; return their results or errors."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def runner(i, job):
        barrier.wait()
        try:
            results[i] = ("ok", job())
        except Exception as err:  # the test inspects which error each side got
            results[i] = ("error", err)

    threads = [threading.Thread(target=runner, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_two_approvers_deciding_at_once_give_one_outcome(app):
    database = get_db(app)
    doc = flow_doc(
        "finance-review",
        [{"id": "start", "type": "start"},
         {"id": "review", "type": "approval", "config": {"assignees": [{"user": "li"}, {"user": "wang"}], "mode": "any"}},
         {"id": "yes", "type": "end", "config": {"outcome": "approved"}},
         {"id": "no", "type": "end", "config": {"outcome": "rejected"}}],
        [("start", "review"), ("review", "yes", "approved"), ("review", "no", "rejected"), ("review", "no", "timeout")],
    )  # fmt: skip

    def setup(db):
        for name in ("li", "wang"):
            users.create_user(db, None, username=name, password="password1", roles=["approver"])
        publish(db, doc)

    in_transaction(database, setup)
    _, _, (run,) = in_transaction(database, lambda db: orders.ingest(db, order_doc("R1", "9000")))
    with database.session() as db:
        tasks = {
            t.assignee: t.task_key
            for t in db.scalars(select(ApprovalTask).where(ApprovalTask.run_id == run.id))
        }

    def decision(name, verdict, comment):
        return lambda: in_transaction(
            database,
            lambda db: decide(db, users.get_user(db, name), tasks[name], verdict, comment=comment),
        )

    results = _race(decision("li", "approved", None), decision("wang", "rejected", "价格不对"))
    oks = [r for r in results if r[0] == "ok"]
    errors = [r[1] for r in results if r[0] == "error"]
    assert len(oks) == 1 and len(errors) == 1
    assert isinstance(errors[0], ConflictError) and errors[0].code == "already_decided"
    winner = "li" if results[0][0] == "ok" else "wang"
    assert f"by {winner}" in str(errors[0].message)  # the loser learns who decided, and how
    with database.session() as db:
        final = db.get(Run, run.id)
        assert final.status == "completed"
        assert final.outcome == ("approved" if winner == "li" else "rejected")
        statuses = sorted(
            t.status for t in db.scalars(select(ApprovalTask).where(ApprovalTask.run_id == run.id))
        )
        assert statuses == sorted([final.outcome, "withdrawn"])


def test_two_orders_never_reserve_the_same_last_unit(app):
    database = get_db(app)
    doc = _last_units_flow()

    def setup(db):
        from app.inventory.services import set_stock

        set_stock(db, "SKU-1", "GZ-01", 1)
        publish(db, doc)

    in_transaction(database, setup)

    def order(n):
        return lambda: in_transaction(
            database, lambda db: orders.ingest(db, order_doc(f"LAST{n}", "10.00"))
        )

    results = _race(*(order(n) for n in range(4)))
    assert all(r[0] == "ok" for r in results), results
    outcomes = sorted(r[1][2][0].outcome for r in results)
    assert outcomes == ["backorder", "backorder", "backorder", "reserved"]
    with database.session() as db:
        item = db.scalars(select(InventoryItem)).one()
        assert (item.on_hand, item.reserved) == (1, 1)
        assert db.scalars(select(Reservation.qty)).all() == [1]


def test_same_order_posted_concurrently_is_stored_once(app):
    database = get_db(app)
    doc = flow_doc(
        "plain",
        [
            {"id": "start", "type": "start"},
            {"id": "done", "type": "end", "config": {"outcome": "ok"}},
        ],
        [("start", "done")],
    )
    in_transaction(database, lambda db: publish(db, doc))

    def post():
        return in_transaction(database, lambda db: orders.ingest(db, order_doc("DUP", "12.00")))

    results = _race(post, post, post)
    assert all(r[0] == "ok" for r in results), results
    ids = {r[1][0].id for r in results}
    created = [r[1][1] for r in results]
    assert len(ids) == 1 and created.count(True) == 1
    with database.session() as db:
        assert len(db.scalars(select(Run)).all()) == 1
        assert db.get(Run, 1).snapshot["order"]["amount"] == {"$decimal": str(Decimal("12.00"))}


def _last_units_flow():
    return flow_doc(
        "reserve",
        [{"id": "start", "type": "start"},
         {"id": "hold", "type": "reserve_inventory", "config": {"warehouse": '"GZ-01"'}},
         {"id": "ok", "type": "end", "config": {"outcome": "reserved"}},
         {"id": "short", "type": "end", "config": {"outcome": "backorder"}}],
        [("start", "hold"), ("hold", "ok", "reserved"), ("hold", "short", "insufficient")],
    )  # fmt: skip


def test_two_batches_never_reserve_the_same_last_units(app):
    from app.inventory.services import set_stock

    database = get_db(app)
    in_transaction(database, lambda db: (set_stock(db, "SKU-1", "GZ-01", 2),
                                         publish(db, _last_units_flow())))  # fmt: skip

    def batch(n):
        docs = [order_doc(f"B{n}-{i}", "10.00") for i in range(3)]
        return lambda: in_transaction(database, lambda db: orders.ingest_many(db, docs))

    results = _race(batch(1), batch(2))
    assert all(r[0] == "ok" for r in results), results
    outcomes = sorted(started[0].outcome for r in results for _, _, started in r[1])
    assert outcomes == ["backorder"] * 4 + ["reserved"] * 2
    with database.session() as db:
        item = db.scalars(select(InventoryItem)).one()
        assert (item.on_hand, item.reserved) == (2, 2)
        assert db.scalars(select(Reservation.qty)).all() == [1, 1]


def test_a_batch_finds_out_when_its_stock_was_taken_meanwhile(app):
    """The batch takes stock from its view; the write refuses when the stock is gone, so
    that ``in_transaction`` runs the batch again from a fresh read."""
    from sqlalchemy import update
    from sqlalchemy.orm.exc import StaleDataError

    from app.inventory.services import StockView, set_stock

    database = get_db(app)
    with database.session() as db:
        set_stock(db, "SKU-1", "GZ-01", 3)
        view = StockView(db, ["SKU-1"])
        assert view.take({("GZ-01", "SKU-1"): 2}) == []
        # Someone else takes two units after the view was read.
        db.execute(update(InventoryItem).values(reserved=2))
        with pytest.raises(StaleDataError, match="of one of SKU-1 in GZ-01 changed"):
            view.write()
        assert view.take({("GZ-01", "SKU-1"): 2}) == [
            {"warehouse": "GZ-01", "sku": "SKU-1", "requested": 2, "available": 1}
        ]
        db.rollback()


@pytest.mark.skipif(USING_PG, reason="SQLite only: PostgreSQL locks rows, not the database")
def test_a_sqlite_unit_of_work_holds_the_write_lock_from_its_start(app):
    """A unit that reads before it writes must not fail at its first write with "database
    is locked" because another writer committed in between: it takes the lock at BEGIN."""
    import sqlite3

    from sqlalchemy import text

    from app.db import in_transaction

    database = get_db(app)
    path = database.engine.url.database
    outcome = {}

    def work(db):
        db.execute(text("SELECT count(*) FROM orders")).scalar()  # reads only, so far
        other = sqlite3.connect(path, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            outcome["other"] = "got the write lock"
            other.rollback()
        except sqlite3.OperationalError as err:
            outcome["other"] = str(err)
        finally:
            other.close()

    in_transaction(database, work)
    assert outcome["other"] == "database is locked"
