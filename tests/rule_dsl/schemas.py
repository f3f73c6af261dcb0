"""Context schemas and sample orders shared by the rule-language tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rule_dsl import context_schema

LINE = {
    "type": "object",
    "x-label-zh": "明细",
    "properties": {
        "sku": {"type": "string", "x-label-zh": "商品编码"},
        "qty": {"type": "integer", "x-label-zh": "数量"},
        "price": {"type": "number", "x-label-zh": "单价"},
        "category": {"type": "string"},
        "weight": {"type": ["number", "null"]},
    },
}

ORDER = {
    "type": "object",
    "x-label-zh": "订单",
    "properties": {
        "external_id": {"type": "string"},
        "channel": {"type": "string", "enum": ["taobao", "douyin", "shopify", "b2b"]},
        "amount": {"type": "number", "x-label-zh": "金额"},
        "urgent": {"type": "boolean", "x-label-zh": "加急"},
        "review": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "promised_on": {"type": "string", "format": "date"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}},
        "address": {
            "type": "object",
            "properties": {
                "province": {"type": "string", "x-label-zh": "省份"},
                "city": {"type": "string"},
            },
        },
        "custom": {"type": "object"},
        "customer": {
            "type": "object",
            "x-label-zh": "客户",
            "properties": {
                "tier": {"type": "string", "x-label-zh": "等级"},
                "credit_limit": {"type": "number"},
                "outstanding": {"type": "number"},
            },
        },
    },
    "$defs": {"line": LINE},
}

SCHEMA = context_schema(ORDER)


def sample_context(**order_overrides: Any) -> dict[str, Any]:
    """A realistic context: a Guangdong order of two lines by a gold customer."""
    order: dict[str, Any] = {
        "external_id": "TB-1001",
        "channel": "taobao",
        "amount": Decimal("6800.00"),
        "urgent": True,
        "created_at": "2026-01-30T09:00:00+08:00",
        "promised_on": "2026-02-03",
        "tags": ["vip", "new"],
        "lines": [
            {"sku": "A-1", "qty": 2, "price": Decimal("1200.00"), "category": "tools"},
            {"sku": "H-9", "qty": 5, "price": Decimal("880.00"), "category": "hazmat"},
        ],
        "address": {"province": "广东", "city": "广州"},
        "custom": {"floor": 3},
    }
    order.update(order_overrides)
    customer = {"tier": "gold", "credit_limit": Decimal("10000"), "outstanding": Decimal("2500")}
    return {"order": order, "customer": customer}
