"""Setting an order field the order does not declare warns: the value would stay in the
run's snapshot only."""

from __future__ import annotations

import copy

from flow_engine import order_schema, validate_flow
from tests.flow_engine.helpers import chain, node


def _setting(path: str) -> dict:
    return chain(node("set", "set", fields=[{"path": path, "expression": "true"}]))


def test_an_undeclared_custom_field_warns_in_both_languages():
    issues = [i for i in validate_flow(_setting("order.custom.payment_hold"))]
    assert [(i.code, i.severity, i.path) for i in issues] == [
        ("field_not_declared", "warning", "/nodes/1/config/fields/0/path")]  # fmt: skip
    assert issues[0].message.startswith(
        "Field order.custom.payment_hold is not declared on the order; declare it under custom"
        " fields to store it.")  # fmt: skip
    assert "请在自定义字段中声明" in issues[0].message_zh


def test_a_declared_custom_field_and_run_variables_do_not_warn():
    schema = copy.deepcopy(order_schema())
    schema["properties"]["custom"]["properties"] = {"payment_hold": {"type": "boolean"}}
    assert validate_flow(_setting("order.custom.payment_hold"), schema) == []
    assert validate_flow(_setting("vars.hold")) == []
