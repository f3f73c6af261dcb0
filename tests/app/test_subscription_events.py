"""Order events from the engine's side reach subscriptions: an approval decided and a run
stopped in an incident each queue one message, in the transaction of the change."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.approvals import services as approvals
from app.db import in_transaction
from app.models import Order, OutboxMessage, utcnow
from app.orders import services as orders
from app.subscriptions import create_subscription
from app.subscriptions import publish as announce

from .approvals.helpers import approval_doc, approver, as_user, db_of, start, tasks_of
from .flows_fixtures import flow_doc, order_doc, publish

HOOK = "http://127.0.0.1:9/hook"


def _subscribe(database, events: list[str]) -> int:
    doc = {"name": "ERP", "url": HOOK, "events": events}
    return in_transaction(database, lambda db: create_subscription(db, "ops", doc).id)


def _events(database, subscription_id: int) -> list[dict]:
    with database.session() as db:
        rows = db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.subscription_id == subscription_id)
            .order_by(OutboxMessage.id)
        )
        return [m.payload["body"] for m in rows]


def test_a_decided_approval_is_announced_once(app):
    database = db_of(app)
    approver(database, "li")
    sub = _subscribe(database, ["order.decided"])
    run = start(database, approval_doc())
    assert _events(database, sub) == []  # order.created is not subscribed
    (task,) = tasks_of(database, run.id)
    as_user(database, "li", lambda s, u: approvals.decide(s, u, task.task_key, "approved"))
    (event,) = _events(database, sub)
    assert event["type"] == "order.decided" and event["order"]["external_id"] == "PO-1"
    assert event["data"]["task"] == task.task_key
    assert (event["data"]["decision"], event["data"]["decided_by"]) == ("approved", "li")
    assert event["data"]["run_status"] == "completed"


def test_a_run_incident_is_announced_with_its_node_and_code(app):
    database = db_of(app)
    sub = _subscribe(database, ["order.incident", "order.created"])
    doc = flow_doc(
        "per-unit",
        [{"id": "start", "type": "start"},
         {"id": "unit", "type": "set", "config": {"fields": [{"path": "vars.unit", "expression": "order.amount / order.custom.units"}]}},
         {"id": "done", "type": "end", "config": {"outcome": "priced"}}],
        [("start", "unit"), ("unit", "done")],
    )  # fmt: skip
    in_transaction(database, lambda db: publish(db, doc))
    in_transaction(database, lambda db: orders.ingest(db, order_doc("U1", custom={"units": 0})))
    created, incident = _events(database, sub)
    assert (incident["type"], created["type"]) == ("order.incident", "order.created")
    assert incident["data"]["node_id"] == "unit" and incident["data"]["code"]
    assert incident["id"] != created["id"]


def test_order_updated_is_accepted_and_the_same_change_later_is_another_event(app):
    database = db_of(app)
    sub = _subscribe(database, ["order.updated"])
    order, _, _ = in_transaction(database, lambda db: orders.ingest(db, order_doc("W1")))
    first, later = utcnow(), utcnow() + timedelta(minutes=5)
    change = {"fields": {"custom.payment_hold": {"before": None, "after": True}}}

    def twice_at_once(db):  # two announcements of one change in one transaction: one event
        row = db.get(Order, order.id)
        return [announce(db, "order.updated", row, change, now=first) for _ in range(2)]

    assert in_transaction(database, twice_at_once) == [1, 0]
    in_transaction(database, lambda db: announce(db, "order.updated", db.get(Order, order.id),
                                                 change, now=later))  # fmt: skip
    one, two = _events(database, sub)
    assert one["id"] != two["id"] and one["data"] == two["data"] == change
    assert one["occurred_at"] == first.isoformat()
