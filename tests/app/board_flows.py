"""Flows that leave orders at each column of the orders board, picked by the order amount."""

from __future__ import annotations

from typing import Any

from app.db import in_transaction
from app.orders import services as orders

from .flows_fixtures import flow_doc, order_doc, publish

NAMED_ENDS = [
    {"id": "ok", "type": "end", "name": {"en": "Approved", "zh": "已批准"},
     "config": {"outcome": "accepted"}},
    {"id": "no", "type": "end", "name": {"en": "Rejected", "zh": "已拒绝"},
     "config": {"outcome": "refused"}},
]  # fmt: skip
# The amount that sends an order to each flow, by the column the flow leaves it in.
AMOUNTS = {
    "approval": "1001.00",
    "event": "1002.00",
    "held": "1003.00",
    "backordered": "1004.00",
    "incident": "1005.00",
    "done": "1006.00",
}


def _only(stand: str) -> str:
    return f"order.amount == {AMOUNTS[stand]}"


def docs() -> list[dict[str, Any]]:
    """One flow per board column."""
    start = {"id": "start", "type": "start"}
    end = {"id": "end", "type": "end", "config": {"outcome": "finished"}}
    return [
        flow_doc(
            "board-approval",
            [start,
             {"id": "review", "type": "approval", "name": {"en": "Finance review", "zh": "财务审批"},
              "config": {"assignees": [{"user": "li"}], "sla": {"duration": "24h"},
                         "reason": {"en": "Large order", "zh": "大额订单"}}},
             *NAMED_ENDS],
            [("start", "review"), ("review", "ok", "approved"), ("review", "no", "rejected"),
             ("review", "no", "timeout")],
            filter=_only("approval"),
        ),
        flow_doc(
            "board-event",
            [start,
             {"id": "wms", "type": "wait_event", "name": {"en": "Wait for WMS", "zh": "等待仓库"},
              "config": {"event": "shipped"}},
             end],
            [("start", "wms"), ("wms", "end", "received")],
            filter=_only("event"),
        ),
        flow_doc(
            "board-held",
            [start,
             {"id": "cool", "type": "timer", "name": {"en": "Cooling off", "zh": "冷静期"},
              "config": {"duration": "2h"}},
             end],
            [("start", "cool"), ("cool", "end")],
            filter=_only("held"),
        ),
        flow_doc(
            "board-short",
            [start,
             {"id": "take", "type": "reserve_inventory", "name": {"en": "Reserve", "zh": "预占"},
              "config": {"warehouse": '"WH-EMPTY"'}},
             {"id": "got", "type": "end", "config": {"outcome": "reserved"}},
             {"id": "short", "type": "end", "name": {"en": "Backorder", "zh": "缺货待补"},
              "config": {"outcome": "backorder"}}],
            [("start", "take"), ("take", "got", "reserved"), ("take", "short", "insufficient")],
            filter=_only("backordered"),
        ),
        flow_doc(
            "board-incident",
            [start,
             {"id": "take", "type": "reserve_inventory",
              "name": {"en": "Reserve stock", "zh": "预占库存"},
              "config": {"warehouse": '""'}},
             end],
            [("start", "take"), ("take", "end", "reserved"), ("take", "end", "insufficient")],
            filter=_only("incident"),
        ),
        flow_doc(
            "board-done",
            [start, NAMED_ENDS[0]],
            [("start", "ok")],
            filter=_only("done"),
        ),
    ]  # fmt: skip


def publish_all(database: Any) -> None:
    def work(db):  # type: ignore[no-untyped-def]
        for doc in docs():
            publish(db, doc)

    in_transaction(database, work)


def ingest(database: Any, external_id: str, stand: str) -> int:
    """An order that ends up in column ``stand``; returns its id."""
    order, _, _ = in_transaction(
        database, lambda db: orders.ingest(db, order_doc(external_id, AMOUNTS[stand]))
    )
    return order.id
