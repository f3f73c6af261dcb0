"""Decisions reach the order: declared fields a flow sets are stored on the order with their
history, shown by the API and the order page, seen by other flows, and announced as
``order.updated`` (without loops); two flows writing one field: last writer wins, both in
the history."""

from __future__ import annotations

import simplejson
from sqlalchemy import func, select

from app import order_fields as schema
from app.db import get_db, in_transaction
from app.models import Alert, FlowVersion, OutboxMessage, Run
from app.subscriptions import create_subscription

from ..flows_fixtures import flow_doc, order_doc, publish
from .conftest import at_once


def _declare(app, *names: str, type: str = "boolean") -> None:
    def add(db):
        for name in names:
            schema.add_field(db, None, name=name, type=type, label_en=name, label_zh=name)

    in_transaction(get_db(app), add)
    schema.forget()


def _setter(app, key: str, sets: dict[str, str], trigger: str = "order.created", **extra):
    assign = [{"path": p, "expression": e} for p, e in sets.items()]
    doc = flow_doc(key, [
        {"id": "start", "type": "start"},
        {"id": "set", "type": "set", "name": {"zh": "冻结付款", "en": "Hold payment"},
         "config": {"fields": assign}},
        {"id": "done", "type": "end", "config": {"outcome": "ok"}},
    ], [("start", "set"), ("set", "done")], trigger=trigger)  # fmt: skip
    doc["trigger"].update(extra)
    in_transaction(get_db(app), lambda db: publish(db, doc))


def _order(api, external_id: str) -> dict:
    body = simplejson.dumps(order_doc(external_id), use_decimal=True)
    return api.post("/orders", data=body, content_type="application/json").json


def _runs(app, flow_key: str) -> int:
    with get_db(app).session() as db:
        return db.scalar(select(func.count(Run.id)).join(FlowVersion).where(
            FlowVersion.flow.has(key=flow_key)))  # fmt: skip


def test_a_declared_field_set_by_a_flow_is_stored_with_its_history(app, api, client, make_user,
                                                                   login):  # fmt: skip
    _declare(app, "payment_hold")
    _setter(app, "late-hold", {"order.custom.payment_hold": "true",
                               "order.custom.not_declared": "1",
                               "order.tags": '["late"]'})  # fmt: skip
    order = _order(api, "W1")
    detail = api.get(f"/orders/{order['id']}").json
    assert detail["data"]["custom"] == {"payment_hold": True}  # undeclared: snapshot only
    assert detail["data"]["tags"] == ["late"]
    history = detail["field_history"]
    assert [(h["field"], h["before"], h["after"]) for h in history] == [
        ("custom.payment_hold", None, True), ("tags", None, ["late"])]  # fmt: skip
    first = history[0]
    assert (first["flow_key"], first["flow_version"], first["node_id"], first["node_name"]) == (
        "late-hold", 1, "set", "冻结付款")  # fmt: skip
    assert first["run_id"] == order["runs"][0] and first["changed_at"].endswith("Z")
    make_user("viewer1", roles=("viewer",))
    login("viewer1")
    page = client.get(f"/orders/{order['id']}", headers={"Accept-Language": "zh"})
    html = page.get_data(as_text=True)
    assert "字段变更" in html and "custom.payment_hold" in html and "冻结付款" in html


def test_order_updated_starts_flows_on_the_fields_named_and_they_see_the_value(app, api):
    _declare(app, "payment_hold", "frozen")
    _setter(app, "hold", {"order.custom.payment_hold": "true"})
    # Sees the stored value in its filter and writes another field.
    _setter(app, "freeze", {"order.custom.frozen": "true"}, trigger="order.updated",
            fields=["custom.payment_hold"], filter="order.custom.payment_hold == true")  # fmt: skip
    _setter(app, "on-tags", {"order.custom.frozen": "false"}, trigger="order.updated",
            fields=["tags"])  # fmt: skip
    order = _order(api, "W2")
    assert (_runs(app, "freeze"), _runs(app, "on-tags")) == (1, 0)
    detail = api.get(f"/orders/{order['id']}").json
    assert detail["data"]["custom"] == {"payment_hold": True, "frozen": True}
    assert [h["flow_key"] for h in detail["field_history"]] == ["hold", "freeze"]


def test_a_flow_does_not_restart_itself_and_chains_stop_with_an_alert(app, api):
    _declare(app, "a", "b", type="integer")
    _setter(app, "seed", {"order.custom.a": "1"})
    # Would start itself on every write of its own without the guard.
    _setter(app, "self", {"order.tags": '["seen"]'}, trigger="order.updated")
    # ping and pong start each other with no end.
    _setter(app, "ping", {"order.custom.b": "coalesce(order.custom.b, 0) + 1"},
            trigger="order.updated", fields=["custom.a"])  # fmt: skip
    _setter(app, "pong", {"order.custom.a": "coalesce(order.custom.a, 0) + 1"},
            trigger="order.updated", fields=["custom.b"])  # fmt: skip
    order = _order(api, "W3")
    assert order["runs"] and _runs(app, "ping") + _runs(app, "pong") == 5
    assert _runs(app, "self") == 5  # once per other flow's write, never for its own
    with get_db(app).session() as db:
        alert = db.scalars(select(Alert).where(Alert.order_id == order["id"])).one()
        assert alert.severity == "critical" and "more than 5 levels" in alert.message


def test_two_flows_writing_one_field_last_writer_wins_and_both_are_recorded(app, make_key):
    _declare(app, "route", type="string")
    _setter(app, "by-paid", {"order.custom.route": '"paid"'}, trigger="order.paid")
    _setter(app, "by-pick", {"order.custom.route": '"picking"'}, trigger="order.picking")
    key = make_key(scopes=("orders:write", "orders:read"))
    headers = {"Authorization": f"Bearer {key}"}
    body = simplejson.dumps(order_doc("W4"), use_decimal=True)
    order = app.test_client().post("/api/v1/orders", data=body, headers=headers,
                                   content_type="application/json").json  # fmt: skip
    events = [("erp", "PAID"), ("wms", "PICKED")]

    def post(i: int):
        source, code = events[i]
        return app.test_client().post("/api/v1/status-events", headers=headers, json={
            "source": source, "event_id": f"W4-{i}", "code": code,
            "occurred_at": "2026-11-21T09:00:00+08:00", "order": {"id": order["id"]}})  # fmt: skip

    replies = at_once(2, post)
    started = sum(r.json["runs_started"] for r in replies.values())
    detail = app.test_client().get(f"/api/v1/orders/{order['id']}", headers=headers).json
    history = detail["field_history"]
    assert len(history) == started >= 1  # paid after picking is late and starts nothing
    # Each change saw the one before it (none lost), and the order has the last one.
    assert history[0]["before"] is None
    pairs = zip(history, history[1:], strict=False)
    assert all(later["before"] == earlier["after"] for earlier, later in pairs)
    assert detail["data"]["custom"]["route"] == history[-1]["after"]


def test_fields_a_flow_writes_reach_order_updated_subscribers_once(app, api):
    _declare(app, "payment_hold")
    _setter(app, "late-hold", {"order.custom.payment_hold": "true"})
    doc = {"name": "erp", "url": "http://127.0.0.1:9/hook", "events": ["order.updated"]}
    sub = in_transaction(get_db(app), lambda db: create_subscription(db, "ops", doc).id)
    order = _order(api, "W9")
    with get_db(app).session() as db:
        bodies = [m.payload["body"] for m in db.scalars(
            select(OutboxMessage).where(OutboxMessage.subscription_id == sub))]  # fmt: skip
    assert [b["type"] for b in bodies] == ["order.updated"]
    assert bodies[0]["order"]["id"] == order["id"]
    assert bodies[0]["data"]["fields"] == ["custom.payment_hold"]
    assert bodies[0]["data"]["flow"] == "late-hold"
