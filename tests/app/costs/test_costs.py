"""Cost drivers over the order and its run history, the breakdown, the heatmap's cells."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.costs import heatmap, services
from app.db import in_transaction
from app.errors import ConflictError, ValidationError
from app.metrics.refresh import rebuild_orders, refresh
from app.models import CostDimension, CostDriver, OrderFact, utcnow
from app.orders.services import ingest
from app.runs import services as runs

from ..dashboard.scenario import H, report
from ..flows_fixtures import flow_doc, order_doc, publish


def _breakdown(database, order_id):
    with database.session() as db:
        return heatmap.breakdown(db, order_id)


def test_formulas_read_incidents_retries_returns_and_vars(database):
    def drivers(db):
        for spec in (
            {"key": "exception", "name_zh": "异常滞留", "formula": "history.incident_hours", "unit_rate": "8"},
            {"key": "rework", "name_zh": "人工补单", "formula": "15 * history.retries + 6 * history.manual_actions",
             "unit_rate": "1.2"},
            {"key": "returns", "name_zh": "退货", "formula": "if history.returned then 1 else 0", "unit_rate": "38"},
            {"key": "per_unit", "name_zh": "单件", "formula": "coalesce(vars.unit, 0)", "unit_rate": "0.1"},
        ):  # fmt: skip
            services.save_driver(db, None, spec)
        services.save_dimension(
            db, None, {"key": "returned", "name_zh": "退货", "expression": "history.returned"}
        )

    in_transaction(database, drivers)
    doc = flow_doc(
        "per-unit",
        [{"id": "start", "type": "start"},
         {"id": "unit", "type": "set", "config": {"fields": [{"path": "vars.unit", "expression": "order.amount / order.custom.units"}]}},
         {"id": "done", "type": "end", "config": {"outcome": "priced"}}],
        [("start", "unit"), ("unit", "done")],
    )  # fmt: skip
    in_transaction(database, lambda db: publish(db, doc))
    t0 = utcnow() - timedelta(hours=10)
    order, _c, (run,) = in_transaction(
        database, lambda db: ingest(db, order_doc("U1", "100.00", custom={"units": 0}), now=t0)
    )
    fixed = order_doc("U1", "100.00", custom={"units": 4})
    # The order sat in an incident for 2.5 hours before someone fixed its data and retried.
    in_transaction(
        database, lambda db: runs.retry(db, run.id, actor="ops", order=fixed, now=t0 + 2.5 * H)
    )
    shipped_then_back = _Scenario(t0, order)  # a return is only accepted once shipped
    report(database, shipped_then_back, "U1", "tms", "DISPATCHED", 3 * H, 30, "ship-1")
    report(database, shipped_then_back, "U1", "erp", "RMA_RECEIVED", 5 * H, 30, "rma-1")
    refresh(database)
    items = {
        i["driver"]: (i["quantity"], i["amount"]) for i in _breakdown(database, order.id)["items"]
    }
    assert items["exception"] == (2.5, 20.0)  # 2.5 h x 8
    assert items["rework"] == (21.0, 25.2)  # one retry (15) + one person's action (6), x 1.2
    assert items["returns"] == (1.0, 38.0)
    assert items["per_unit"] == (25.0, 2.5)  # vars.unit = 100 / 4 from the run's snapshot
    assert _breakdown(database, order.id)["total"] == 85.7
    assert _breakdown(database, order.id)["types"][0]["value"] == "true"


class _Scenario:
    def __init__(self, t0, order):
        self.t0, self.orders = t0, {"U1": order}

    def at(self, offset):
        return self.t0 + offset

    def id(self, name):
        return self.orders[name].id


def test_heatmap_cells_by_hand(database, scenario):
    with database.session() as db:
        urgency = db.scalars(select(CostDimension).where(CostDimension.key == "urgency")).one()
        data = heatmap.heatmap(db, urgency, scenario.at(-H), scenario.at(30 * H))
    types = {t["type"]: t for t in data["types"]}
    # B is the only urgent order; A, C, D, E are standard.
    assert (types["standard"]["orders"], types["urgent"]["orders"]) == (4, 1)
    assert types["standard"]["share_orders"] == 80.0 and types["urgent"]["cost"] == 5.0
    cells = {(c["type"], c["driver"]): c for c in data["cells"]}
    # Approval time is all standard orders' (C 20 + D 5): 100 % of it from 80 % of the orders.
    approval = cells[("standard", "approval_time")]
    assert (approval["amount"], approval["share_cost"], approval["ratio"]) == (25.0, 100.0, 1.25)
    assert cells[("urgent", "approval_time")]["ratio"] == 0.0
    handling = cells[("urgent", "handling")]
    assert (
        handling["amount"],
        handling["share_cost"],
        handling["ratio"],
        handling["per_order"],
    ) == (5.0, 20.0, 1.0, 5.0)
    assert data["orders"] == 5 and data["cost"] == 50.0


def test_a_new_rate_applies_after_recalculating(database, scenario):
    def cheaper(db):
        services.save_driver(db, None, {"key": "handling", "name_zh": "处理", "formula": "1", "unit_rate": "2"},
                             existing=services.get_driver(db, "handling"))  # fmt: skip

    in_transaction(database, cheaper)
    with database.session() as db:
        ids = list(db.scalars(select(OrderFact.order_id)))
    assert rebuild_orders(database, ids) == 5
    assert _breakdown(database, scenario.id("A"))["total"] == 2.0
    with database.session() as db:
        urgency = db.scalars(select(CostDimension).where(CostDimension.key == "urgency")).one()
        assert heatmap.heatmap(db, urgency, scenario.at(-H), scenario.at(30 * H))["cost"] == 35.0


def test_formulas_are_checked_when_saved(database):
    with pytest.raises(ValidationError) as caught:
        in_transaction(database, lambda db: services.save_driver(
            db, None, {"key": "bad", "name_zh": "坏", "formula": "order.channel * 2", "unit_rate": "1"}))  # fmt: skip
    problem = caught.value.fields["formula"]
    assert problem["kind"] == "type" and problem["line"] == 1 and "^" in problem["excerpt"]
    with pytest.raises(ValidationError) as caught:
        in_transaction(database, lambda db: services.save_driver(
            db, None, {"key": "Bad-Key", "name_zh": "x", "formula": "1", "unit_rate": "-1"}))  # fmt: skip
    assert set(caught.value.fields) == {"key", "unit_rate"}
    in_transaction(
        database,
        lambda db: services.save_driver(
            db, None, {"key": "k", "name_zh": "k", "formula": "1", "unit_rate": "1"}
        ),
    )
    with pytest.raises(ConflictError):
        in_transaction(database, lambda db: services.save_driver(
            db, None, {"key": "k", "name_zh": "k", "formula": "1", "unit_rate": "1"}))  # fmt: skip


def test_the_default_drivers_and_types_compile_and_cost_orders(database, scenario):
    with database.session() as db:
        for model in (CostDriver, CostDimension):
            for row in db.scalars(select(model)):
                db.delete(row)
        db.commit()
    added = in_transaction(database, lambda db: services.ensure_defaults(db))
    assert added == len(services.DEFAULT_DRIVERS) + len(services.DEFAULT_DIMENSIONS)
    assert in_transaction(database, lambda db: services.ensure_defaults(db)) == 0
    with database.session() as db:
        ids = list(db.scalars(select(OrderFact.order_id)))
    rebuild_orders(database, ids)
    b = _breakdown(database, scenario.id("B"))
    # B is urgent and went without approval: the air-freight surcharge applies.
    assert {i["driver"]: i["amount"] for i in b["items"]}["air_freight"] == 45.0
    assert {t["dimension"]: t["value"] for t in b["types"]}["urgency"] == "加急"


def test_pages(client, database, scenario, make_user, login):
    from ..conftest import csrf_token

    make_user("viewer1", roles=("viewer",))
    login("viewer1")
    page = client.get("/costs/?range=7d&dimension=urgency").get_data(as_text=True)
    assert 'id="cost-data"' in page and "standard" in page and "urgent" in page
    order_page = client.get(f"/costs/orders/{scenario.id('C')}").get_data(as_text=True)
    assert "¥25.00" in order_page
    token = csrf_token(client, "/costs/setup")
    denied = client.post(
        "/costs/setup/drivers", data={"csrf_token": token, "key": "x", "formula": "1"}
    )
    assert denied.status_code == 403
    client.post("/logout", data={"csrf_token": token})
    make_user("sv", roles=("supervisor",))
    login("sv")
    token = csrf_token(client, "/costs/setup")
    bad = client.post("/costs/setup/drivers", data={"csrf_token": token, "key": "pack", "name_zh": "包装",
                                                     "formula": "order.lines[0].qyt", "unit_rate": "2"})  # fmt: skip
    assert bad.status_code == 422 and "qty" in bad.get_data(as_text=True)
    good = client.post("/costs/setup/drivers", data={"csrf_token": token, "key": "pack", "name_zh": "包装",
                                                      "formula": "sum(l.qty for l in order.lines)",
                                                      "unit_rate": "0.8", "active": "on"})  # fmt: skip
    assert good.status_code == 302
    with database.session() as db:
        assert db.scalars(
            select(CostDriver.unit_rate).where(CostDriver.key == "pack")
        ).one() == Decimal("0.8")
