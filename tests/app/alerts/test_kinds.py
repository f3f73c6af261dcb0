"""Each kind of alert rule, evaluated at chosen moments on data made through the real
ingest, approval, reservation and status paths."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.db import in_transaction
from app.metrics.refresh import refresh
from app.models import Alert, AlertOrder, Order
from app.orders.services import ingest

from ..dashboard.scenario import H, M, approve
from ..flows_fixtures import flow_doc, order_doc, publish

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _alerts(database, **where):
    with database.session() as db:
        query = select(Alert)
        for name, value in where.items():
            query = query.where(getattr(Alert, name) == value)
        return list(db.scalars(query.order_by(Alert.id)))


def _orders_behind(database, alert_id):
    with database.session() as db:
        ids = db.scalars(select(AlertOrder.order_id).where(AlertOrder.alert_id == alert_id))
        return sorted(db.scalars(select(Order.external_id).where(Order.id.in_(list(ids)))))


def test_aggregate_rate_per_channel(database, scenario, make_rule, evaluate):
    key = make_rule("aggregate", {"dataset": "orders", "measure": "rate", "numerator": "order.manual",
                                  "group_by": "channel", "window": "1d", "op": ">", "threshold": 30,
                                  "min_rows": 1})  # fmt: skip
    changes = evaluate(key, scenario.at(2 * H))  # every order is inside the last day
    assert len(changes.opened) == 1
    (alert,) = _alerts(database, status="open")
    assert (alert.key, alert.channel, alert.data["value"]) == ("tmall", "tmall", 100)
    assert _orders_behind(database, alert.id) == ["C", "D"]
    assert "tmall" in alert.title and "100%" in alert.title
    # A day and a half later the window holds no order: the alert resolves itself.
    changes = evaluate(key, scenario.at(30 * H))
    assert changes.resolved == [alert.id]
    assert _alerts(database, status="resolved")[0].resolved_by == "auto"


def test_aggregate_sum_and_a_filter_on_status_lag(database, scenario, make_rule, evaluate):
    cost = make_rule("aggregate", {"dataset": "orders", "measure": "sum", "field": "cost",
                                   "group_by": "channel", "window": "1d", "op": ">=", "threshold": 35})  # fmt: skip
    evaluate(cost, scenario.at(2 * H))
    # tmall: C 5 + 2 h x 10 and D 5 + 0.5 h x 10 = 35; taobao 10; douyin 5.
    assert [(a.key, a.data["value"]) for a in _alerts(database)] == [("tmall", 35)]
    slow = make_rule("aggregate", {"dataset": "status_events", "measure": "count", "filter": "event.lag > 2m",
                                   "window": "1d", "op": ">", "threshold": 0})  # fmt: skip
    evaluate(slow, scenario.at(30 * H))
    # In the last day only C's delivery report came more than two minutes late (600 s).
    alert = _alerts(database, key="*")[0]
    assert alert.data["value"] == 1 and _orders_behind(database, alert.id) == ["C"]


def _reserve_flow() -> dict:
    return flow_doc(
        "reserve",
        [{"id": "start", "type": "start"},
         {"id": "res", "type": "reserve_inventory", "config": {"warehouse": '"WH1"'}},
         {"id": "ok", "type": "end", "config": {"outcome": "reserved"}},
         {"id": "short", "type": "end", "config": {"outcome": "short"}}],
        [("start", "res"), ("res", "ok", "reserved"), ("res", "short", "insufficient")],
    )  # fmt: skip


def test_streak_of_days_with_a_stockout(database, make_rule, evaluate):
    in_transaction(database, lambda db: publish(db, _reserve_flow()))
    day1 = datetime(2026, 11, 10, 12, 0, tzinfo=SHANGHAI)
    for n, day in enumerate((day1, day1 + timedelta(days=1), day1 + timedelta(days=2))):
        doc = order_doc(f"S{n}", lines=[{"sku": "DRILL-8", "qty": 2, "price": 10}])
        in_transaction(database, lambda db, d=doc, t=day: ingest(db, d, now=t))
    refresh(database)
    key = make_rule("streak", {"dataset": "stockouts", "measure": "count", "group_by": "sku", "op": ">=",
                               "threshold": 1, "period": "day", "periods": 3})  # fmt: skip
    assert evaluate(key, day1 + timedelta(days=1, hours=2)).opened == []  # two days so far
    changes = evaluate(key, day1 + timedelta(days=2, hours=2))
    (alert,) = _alerts(database, status="open")
    assert changes.opened == [alert.id] and alert.key == "DRILL-8" and alert.data["value"] == 3
    assert _orders_behind(database, alert.id) == ["S0", "S1", "S2"]
    # Next morning, before any stock-out today, the three complete days still count.
    assert evaluate(key, day1 + timedelta(days=3, hours=-3)).resolved == []
    # A day without one ends the streak.
    assert evaluate(key, day1 + timedelta(days=4, hours=2)).resolved == [alert.id]


def test_orders_stuck_in_a_state_and_at_a_node(database, scenario, make_rule, evaluate):
    from app.models import utcnow

    state = make_rule(
        "stuck", {"subject": "order_status", "states": ["created"], "longer_than": "1d"}
    )
    evaluate(state, utcnow())
    (alert,) = _alerts(database, status="open")
    # D and E never got past "created"; A, B and C were delivered.
    assert alert.data["value"] == 2 and _orders_behind(database, alert.id) == ["D", "E"]
    assert evaluate(state, scenario.at(3 * H)).resolved == [alert.id]  # then only 2 hours old
    node = make_rule("stuck", {"subject": "node", "flow": "fulfil", "node": "qc", "longer_than": "20h",
                               "group_by": "channel"})  # fmt: skip
    evaluate(node, utcnow())
    keys = {a.key: a for a in _alerts(database, status="open")}
    assert set(keys) == {"tmall", "douyin"}  # D waits for QC on tmall, E on douyin
    assert keys["tmall"].channel == "tmall"


def test_approval_backlog(database, scenario, make_rule, evaluate):
    doc = order_doc("F", "9000", channel="tmall")
    in_transaction(database, lambda db: ingest(db, doc, now=scenario.at(3 * H)))
    refresh(database)
    backlog = make_rule("backlog", {"op": ">", "threshold": 0})
    assert len(evaluate(backlog, scenario.at(3 * H + 30 * M)).opened) == 1
    older = make_rule("backlog", {"op": ">", "threshold": 0, "older_than": "1h"})
    assert evaluate(older, scenario.at(3 * H + 30 * M)).opened == []  # waiting 30 minutes
    assert len(evaluate(older, scenario.at(5 * H)).opened) == 1


def test_per_order_condition_on_cost(database, scenario, make_rule, evaluate):
    key = make_rule("order", {"condition": 'cost.total > 20 and order.channel == "tmall"'})
    # A new rule first looks at the last day's orders: C cost 25, D 10.
    changes = evaluate(key, scenario.at(3 * H))
    (alert,) = _alerts(database, status="open")
    assert changes.opened == [alert.id] and alert.order_id == scenario.id("C")
    assert alert.key == str(scenario.id("C")) and "C" in alert.title
    # From then on orders are checked as they change: G waits 3 hours for its approval.
    doc = order_doc("G", "20000", channel="tmall")
    order = in_transaction(database, lambda db: ingest(db, doc, now=scenario.at(3 * H)))[0]
    scenario.orders["G"] = order
    refresh(database, now=scenario.at(3 * H))
    assert len(_alerts(database, status="open")) == 1  # 5 + 0 hours so far
    approve(database, scenario, "G", 6 * H)
    refresh(database, now=scenario.at(6 * H))
    opened = _alerts(database, order_id=order.id)
    assert len(opened) == 1 and opened[0].data["details"]["cost"] == "35.00"
