"""Two approval flows over 5,000 and 200 recent orders of which a known number is over it."""

from __future__ import annotations

from typing import Any

from app.db import in_transaction
from app.flows import services as flows
from app.orders import services as orders

from .flows_fixtures import flow_doc, order_doc, publish
from .org_fixtures import staffed

OVER = 38  # orders above 5,000 among the last 200


def approval_flow(key: str, *, group: str | None = None, priority: int = 0, hook: bool = False):
    nodes = [
        {"id": "start", "type": "start"},
        {"id": "mark", "type": "set", "config": {"fields": [{"path": f"order.custom.{key.replace('-', '_')}", "expression": "true"}]}},
        {"id": "ok", "type": "approval", "config": {"assignees": [{"role": "approver"}]}},
        {"id": "done", "type": "end", "config": {"outcome": "approved"}},
        {"id": "no", "type": "end", "config": {"outcome": "rejected"}},
    ]  # fmt: skip
    edges = [("start", "mark"), ("mark", "ok"), ("ok", "done", "approved"),
             ("ok", "no", "rejected"), ("ok", "no", "timeout")]  # fmt: skip
    doc = flow_doc(key, nodes, edges, filter="order.amount > 5000")
    if group is not None:
        doc["trigger"] |= {"exclusive_group": group, "group_priority": priority}
    return doc


def notify_flow(key: str) -> dict[str, Any]:
    """A flow over 5,000 that only ends: it overlaps on orders but does nothing twice."""
    return flow_doc(
        key,
        [
            {"id": "start", "type": "start"},
            {"id": "end", "type": "end", "config": {"outcome": "ok"}},
        ],
        [("start", "end")],
        filter="order.amount > 5000",
    )


def _amounts() -> list[str]:
    # 162 at or under the threshold (5,000.00 itself does not match), then 38 over it.
    return ["4999.99"] * 160 + ["5000.00"] * 2 + ["5000.01"] * OVER


def load_history(database):
    """Ten older orders over 5,000 (outside the last 200), then the 200 recent ones; the
    live flows ``finance-review`` (approval) and ``quiet`` (does nothing) over 5,000, and a
    draft ``big-orders`` asking approval over 5,000 too."""
    amounts = ["9000.00"] * 10 + _amounts()
    docs = [order_doc(f"H{n:03d}", a) for n, a in enumerate(amounts)]
    in_transaction(database, lambda db: orders.ingest_many(db, docs))
    in_transaction(database, lambda db: staffed(db, ["approver"]))  # someone takes the tasks
    in_transaction(database, lambda db: publish(db, approval_flow("finance-review")))
    in_transaction(database, lambda db: publish(db, notify_flow("quiet")))
    in_transaction(database, lambda db: flows.create_flow(db, None, approval_flow("big-orders")))
    return database
