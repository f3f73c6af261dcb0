"""Rule-language conditions run inside the database, for filters over fact tables.

A filter such as ``order.channel in ["taobao", "tmall"] and not order.urgent`` is checked
by the rule language against the dataset's fields first (unknown field, wrong types: the
usual errors with a caret), then translated to SQL so that counting a day of orders never
loads them into Python. The translation keeps the language's null rules: a comparison
with null is false, ``==`` and ``!=`` treat null as a value, and a null condition is false.

Supported: field paths, literals (numbers, text, true/false, null, durations), ``== != < <=
> >=``, ``and or not``, ``in`` / ``not in`` a list of literals or a range, ``is [not]
null``. Anything else (functions, arithmetic, comprehensions) is refused with a caret
under the part that cannot run in the database.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, literal, not_, or_, true

from rule_dsl import DslTypeError, compile_expression
from rule_dsl import ast as A
from rule_dsl.errors import caret_excerpt
from rule_dsl.parser import parse_expression

from .datasets import Dataset


def check(source: str, ds: Dataset) -> None:
    """Raise ``DslError`` unless ``source`` is a boolean filter that runs in the database."""
    compile_expression(source, ds.schema(), expect="boolean")
    condition(source, ds)


def condition(source: str, ds: Dataset) -> ColumnElement[bool]:
    """The SQL of the filter ``source`` on dataset ``ds`` (checked with :func:`check`)."""
    return _Translator(source, ds).boolean(parse_expression(source))


class _Translator:
    def __init__(self, source: str, ds: Dataset) -> None:
        self.source = source
        self.ds = ds

    def refuse(self, node: A.Node) -> DslTypeError:
        span = node.span
        end = span.end_column if span.end_line == span.line else None
        return DslTypeError(
            "not_in_database",
            "this part cannot be counted in the database; use fields, literals, comparisons, "
            "and/or/not, in and is null",
            "这部分无法在数据库中统计；请只用字段、常量、比较、and/or/not、in 和 is null",
            line=span.line,
            column=span.column,
            end_line=span.end_line,
            end_column=span.end_column,
            excerpt=caret_excerpt(self.source, span.line, span.column, end),
        )

    # -- conditions (always two-valued: true or false, never NULL) --------------------------

    def boolean(self, node: A.Node) -> ColumnElement[bool]:
        if isinstance(node, A.BoolOp):
            parts = [self.boolean(n) for n in node.operands]
            return and_(*parts) if node.op == "and" else or_(*parts)
        if isinstance(node, A.Unary) and node.op == "not":
            return not_(self.boolean(node.operand))
        if isinstance(node, A.Compare):
            return self.compare(node)
        if isinstance(node, A.In):
            return self.member(node)
        if isinstance(node, A.IsNull):
            value = self.value(node.operand)
            return value.is_not(None) if node.negated else value.is_(None)
        if isinstance(node, A.Literal) and node.kind == "boolean":
            return true() if node.value else false()
        if isinstance(node, A.Attr):
            return func.coalesce(self.value(node), false()) == true()
        raise self.refuse(node)

    def compare(self, node: A.Compare) -> ColumnElement[bool]:
        left, right = self.value(node.left), self.value(node.right)
        if node.op == "==":
            return left.is_not_distinct_from(right)
        if node.op == "!=":
            return left.is_distinct_from(right)
        ops = {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}
        return func.coalesce(ops[node.op], false()) == true()

    def member(self, node: A.In) -> ColumnElement[bool]:
        left = self.value(node.left)
        right = node.right
        if isinstance(right, A.ListLit):
            values = [self.constant(item) for item in right.items]
            known = [v for v in values if v is not None]
            test = func.coalesce(left.in_(known), false()) == true() if known else false()
            if None in values:
                test = or_(test, left.is_(None))
        elif isinstance(right, A.Range):
            low, high = self.value(right.low), self.value(right.high)
            above = left >= low if right.low_closed else left > low
            below = left <= high if right.high_closed else left < high
            test = func.coalesce(and_(above, below), false()) == true()
        else:
            raise self.refuse(right)
        return not_(test) if node.negated else test

    # -- values ----------------------------------------------------------------------------

    def value(self, node: A.Node) -> Any:
        if isinstance(node, A.Attr) and isinstance(node.obj, A.Name):
            if node.obj.name == self.ds.var and node.name in self.ds.fields:
                return self.ds.fields[node.name].column
        if isinstance(node, A.Literal | A.Unary):
            constant = self.constant(node)
            return literal(constant) if constant is not None else literal(None)
        raise self.refuse(node)

    def constant(self, node: A.Node) -> Any:
        if isinstance(node, A.Unary) and node.op == "neg" and isinstance(node.operand, A.Literal):
            inner = self.constant(node.operand)
            if isinstance(inner, int | float) or hasattr(inner, "quantize"):
                return -inner
        if isinstance(node, A.Literal) and node.kind in (
            "number", "string", "boolean", "null", "duration",
        ):  # fmt: skip
            if isinstance(node.value, timedelta):
                return node.value.total_seconds()
            return node.value
        raise self.refuse(node)
