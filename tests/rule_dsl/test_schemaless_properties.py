"""Property tests: without a schema, the fast code inlines operators behind a run-time class
test; on any data it must answer exactly what the checked code answers, value for value
(down to the digits of a decimal) and error for error (code, place and message)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rule_dsl import DslError, DslEvalError, compile_expression

from .schemas import SCHEMA

NOW = datetime(2026, 2, 1, tzinfo=UTC)
BIG = 9 * 10**999  # a whole number of the largest size a context may hold: sums overflow

# ------------------------------------------------------------------ random sources

TOP_PATHS = ["order.amount", "order.n", "order.tier", "customer.tier", "customer.limit",
             "order.lines", "order.when", "order.custom.x"]  # fmt: skip
LINE_PATHS = ["l.qty", "l.price", "l.category", "l.x"]
NUMBERS = ["0", "5", "5000", "1.5", "0.1", "100000", "2.50"]
TEXTS = ['"gold"', '"hazmat"', '""', '"2026-01-01"', '"2026-01-31T10:00:00+08:00"', '"5"']
OTHERS = ["null", "true", "false", "48h", "[1, 2]", '["gold", "vip"]']


def values(paths: list[str]) -> Any:
    """Source of a value expression reading ``paths``, of any type."""
    leaves = st.sampled_from(paths + NUMBERS + TEXTS + OTHERS)
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            inner.map(lambda v: f"(-{v})"),
            st.tuples(inner, inner).map(lambda t: f"coalesce({t[0]}, {t[1]})"),
        ),
        max_leaves=4,
    )


def conditions(paths: list[str]) -> Any:
    """Source of a condition over ``paths``: comparisons, membership, ranges, null tests."""
    value = values(paths)
    number_list = st.lists(st.sampled_from(NUMBERS), min_size=1, max_size=3)
    text_list = st.lists(st.sampled_from(TEXTS), min_size=1, max_size=3)
    ops = ["<", "<=", ">", ">=", "==", "!="]
    return st.one_of(
        st.tuples(value, st.sampled_from(ops), value).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(value, st.sampled_from(["in", "not in"]), st.one_of(number_list, text_list))
        .map(lambda t: f"({t[0]} {t[1]} [{', '.join(t[2])}])"),
        st.tuples(value, st.sampled_from(["[", "("]), st.sampled_from(["0", "1.5", "-5"]),
                  st.sampled_from(["10", "5000", "99.99"]), st.sampled_from(["]", ")"]))
        .map(lambda t: f"({t[0]} in {t[1]}{t[2]}..{t[3]}{t[4]})"),
        value.map(lambda v: f"({v} is null)"),
        st.sampled_from(paths),
    )  # fmt: skip


line_conditions = conditions(LINE_PATHS)
comprehensions = st.one_of(
    values(LINE_PATHS).map(lambda v: f"sum({v} for l in order.lines)"),
    line_conditions.map(lambda c: f"any({c} for l in order.lines)"),
    line_conditions.map(lambda c: f"count(l for l in order.lines if {c})"),
)
top = st.one_of(values(TOP_PATHS), comprehensions)
top_conditions = st.one_of(
    conditions(TOP_PATHS),
    st.tuples(top, st.sampled_from(["<", ">=", "==", "!="]), top).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    ),
)
sources = st.one_of(
    top,
    st.recursive(
        top_conditions,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            inner.map(lambda c: f"(not {c})"),
            st.tuples(inner, top, top).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})"),
        ),
        max_leaves=3,
    ),
)

# ------------------------------------------------------------------ random data

LONG = Decimal("1.234567890123456789012345678901")  # more digits than a decimal context keeps
# Values at the edges of the inlined forms: each class the class tests tell apart, the
# digits a sum must keep, whole numbers whose sums overflow, texts dates are read from.
EDGES = [None, True, False, 0, 5, 5000, BIG, -BIG, 2**53, 0.1, 1.5, 5000.0, -0.0,
         float("nan"), float("inf"), Decimal("-0.00"), Decimal("1E+5"), Decimal("5.000"), LONG,
         "gold", "hazmat", "", "5", "2026-01-01", "2026-01-31T10:00:00+08:00",
         date(2026, 1, 1), datetime(2026, 1, 31, 2, tzinfo=UTC), timedelta(hours=48),
         [], [1, "gold"], {"x": 1}]  # fmt: skip
decimals = st.decimals(
    allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**6
)
scalars = st.one_of(
    st.sampled_from(EDGES),
    st.integers(-10, 6000),
    st.floats(allow_nan=True, allow_infinity=True),
    decimals,
    st.text(max_size=3),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["qty", "price", "category", "x"]), inner, max_size=3),
    ),
    max_leaves=6,
)
line = st.fixed_dictionaries(
    {"qty": st.one_of(st.integers(0, 50), scalars), "price": st.one_of(decimals, scalars)},
    optional={"category": st.one_of(st.sampled_from(["hazmat", "food"]), scalars), "x": scalars},
)
orders = st.fixed_dictionaries(
    {
        "amount": st.one_of(decimals, scalars),
        "n": scalars,
        "tier": scalars,
        "when": scalars,
        "lines": st.one_of(st.lists(line, max_size=3), st.lists(line, max_size=1), json_values),
    },
    optional={"custom": st.one_of(st.fixed_dictionaries({"x": scalars}), json_values)},
)
contexts = st.fixed_dictionaries(
    {
        "order": st.one_of(orders, json_values),
        "customer": st.one_of(st.fixed_dictionaries({"tier": scalars, "limit": scalars}), scalars),
    }
)


def outcome(run: Any) -> tuple[Any, ...]:
    """What a caller sees: the value (its repr, so 1E+5 and 100000 differ) or the error."""
    try:
        value = run()
    except DslError as err:
        return ("error", err.code, err.line, err.column, err.message, err.message_zh)
    return ("value", type(value).__name__, repr(value))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources, st.lists(contexts, min_size=1, max_size=4))
def test_schemaless_fast_code_answers_what_checked_code_answers(
    source: str, ctxs: list[Any]
) -> None:
    try:
        expr = compile_expression(source)
    except DslError:
        return
    # the entry point's own recovery: run the checked twin, report its errors as callers see
    checked = expr._entry.__globals__["recover_"]
    for ctx in ctxs:
        fast = outcome(lambda c=ctx: expr(c, now=NOW))
        slow = outcome(lambda c=ctx: checked(RuntimeError("run the checked code"), c, NOW))
        assert fast[:2] != ("error", "eval_failed"), (source, ctx, fast)
        assert fast == slow, (source, ctx, fast, slow)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conditions(TOP_PATHS), st.lists(contexts, min_size=1, max_size=4))
def test_schemaless_conditions_answer_what_checked_code_answers(
    source: str, ctxs: list[Any]
) -> None:
    """As conditions (``expect="boolean"``: a null result is false)."""
    try:
        expr = compile_expression(source, expect="boolean")
    except DslError:
        return
    checked = expr._entry.__globals__["recover_"]
    for ctx in ctxs:
        fast = outcome(lambda c=ctx: expr(c, now=NOW))
        slow = outcome(lambda c=ctx: checked(RuntimeError("run the checked code"), c, NOW))
        assert fast == slow, (source, ctx, fast, slow)


# Each form the fast code inlines, with operands whose type only the data tells.
SHAPES = [
    'order.amount > 5000 and customer.tier in ["gold", "platinum"]',
    "sum(l.qty * l.price for l in order.lines) > customer.limit - order.n"
    ' or any(l.category == "hazmat" for l in order.lines)',
    "sum(l.price for l in order.lines)",
    "sum(l.qty + l.price for l in order.lines if l.qty > 1)",
    "sum(l.qty for l in order.lines) - order.n",
    "-sum(l.price for l in order.lines)",
    "order.amount + order.n",
    "order.amount * 2 - 0.1",
    "-order.amount",
    "order.amount == 5",
    "order.amount != order.n",
    "order.amount < order.n",
    "order.amount >= 1.5",
    "5000 <= order.amount",
    'order.tier == "gold"',
    'order.tier != "hazmat"',
    'order.when == "2026-01-31T10:00:00+08:00"',
    'order.when == "2026-01-01"',
    'order.tier < "m"',
    "order.tier == order.n",
    "order.amount in [1, 2.5, 5000]",
    'order.tier in ["gold", "2026-01-01"]',
    'order.tier not in ["gold", "vip"]',
    "order.amount in [0..5000)",
    "order.n in (1.5..99.99]",
    "order.when + 48h",
    'order.tier + "x"',
    "[l.qty + l.x for l in order.lines]",
]
COMPILED_SHAPES = [compile_expression(s) for s in SHAPES]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contexts)
def test_each_inlined_form_answers_what_checked_code_answers(ctx: Any) -> None:
    for expr in COMPILED_SHAPES:
        checked = expr._entry.__globals__["recover_"]
        fast = outcome(lambda e=expr: e(ctx, now=NOW))
        slow = outcome(lambda c=checked: c(RuntimeError("run the checked code"), ctx, NOW))
        assert fast[:2] != ("error", "eval_failed"), (expr.source, ctx, fast)
        assert fast == slow, (expr.source, ctx, fast, slow)


def test_schemaless_code_is_inlined() -> None:
    """Without a schema the fast code still inlines: the generic helpers are its fallback."""
    expr = compile_expression(
        "sum(l.qty * l.price for l in order.lines) > customer.limit - 1"
        ' and order.tier in ["gold", "vip"] and order.amount in [0..5000)',
        expect="boolean",
    )
    fast = expr._unit.functions[0]
    assert "sum_(" in fast and "agg_sum" not in fast
    for inlined in (" * ", " - ", " > ", " in k", " <= "):
        assert inlined in fast, (inlined, fast)
    ctx = {
        "order": {"tier": "gold", "amount": Decimal("10"), "lines": [{"qty": 2, "price": 3}]},
        "customer": {"limit": 6},
    }
    assert expr(ctx) is True
    ctx["order"]["lines"].append({"qty": None, "price": Decimal("1")})  # null: helper path
    assert expr(ctx) is True
    ctx["order"]["amount"] = "10"  # a text ordered against numbers: the checked error
    with pytest.raises(DslEvalError) as caught:
        expr(ctx)
    assert (caught.value.code, caught.value.line, caught.value.column) == ("eval_type", 1, 118)


@pytest.mark.parametrize(
    ("prices", "want"),
    [
        ([Decimal("-0.00")], "Decimal('-0.00')"),
        ([Decimal("1E+5")], "Decimal('1E+5')"),
        ([LONG], repr(LONG)),
        ([None, Decimal("2.50"), None], "Decimal('2.50')"),
        ([], "0"),
        ([None], "0"),
    ],
)
@pytest.mark.parametrize("schema", [None, SCHEMA], ids=["no schema", "schema"])
def test_fast_sum_keeps_what_the_checked_sum_keeps(
    prices: list[Any], want: str, schema: Any
) -> None:
    """A lone value is the sum as it is: not rounded, not re-signed, not re-scaled."""
    expr = compile_expression("sum(l.price for l in order.lines)", schema)
    assert repr(expr({"order": {"lines": [{"qty": 1, "price": p} for p in prices]}})) == want


@pytest.mark.parametrize(
    ("source", "lines", "column"),
    [
        # BIG + BIG passes MAX_DIGITS even though the whole sum, BIG + BIG - BIG, does not
        ("sum(l.qty for l in order.lines)", [(BIG, 1), (BIG, 1), (-BIG, 1)], 1),
        # a product past MAX_DIGITS is reported where it is made, even when it is alone
        ("sum(l.qty * l.price for l in order.lines)", [(BIG, BIG)], 5),
        # ... and even when the sum it joins is back within bounds (-BIG + 1.5e1000)
        ("sum(l.qty * l.price for l in order.lines)", [(-BIG, 1), (10**500, 15 * 10**499)], 5),
    ],
)
@pytest.mark.parametrize("schema", [None, SCHEMA], ids=["no schema", "schema"])
def test_fast_sum_reports_whole_numbers_past_the_digit_limit(
    source: str, lines: list[tuple[int, int]], column: int, schema: Any
) -> None:
    expr = compile_expression(source, schema)
    with pytest.raises(DslEvalError) as caught:
        expr({"order": {"lines": [{"qty": q, "price": p} for q, p in lines]}})
    assert (caught.value.code, caught.value.column) == ("overflow", column)
