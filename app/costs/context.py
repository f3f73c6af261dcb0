"""What cost formulas, order types and per-order alert conditions can read.

The evaluation context of an order is ``order`` (the stored order document), ``customer``,
``vars`` (the variables its runs set, later runs winning) and ``history``: figures about
what happened to the order, computed from its runs' audit trail, its outbox messages and its
status events. Per-order alert conditions also see ``cost`` (each driver's amount by key and
``total``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rule_dsl import context_schema

_INT = {"type": "integer"}
_NUM = {"type": "number"}


def _f(schema: dict[str, Any], en: str, zh: str) -> dict[str, Any]:
    return {**schema, "description": en, "x-label-zh": zh}


HISTORY_FIELDS: dict[str, dict[str, Any]] = {
    "runs": _f(_INT, "Flow runs of the order", "运行次数"),
    "incidents": _f(_INT, "Incidents (a node failed on the order's data)", "异常次数"),
    "retries": _f(_INT, "Runs retried by a person after an incident", "重试次数"),
    "incident_hours": _f(_NUM, "Hours spent in an exception state (incident)", "异常滞留小时"),
    "approvals": _f(_INT, "Approval steps the order went through", "审批次数"),
    "rejections": _f(_INT, "Approval steps that ended rejected", "驳回次数"),
    "approval_hours": _f(_NUM, "Hours waiting for approvers", "审批等待小时"),
    "waiting_hours": _f(_NUM, "Hours waiting on timers and external events", "等待小时"),
    "manual_actions": _f(_INT, "Events a person caused (decisions, retries...)", "人工操作次数"),
    "webhook_calls": _f(_INT, "Calls to outside systems (ERP, WMS...)", "外部调用次数"),
    "webhook_retries": _f(_INT, "Repeated attempts of failed outside calls", "外部调用重试次数"),
    "webhook_failures": _f(_INT, "Outside calls that finally failed", "外部调用失败次数"),
    "notifications": _f(_INT, "Notifications sent about the order", "通知次数"),
    "stockouts": _f(_INT, "Reservations that found too little stock", "缺货次数"),
    "cancelled": _f({"type": "boolean"}, "A run of the order was cancelled", "已取消"),
    "returned": _f({"type": "boolean"}, "The order came back (returned)", "已退货"),
    "outcome": _f(
        {"type": ["string", "null"]}, "Outcome of the last completed run", "最近运行结果"
    ),
    "status": _f({"type": "string"}, "Unified order status now", "当前状态"),
    "status_hours": _f(_NUM, "Hours in the current status", "当前状态小时"),
    "delivered": _f({"type": "boolean"}, "Delivered or signed for", "已送达"),
    "late_hours": _f(_NUM, "Hours delivered after the promised time (0 if on time)", "超时小时"),
}
HISTORY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-label-zh": "历史",
    "description": "What happened to the order: runs, incidents, approvals, calls, status.",
    "properties": HISTORY_FIELDS,
    "additionalProperties": False,
}
VARS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-label-zh": "变量",
    "additionalProperties": True,
}


def cost_schema(driver_keys: list[str]) -> dict[str, Any]:
    props = {key: _NUM for key in driver_keys}
    props["total"] = _f(_NUM, "Total cost of the order", "总成本")
    return {"type": "object", "x-label-zh": "成本", "properties": props}


def order_context_schema(
    order_schema: Mapping[str, Any], *, driver_keys: list[str] | None = None
) -> dict[str, Any]:
    """The JSON Schema of an order's evaluation context (``cost`` when ``driver_keys``)."""
    extra: dict[str, Any] = {"history": HISTORY_SCHEMA, "vars": VARS_SCHEMA}
    if driver_keys is not None:
        extra["cost"] = cost_schema(driver_keys)
    return context_schema(order_schema, **extra)


def schema_key(schema: Mapping[str, Any]) -> str:
    """A stable text form of a schema, to key compiled expressions by."""
    return json.dumps(schema, sort_keys=True, ensure_ascii=False, default=str)


def empty_history() -> dict[str, Any]:
    """The history of an order nothing has happened to yet."""
    out: dict[str, Any] = {}
    for name, spec in HISTORY_FIELDS.items():
        kind = spec["type"]
        out[name] = (
            0
            if kind == "integer"
            else 0.0
            if kind == "number"
            else False
            if kind == "boolean"
            else None
        )
    out["status"] = "created"
    return out
