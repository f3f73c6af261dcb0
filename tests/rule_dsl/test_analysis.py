"""Decision-table analysis: overlaps, gaps and unreachable rows, each with an example."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from rule_dsl import DecisionTable, Finding

from .schemas import SCHEMA, sample_context


def make(
    policy: str, rows: list[list[str]], inputs: list[tuple[str, str]] | None = None
) -> DecisionTable:
    inputs = inputs or [("region", "order.address.province"), ("amount", "order.amount")]
    data = {
        "hit_policy": policy,
        "inputs": [{"name": n, "expression": e} for n, e in inputs],
        "outputs": [{"name": "out", "type": "string"}],
        "rules": [{"inputs": r[:-1], "outputs": [r[-1]]} for r in rows],
    }
    return DecisionTable.from_dict(data, SCHEMA)


def kinds(findings: list[Finding]) -> list[tuple[str, tuple[int, ...]]]:
    return [(f.kind, f.rows) for f in findings]


def context_for(example: dict[str, Any]) -> dict[str, Any]:
    return sample_context(address={"province": example.get("region")}, amount=example.get("amount"))


COMPLETE = [
    ['"广东"', "< 1000", '"A"'],
    ['"广东"', ">= 1000", '"B"'],
    ['not("广东")', "-", '"C"'],
]


def test_complete_disjoint_table_has_no_findings() -> None:
    assert make("unique", COMPLETE).analyze() == []


def test_overlap_with_example_that_really_matches_both_rows() -> None:
    table = make(
        "unique",
        [['"广东", "广西"', "> 5000", '"A"'], ['"广东"', "[1000..6000]", '"B"'], ["-", "-", '"C"']],
    )
    overlaps = [f for f in table.analyze() if f.kind == "overlap"]
    assert [f.rows for f in overlaps] == [(0, 1), (0, 2), (1, 2)]
    first = overlaps[0]
    assert first.example["region"] == "广东"
    assert Decimal(5000) < first.example["amount"] <= Decimal(6000)
    assert "rows 1 and 2 overlap" in first.message
    assert "第 1 行与第 2 行重叠" in first.message_zh
    # the example input really hits both rows: the unique table refuses it
    collect = make(
        "collect", [['"广东", "广西"', "> 5000", '"A"'], ['"广东"', "[1000..6000]", '"B"']]
    )
    assert collect.evaluate(context_for(first.example)).matched == (0, 1)


def test_first_policy_reports_only_overlaps_with_different_outputs() -> None:
    table = make(
        "first",
        [
            ['"广东"', "> 10", '"A"'],
            ['"广东"', "> 20", '"A"'],
            ['"广东"', "> 30", '"B"'],
            ["-", "-", '"Z"'],
        ],
    )
    overlaps = [f.rows for f in table.analyze() if f.kind == "overlap"]
    assert (0, 1) not in overlaps
    assert (0, 2) in overlaps


def test_collect_tables_overlap_by_design() -> None:
    table = make("collect", [["-", "> 10", '"A"'], ["-", "> 20", '"B"']])
    assert [f for f in table.analyze() if f.kind == "overlap"] == []


def test_gaps_name_the_uncovered_inputs_with_a_working_example() -> None:
    table = make(
        "first",
        [['"广东"', "[0..1000)", '"A"'], ['"广东"', "[2000..5000]", '"B"'], ['"广西"', "-", '"C"']],
    )
    gaps = [f for f in table.analyze() if f.kind == "gap"]
    assert gaps, "expected uncovered inputs"
    described = " | ".join(g.message for g in gaps)
    assert "[1000..2000)" in described
    assert "> 5000" in described
    assert "< 0" in described
    assert any("any other value" in g.message for g in gaps)
    for gap in gaps:
        assert gap.rows == ()
        assert "没有任何行匹配" in gap.message_zh
        if gap.example.get("region") != "<other>":
            assert table.evaluate(context_for(gap.example)).matched == ()


def test_integer_columns_have_no_gap_between_adjacent_integers() -> None:
    table = make(
        "first",
        [["[0..5]", '"A"'], ["[6..10]", '"B"'], ["< 0", '"C"'], ["> 10", '"D"']],
        inputs=[("floor", "len(order.lines)")],
    )
    assert [f for f in table.analyze() if f.kind == "gap"] == []
    decimal = make(
        "first",
        [["[0..5]", '"A"'], ["[6..10]", '"B"'], ["< 0", '"C"'], ["> 10", '"D"']],
        inputs=[("amount", "order.amount")],
    )
    gaps = [f for f in decimal.analyze() if f.kind == "gap"]
    assert [g.example for g in gaps] == [{"amount": Decimal("5.5")}]


def test_enum_and_boolean_columns_use_their_own_domain() -> None:
    table = make(
        "first",
        [
            ['"taobao", "douyin"', "true", '"A"'],
            ['"shopify", "b2b"', "-", '"B"'],
            ["-", "false", '"C"'],
        ],
        inputs=[("channel", "order.channel"), ("urgent", "order.urgent")],
    )
    assert [f for f in table.analyze() if f.kind == "gap"] == []
    missing = make(
        "first",
        [['"taobao", "douyin"', "true", '"A"'], ['"shopify"', "-", '"B"']],
        inputs=[("channel", "order.channel"), ("urgent", "order.urgent")],
    )
    examples = [f.example for f in missing.analyze() if f.kind == "gap"]
    assert {"channel": "taobao", "urgent": False} in examples
    assert {"channel": "b2b", "urgent": True} in examples


def test_unreachable_row_in_first_policy() -> None:
    table = make("first", [["-", "> 1000", '"A"'], ['"广东"', "> 5000", '"B"'], ["-", "-", '"C"']])
    unreachable = [f for f in table.analyze() if f.kind == "unreachable"]
    assert [f.rows for f in unreachable] == [(1, 0)]
    assert "row 2 is unreachable: row 1 matches every input it matches" in unreachable[0].message
    assert "第 2 行永远不会命中" in unreachable[0].message_zh
    assert table.evaluate(context_for(unreachable[0].example)).matched == (0,)


def test_row_covered_by_several_earlier_rows() -> None:
    table = make("first", [["-", "< 100", '"A"'], ["-", ">= 100", '"B"'], ['"广东"', "-", '"C"']])
    found = [f for f in table.analyze() if f.kind == "unreachable"]
    assert [f.rows for f in found] == [(2, 0, 1)]


def test_row_that_matches_nothing() -> None:
    table = make("collect", [["-", "[5000..1000]", '"A"'], ["-", "-", '"B"']])
    assert kinds(table.analyze()) == [("unreachable", (0,))]
    assert "matches no input" in table.analyze()[0].message


def test_null_cells_join_the_domain() -> None:
    # not("广东") also matches a missing region, so it overlaps the null row
    table = make(
        "first", [["null", "-", '"none"'], ['"广东"', "-", '"A"'], ['not("广东")', "-", '"B"']]
    )
    overlap = table.analyze()
    assert kinds(overlap) == [("overlap", (0, 2))]
    assert overlap[0].example == {"region": None}
    assert "region = null" in overlap[0].message
    exact = make(
        "first",
        [["null", "-", '"none"'], ['"广东"', "-", '"A"'], ['not("广东", null)', "-", '"B"']],
    )
    assert exact.analyze() == []


def test_cells_with_expressions_never_cause_false_alarms() -> None:
    table = make(
        "first", [["-", "> customer.credit_limit", '"A"'], ["-", "<= customer.credit_limit", '"B"']]
    )
    findings = table.analyze()
    assert [f for f in findings if f.kind in ("overlap", "unreachable")] == []


def test_dates_in_cells() -> None:
    table = make(
        "first",
        [['< date("2026-02-01")', '"late"'], ['>= date("2026-02-03")', '"ok"']],
        inputs=[("promised", "order.promised_on")],
    )
    gaps = [f for f in table.analyze() if f.kind == "gap"]
    assert len(gaps) == 1
    assert str(gaps[0].example["promised"]) in ("2026-02-01", "2026-02-02")
    assert gaps[0].to_dict()["example"]["promised"] in ("2026-02-01", "2026-02-02")


@pytest.mark.parametrize("policy", ["first", "unique", "priority", "collect", "rule_order"])
def test_analysis_runs_for_every_policy(policy: str) -> None:
    data = make("first", COMPLETE).to_dict()
    data["hit_policy"] = policy
    if policy == "priority":
        data["outputs"][0]["priorities"] = ["A", "B", "C"]
    findings = DecisionTable.from_dict(data, SCHEMA).analyze()
    assert all(f.kind in ("overlap", "gap", "unreachable") for f in findings)
    assert [f for f in findings if f.kind == "gap"] == []


def test_defaults_cover_gaps_and_long_value_lists_read_as_not() -> None:
    rows = [['"taobao", "douyin", "shopify"', "-", '"A"']]
    table = make("first", rows, inputs=[("channel", "order.channel"), ("urgent", "order.urgent")])
    gaps = [f for f in table.analyze() if f.kind == "gap"]
    assert [g.example["channel"] for g in gaps] == ["b2b"]
    assert 'channel: "b2b"' in gaps[0].message
    wide = make(
        "first",
        [['"taobao"', "-", '"A"']],
        inputs=[("channel", "order.channel"), ("urgent", "order.urgent")],
    )
    assert 'channel: not("taobao")' in [f for f in wide.analyze() if f.kind == "gap"][0].message
    data = table.to_dict()
    data["outputs"][0]["default"] = '"MAIN"'
    assert DecisionTable.from_dict(data, SCHEMA).analyze() == []
