"""Rules in business words: labels from the order schema, formatted values, verdicts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.wording import Wording, node_name

CASES = [
    ("order.amount > 5000", {"order.amount": Decimal("8600")}, "zh",
     ["订单金额 ¥8,600.00 > ¥5,000.00 ✓"]),
    ("order.amount > 5000", {"order.amount": Decimal("8600")}, "en",
     ["Order amount ¥8,600.00 > ¥5,000.00 ✓"]),
    ("order.amount <= customer.credit_limit", {"order.amount": 60000, "customer.credit_limit": 50000},
     "zh", ["订单金额 ¥60,000.00 ≤ 客户信用额度 ¥50,000.00 ✗"]),
    ('customer.tier in ["gold", "platinum"] and not order.urgent',
     {"customer.tier": "silver", "order.urgent": False}, "en",
     ["Customer tier silver is one of gold, platinum ✗", "not (Order urgent No) ✓"]),
    ("order.promised_at is null", {"order.promised_at": None}, "zh", ["订单承诺时间 为空 ✓"]),
    ("order.created_at < datetime(\"2026-12-01T00:00:00+08:00\")",
     {"order.created_at": "2026-12-06T20:14:00Z"}, "zh",
     ["订单下单时间 2026-12-07 04:14 < 2026-12-01 00:00 ✗"]),
    ('ref.inventory["GZ"]["SKU-1"] >= order.lines[0].qty',
     {"ref.inventory['GZ']['SKU-1']": 0, "order.lines[0].qty": 2}, "zh",
     ["库存（GZ · SKU-1） 0 ≥ 订单行数量 2 ✗"]),
    # order states by the status model's names, never their codes; an unknown code as code
    ('order.status == "paid"', {"order.status": "shipped"}, "zh", ["订单状态 已发货 = 已付款 ✗"]),
    ('order.status in ["paid", "confirmed"]', {"order.status": "paid"}, "en",
     ["Order status Paid is one of Paid, `confirmed` ✓"]),
    # arithmetic cannot be said clause by clause: the values it read instead
    ("order.amount * 2 > 10000", {"order.amount": Decimal("8600")}, "en", ["Order amount ¥8,600.00"]),
]  # fmt: skip


@pytest.mark.parametrize(("source", "inputs", "language", "expected"), CASES)
def test_a_rule_reads_as_labels_and_formatted_values(app, source, inputs, language, expected):
    with app.app_context():
        said = Wording(language).rule(source, inputs)
    assert [f"{c.text} {c.mark}".strip() for c in said] == expected


def test_branches_checks_and_node_names_in_both_languages(app):
    zh, en = Wording("zh"), Wording("en")
    assert (zh.branch("true"), zh.branch("false"), en.branch("rejected")) == (
        "是",
        "否",
        "Rejected",
    )
    check = {"name": "credit_ok", "label": {"zh": "未超信用额度", "en": "Within credit limit"},
             "rule": "order.amount <= 50000", "inputs": {"order.amount": 60000}, "passed": False}  # fmt: skip
    with app.app_context():
        assert zh.check(check) == "✗ 未超信用额度：订单金额 ¥60,000.00 ≤ ¥50,000.00"
        assert (
            Wording("en", currency="USD")
            .check(check)
            .endswith("Order amount $60,000.00 ≤ $50,000.00")
        )
    assert (
        node_name({"id": "condition_1", "type": "condition", "name": {"zh": "金额判断"}}, "en")
        == "金额判断"
    )
    assert node_name({"id": "start", "type": "start"}, "zh") == "开始"
    assert node_name({"id": "x_1", "type": "nonsense"}, "en") == "x_1"
