"""OrderFlow's rule language: conditions, computed values, rule sets and decision tables.

Sources are parsed by Lark, checked against the JSON Schema of the evaluation context and
compiled once to Python code objects::

    from rule_dsl import compile_expression, context_schema

    expr = compile_expression('order.amount > 5000 and customer.tier in ["gold", "platinum"]',
                              context_schema(order_schema), expect="boolean")
    expr({"order": {"amount": 6000}, "customer": {"tier": "gold"}})  # True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rule_dsl.errors import DslError, DslEvalError, DslSyntaxError, DslTypeError
from rule_dsl.expression import Expression, compile_expression, validate_expression
from rule_dsl.rules import RuleSet, RuleSetResult, compile_ruleset, validate_ruleset
from rule_dsl.tables import DecisionTable, Finding, TableResult

__all__ = [
    "DecisionTable",
    "DslError",
    "DslEvalError",
    "DslSyntaxError",
    "DslTypeError",
    "Expression",
    "Finding",
    "RuleSet",
    "RuleSetResult",
    "TableResult",
    "compile_expression",
    "compile_ruleset",
    "context_schema",
    "validate_expression",
    "validate_ruleset",
]


def context_schema(
    order_schema: Mapping[str, Any], **extra_top_level: Mapping[str, Any]
) -> dict[str, Any]:
    """Build the JSON Schema of an evaluation context ``{"order": ..., **extra}``.

    ``order`` is marked required (every evaluation context has one). A ``customer``
    property of the order schema is also offered as the top-level name
    ``customer`` unless ``extra_top_level`` provides one. ``$defs`` of the order schema are
    lifted to the context so that its local ``$ref`` pointers keep resolving.
    """
    order = dict(order_schema)
    defs = order.pop("$defs", None)
    order.setdefault("x-label-zh", "订单")
    properties: dict[str, Any] = {"order": order}
    customer = (order.get("properties") or {}).get("customer")
    if customer is not None and "customer" not in extra_top_level:
        properties["customer"] = customer
    properties.update(extra_top_level)
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": ["order"]}
    if defs is not None:
        schema["$defs"] = defs
    return schema
