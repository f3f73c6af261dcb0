"""Every error: class, code, line, column and message in English and Chinese."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from rule_dsl import (
    DslError,
    DslEvalError,
    DslSyntaxError,
    DslTypeError,
    compile_expression,
)

from .schemas import SCHEMA, sample_context

# (source, class, code, line, column, English fragment, Chinese fragment, hint fragment)
COMPILE_ERRORS = [
    ("", DslSyntaxError, "empty", 1, 1, "empty", "为空", None),
    ("order.amount >", DslSyntaxError, "unexpected_end", 1, 15, "ends too early", "意外结束", None),
    (
        "order.amount = 5000",
        DslSyntaxError,
        "unexpected_token",
        1,
        14,
        "unexpected `=`",
        "不应出现 `=`",
        "`==`",
    ),
    (
        "order.amount > 5000 &&\n customer.tier",
        DslSyntaxError,
        "unexpected_character",
        1,
        21,
        "unexpected character",
        "无法识别的字符",
        "`and`",
    ),
    (
        "customer.tier == “gold”",
        DslSyntaxError,
        "unexpected_character",
        1,
        18,
        "unexpected character",
        "无法识别的字符",
        "double quotes",
    ),
    ('"bad \\q escape"', DslSyntaxError, "bad_escape", 1, 6, "escape", "转义", None),
    ("(1 + 2", DslSyntaxError, "unexpected_end", 1, 7, "expected `)`", "`)`", None),
    ("1 < 2 < 3", DslSyntaxError, "unexpected_token", 1, 7, "unexpected `<`", "`<`", None),
    (
        "order.amont > 5000",
        DslTypeError,
        "unknown_field",
        1,
        7,
        "unknown field `order.amont`",
        "未知字段 `order.amont`",
        "did you mean `order.amount`?",
    ),
    (
        "ordr.amount > 5000",
        DslTypeError,
        "unknown_field",
        1,
        1,
        "unknown field `ordr`",
        "未知字段",
        "`order`",
    ),
    (
        "订单.金 > 5000",
        DslTypeError,
        "unknown_field",
        1,
        4,
        "unknown field `order.金`",
        "未知字段",
        "`order.amount`",
    ),
    (
        'order.address.provnce == "广东"',
        DslTypeError,
        "unknown_field",
        1,
        15,
        "`order.address.provnce`",
        "未知字段",
        "`order.address.province`",
    ),
    (
        "sum(l.qtty for l in order.lines)",
        DslTypeError,
        "unknown_field",
        1,
        7,
        "`order.lines[].qtty`",
        "未知字段",
        "`order.lines[].qty`",
    ),
    (
        "customer.tier > 5",
        DslTypeError,
        "type_mismatch",
        1,
        1,
        "cannot apply `>` to string and integer",
        "不能对 文本 和 数字 使用 `>`",
        None,
    ),
    (
        'order.amount == "5000"',
        DslTypeError,
        "type_mismatch",
        1,
        1,
        "number and string",
        "数字 和 文本",
        None,
    ),
    ("order.amount + true", DslTypeError, "type_mismatch", 1, 1, "`+`", "布尔值", None),
    ('order.amount in ["a", "b"]', DslTypeError, "type_mismatch", 1, 1, "`in`", "`in`", None),
    (
        "order.amount.value",
        DslTypeError,
        "not_an_object",
        1,
        14,
        "no field `value`",
        "没有字段 `value`",
        None,
    ),
    (
        "sum(x for x in order.amount)",
        DslTypeError,
        "not_a_list",
        1,
        16,
        "expected a list",
        "应为列表",
        None,
    ),
    (
        "lenght(order.lines)",
        DslTypeError,
        "unknown_function",
        1,
        1,
        "unknown function `lenght`",
        "未知函数",
        "`len`",
    ),
    (
        "len(order.lines, 2)",
        DslTypeError,
        "wrong_arguments",
        1,
        1,
        "`len` takes 1 argument(s), got 2",
        "需要 1 个参数",
        None,
    ),
    (
        "upper(order.amount)",
        DslTypeError,
        "bad_operand",
        1,
        7,
        "`upper` needs string",
        "`upper` 需要",
        None,
    ),
    ("not order.amount", DslTypeError, "expected_type", 1, 5, "expected a boolean", "布尔值", None),
    (
        'date("2026-13-45")',
        DslTypeError,
        "bad_literal",
        1,
        6,
        "invalid date literal",
        "无效的 date",
        None,
    ),
    (
        'matches(order.external_id, "(a")',
        DslTypeError,
        "bad_pattern",
        1,
        28,
        "invalid regular expression",
        "正则表达式无效",
        None,
    ),
    (
        'today("Mars/Olympus")',
        DslTypeError,
        "bad_timezone",
        1,
        7,
        "unknown time zone",
        "未知时区",
        None,
    ),
    (
        "sum(order.tags)",
        DslTypeError,
        "bad_operand",
        1,
        1,
        "`sum` needs number",
        "`sum` 需要",
        None,
    ),
    ("-customer.tier", DslTypeError, "bad_operand", 1, 1, "`-` needs number", "需要", None),
    (
        "customer.tier == gold",
        DslTypeError,
        "unknown_field",
        1,
        18,
        "unknown field `gold`",
        "未知字段 `gold`",
        'put text in double quotes: "gold"',
    ),
]


@pytest.mark.parametrize(
    ("source", "cls", "code", "line", "column", "en", "zh", "hint"), COMPILE_ERRORS
)
def test_compile_error(
    source: str,
    cls: type[DslError],
    code: str,
    line: int,
    column: int,
    en: str,
    zh: str,
    hint: str | None,
) -> None:
    with pytest.raises(DslError) as info:
        compile_expression(source, SCHEMA)
    err = info.value
    assert type(err) is cls
    assert (err.code, err.line, err.column) == (code, line, column)
    assert en in err.message
    assert zh in err.message_zh
    if hint is None:
        assert err.hint is None
    else:
        assert hint in err.hint
    assert err.excerpt.splitlines()[0] == source.splitlines()[line - 1] if source else True
    assert json.loads(json.dumps(err.to_dict()))["code"] == code


def test_caret_sits_under_the_unknown_name() -> None:
    with pytest.raises(DslTypeError) as info:
        compile_expression("order.amount > 5000 and customer.teir == 'gold'", SCHEMA)
    err = info.value
    line, caret = err.excerpt.splitlines()
    assert caret == " " * 33 + "^" * 4
    assert line[33:37] == "teir"
    assert err.hint == "did you mean `customer.tier`?"
    assert err.hint_zh == "您是不是想写 `customer.tier`？"
    assert "did you mean `customer.tier`?" in str(err)


def test_caret_accounts_for_wide_characters() -> None:
    with pytest.raises(DslTypeError) as info:
        compile_expression("订单.金 > 5000", SCHEMA)
    line, caret = info.value.excerpt.splitlines()
    assert caret == "     ^^"  # 订单. is five columns wide in a terminal


def test_error_on_second_line() -> None:
    with pytest.raises(DslTypeError) as info:
        compile_expression("order.amount > 5000\n  and customer.tierr == 'gold'", SCHEMA)
    assert (info.value.line, info.value.column, info.value.end_column) == (2, 16, 21)


def test_expect_boolean_rejects_a_number() -> None:
    with pytest.raises(DslTypeError) as info:
        compile_expression("order.amount * 2", SCHEMA, expect="boolean")
    assert info.value.code == "expected_type"
    assert "expected a boolean value here, got number" in info.value.message
    assert "布尔值" in info.value.message_zh


def test_expect_number_accepts_integer_and_rejects_string() -> None:
    assert compile_expression("len(order.lines)", SCHEMA, expect="number").result_type == "integer"
    with pytest.raises(DslTypeError):
        compile_expression("customer.tier", SCHEMA, expect="number")


# (source, code, column, English fragment, Chinese fragment)
EVAL_ERRORS = [
    ("order.amount / 0", "division_by_zero", 1, "division by zero", "除数为零"),
    ("order.amount % (order.amount - order.amount)", "division_by_zero", 1, "division", "除数"),
    ("1 + (order.custom.floor / 0)", "division_by_zero", 6, "division by zero", "除数为零"),
    (
        'order.custom.floor > "x"',
        "eval_type",
        1,
        "cannot apply `>` to number and string",
        "不能对 数字 和 文本",
    ),
    ('order.custom.floor + "x"', "eval_type", 1, "`+`", "使用 `+`"),
    ("sum(x for x in order.custom.floor)", "not_a_list", 16, "expected a list", "列表"),
    ('matches("x", order.external_id + "(")', "bad_pattern", 1, "regular expression", "正则"),
    ('split(order.external_id, "")', "empty_separator", 1, "non-empty separator", "分隔符不能为空"),
    ('days(number("1e20"))', "overflow", 1, "`days()` overflowed", "`days()` 计算溢出"),
]


@pytest.mark.parametrize(("source", "code", "column", "en", "zh"), EVAL_ERRORS)
def test_eval_error(source: str, code: str, column: int, en: str, zh: str) -> None:
    expr = compile_expression(source, SCHEMA)
    with pytest.raises(DslEvalError) as info:
        expr(sample_context())
    err = info.value
    assert (err.code, err.line, err.column) == (code, 1, column)
    assert en in err.message
    assert zh in err.message_zh
    assert "^" in err.excerpt


@pytest.mark.parametrize(
    ("source", "en", "zh"),
    [
        ("round(order.x, 2)", "`round`: the number is too large", "`round`：数字过大"),
        ("floor(order.x)", "`floor`: the number is too large", "`floor`：数字过大"),
    ],
)
def test_numbers_too_large_for_a_function(source: str, en: str, zh: str) -> None:
    with pytest.raises(DslEvalError) as info:
        compile_expression(source)({"order": {"x": Decimal("1E+999999")}})
    assert (info.value.code, info.value.message, info.value.message_zh) == ("too_large", en, zh)


def test_source_length_is_bounded() -> None:
    with pytest.raises(DslSyntaxError) as info:
        compile_expression("1 + " * 6000 + "1")
    assert info.value.code == "too_long"


def test_nesting_is_bounded() -> None:
    with pytest.raises(DslSyntaxError) as info:
        compile_expression("-(" * 100 + "1" + ")" * 100)
    assert info.value.code == "too_deep"
    with pytest.raises(DslSyntaxError):
        compile_expression("not " * 500 + "true")
    # parentheses alone add no depth to the tree
    assert compile_expression("(" * 300 + "1" + ")" * 300)({}) == 1


def test_long_flat_chains_are_fine() -> None:
    source = " or ".join(f"order.amount == {i}" for i in range(300))
    assert compile_expression(source, SCHEMA)(sample_context(amount=299)) is True


def test_comprehension_nesting_is_bounded() -> None:
    three = "sum(sum(count(c for c in order.lines) for b in order.lines) for a in order.lines)"
    ctx = sample_context()
    assert compile_expression(three, SCHEMA)(ctx) == 8
    with pytest.raises(DslSyntaxError) as info:
        compile_expression(f"sum({three} for d in order.lines)", SCHEMA)
    assert (info.value.code, info.value.column) == ("too_many_loops", 13)
    assert "推导式嵌套超过 3 层" in info.value.message_zh
