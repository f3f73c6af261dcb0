"""What aggregate and streak rules count over: fact tables with a time column and fields.

Each dataset names the top-level word its filters use (``order.manual``, ``event.lag``,
``stockout.sku``, ``visit.dwell``), the fields a filter may read, group by or sum, and the
column that says which order a row is about (the orders behind an alert).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false
from sqlalchemy.orm import InstrumentedAttribute

from ..models import Alert, NodeVisit, OrderFact, StatusLagFact, StockoutFact

TYPES = ("string", "number", "boolean", "duration")


@dataclass(frozen=True)
class Field:
    name: str
    column: Any
    type: str
    en: str
    zh: str

    @property
    def groupable(self) -> bool:
        return self.type in ("string", "boolean")

    @property
    def summable(self) -> bool:
        return self.type in ("number", "duration")

    def schema(self) -> dict[str, Any]:
        kind: dict[str, Any] = (
            {"type": "string", "format": "duration"}
            if self.type == "duration"
            else {"type": [self.type, "null"]}
        )
        return {**kind, "description": self.en, "x-label-zh": self.zh}


@dataclass(frozen=True)
class Dataset:
    key: str
    en: str
    zh: str
    var: str
    model: Any
    time: InstrumentedAttribute[Any]
    order_id: InstrumentedAttribute[Any]
    fields: dict[str, Field]

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of a filter's context: one object named :attr:`var`."""
        return {
            "type": "object",
            "required": [self.var],
            "properties": {
                self.var: {
                    "type": "object",
                    "x-label-zh": self.zh,
                    "properties": {name: f.schema() for name, f in self.fields.items()},
                    "additionalProperties": False,
                }
            },
        }

    def base(self) -> ColumnElement[bool]:
        """Rows every rule on this dataset counts (a closed visit, a delivered order)."""
        if self.key == "visits":
            return NodeVisit.left_at.is_not(None)
        if self.key == "deliveries":
            return OrderFact.delivered_at.is_not(None)
        return and_(~false())


def _fields(*items: Field) -> dict[str, Field]:
    return {f.name: f for f in items}


_F = OrderFact
_ORDER_FIELDS = _fields(
    Field("channel", _F.channel, "string", "Sales channel", "渠道"),
    Field("status", _F.status, "string", "Order status", "状态"),
    Field("urgent", _F.urgent, "boolean", "Urgent", "加急"),
    Field("amount", _F.amount, "number", "Order amount", "金额"),
    Field("province", _F.province, "string", "Ship-to province", "省份"),
    Field("customer_tier", _F.customer_tier, "string", "Customer tier", "客户等级"),
    Field("outcome", _F.outcome, "string", "Outcome of the last finished run", "运行结果"),
    Field("manual", _F.manual, "boolean", "Needed a person (manual intervention)", "人工干预"),
    Field("incidents", _F.incidents, "number", "Incidents", "异常次数"),
    Field("retries", _F.retries, "number", "Retries", "重试次数"),
    Field("approvals", _F.approvals, "number", "Approval steps", "审批次数"),
    Field("cost", _F.cost_total, "number", "Fulfilment cost", "履约成本"),
    Field("on_time", _F.on_time, "boolean", "Delivered by the promised time", "准时送达"),
    Field("delivered", _F.delivered_at.is_not(None), "boolean", "Delivered", "已送达"),
    Field("lead_time", _F.lead_seconds, "duration", "Placed to delivered", "下单到送达"),
)

DATASETS: dict[str, Dataset] = {
    "orders": Dataset(
        "orders", "Orders (by time placed)", "订单（按下单时间）", "order",
        OrderFact, OrderFact.created_at, OrderFact.order_id, _ORDER_FIELDS,
    ),
    "deliveries": Dataset(
        "deliveries", "Deliveries (by time delivered)", "送达（按送达时间）", "order",
        OrderFact, OrderFact.delivered_at, OrderFact.order_id, _ORDER_FIELDS,
    ),
    "status_events": Dataset(
        "status_events", "Status reports (by time received)", "状态回传（按接收时间）", "event",
        StatusLagFact, StatusLagFact.received_at, StatusLagFact.order_id,
        _fields(
            Field("channel", StatusLagFact.channel, "string", "Sales channel", "渠道"),
            Field("source", StatusLagFact.source, "string", "Source system", "来源系统"),
            Field("state", StatusLagFact.state, "string", "Order state reported", "状态"),
            Field("lag", StatusLagFact.lag_seconds, "duration", "Status lag", "状态延迟"),
        ),
    ),
    "stockouts": Dataset(
        "stockouts", "Stock-outs (by time found)", "缺货（按发现时间）", "stockout",
        StockoutFact, StockoutFact.at, StockoutFact.order_id,
        _fields(
            Field("sku", StockoutFact.sku, "string", "SKU", "商品编码"),
            Field("warehouse", StockoutFact.warehouse, "string", "Warehouse", "仓库"),
            Field("channel", StockoutFact.channel, "string", "Sales channel", "渠道"),
            Field("requested", StockoutFact.requested, "number", "Quantity asked", "需求数量"),
            Field("available", StockoutFact.available, "number", "Quantity available", "可用数量"),
        ),
    ),
    "visits": Dataset(
        "visits", "Waits at flow nodes (by time left)", "节点等待（按离开时间）", "visit",
        NodeVisit, NodeVisit.left_at, NodeVisit.order_id,
        _fields(
            Field("node", NodeVisit.node_id, "string", "Node id", "节点"),
            Field("node_type", NodeVisit.node_type, "string", "Node type", "节点类型"),
            Field("channel", NodeVisit.channel, "string", "Sales channel", "渠道"),
            Field("dwell", NodeVisit.dwell_seconds, "duration", "Time spent", "停留时长"),
            Field("exit", NodeVisit.exit, "string", "Branch taken", "出口分支"),
        ),
    ),
    "alerts": Dataset(
        "alerts", "Alerts raised (by time raised)", "告警（按触发时间）", "alert",
        Alert, Alert.created_at, Alert.order_id,
        _fields(
            Field("code", Alert.data["code"].as_string(), "string", "Code of a flow's alert", "告警代码"),
            Field("severity", Alert.severity, "string", "Severity", "级别"),
            Field("status", Alert.status, "string", "Status (open, acknowledged, resolved)", "状态"),
            Field("source", Alert.source, "string", "Raised by (flow node or rule)", "来源"),
            Field("channel", Alert.channel, "string", "Sales channel", "渠道"),
        ),
    ),
}  # fmt: skip


def dataset(key: str) -> Dataset:
    return DATASETS[key]
