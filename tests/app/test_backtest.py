"""Backtest a draft against the live version over stored orders."""

from __future__ import annotations

import pytest

from app.db import get_db, in_transaction
from app.errors import ValidationError
from app.flows import backtest, services
from app.orders import services as orders

from .flows_fixtures import flow_doc, order_doc, publish


def _review(threshold: str) -> dict:
    return flow_doc(
        "finance-review",
        [{"id": "start", "type": "start"},
         {"id": "big", "type": "condition", "config": {"expression": f"order.amount > {threshold}"}},
         {"id": "mark", "type": "set", "config": {"fields": [{"path": "order.review", "expression": '"finance"'}]}},
         {"id": "review", "type": "end", "config": {"outcome": "review"}},
         {"id": "auto", "type": "end", "config": {"outcome": "auto"}}],
        [("start", "big"), ("big", "mark", "true"), ("mark", "review"), ("big", "auto", "false")],
    )  # fmt: skip


@pytest.fixture
def stored(app):
    database = get_db(app)
    in_transaction(database, lambda db: publish(db, _review("5000")))
    for n, amount in enumerate(["1200.00", "4800.00", "5200.00", "9900.00", "3000.00"]):
        in_transaction(database, lambda db, n=n, a=amount: orders.ingest(db, order_doc(f"B{n}", a)))
    return database


def test_lowering_the_threshold_shows_the_orders_that_change(stored):
    ticks = []
    with stored.session() as db:
        flow = services.get_flow(db, "finance-review")
        report = backtest.backtest(db, flow, _review("3000"), last=50, progress=ticks.append)
    assert report.orders == 5 and ticks == [1, 2, 3, 4, 5]
    assert report.changed == 1
    (diff,) = report.diffs
    assert diff.external_id == "B1"
    assert set(diff.changes) == {"path", "outcome", "fields"}
    assert (diff.published.outcome, diff.draft.outcome) == ("auto", "review")
    assert diff.draft.fields == {"order.review": "finance"} and diff.published.fields == {}
    assert report.to_dict()["counts"] == {
        "path": 1, "outcome": 1, "fields": 1, "warehouse": 0, "approver": 0
    }  # fmt: skip


def test_identical_draft_changes_nothing(stored):
    with stored.session() as db:
        report = backtest.backtest(
            db, services.get_flow(db, "finance-review"), _review("5000"), last=3
        )
    assert (report.orders, report.changed, report.diffs) == (3, 0, [])


def test_backtest_refuses_an_invalid_draft(stored):
    bad = _review("5000")
    bad["nodes"][1]["config"]["expression"] = "order.amount >"
    with stored.session() as db, pytest.raises(ValidationError) as err:
        backtest.backtest(db, services.get_flow(db, "finance-review"), bad)
    assert err.value.details[0]["node_id"] == "big"


def _desk(warehouse_cost: str, approver: str) -> dict:
    return flow_doc(
        "desk",
        [{"id": "start", "type": "start"},
         {"id": "route", "type": "route", "config": {"table": "warehouses", "cost": warehouse_cost}},
         {"id": "ok", "type": "approval", "config": {"assignees": [{"user": approver}]}},
         {"id": "yes", "type": "end", "config": {"outcome": "approved"}},
         {"id": "none", "type": "end", "config": {"outcome": "backorder"}}],
        [("start", "route"), ("route", "ok", "found"), ("route", "none", "none"),
         ("ok", "yes", "approved"), ("ok", "none", "rejected"), ("ok", "none", "timeout")],
    )  # fmt: skip


def test_a_draft_that_ships_from_elsewhere_or_asks_someone_else_is_reported(app):
    from app.users import services as users

    from .flows_fixtures import load_reference

    database = get_db(app)
    ref = {"warehouses": [{"id": "GZ", "cost": 1, "far": 9}, {"id": "SH", "cost": 2, "far": 1}]}
    for name in ("li", "wang"):  # the approvers the flows name are people of the organisation
        in_transaction(
            database,
            lambda db, n=name: users.create_user(
                db, None, username=n, password="correct-horse", roles=("approver",)
            ),
        )
    in_transaction(
        database, lambda db: (load_reference(db, ref), publish(db, _desk("candidate.cost", "li")))
    )
    in_transaction(database, lambda db: orders.ingest(db, order_doc("D1")))
    with database.session() as db:
        flow = services.get_flow(db, "desk")
        moved = backtest.backtest(db, flow, _desk("candidate.far", "li"), last=5)
        asked = backtest.backtest(db, flow, _desk("candidate.cost", "wang"), last=5)
    (diff,) = moved.diffs
    assert diff.changes == ("fields", "warehouse")  # vars.route holds the choice too
    assert diff.published.routes == ("route: GZ",)
    assert diff.draft.routes == ("route: SH",)
    (diff,) = asked.diffs
    assert diff.changes == ("approver",) and diff.draft.approvers == ("ok: user wang",)
    assert (moved.counts["warehouse"], asked.counts["approver"]) == (1, 1)
