"""Condition builder <-> DSL, and pinyin initials for the flows search."""

from __future__ import annotations

import pytest

from app.editor.builder import from_dsl, round_trip, to_dsl
from app.errors import ValidationError
from app.pinyin import full, initials, matches
from rule_dsl import DslSyntaxError


@pytest.mark.parametrize(
    "source",
    [
        "order.amount >= 20000",
        'order.amount >= 20000 and (customer.tier in ["gold", "vip"] or order.urgent == true)',
        'order.channel not in ["douyin", "kuaishou"] or order.status is null',
        'starts_with(order.external_id, "TB") and customer.account_manager is not null',
        'order.created_at < datetime("2026-01-31T10:00:00+08:00")',
    ],
)
def test_builder_round_trips_what_it_can_show(source):
    tree = from_dsl(source)["tree"]
    assert tree is not None and tree["op"] in ("and", "or")
    assert to_dsl(tree) == source
    assert round_trip(source) == source


def test_chinese_labels_are_read_as_fields():
    tree = from_dsl('订单.金额 > 5000 and 客户.等级 == "gold"')["tree"]
    assert [i["field"] for i in tree["items"]] == ["order.amount", "customer.tier"]


@pytest.mark.parametrize(
    "source",
    [
        "sum(l.qty for l in order.lines) > 3",
        "order.amount > customer.credit_limit",
        "not order.urgent",
    ],
)
def test_what_the_builder_cannot_show_stays_text(source):
    out = from_dsl(source)
    assert out["tree"] is None and out["reason"]


def test_syntax_errors_surface_as_dsl_errors():
    with pytest.raises(DslSyntaxError):
        from_dsl("order.amount >")


def test_builder_values_are_typed_by_the_field(app):
    tree = {"op": "or", "items": [
        {"field": "order.amount", "cmp": ">", "value": "1,000.50"},
        {"field": "customer.tier", "cmp": "in", "value": "gold, vip"},
        {"op": "and", "items": [{"field": "order.urgent", "cmp": "==", "value": "true"},
                                {"field": "order.channel", "cmp": "==", "value": 'say "hi"'}]},
    ]}  # fmt: skip
    assert to_dsl(tree) == (
        'order.amount > 1000.50 or customer.tier in ["gold", "vip"] or '
        '(order.urgent == true and order.channel == "say \\"hi\\"")'
    )
    with app.test_request_context(), pytest.raises(ValidationError) as err:
        to_dsl({"op": "and", "items": [{"field": "order.amount", "cmp": ">", "value": "lots"}]})
    assert "lots" in str(err.value.message)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("大额订单审核", "deddsh"), ("订单路由", "ddly"), ("抖音 B2B", "dyb2b"), ("财务审批", "cwsp"),
     ("重庆仓路由", "cqcly"), ("银行转账", "yhzz")],
)  # fmt: skip
def test_pinyin_initials(text, expected):
    assert initials(text) == expected  # 重 and 行 read as the word uses them


def test_search_matches_whole_pinyin_too():
    assert full("重庆仓") == "chongqingcang"
    assert matches("chongqing", "重庆仓路由") and matches("chong qing", "重庆仓路由")
    assert not matches("zhongqing", "重庆仓路由")


def test_search_matches_text_and_initials():
    assert matches("ddly", "订单路由")
    assert matches("路由", "订单路由")
    assert matches("ROUT", "order-routing")
    assert not matches("cwsp", "订单路由")
