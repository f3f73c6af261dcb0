"""Null equals only null: `==` and `!=` against a missing or null value, for every literal
type, in both operand orders, on the fast and the checked path, and in decision-table cells."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rule_dsl import DecisionTable, compile_expression
from rule_dsl.runtime import eq

from .schemas import SCHEMA
from .test_properties import checked_outcome, public_outcome

NOW = datetime(2026, 2, 1, tzinfo=UTC)
MISSING = object()  # the field is absent from the order

# literal source, the field of that type in SCHEMA (None: no typed field), values of the type
LITERALS: list[tuple[str, str | None, list[Any]]] = [
    ("true", "urgent", [True, False]),
    ("false", "urgent", [False, True]),
    ("5", "amount", [5, Decimal("5.00"), 7, 5.0]),
    ("2.5", "amount", [Decimal("2.5"), 2.5, 3]),
    ('"gold"', "review", ["gold", "silver", ""]),
    ('date("2026-02-03")', "promised_on", ["2026-02-03", "2026-02-04", date(2026, 2, 3)]),
    (
        'datetime("2026-01-30T09:00:00+08:00")',
        "created_at",
        ["2026-01-30T09:00:00+08:00", "2026-01-30T01:00:00Z", "2026-01-30T09:00:00Z"],
    ),
    ("48h", None, [timedelta(hours=48), timedelta(hours=1)]),
    ('["a", "b"]', "tags", [["a", "b"], ["a"], []]),
    ("null", "urgent", [True, "x"]),
]
OTHER_TYPES = [None, MISSING, True, False, 0, 5, Decimal("2.5"), "gold", "false", "", [], {}]


def _context(field: str, value: Any) -> dict[str, Any]:
    return {"order": {} if value is MISSING else {field: value}}


def _expected(literal: str, field: str, value: Any, op: str) -> bool:
    """The documented answer: null equals only null, otherwise value equality."""
    lit = compile_expression(literal)({})
    actual = None if value is MISSING else value
    if lit is None or actual is None:
        same = lit is None and actual is None
    else:
        same = eq(actual, lit)
    return same if op == "==" else not same


def _answers(source: str, ctx: dict[str, Any], typed: bool) -> list[Any]:
    """(fast, checked) outcomes: ("value", answer) or ("error", code)."""
    expr = compile_expression(source, SCHEMA if typed else None, expect="boolean")
    checked = expr._entry.__globals__["safe"]  # the checked twin (ADR 0001)
    fast = public_outcome(lambda: expr(ctx, now=NOW))
    slow = checked_outcome(lambda: bool(checked(ctx, NOW)))
    return [fast, slow]


cases = st.sampled_from(LITERALS).flatmap(
    lambda case: st.tuples(
        st.just(case),
        st.sampled_from([*case[2], *OTHER_TYPES]),
        st.sampled_from(["==", "!="]),
        st.booleans(),
    )
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases)
def test_equality_with_null_and_missing_is_symmetric_on_both_paths(case: Any) -> None:
    (literal, typed_field, own), value, op, literal_first = case
    field = typed_field or "custom"
    path = f"order.{field}" if typed_field else "order.custom.wait"
    ctx = (
        _context(field, value)
        if typed_field
        else {"order": {"custom": _context("wait", value)["order"]}}
    )
    source = f"{literal} {op} {path}" if literal_first else f"{path} {op} {literal}"
    want = ("value", _expected(literal, field, value, op))
    for typed in (True, False) if typed_field else (False,):
        fast, slow = _answers(source, ctx, typed)
        assert fast == slow, (source, value, typed)
        # a typed field holding another type may be refused (a located error); null,
        # missing and values of the literal's own type always have an answer
        if not typed or value in (None, MISSING) or value in own:
            assert fast == want, (source, value, typed)


@pytest.mark.parametrize("value", [MISSING, None])
@pytest.mark.parametrize(
    ("source", "want"),
    [
        ("order.urgent == false", False),
        ("false == order.urgent", False),
        ("order.urgent != false", True),
        ("false != order.urgent", True),
        ("order.urgent == true", False),
        ("order.urgent != true", True),
        ("order.urgent == null", True),
        ("null != order.urgent", False),
        ('order.review == "gold"', False),
        ('order.review != "gold"', True),
        ("order.amount == 0", False),
        ("0 != order.amount", True),
    ],
)
def test_documented_examples(source: str, want: bool, value: Any) -> None:
    field = source.split("order.")[1].split()[0]
    for typed in (True, False):
        assert _answers(source, _context(field, value), typed) == [("value", want)] * 2, source


# cell -> whether it matches a null or missing input
CELLS = [
    ("false", False),
    ("true", False),
    ("!= false", True),
    ("!= true", True),
    ("not(false)", True),
    ("not(true, false)", True),
    ("null", True),
    ("not(null)", False),
    ("false, null", True),
]
STRING_CELLS = [
    ('"gold"', False),
    ('!= "gold"', True),
    ('not("gold")', True),
    ('"gold", "b2b"', False),
]


@pytest.mark.parametrize("value", [MISSING, None])
@pytest.mark.parametrize(
    ("field", "cell", "matches"),
    [("urgent", c, m) for c, m in CELLS] + [("review", c, m) for c, m in STRING_CELLS],
)
def test_table_cells_against_a_null_input(field: str, cell: str, matches: bool, value: Any) -> None:
    data = {
        "hit_policy": "first",
        "inputs": [{"name": field, "expression": f"order.{field}"}],
        "outputs": [{"name": "hit"}],
        "rules": [
            {"inputs": [cell], "outputs": ['"cell"']},
            {"inputs": ["-"], "outputs": ['"default"']},
        ],
    }
    ctx = _context(field, value)
    for schema in (SCHEMA, None):
        table = DecisionTable.from_dict(data, schema)
        assert table.evaluate(ctx, now=NOW).value == ("cell" if matches else "default"), (
            cell,
            schema,
        )
