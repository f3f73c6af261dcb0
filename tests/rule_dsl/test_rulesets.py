"""Rule sets: priority order, first/all modes, changes, tags, stop, errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rule_dsl import DslEvalError, DslSyntaxError, DslTypeError, compile_ruleset

from .schemas import SCHEMA, sample_context

REVIEW = """
# Orders above 5,000 go to finance; hazmat orders are tagged for the warehouse.
rule "大额订单财务复核" priority 10
when order.amount > 5000
then
  set order.review = "finance"
  tag "large-order"
end

rule "hazmat" priority 20
when any(l.category == "hazmat" for l in order.lines)
then
  tag "hazmat"
  set order.custom.hazmat = true
end

rule "finance also checks credit" priority 5
when order.review == "finance" and customer.credit_limit - customer.outstanding < order.amount
then
  set order.review = "credit"
  set order.custom.note = "credit " + string(customer.credit_limit - customer.outstanding)
end

rule "small orders" priority 1
when order.amount <= 5000
then tag "small"
end
"""


def test_rules_fire_in_priority_order_and_see_earlier_changes() -> None:
    rs = compile_ruleset(REVIEW, SCHEMA)
    ctx = sample_context(amount=Decimal(8000))
    result = rs(ctx)
    assert result.fired == ("hazmat", "大额订单财务复核", "finance also checks credit")
    assert result.changes == {
        "order.custom.hazmat": True,
        "order.review": "credit",
        "order.custom.note": "credit 7500",
    }
    assert result.tags == ("hazmat", "large-order")
    assert result.context["order"]["review"] == "credit"
    assert result.context["order"]["custom"] == {"floor": 3, "hazmat": True, "note": "credit 7500"}


def test_input_is_not_mutated() -> None:
    ctx = sample_context(amount=Decimal(8000))
    before = repr(ctx)
    compile_ruleset(REVIEW, SCHEMA)(ctx)
    assert repr(ctx) == before


def test_first_mode_stops_after_first_rule() -> None:
    rs = compile_ruleset(REVIEW, SCHEMA, mode="first")
    assert rs(sample_context()).fired == ("hazmat",)
    from_source = compile_ruleset("mode first\n" + REVIEW, SCHEMA)
    assert from_source.mode == "first"
    assert from_source(sample_context()).fired == ("hazmat",)


def test_stop_ends_evaluation() -> None:
    rs = compile_ruleset(
        'rule "a" priority 2 when true then tag "a" stop tag "never" end\n'
        'rule "b" when true then tag "b" end'
    )
    result = rs({})
    assert result.fired == ("a",)
    assert result.tags == ("a",)


def test_equal_priorities_keep_source_order_and_negative_priorities_run_last() -> None:
    rs = compile_ruleset(
        'rule "low" priority -5 when true then tag "low" end\n'
        'rule "x" when true then tag "x" end\n'
        'rule "y" when true then tag "y" end'
    )
    assert rs({}).fired == ("x", "y", "low")
    assert [r.priority for r in rs.rules] == [0, 0, -5]


def test_nothing_fires() -> None:
    result = compile_ruleset(REVIEW, SCHEMA)(sample_context(amount=None, lines=[]))
    assert (result.fired, result.changes, result.tags) == ((), {}, ())
    assert result.to_dict() == {"fired": [], "changes": {}, "tags": []}


def test_empty_rule_set() -> None:
    assert compile_ruleset("  # nothing yet\n")({"order": {}}).fired == ()


@pytest.mark.parametrize(
    ("source", "cls", "code", "line", "column"),
    [
        ('rule "a" when order.amont > 1 then tag "x" end', DslTypeError, "unknown_field", 1, 21),
        ('rule "a" when order.amount then tag "x" end', DslTypeError, "expected_type", 1, 15),
        (
            'rule "a" when true then set order.amount = "x" end',
            DslTypeError,
            "type_mismatch",
            1,
            25,
        ),
        ('rule "a" when true then set 5 = 1 end', DslTypeError, "not_assignable", 1, 29),
        ('rule "a" when true then set order = 1 end', DslTypeError, "not_assignable", 1, 29),
        ('rule "a" when true then tag 5 end', DslTypeError, "expected_type", 1, 29),
        (
            'rule "a" when true then tag "x" end\nrule "a" when true then end',
            DslSyntaxError,
            "duplicate_rule",
            2,
            1,
        ),
        ('rule "a" when true then tag "x"', DslSyntaxError, "unexpected_end", 1, 32),
        ('rule "a" when true tag "x" end', DslSyntaxError, "unexpected_token", 1, 20),
        ('mode sometimes\nrule "a" when true then end', DslSyntaxError, "bad_literal", 1, 1),
    ],
)
def test_ruleset_errors(source: str, cls: type, code: str, line: int, column: int) -> None:
    with pytest.raises(cls) as info:
        compile_ruleset(source, SCHEMA)
    assert (info.value.code, info.value.line, info.value.column) == (code, line, column)
    assert info.value.message and info.value.message_zh


def test_runtime_error_points_into_the_rule_set() -> None:
    rs = compile_ruleset(
        'rule "ok" when true then tag "x" end\n'
        'rule "bad" when true then set order.custom.ratio = order.amount / order.custom.zero end',
        SCHEMA,
    )
    ctx = sample_context(custom={"zero": 0})
    with pytest.raises(DslEvalError) as info:
        rs(ctx)
    assert (info.value.code, info.value.line, info.value.column) == ("division_by_zero", 2, 52)


def test_keywords_are_fine_as_field_names() -> None:
    rs = compile_ruleset('rule "p" when order.priority > 1 then set order.end = order.priority end')
    result = rs({"order": {"priority": 3}})
    assert result.changes == {"order.end": 3}
