"""Decision tables: unary tests, hit policies, errors located at the cell."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from rule_dsl import DecisionTable, DslError, DslEvalError, DslSyntaxError, DslTypeError

from .schemas import SCHEMA, sample_context


def table(policy: str, rows: list[tuple[list[str], list[str]]], **extra: Any) -> dict[str, Any]:
    outputs = extra.pop("outputs", [{"name": "warehouse", "type": "string"}])
    return {
        "hit_policy": policy,
        "inputs": [
            {"name": "region", "expression": "order.address.province"},
            {"name": "amount", "expression": "order.amount"},
        ],
        "outputs": outputs,
        "rules": [
            {"inputs": i, "outputs": o, "description": f"row {n}"} for n, (i, o) in enumerate(rows)
        ],
        **extra,
    }


ROUTING = [
    (['"广东", "广西"', "> 5000"], ['"GZ-BIG"']),
    (['"广东"', "[1000..5000]"], ['"GZ-01"']),
    (['not("广东", "广西")', "-"], ['"SH-01"']),
    (["-", "< 1000"], ['"LOCAL"']),
]


def ctx(province: str | None, amount: Any) -> dict[str, Any]:
    return sample_context(address={"province": province}, amount=amount)


@pytest.mark.parametrize(
    ("province", "amount", "row", "warehouse"),
    [
        ("广东", Decimal(6000), 0, "GZ-BIG"),
        ("广西", 5000.01, 0, "GZ-BIG"),
        ("广东", 5000, 1, "GZ-01"),
        ("广东", 1000, 1, "GZ-01"),
        ("上海", 1, 2, "SH-01"),
        (None, 1, 2, "SH-01"),
        ("广西", 999, 3, "LOCAL"),
    ],
)
def test_first_hit(province: str | None, amount: Any, row: int, warehouse: str) -> None:
    t = DecisionTable.from_dict(table("first", ROUTING), SCHEMA)
    result = t.evaluate(ctx(province, amount))
    assert result.matched == (row,)
    assert result.outputs == {"warehouse": warehouse}
    assert result.value == warehouse


def test_first_hit_without_match_and_with_default() -> None:
    t = DecisionTable.from_dict(table("first", ROUTING[:2]), SCHEMA)
    none = t.evaluate(ctx("广西", 100))
    assert (none.matched, none.outputs, none.value) == ((), None, None)
    data = table("first", ROUTING[:2])
    data["outputs"][0]["default"] = '"MAIN"'
    fallback = DecisionTable.from_dict(data, SCHEMA).evaluate(ctx("广西", 100))
    assert (fallback.matched, fallback.value) == ((), "MAIN")


def test_results_cannot_be_corrupted_by_callers() -> None:
    t = DecisionTable.from_dict(table("first", ROUTING), SCHEMA)
    first = t.evaluate(ctx("广东", 6000))
    first.outputs["warehouse"] = "tampered"  # type: ignore[index]
    assert t.evaluate(ctx("广东", 6000)).value == "GZ-BIG"
    assert t.evaluate(ctx("广东", 6000)).outputs == {"warehouse": "GZ-BIG"}


def test_unique_policy_raises_on_two_matches() -> None:
    t = DecisionTable.from_dict(table("unique", ROUTING), SCHEMA)
    assert t.evaluate(ctx("广东", 3000)).value == "GZ-01"
    with pytest.raises(DslEvalError) as info:
        t.evaluate(ctx("上海", 500))  # rows 3 and 4
    assert info.value.code == "unique_violation"
    assert "rows 3, 4" in info.value.message
    assert "第 3、4 行同时匹配" in info.value.message_zh
    assert info.value.location == {"part": "rows", "rows": [2, 3]}


def test_priority_policy_picks_highest_ranked_output() -> None:
    outputs = [{"name": "warehouse", "type": "string", "priorities": ["LOCAL", "SH-01", "GZ-01"]}]
    t = DecisionTable.from_dict(table("priority", ROUTING, outputs=outputs), SCHEMA)
    result = t.evaluate(ctx("上海", 500))  # rows 3 (SH-01) and 4 (LOCAL) match
    assert (result.matched, result.value) == ((3,), "LOCAL")
    unranked = t.evaluate(ctx("广东", 9000))  # only GZ-BIG, which is not ranked
    assert unranked.value == "GZ-BIG"


@pytest.mark.parametrize(("aggregation", "expected"), [(None, ["SH", "LOCAL"]), ("count", 2)])
def test_collect(aggregation: str | None, expected: Any) -> None:
    rows = [(['not("广东")', "-"], ['"SH"']), (["-", "< 1000"], ['"LOCAL"'])]
    data = table("collect", rows, aggregation=aggregation)
    result = DecisionTable.from_dict(data, SCHEMA).evaluate(ctx("上海", 10))
    assert result.matched == (0, 1)
    assert result.value == expected


@pytest.mark.parametrize(
    ("aggregation", "expected"), [("sum", Decimal("3.5")), ("min", 1), ("max", Decimal("2.5"))]
)
def test_collect_aggregations(aggregation: str, expected: Any) -> None:
    rows = [(["-", "> 0"], ["1"]), (["-", "> 10"], ["2.5"]), (['"北京"', "-"], ["100"])]
    outputs = [{"name": "fee", "type": "number"}]
    data = table("collect", rows, aggregation=aggregation, outputs=outputs)
    result = DecisionTable.from_dict(data, SCHEMA).evaluate(ctx("广东", 50))
    assert result.outputs == {"fee": expected}
    assert result.value == expected


def test_collect_without_matches() -> None:
    rows = [(['"北京"', "-"], ["1"])]
    outputs = [{"name": "fee", "type": "number"}]
    assert (
        DecisionTable.from_dict(table("collect", rows, outputs=outputs), SCHEMA)
        .evaluate(ctx("广东", 1))
        .outputs
        == []
    )
    assert (
        DecisionTable.from_dict(table("collect", rows, outputs=outputs, aggregation="sum"), SCHEMA)
        .evaluate(ctx("广东", 1))
        .value
        == 0
    )


def test_rule_order_keeps_rows_and_multiple_outputs() -> None:
    outputs = [{"name": "warehouse", "type": "string"}, {"name": "fee", "type": "number"}]
    rows = [(["-", "> 100"], ['"A"', "order.amount * 0.01"]), (["-", "> 10"], ['"B"', "1"])]
    result = DecisionTable.from_dict(table("rule order", rows, outputs=outputs), SCHEMA).evaluate(
        ctx("广东", Decimal(500))
    )
    assert result.matched == (0, 1)
    assert result.outputs == [
        {"warehouse": "A", "fee": Decimal("5.00")},
        {"warehouse": "B", "fee": 1},
    ]
    assert result.value == result.outputs


def test_cells_with_null_dates_and_expressions() -> None:
    data = {
        "hit_policy": "first",
        "inputs": [
            {"name": "promised", "expression": "order.promised_on"},
            {"name": "tier", "expression": "customer.tier"},
        ],
        "outputs": [{"name": "lane", "type": "string"}],
        "rules": [
            {"inputs": ["null", "-"], "outputs": ['"no-date"']},
            {"inputs": ['< date("2026-02-01")', "-"], "outputs": ['"late"']},
            {
                "inputs": [
                    "-",
                    'upper("gold")',
                ],
                "outputs": ['"never"'],
            },
            {"inputs": ["-", "customer.tier"], "outputs": ['"tier:" + customer.tier']},
        ],
    }
    t = DecisionTable.from_dict(data, SCHEMA)
    assert t.evaluate(sample_context(promised_on=None)).value == "no-date"
    assert t.evaluate(sample_context(promised_on="2026-01-15")).value == "late"
    assert t.evaluate(sample_context()).value == "tier:gold"


def test_to_dict_round_trips() -> None:
    data = table("first", ROUTING)
    t = DecisionTable.from_dict(data, SCHEMA)
    again = DecisionTable.from_dict(t.to_dict(), SCHEMA)
    assert again.to_dict() == t.to_dict()
    assert t.to_dict()["rules"][0]["description"] == "row 0"
    assert again.evaluate(ctx("广东", 6000)) == t.evaluate(ctx("广东", 6000))


@pytest.mark.parametrize(
    ("rows", "cls", "code", "location", "column"),
    [
        (
            [(['"广东"', "> 5000 +"], ['"A"'])],
            DslSyntaxError,
            "unexpected_end",
            {"part": "input", "row": 0, "column": 1, "name": "amount"},
            9,
        ),
        (
            [(['"广东"', '> "5000"'], ['"A"'])],
            DslTypeError,
            "type_mismatch",
            {"part": "input", "row": 0, "column": 1, "name": "amount"},
            1,
        ),
        (
            [(["-", "-"], ['"A"']), (["5", "-"], ['"B"'])],
            DslTypeError,
            "type_mismatch",
            {"part": "input", "row": 1, "column": 0, "name": "region"},
            1,
        ),
        (
            [(["-", "-"], ["order.amont"])],
            DslTypeError,
            "unknown_field",
            {"part": "output", "row": 0, "column": 0, "name": "warehouse"},
            7,
        ),
        (
            [(["-", "-"], ["5"])],
            DslTypeError,
            "expected_type",
            {"part": "output", "row": 0, "column": 0, "name": "warehouse"},
            1,
        ),
    ],
)
def test_cell_errors_carry_row_and_column(
    rows: list[Any], cls: type, code: str, location: dict[str, Any], column: int
) -> None:
    with pytest.raises(cls) as info:
        DecisionTable.from_dict(table("first", rows), SCHEMA)
    err = info.value
    assert (err.code, err.location, err.line, err.column) == (code, location, 1, column)
    assert f"row {location['row'] + 1}" in err.message
    assert f"第 {location['row'] + 1} 行" in err.message_zh
    assert err.to_dict()["location"] == location


def test_input_expression_error() -> None:
    data = table("first", ROUTING)
    data["inputs"][1]["expression"] = "order.amout"
    with pytest.raises(DslTypeError) as info:
        DecisionTable.from_dict(data, SCHEMA)
    assert info.value.location == {"part": "input", "column": 1, "name": "amount"}
    assert info.value.hint == "did you mean `order.amount`?"


@pytest.mark.parametrize(
    ("change", "fragment", "fragment_zh"),
    [
        ({"hit_policy": "sometimes"}, "unknown hit policy", "未知的命中策略"),
        ({"aggregation": "sum"}, "aggregation", "需要命中策略 collect"),
        ({"rules": [{"inputs": ["-"], "outputs": ['"A"']}]}, "needs 2 input cells", "第 1 行需要 2 个输入单元格"),
        ({"rules": [{"inputs": ["-", "-"], "outputs": []}]}, "needs 1 output cells", "需要 1 个输出单元格"),
        ({"outputs": []}, "at least one output", "至少一个输出"),
        ({"hit_policy": "priority"}, "priorities", "`priorities`"),
        ({"rules": "nope"}, "rules must be a list", "rules 必须是列表"),
        ({"inputs": ["x"]}, "input 1 must be an object", "输入 1 必须是对象"),
        ({"outputs": [{}]}, "output 1 needs a name", "输出 1 缺少名称"),
    ],
)  # fmt: skip
def test_structure_errors(change: dict[str, Any], fragment: str, fragment_zh: str) -> None:
    data = {**table("first", ROUTING), **change}
    with pytest.raises(DslError) as info:
        DecisionTable.from_dict(data, SCHEMA)
    assert info.value.code == "bad_table"
    assert fragment in info.value.message
    assert info.value.message_zh.startswith("决策表无效：")
    assert fragment_zh in info.value.message_zh
    # no English prose leaks into the Chinese message: only quoted names and DSL keywords
    keywords = (
        r"`[^`]*`|'[^']*'|\b(rules|collect|sum|count|min|max|priority|first|unique|rule_order)\b"
    )
    assert not re.search("[A-Za-z]{3,}", re.sub(keywords, "", info.value.message_zh))


def test_evaluation_error_names_the_cell() -> None:
    data = {
        "hit_policy": "first",
        "inputs": [{"name": "x", "expression": "order.custom.floor"}],
        "outputs": [{"name": "y"}],
        "rules": [{"inputs": ["> 1"], "outputs": ["100 / (order.custom.floor - 3)"]}],
    }
    t = DecisionTable.from_dict(data, SCHEMA)
    with pytest.raises(DslEvalError) as info:
        t.evaluate(sample_context())
    assert info.value.code == "division_by_zero"
    assert info.value.location == {"part": "output", "row": 0}
    assert info.value.excerpt.startswith("100 / (order.custom.floor - 3)")
