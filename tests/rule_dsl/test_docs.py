"""The examples in docs/dsl.md and docs/dsl.zh.md compile."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rule_dsl import compile_expression, compile_ruleset

DOCS = Path(__file__).resolve().parents[2] / "docs"


def blocks(name: str, heading: str) -> list[str]:
    text = (DOCS / name).read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```\n(.*?)```", section, re.S)


def recipes(name: str, heading: str) -> list[str]:
    lines = blocks(name, heading)[0].splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize(
    ("name", "heading"),
    [("dsl.md", "## Recipes from order operations"), ("dsl.zh.md", "## 订单运营示例")],
)
def test_recipes_compile(name: str, heading: str) -> None:
    sources = recipes(name, heading)
    assert len(sources) >= 8
    for source in sources:
        compile_expression(source)


def test_both_languages_show_the_same_recipes() -> None:
    english = recipes("dsl.md", "## Recipes from order operations")
    chinese = recipes("dsl.zh.md", "## 订单运营示例")
    assert english == chinese


@pytest.mark.parametrize(
    ("name", "heading"), [("dsl.md", "## Rule sets"), ("dsl.zh.md", "## 规则集")]
)
def test_rule_set_example_compiles_and_runs(name: str, heading: str) -> None:
    rules = compile_ruleset(blocks(name, heading)[0])
    order = {"amount": 8000, "review": None, "lines": [{"category": "hazmat"}], "custom": {}}
    result = rules({"order": order, "customer": {"credit_limit": 5000, "outstanding": 0}})
    assert len(result.fired) == 3
    assert result.changes["order.review"] == "credit"
    assert result.tags == ("hazmat", "large-order")


@pytest.mark.parametrize(
    ("name", "heading"),
    [("dsl.md", "## Lists and comprehensions"), ("dsl.zh.md", "## 列表与推导式")],
)
def test_comprehension_examples_compile(name: str, heading: str) -> None:
    for line in blocks(name, heading)[0].splitlines():
        for source in re.split(r"\s{3,}", line.strip()):
            if source:
                compile_expression(source)
