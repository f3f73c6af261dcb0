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
    assert report.to_dict()["counts"] == {"path": 1, "outcome": 1, "fields": 1}


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
