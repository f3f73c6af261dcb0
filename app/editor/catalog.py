"""What the editor offers: node types for the palette, order fields for the condition builder."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from flow_engine import NODE_HANDLERS, order_schema
from flow_engine.nodes import FAMILIES

FAMILY_ORDER = FAMILIES


def _field_schema(schema: Mapping[str, Any], parts: list[str]) -> Mapping[str, Any]:
    """The config schema of the field at ``parts`` (list items by index), or {}."""
    for part in parts:
        if part.isdigit():
            schema = schema.get("items") or {}
        else:
            schema = (schema.get("properties") or {}).get(part) or {}
        if not isinstance(schema, Mapping):
            return {}
    return schema


def expression_kind(node_type: str, path: str) -> str:
    """How the editor checks the DSL field at ``path`` of a node config: ``condition``,
    ``ruleset`` or ``value``, as the node type's config schema marks it (``x-dsl``)."""
    handler = NODE_HANDLERS.get(node_type)
    if handler is None:
        return "value"
    parts = [p for p in path.split(".") if p]
    if not parts:  # no field named: the type's own kind when all its marked fields agree
        marks = set(_marks(handler.config_schema))
        return marks.pop() if len(marks) == 1 else "value"
    return str(_field_schema(handler.config_schema, parts).get("x-dsl") or "value")


def _marks(schema: Mapping[str, Any]) -> Iterator[str]:
    if schema.get("x-dsl"):
        yield str(schema["x-dsl"])
    for sub in (schema.get("properties") or {}).values():
        yield from _marks(sub)
    if isinstance(schema.get("items"), Mapping):
        yield from _marks(schema["items"])


def help_texts(schema: Mapping[str, Any]) -> dict[str, str]:
    """The help of a config schema property as ``{"en", "zh"}`` (empty when it has none)."""
    return {
        "en": str(schema.get("description") or ""),
        "zh": str(schema.get("x-description-zh") or schema.get("description") or ""),
    }


def _branches(handler: Any) -> dict[str, Any]:
    spec = handler.branches({})
    required = [b for b in spec.required if b is not None]
    allowed = None if spec.allowed is None else sorted(b for b in spec.allowed if b is not None)
    return {
        "required": required,
        "allowed": allowed,
        "single": None in spec.required or (spec.allowed is not None and None in spec.allowed),
        "any": spec.allowed is None,
    }


def node_types() -> tuple[dict[str, Any], ...]:
    """Every node type of the engine with its titles, family, exits and config schema: the
    editor's palette and forms, read from the handler registry."""
    return _node_types(tuple(NODE_HANDLERS.values()))


@cache
def _node_types(handlers: tuple[Any, ...]) -> tuple[dict[str, Any], ...]:
    out = []
    for handler in handlers:
        type_ = handler.type
        out.append(
            {
                "type": type_,
                "family": handler.family,
                "title": dict(handler.title),
                "description": help_texts(handler.config_schema),
                "waits": bool(getattr(handler, "waits", False)),
                "branches": _branches(handler),
                "exits": exits.to_dict() if (exits := getattr(handler, "exits", None)) else None,
                "config_schema": handler.config_schema,
            }
        )
    out.sort(key=lambda t: FAMILY_ORDER.index(t["family"]))
    return tuple(out)


def type_titles() -> dict[str, dict[str, str]]:
    """The ``{"en", "zh"}`` name of every node type, by type (``approval`` → 审批 / Approval)."""
    return {t["type"]: t["title"] for t in node_types()}


def _walk(
    schema: Mapping[str, Any], path: str, label: str, defs: Mapping[str, Any]
) -> Iterator[dict[str, Any]]:
    if "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    types = schema.get("type")
    kinds = [types] if isinstance(types, str) else [t for t in types or () if t != "null"]
    kind = kinds[0] if kinds else None
    if kind == "object" and "properties" in schema:
        for name, sub in schema["properties"].items():
            sub_label = sub.get("x-label-zh", name)
            yield from _walk(sub, f"{path}.{name}", f"{label}.{sub_label}", defs)
        return
    if kind in (None, "array", "object"):
        return
    fmt = schema.get("format")
    yield {
        "path": path,
        "label_zh": label,
        "type": "datetime" if fmt == "date-time" else "date" if fmt == "date" else kind,
        "enum": list(schema.get("enum") or []),
        "description": schema.get("description", ""),
        "nullable": isinstance(types, list) and "null" in types,
    }


@cache
def order_fields() -> tuple[dict[str, Any], ...]:
    """Scalar fields of the order and customer for the builder's field picker."""
    schema = order_schema()
    defs = schema.get("$defs", {})
    fields: list[dict[str, Any]] = []
    for name, sub in (schema.get("properties") or {}).items():
        label = sub.get("x-label-zh", name)
        if name == "customer":
            fields.extend(_walk(sub, "customer", label, defs))
        else:
            fields.extend(_walk(sub, f"order.{name}", f"订单.{label}", defs))
    return tuple(fields)


@cache
def field_aliases() -> dict[str, str]:
    """Chinese label path -> field path (``订单.金额`` -> ``order.amount``)."""
    aliases = {f["label_zh"]: f["path"] for f in order_fields()}
    for f in order_fields():
        if f["path"].startswith("customer."):
            aliases["订单." + f["label_zh"]] = "order." + f["path"]
    return aliases
