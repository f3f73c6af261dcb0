"""``orderflow dsl eval`` and ``orderflow dsl check`` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.commands.dsl import dsl, to_json

from .schemas import SCHEMA

CONTEXT = {
    "order": {
        "amount": 6800.10,
        "created_at": "2026-01-30T09:00:00+08:00",
        "lines": [{"sku": "A", "qty": 3, "price": 0.1}, {"sku": "B", "qty": 1, "price": 0.2}],
        "address": {"province": "广东"},
    },
    "customer": {"tier": "gold"},
}


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    context = tmp_path / "context.json"
    context.write_text(json.dumps(CONTEXT, ensure_ascii=False), encoding="utf-8")
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA, ensure_ascii=False), encoding="utf-8")
    return {"context": context, "schema": schema, "dir": tmp_path}


@pytest.mark.parametrize(
    ("expression", "printed"),
    [
        ("order.amount", "6800.1"),
        ("sum(l.qty * l.price for l in order.lines)", "0.5"),
        ("0.1 + 0.2 == 0.3", "true"),
        ('order.amount > 5000 and customer.tier in ["gold", "platinum"]', "true"),
        ("[l.sku for l in order.lines]", '["A", "B"]'),
        ("order.address.province", '"广东"'),
        ("order.review", "null"),
        ("now() - order.created_at", '"P2DT3H"'),
        ("date(order.created_at)", '"2026-01-30"'),
        ("1 / 4", "0.25"),
    ],
)
def test_eval_prints_json(files: dict[str, Path], expression: str, printed: str) -> None:
    result = CliRunner().invoke(
        dsl,
        [
            "eval",
            expression,
            "--context",
            str(files["context"]),
            "--now",
            "2026-02-01T12:00:00+08:00",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == printed
    json.loads(result.output)


def test_eval_with_schema_reports_caret_and_hint(files: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        dsl,
        ["eval", "order.amont > 5", "--context", str(files["context"]), "--schema",
         str(files["schema"]), "--lang", "zh"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "1:7: type error [unknown_field]: 未知字段 `order.amont`" in result.output
    assert "order.amont > 5\n          ^^^^^" in result.output
    assert "提示: 您是不是想写 `order.amount`？" in result.output


def test_eval_runtime_error_exits_1(files: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        dsl, ["eval", "order.amount / 0", "--context", str(files["context"])]
    )
    assert result.exit_code == 1
    assert "division by zero" in result.output


def test_check_expression_ok_and_failing(files: dict[str, Path]) -> None:
    good = files["dir"] / "good.dsl"
    good.write_text("order.amount > 5000\n", encoding="utf-8")
    ok = CliRunner().invoke(dsl, ["check", str(good), "--schema", str(files["schema"]),
                                  "--expect", "boolean"])  # fmt: skip
    assert ok.exit_code == 0
    assert "ok (expression)" in ok.output
    bad = files["dir"] / "bad.dsl"
    bad.write_text("order.amount * 2\n", encoding="utf-8")
    failed = CliRunner().invoke(dsl, ["check", str(bad), "--schema", str(files["schema"]),
                                      "--expect", "boolean"])  # fmt: skip
    assert failed.exit_code == 1
    assert "[expected_type]" in failed.output


def test_check_expression_reports_the_line_of_the_file(files: dict[str, Path]) -> None:
    source = files["dir"] / "large.dsl"
    source.write_text("\n# orders over the finance limit\n\norder.amont > 5000\n", encoding="utf-8")
    result = CliRunner().invoke(dsl, ["check", str(source), "--schema", str(files["schema"])])
    assert result.exit_code == 1
    assert f"{source}:4:7: type error [unknown_field]" in result.output
    assert "order.amont > 5000\n          ^^^^^" in result.output


@pytest.mark.parametrize(
    ("content", "kind"),
    [(b"\xff\xfeorder", "large.dsl"), (b"{not json", "table.json")],
    ids=["not-utf8", "not-json"],
)
def test_check_unreadable_file_is_a_clear_error(
    files: dict[str, Path], content: bytes, kind: str
) -> None:
    source = files["dir"] / kind
    source.write_bytes(content)
    result = CliRunner().invoke(dsl, ["check", str(source)])
    assert result.exit_code == 1
    assert "Error: cannot read" in result.output
    assert str(source) in result.output
    assert "Traceback" not in result.output


def test_check_rule_set_prints_every_error(files: dict[str, Path]) -> None:
    rules = files["dir"] / "review.rules"
    rules.write_text(
        "# finance review\n"
        'rule "large" priority 10 when order.amont > 5000 then set order.review = "finance" end\n'
        'rule "tier" when customer.teir == "gold" then tag 5 end\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(dsl, ["check", str(rules), "--schema", str(files["schema"])])
    assert result.exit_code == 1
    assert result.output.count("error [") == 3
    assert f"{rules}:2:37: type error [unknown_field]" in result.output
    assert "did you mean `customer.tier`?" in result.output
    assert "3 errors" in result.output


def test_check_table_reports_cells(files: dict[str, Path]) -> None:
    table = {
        "hit_policy": "first",
        "inputs": [{"name": "amount", "expression": "order.amount"}],
        "outputs": [{"name": "lane", "type": "string"}],
        "rules": [
            {"inputs": ["> 5000"], "outputs": ['"finance"']},
            {"inputs": ['> "x"'], "outputs": ["1"]},
        ],
    }
    path = files["dir"] / "table.json"
    path.write_text(json.dumps(table), encoding="utf-8")
    result = CliRunner().invoke(dsl, ["check", str(path), "--schema", str(files["schema"])])
    assert result.exit_code == 1
    assert "row 2, input `amount`" in result.output
    assert "row 2, output `lane`" in result.output
    table["rules"] = table["rules"][:1]
    path.write_text(json.dumps(table), encoding="utf-8")
    assert (
        CliRunner().invoke(dsl, ["check", str(path), "--schema", str(files["schema"])]).exit_code
        == 0
    )


def test_to_json_is_exact() -> None:
    from datetime import timedelta
    from decimal import Decimal

    assert to_json(Decimal("12.50")) == "12.50"
    assert to_json({"a": [Decimal("0.1"), None, True]}) == '{"a": [0.1, null, true]}'
    assert to_json(timedelta(minutes=90)) == '"PT1H30M"'
    assert to_json(timedelta(0)) == '"PT0S"'
    assert to_json(-timedelta(days=1, seconds=1.5)) == '"-P1DT1.5S"'
