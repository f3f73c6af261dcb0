"""Every order event starts its flows: status events (through the API and a saved source
mapping) start ``order.paid`` and ``order.status_changed`` flows once per event, replays
and concurrent copies start nothing more, and ``concurrency: skip`` keeps one open run."""

from __future__ import annotations

import simplejson
from sqlalchemy import func, select

from app.db import get_db, in_transaction
from app.models import FlowVersion, Order, Run, TriggerReceipt
from app.runs.order_events import announce_order_event

from ..flows_fixtures import flow_doc, order_doc, publish
from .conftest import at_once

END = [{"id": "start", "type": "start"}, {"id": "done", "type": "end", "config": {"outcome": "ok"}}]
WAIT = [
    {"id": "start", "type": "start"},
    {"id": "wait", "type": "wait_event", "config": {"event": "shipped", "store_as": "ship"}},
    {"id": "done", "type": "end", "config": {"outcome": "shipped"}},
]


def _flow(app, key: str, trigger: str, nodes=END, **extra) -> None:
    edges = (
        [("start", "done")] if nodes is END else [("start", "wait"), ("wait", "done", "received")]
    )
    doc = flow_doc(key, nodes, edges, trigger=trigger)
    doc["trigger"].update(extra)
    in_transaction(get_db(app), lambda db: publish(db, doc))


def _order(api, external_id: str) -> dict:
    body = simplejson.dumps(order_doc(external_id), use_decimal=True)
    return api.post("/orders", data=body, content_type="application/json").json


def _status(api, order: dict, code: str, event_id: str, source: str = "erp"):
    return api.post("/status-events", json={
        "source": source, "event_id": event_id, "code": code,
        "occurred_at": "2026-11-21T09:00:00+08:00", "order": {"id": order["id"]}})  # fmt: skip


def _runs(app, flow_key: str, order_id: int | None = None) -> int:
    with get_db(app).session() as db:
        query = select(func.count(Run.id)).join(FlowVersion).where(
            FlowVersion.flow.has(key=flow_key))  # fmt: skip
        if order_id is not None:
            query = query.where(Run.order_id == order_id)
        return db.scalar(query)


def test_a_status_event_starts_an_order_paid_flow_once(app, api):
    _flow(app, "on-paid", "order.paid")
    order = _order(api, "P1")
    assert _runs(app, "on-paid") == 0  # order.created starts nothing of it
    first = _status(api, order, "PAYMENT_CONFIRMED", "E-1")
    assert first.status_code == 201 and first.json["runs_started"] == 1
    assert _runs(app, "on-paid", order["id"]) == 1
    replay = _status(api, order, "PAYMENT_CONFIRMED", "E-1")
    assert replay.status_code == 200 and replay.json["duplicate"] is True
    # A second paid event, or a later state, does not move the order to paid again.
    assert _status(api, order, "PAID", "E-2").json["runs_started"] == 0
    assert _status(api, order, "PICKED", "E-3", source="wms").json["runs_started"] == 0
    assert _runs(app, "on-paid") == 1


def test_a_saved_source_mapping_starts_the_state_flow(app, api):
    _flow(app, "on-shipped", "order.shipped")
    order = _order(api, "P2")
    saved = api.put("/status-mappings/kingdee", json={"codes": {"已出库": "shipped"}})
    assert saved.status_code == 200
    assert _status(api, order, "已出库", "K-1", source="kingdee").json["runs_started"] == 1
    assert _status(api, order, "已出库", "K-1", source="kingdee").status_code == 200
    assert _runs(app, "on-shipped", order["id"]) == 1


def test_status_changed_filters_on_from_and_to(app, api):
    _flow(app, "any-change", "order.status_changed")
    _flow(app, "to-paid", "order.status_changed", to="paid")
    _flow(app, "paid-to-ship", "order.status_changed", **{"from": ["paid"], "to": ["shipped"]})
    order = _order(api, "P3")
    assert _status(api, order, "PAID", "F-1").json["runs_started"] == 2
    assert _status(api, order, "OUTBOUND_CONFIRMED", "F-2", source="wms").json[
        "runs_started"] == 2  # fmt: skip
    assert (_runs(app, "any-change"), _runs(app, "to-paid"), _runs(app, "paid-to-ship")) == (
        2, 1, 1)  # fmt: skip


def test_the_same_status_event_posted_twice_at_once_starts_one_run(app, make_key):
    _flow(app, "race-paid", "order.paid")
    key = make_key(scopes=("orders:write", "orders:read"))
    headers = {"Authorization": f"Bearer {key}"}
    body = simplejson.dumps(order_doc("RACE-P"), use_decimal=True)
    order = app.test_client().post("/api/v1/orders", data=body, headers=headers,
                                   content_type="application/json").json  # fmt: skip
    event = {"source": "erp", "event_id": "RACE-E", "code": "PAID",
             "occurred_at": "2026-11-21T09:00:00+08:00", "order": {"id": order["id"]}}  # fmt: skip

    def post(_: int):
        return app.test_client().post("/api/v1/status-events", json=event, headers=headers)

    replies = at_once(4, post)
    assert sorted(r.status_code for r in replies.values()) == [200, 200, 200, 201]
    assert sum(r.json.get("runs_started", 0) for r in replies.values()) == 1
    assert _runs(app, "race-paid", order["id"]) == 1


def test_one_event_identity_starts_a_flow_once(app, api):
    # The receipt, not the status event's own dedup, is what holds here.
    _flow(app, "on-alert", "alert.opened")
    order = _order(api, "P4")

    def announce(db):
        stored = db.get(Order, order["id"])
        data = {"alert_id": 7, "rule": "stockout"}
        return len(announce_order_event(db, "alert.opened", stored, data, key="alert:7:1"))

    database = get_db(app)
    assert in_transaction(database, announce) == 1
    assert in_transaction(database, announce) == 0
    assert _runs(app, "on-alert", order["id"]) == 1
    with database.session() as db:
        receipt = db.scalars(select(TriggerReceipt)).one()
        assert receipt.event_key == "alert:7:1" and receipt.run_id is not None


def test_skip_starts_nothing_while_a_run_of_the_flow_is_open(app, api):
    _flow(app, "one-open", "order.status_changed", nodes=WAIT, concurrency="skip")
    _flow(app, "every-time", "order.status_changed", nodes=WAIT)
    order = _order(api, "P5")
    assert _status(api, order, "PAID", "S-1").json["runs_started"] == 2
    # The first run of one-open is still waiting: only every-time starts again.
    assert _status(api, order, "PICKED", "S-2", source="wms").json["runs_started"] == 1
    # Shipping resumes (and finishes) both waiting runs; after that one-open starts again.
    shipped = _status(api, order, "OUTBOUND_CONFIRMED", "S-3", source="wms")
    assert shipped.json["runs_resumed"] == 3 and shipped.json["runs_started"] == 2
    assert (_runs(app, "one-open"), _runs(app, "every-time")) == (2, 3)
    other = _order(api, "P6")  # the rule is per order
    assert _status(api, other, "PAID", "S-4").json["runs_started"] == 2


def test_skip_holds_when_two_events_of_one_order_arrive_at_once(app, api):
    _flow(app, "one-alert-run", "alert.opened", nodes=WAIT, concurrency="skip")
    order = _order(api, "P7")
    database = get_db(app)

    def announce(i: int) -> int:
        def work(db):
            stored = db.get(Order, order["id"])
            return len(announce_order_event(db, "alert.opened", stored, {"alert_id": i},
                                            key=f"alert:{i}:1"))  # fmt: skip

        return in_transaction(database, work)

    started = at_once(4, announce)
    assert sum(started.values()) == 1
    assert _runs(app, "one-alert-run", order["id"]) == 1
