"""The flow and order JSON Schemas and the node config schemas (which drive editor forms)."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from flow_engine import NODE_HANDLERS, compile_flow, flow_schema, order_schema
from tests.flow_engine.helpers import BENCH_FLOWS, load_json

NODE_TYPES = [
    "condition", "switch", "decision_table", "ruleset", "set", "route", "reserve_inventory",
    "release_inventory", "merge", "split", "tag", "webhook", "notify", "alert", "approval",
    "timer", "wait_event", "start", "end", "parallel", "join",
]  # fmt: skip


def test_schemas_are_valid_draft_2020_12():
    Draft202012Validator.check_schema(flow_schema())
    Draft202012Validator.check_schema(order_schema())
    for handler in NODE_HANDLERS.values():
        Draft202012Validator.check_schema(dict(handler.config_schema))


def test_node_types_are_exactly_the_documented_ones_and_match_the_flow_schema():
    assert sorted(NODE_HANDLERS) == sorted(NODE_TYPES)
    enum = flow_schema()["$defs"]["node"]["properties"]["type"]["enum"]
    assert sorted(enum) == sorted(NODE_TYPES)
    for name, handler in NODE_HANDLERS.items():
        assert handler.type == name
        assert handler.family in ("decide", "act", "human", "wait", "control")


def _properties(schema):
    for name, prop in (schema.get("properties") or {}).items():
        yield name, prop
        yield from _properties(prop)
        items = prop.get("items")
        if isinstance(items, dict):
            yield from _properties(items)


@pytest.mark.parametrize("node_type", NODE_TYPES)
def test_config_schema_has_english_and_chinese_titles_for_the_editor(node_type):
    schema = NODE_HANDLERS[node_type].config_schema
    assert schema["title"] and schema["x-title-zh"]
    handler = NODE_HANDLERS[node_type]
    assert handler.title["en"] and handler.title["zh"]
    for name, prop in _properties(schema):
        if name in ("en", "zh", "x", "y"):
            continue
        assert prop.get("title"), f"{node_type}.{name} has no title"
        assert prop.get("x-title-zh"), f"{node_type}.{name} has no x-title-zh"


def _fields(schema, prefix=""):
    for name, prop in (schema.get("properties") or {}).items():
        yield prefix + name, prop
        yield from _fields(prop, prefix + name + ".")
        if isinstance(prop.get("items"), dict):
            yield from _fields(prop["items"], prefix + name + "[].")


def test_every_order_field_has_a_chinese_label():
    schema = order_schema()
    assert schema["x-label-zh"] == "订单"
    for path, prop in _fields(schema):
        assert prop.get("x-label-zh"), path
    labels = {p: prop["x-label-zh"] for p, prop in _fields(schema)}
    assert labels["amount"] == "金额" and labels["channel"] == "渠道"
    assert labels["customer"] == "客户" and labels["customer.tier"] == "等级"


def test_sample_orders_conform_to_the_order_schema():
    validator = Draft202012Validator(order_schema())
    for sample in load_json(BENCH_FLOWS / "orders.json"):
        assert list(validator.iter_errors(sample["order"])) == []


def test_bench_routing_flow_is_valid_against_the_flow_schema_and_compiles():
    doc = load_json(BENCH_FLOWS / "routing.flow.json")
    assert list(Draft202012Validator(flow_schema()).iter_errors(doc)) == []
    assert len(doc["nodes"]) == 15
    compile_flow(doc)
