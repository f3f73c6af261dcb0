"""The order's built-in writable fields: priority, warehouse, carrier and holds. A flow sets
them in its transaction with history rows, the API returns them, the order page shows
them in the reader's language, other flows' conditions see them, ``order.updated`` names
them; the route node's choice reaches ``warehouse``; an order with a hold is held on the
board until a flow releases it."""

from __future__ import annotations

import simplejson
from sqlalchemy import select

from app.db import get_db, in_transaction
from app.models import Alert, OutboxMessage
from app.orders import standing
from app.subscriptions import create_subscription

from ..flows_fixtures import (
    load_reference,
    order_doc,
    publish,
    routing_doc,
    routing_ref,
    routing_samples,
)
from .test_order_writeback import _runs, _setter


def _order(api, external_id: str, **extra) -> dict:
    body = simplejson.dumps({**order_doc(external_id), **extra}, use_decimal=True)
    return api.post("/orders", data=body, content_type="application/json").json


def _held(app) -> tuple[int, list[int]]:
    with get_db(app).session() as db:
        count = standing.counts(db)["held"]
        return count, [o.id for o in standing.orders_in(db, "held", 1, 50)]


def test_priority_and_holds_set_by_a_flow_are_stored_shown_and_announced(
    app, api, client, make_user, login
):
    _setter(app, "urgent-hold", {"order.priority": '"urgent"', "order.holds": '["payment"]'})
    doc = {"name": "erp", "url": "http://127.0.0.1:9/hook", "events": ["order.updated"]}
    sub = in_transaction(get_db(app), lambda db: create_subscription(db, "ops", doc).id)
    order = _order(api, "D1")
    detail = api.get(f"/orders/{order['id']}").json
    assert (detail["data"]["priority"], detail["data"]["holds"]) == ("urgent", ["payment"])
    assert [(h["field"], h["before"], h["after"], h["flow_key"]) for h in
            detail["field_history"]] == [("priority", None, "urgent", "urgent-hold"),
                                         ("holds", None, ["payment"], "urgent-hold")]  # fmt: skip
    with get_db(app).session() as db:
        [body] = [m.payload["body"] for m in db.scalars(
            select(OutboxMessage).where(OutboxMessage.subscription_id == sub))]  # fmt: skip
    assert body["type"] == "order.updated" and body["data"]["fields"] == ["priority", "holds"]
    assert _held(app) == (1, [order["id"]])  # a hold, no timer: held on the board
    make_user("viewer1", roles=("viewer",))
    login("viewer1")
    zh = client.get(f"/orders/{order['id']}", headers={"Accept-Language": "zh"}).get_data(
        as_text=True)  # fmt: skip
    assert "优先级" in zh and "紧急" in zh and "加暂扣：payment" in zh
    en = client.get(f"/orders/{order['id']}", headers={"Accept-Language": "en"}).get_data(
        as_text=True)  # fmt: skip
    assert "Priority" in en and "urgent" in en and "hold placed: payment" in en
    board = client.get("/orders/?stand=held", headers={"Accept-Language": "en"})
    assert "On hold: payment" in board.get_data(as_text=True)
    board = client.get("/orders/?stand=held", headers={"Accept-Language": "zh"})
    assert "暂扣：payment" in board.get_data(as_text=True)


def test_another_flow_sees_the_fields_and_a_release_leaves_the_held_column(app, api, client,
                                                                         make_user, login):  # fmt: skip
    _setter(app, "hold-big", {"order.holds": '["payment", "address"]', "order.carrier": '"SF"'})
    # Starts on the holds written, and releases the payment hold when the carrier is SF.
    _setter(app, "release-payment",
            {"order.holds": '[h for h in order.holds if h != "payment"]'},
            trigger="order.updated", fields=["holds"],
            filter='contains(order.holds, "payment") and order.carrier == "SF"')  # fmt: skip
    _setter(app, "release-all", {"order.holds": "[]"}, trigger="order.updated",
            fields=["holds"], filter='order.priority == "high"')  # fmt: skip
    order = _order(api, "D2")
    assert (_runs(app, "release-payment"), _runs(app, "release-all")) == (1, 0)
    detail = api.get(f"/orders/{order['id']}").json
    assert detail["data"]["holds"] == ["address"] and detail["data"]["carrier"] == "SF"
    assert _held(app) == (1, [order["id"]])
    # A high-priority order has all its holds released: it leaves the held column.
    _setter(app, "prioritise", {"order.priority": '"high"', "order.holds": '["x"]'})
    other = _order(api, "D3")
    assert api.get(f"/orders/{other['id']}").json["data"]["holds"] == []
    assert _held(app) == (1, [order["id"]])
    make_user("viewer2", roles=("viewer",))
    login("viewer2")
    page = client.get(f"/orders/{other['id']}", headers={"Accept-Language": "en"})
    assert "hold released: x" in page.get_data(as_text=True)


def test_a_value_a_built_in_field_does_not_take_is_not_written_and_says_why(app, api):
    _setter(app, "bad-priority", {"order.priority": '"P1"', "order.warehouse": '"GZ-01"'})
    order = _order(api, "D4")
    detail = api.get(f"/orders/{order['id']}").json
    assert "priority" not in detail["data"] and detail["data"]["warehouse"] == "GZ-01"
    with get_db(app).session() as db:
        alert = db.scalars(select(Alert).where(Alert.order_id == order["id"])).one()
    assert "冻结付款" in alert.title and "priority" in alert.title and "P1" in alert.title
    assert 'one of low, normal, high, urgent, e.g. "high"' in alert.message


def test_the_route_nodes_choice_reaches_the_orders_warehouse(app, api):
    database = get_db(app)
    in_transaction(database, lambda db: (load_reference(db, routing_ref()),
                                         publish(db, routing_doc())))  # fmt: skip
    sample = next(s for s in routing_samples() if s["expected_outcome"] == "routed")
    body = simplejson.dumps(sample["order"], use_decimal=True)
    order = api.post("/orders", data=body, content_type="application/json").json
    detail = api.get(f"/orders/{order['id']}").json
    assert detail["data"]["warehouse"]
    [change] = [h for h in detail["field_history"] if h["field"] == "warehouse"]
    assert (change["node_id"], change["after"]) == ("route", detail["data"]["warehouse"])


def test_the_migration_marks_stored_orders_with_a_hold_and_keeps_their_rows(app, api,
                                                                             database_url):  # fmt: skip
    from app.migrate import downgrade, upgrade
    from app.models import Order, Run

    _setter(app, "any", {"order.tags": '["seen"]'})
    held = _order(api, "M1", holds=["payment"])  # a channel may send holds with the order
    free = _order(api, "M2")
    get_db(app).dispose()  # no pooled connection may hold the tables the migration alters
    downgrade(database_url, "0017")
    upgrade(database_url)
    with get_db(app).session() as db:
        flags = dict(db.execute(select(Order.external_id, Order.on_hold)).all())
        runs = db.scalars(select(Run.order_id)).all()
    assert flags == {"M1": True, "M2": False}
    assert sorted(runs) == sorted([held["id"], free["id"]])
