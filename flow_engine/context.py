"""The evaluation context every expression in a flow sees, and its JSON Schema.

Context: ``{"order": ..., "customer": ..., "vars": ..., "ref": ...}`` where ``customer`` is
``order.customer`` (enrich the order's customer from reference data before starting a run),
``vars`` holds run variables set by nodes and ``ref`` the reference tables
(warehouses, carriers, inventory ...). The app, the editor and the engine all build it here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from flow_engine.nodes import NODE_HANDLERS
from rule_dsl import context_schema as dsl_context_schema

_OPEN_OBJECT = {"type": "object", "additionalProperties": True}


@cache
def _load(name: str) -> str:
    return (Path(__file__).parent / "schema" / name).read_text(encoding="utf-8")


def flow_schema() -> dict[str, Any]:
    """The flow document JSON Schema (draft 2020-12), as served by the app. Its node types
    are the registered handlers' (``flow_engine.nodes.NODE_HANDLERS``)."""
    schema: dict[str, Any] = json.loads(_load("flow.schema.json"))
    schema["$defs"]["node"]["properties"]["type"]["enum"] = list(NODE_HANDLERS)
    return schema


def order_schema() -> dict[str, Any]:
    """The canonical order JSON Schema with ``x-label-zh`` labels."""
    schema: dict[str, Any] = json.loads(_load("order.schema.json"))
    return schema


def build_context(
    order: Mapping[str, Any],
    *,
    vars: Mapping[str, Any] | None = None,
    ref: Mapping[str, Any] | None = None,
    customer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the evaluation context for ``order``."""
    if customer is None:
        customer = order.get("customer") or {}
    return {"order": order, "customer": customer, "vars": vars or {}, "ref": ref or {}}


def flow_context_schema(
    order_schema_: Mapping[str, Any] | None = None,
    *,
    vars_schema: Mapping[str, Any] | None = None,
    ref_schema: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """JSON Schema of the context, for type-checking expressions and for the editor."""
    schema = dict(order_schema_) if order_schema_ is not None else order_schema()
    customer = (schema.get("properties") or {}).get("customer", _OPEN_OBJECT)
    variables = {
        "type": "object",
        "x-label-zh": "变量",
        "properties": dict(vars_schema or {}),
        "additionalProperties": True,
    }
    return dsl_context_schema(
        schema,
        customer=customer,
        vars=variables,
        ref=dict(ref_schema)
        if ref_schema is not None
        else {**_OPEN_OBJECT, "x-label-zh": "参考数据"},
    )
