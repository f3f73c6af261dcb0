"""Evaluation bounds: value sizes, number digits, dates and work per evaluation end as
documented DslEvalErrors, quickly, instead of huge values, stalls or internal errors."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from rule_dsl import DslEvalError, DslSyntaxError, compile_expression, compile_ruleset
from rule_dsl.runtime import MAX_DIGITS, MAX_ITEMS, MAX_STEPS, MAX_TEXT

from .schemas import SCHEMA, sample_context

A400, B400 = '"' + "a" * 400 + '"', '"' + "b" * 400 + '"'
BIG = int("9" * 1500)
LINES = [{"sku": f"S{i}", "qty": i} for i in range(60)]

# (source, order, code, English fragment, Chinese fragment)
LIMITS: list[tuple[str, dict[str, Any], str, str, str]] = [
    (f'len(replace({A400}, "", {B400}))', {}, "value_too_large", "`replace`", "`replace`"),
    ("len(order.s + order.s)", {"s": "x" * 60_000}, "value_too_large", "100,000", "100,000"),
    ("len(order.items + order.items)", {"items": [1] * 60_000}, "value_too_large", "items", "项"),
    ('len(join(order.words, order.s))', {"words": ["w"] * 1000, "s": "-" * 200},
     "value_too_large", "`join`", "`join`"),
    ("string(order.x * order.x * order.x)", {"x": BIG}, "overflow", "1,000 digits", "1,000 位"),
    ("order.x * order.x", {"x": BIG}, "overflow", "`*`", "`*`"),
    ("order.x + order.x", {"x": 10**999 * 6}, "overflow", "`+`", "`+`"),
    ("order.x - order.y", {"x": 10**999 * 6, "y": -(10**999) * 6}, "overflow", "`-`", "`-`"),
    ("sum(order.items)", {"items": [10**999 * 6] * 2}, "overflow", "`+`", "`+`"),
    ("string(order.huge)", {"huge": 10**5000}, "overflow", "`string`", "`string`"),
    ("order.d * order.d", {"d": Decimal("1E+999990")}, "overflow", "`*`", "`*`"),
    ('in_timezone("9999-12-31T23:00:00+00:00", "Asia/Shanghai")', {}, "overflow",
     "`in_timezone`", "`in_timezone`"),
    ('date("9999-12-31T23:00:00+00:00", "Asia/Shanghai")', {}, "overflow", "`date`", "`date`"),
    ('datetime("0001-01-01T01:00:00+14:00") < datetime("2026-01-01")', {}, "overflow",
     "`<`", "`<`"),
    ("sum(sum(sum(1 for c in order.lines) for b in order.lines) for a in order.lines)",
     {"lines": LINES}, "too_much_work", "100,000", "100,000"),
    ("count(l for l in order.lines if contains(order.more, l.sku))",
     {"lines": LINES, "more": ["x"] * 2000}, "too_much_work", "100,000", "100,000"),
    ("count(distinct(order.objects))", {"objects": [{"n": i} for i in range(200)]},
     "too_much_work", "100,000", "100,000"),
]  # fmt: skip


@pytest.mark.parametrize(("source", "order", "code", "en", "zh"), LIMITS)
def test_bound_is_a_documented_error(
    source: str, order: dict[str, Any], code: str, en: str, zh: str
) -> None:
    expr = compile_expression(source)
    started = time.perf_counter()
    with pytest.raises(DslEvalError) as info:
        expr({"order": order})
    assert time.perf_counter() - started < 0.5
    err = info.value
    assert err.code == code, err.message
    assert en in err.message and zh in err.message_zh
    assert err.line == 1 and "^" in err.excerpt


def test_limits_are_the_documented_figures() -> None:
    assert (MAX_TEXT, MAX_ITEMS, MAX_STEPS, MAX_DIGITS) == (100_000, 100_000, 100_000, 1000)


@pytest.mark.parametrize(
    ("source", "order", "expected"),
    [
        ("len(order.s + order.s)", {"s": "x" * 50_000}, 100_000),
        ("len(order.items + order.items)", {"items": [1] * 50_000}, 100_000),
        ("len(string(order.x * order.y))", {"x": 10**499, "y": 10**499}, 999),
        (
            "sum(sum(1 for b in order.lines) for a in order.lines)",
            {"lines": list(range(300))},
            90_000,
        ),
        ("count(distinct(order.skus))", {"skus": [f"S{i % 3000}" for i in range(6000)]}, 3000),
        ("count(distinct(order.n))", {"n": [1, Decimal("1.0"), 2, 2.0, True]}, 3),
    ],
)
def test_values_within_the_bounds_evaluate(
    source: str, order: dict[str, Any], expected: Any
) -> None:
    started = time.perf_counter()
    assert compile_expression(source)({"order": order}) == expected
    assert time.perf_counter() - started < 0.5


def test_a_number_literal_over_the_digit_limit_is_refused_at_compile_time() -> None:
    with pytest.raises(DslSyntaxError) as info:
        compile_expression("order.x + 1" + "0" * 1000)
    assert info.value.code == "too_large"
    assert info.value.column == 11
    compile_expression("order.x + 1" + "0" * 999)


def test_rule_set_squaring_a_field_overflows() -> None:
    rules = compile_ruleset(
        'rule "grow" when true then set order.x = order.x * order.x * order.x * order.x end'
    )
    with pytest.raises(DslEvalError) as info:
        rules({"order": {"x": 10**300}})
    assert info.value.code == "overflow"


def test_equal_datetimes_at_the_end_of_the_calendar_overflow_instead_of_failing() -> None:
    expr = compile_expression('datetime("0001-01-01T01:00:00+14:00") == datetime("2026-01-01")')
    with pytest.raises(DslEvalError) as info:
        expr({})
    assert info.value.code == "overflow"
    assert "outside the supported range" in info.value.message


@pytest.mark.parametrize(
    "source",
    [
        "sum(l.qty * l.price for l in order.lines)",
        "sum(l.qty * l.qty for l in order.lines)",
        "sum(sum(m.qty for m in order.lines) for l in order.lines)",
        "count(l for l in order.lines if l.sku in order.tags)",
        'count(t for t in order.tags if contains(order.tags, t + "x"))',
        "count(distinct(list(upper(t) for t in order.tags)))",
    ],
)
def test_bounds_keep_the_fast_path(source: str) -> None:
    """The checks live in the compiled fast path: well-shaped data never falls back."""
    expr = compile_expression(source, SCHEMA)

    def no_fallback(exc: Exception, ctx: Any, now: Any) -> Any:
        raise AssertionError(f"fell back to the checked path: {exc!r}")

    expr.__call__.__globals__["recover_"] = no_fallback
    expr(sample_context())
