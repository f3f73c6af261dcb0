"""Rule definitions are checked with precise messages; filters run in the database with the
rule language's own null rules; rules travel to and from template bundles."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from app.alerts import exchange, services, sqlfilter
from app.alerts.datasets import DATASETS
from app.db import in_transaction
from app.errors import ConflictError, ValidationError
from app.models import AlertRule, Order, OrderFact, utcnow
from rule_dsl import DslError, compile_expression

from ..dashboard.test_refresh import _order

BASE = {"key": "r1", "name_zh": "规则", "kind": "aggregate"}


def _save(database, **values):
    return in_transaction(database, lambda db: services.save_rule(db, None, {**BASE, **values}).key)


@pytest.mark.parametrize(
    ("definition", "field", "text"),
    [
        ({"dataset": "orders", "measure": "rate", "window": "1h", "threshold": 10}, "definition.numerator",
         "Write a condition"),
        ({"dataset": "orders", "measure": "count", "window": "1 hour", "threshold": 1}, "definition.window",
         "30m, 4h or 3d"),
        ({"dataset": "orders", "measure": "sum", "field": "channel", "window": "1h", "threshold": 1},
         "definition.field", "number field"),
        ({"dataset": "orders", "measure": "count", "window": "1h", "threshold": "lots"}, "definition.threshold",
         "Give a number"),
        ({"dataset": "orders", "measure": "count", "window": "1h", "threshold": 1, "group_by": "amount"},
         "definition.group_by", "Group by one of"),
        ({"dataset": "nope", "measure": "count", "window": "1h", "threshold": 1}, "definition.dataset", "Choose"),
    ],
)  # fmt: skip
def test_definition_problems_are_reported_per_field(database, definition, field, text):
    with pytest.raises(ValidationError) as caught:
        _save(database, definition=definition)
    assert text in str(caught.value.fields[field])


def test_filters_report_unknown_fields_and_unsupported_parts_with_a_caret(database):
    with pytest.raises(ValidationError) as caught:
        _save(database, definition={"dataset": "orders", "measure": "count", "window": "1h", "threshold": 1,
                                    "filter": "order.chanel == 'taobao'"})  # fmt: skip
    problem = caught.value.fields["definition.filter"]
    assert problem["code"] == "unknown_field" and "order.channel" in problem["hint"]
    assert problem["column"] == 7 and "^" in problem["excerpt"]
    with pytest.raises(DslError) as refused:
        sqlfilter.check('lower(order.channel) == "taobao"', DATASETS["orders"])
    assert refused.value.code == "not_in_database" and refused.value.column == 1
    assert "数据库" in refused.value.message_zh


def test_rule_fields_and_duplicate_keys(database):
    with pytest.raises(ValidationError) as caught:
        _save(database, key="Bad Key", name_zh="", severity="panic", cooldown_seconds=-5,
              definition={"dataset": "orders", "measure": "count", "window": "1h", "threshold": 1})  # fmt: skip
    assert set(caught.value.fields) >= {"key", "name_zh", "severity", "cooldown_seconds"}
    definition = {"dataset": "orders", "measure": "count", "window": "1h", "threshold": 1}
    rule = _save(database, definition=definition, channels=["wecom", "pager"])
    with database.session() as db:
        saved = db.scalars(select(AlertRule).where(AlertRule.key == rule)).one()
        assert saved.channels == ["wecom"] and saved.definition["min_rows"] == 1
    with pytest.raises(ConflictError):
        _save(database, definition=definition)


FILTERS = [
    "order.on_time != true",
    "not (order.cost > 10)",
    "order.cost > 10",
    "order.channel in ['taobao', 'tmall'] and not order.urgent",
    "order.channel not in ['taobao']",
    "order.cost in [5..25)",
    "order.cost is null or order.manual",
    "order.amount >= 150 or order.delivered",
    "order.outcome == null",
]


@pytest.mark.parametrize("source", FILTERS)
def test_filters_select_exactly_the_rows_the_rule_language_would(database, source):
    rows = [  # order id, channel, cost, on_time, urgent, manual, amount, delivered_at
        (1, "taobao", Decimal("5"), True, False, False, Decimal("100"), True),
        (2, "taobao", None, None, True, True, Decimal("200"), False),
        (3, "tmall", Decimal("25"), False, False, True, None, True),
        (4, "douyin", Decimal("12.5"), None, False, False, Decimal("150"), False),
    ]
    now = utcnow()

    def work(db):
        for ident, channel, cost, on_time, urgent, manual, amount, delivered in rows:
            _order(db, ident)
            db.execute(insert(OrderFact).values(
                order_id=ident, created_at=now, channel=channel, status="created", status_at=now,
                urgent=urgent, amount=amount, cost_total=cost, on_time=on_time, manual=manual,
                delivered_at=now if delivered else None, updated_at=now,
            ))  # fmt: skip

    in_transaction(database, work)
    ds = DATASETS["orders"]
    sqlfilter.check(source, ds)
    with database.session() as db:
        in_sql = set(db.scalars(select(OrderFact.order_id).where(sqlfilter.condition(source, ds))))
    expr = compile_expression(source, ds.schema(), expect="boolean")
    in_dsl = {
        ident
        for ident, channel, cost, on_time, urgent, manual, amount, delivered in rows
        if expr({"order": {"channel": channel, "cost": cost, "on_time": on_time, "urgent": urgent,
                           "manual": manual, "amount": amount, "delivered": delivered, "outcome": None}})
    }  # fmt: skip
    assert in_sql == in_dsl


def test_template_vocabulary_is_translated(database):
    specs = [
        {"key": "finance.review_backlog", "name": {"en": "Finance backlog", "zh": "财务复核积压"},
         "severity": "warning", "rule": {"kind": "threshold", "metric": "approvals.pending", "node": "finance",
                                          "above": 10}},
        {"key": "stock.short", "name": {"en": "Short 3 days", "zh": "连续缺货"}, "severity": "critical",
         "rule": {"kind": "streak", "metric": "orders.short_sku", "days": 3}},
        {"key": "status.gap", "name": {"en": "Gap", "zh": "间隔"}, "severity": "warning",
         "rule": {"kind": "stalled_transition", "from": "packed", "to": "shipped", "max_gap": "4h",
                  "share_above": 0.1}},
        {"key": "credit.holds", "name": {"en": "Holds", "zh": "冻结"}, "severity": "warning",
         "rule": {"kind": "threshold", "metric": "runs.outcome_count", "outcome": "credit_hold",
                  "window": "1d", "above": 5}},
    ]  # fmt: skip
    imported = in_transaction(
        database, lambda db: exchange.import_rules(db, None, specs, source="template:t")
    )
    by_key = {i.rule.key: i for i in imported}
    assert by_key["finance.review_backlog"].rule.kind == "backlog"
    assert by_key["stock.short"].rule.definition["periods"] == 3
    gap = by_key["status.gap"]
    assert gap.rule.definition["states"] == ["packed"] and gap.notes and not gap.rule.enabled
    assert by_key["credit.holds"].rule.definition["filter"] == 'order.outcome == "credit_hold"'
    assert all(i.rule.source == "template:t" for i in imported)


def test_export_then_import_reproduces_a_rule(database):
    key = _save(database, key="lag.slow", definition={"dataset": "status_events", "measure": "avg", "field": "lag",
                                                      "group_by": "source", "window": "2h", "op": ">=",
                                                      "threshold": 600}, cooldown_seconds=900)  # fmt: skip
    with database.session() as db:
        rule = db.scalars(select(AlertRule).where(AlertRule.key == key)).one()
        exported = exchange.export_rule(rule)
        db.delete(rule)
        db.commit()
    (again,) = in_transaction(
        database, lambda db: exchange.import_rules(db, None, [exported], source="ui")
    )
    assert again.notes == [] and again.created
    assert again.rule.definition == rule.definition and again.rule.cooldown_seconds == 900


def test_orders_to_alert_on_need_an_order_condition(database):
    with pytest.raises(ValidationError) as caught:
        _save(database, kind="order", definition={"condition": "order.amount"})
    assert caught.value.fields["definition.condition"]["code"] == "expected_type"
    with database.session() as db:
        assert db.scalars(select(Order.id)).first() is None
