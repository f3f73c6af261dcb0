"""Checks and rule traces in business words: field labels and formatted values, no DSL.

What a rule read (a path and its value) and compared (an operator and a literal) becomes
"订单金额 ¥8,600.00 > ¥5,000.00 ✓" or "Order amount ¥8,600.00 > ¥5,000.00 ✓": labels are the
order schema's ``x-label-zh`` / ``x-label-en``, money fields (``x-format: money``) get the
currency sign and thousands separators, times are read on the company's clock. Approver pages,
inbox cards and messages all say a rule this way; the rule as written stays for supervisors.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from flow_engine import NODE_HANDLERS, order_schema
from rule_dsl import DslError
from rule_dsl import ast as A
from rule_dsl.parser import parse_expression

from . import clock
from .status.services import states

SYMBOLS = {"==": "=", "!=": "≠", ">": ">", ">=": "≥", "<": "<", "<=": "≤"}
COMPARE = {"==": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge,
           "<": operator.lt, "<=": operator.le}  # fmt: skip
CURRENCY_SIGNS = {"CNY": "¥", "RMB": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "JP¥"}
MAX_LISTED = 5
WORDS = {
    "zh": {"yes": "是", "no": "否", "empty": "（空）", "is_empty": "为空", "not_empty": "不为空",
           "in": "属于", "not_in": "不属于", "not": "并非", "sep": "、", "joiner": "",
           "approved": "同意", "rejected": "驳回", "timeout": "超时", "default": "其他情况",
           "decision": "决定", "comment": "意见", "hours": "%s 小时", "days": "%s 天",
           "minutes": "%s 分钟", "row": "第 %s 行", "colon": "：", "clause_sep": "；"},
    "en": {"yes": "Yes", "no": "No", "empty": "(empty)", "is_empty": "is empty",
           "not_empty": "is filled in", "in": "is one of", "not_in": "is none of", "not": "not",
           "sep": ", ", "joiner": " ", "approved": "Approved", "rejected": "Rejected",
           "timeout": "Timed out", "default": "Otherwise", "decision": "decision",
           "comment": "comment", "hours": "%s h", "days": "%s d", "minutes": "%s min",
           "row": "row %s", "colon": ": ", "clause_sep": "; "},
}  # fmt: skip


@dataclass(frozen=True)
class Clause:
    """One part of a rule in words, and whether it held (None when that is not known)."""

    text: str
    holds: bool | None = None

    @property
    def mark(self) -> str:
        return "" if self.holds is None else ("✓" if self.holds else "✗")


@dataclass(frozen=True)
class _Field:
    zh: tuple[str, ...]
    en: tuple[str, ...]
    money: bool = False
    moment: bool = False
    # The unified order status: its codes are shown by the status model's names.
    status: bool = False


_PART = re.compile(r"\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]|(\[\])|([^.\[\]]+)")
REFERENCE_LABELS = {"inventory": ("库存", "Stock"), "customers": ("客户资料", "Customer record")}


@cache
def parts_of(path: str) -> tuple[str | int, ...]:
    """``order.lines[0].qty`` -> ``("order", "lines", 0, "qty")``; ``[]`` stays ``"[]"``."""
    out: list[str | int] = []
    for index, single, double, every, name in _PART.findall(path):
        if index:
            out.append(int(index))
        elif every:
            out.append("[]")
        else:
            out.append(single or double or name)
    return tuple(out)


@cache
def _field(path: str) -> _Field:
    """Labels along ``path`` (``order.amount``, ``customer.tier``, ``order.lines[].qty``)."""
    parts = list(parts_of(path))
    if parts[:1] == ["ref"] and len(parts) > 1:  # ref.inventory['GZ']['SKU-1']
        zh, en = REFERENCE_LABELS.get(str(parts[1]), (str(parts[1]), str(parts[1])))
        keys = " · ".join(str(p) for p in parts[2:])
        return _Field((f"{zh}（{keys}）" if keys else zh,), (f"{en} ({keys})" if keys else en,))
    schema: Mapping[str, Any] = order_schema()
    if parts[:1] == ["order"]:
        parts = parts[1:]
        names_zh = [str(schema.get("x-label-zh", "订单"))]
        names_en = [str(schema.get("x-label-en", "Order"))]
    else:
        names_zh, names_en = [], []
    for part in parts:
        if isinstance(part, int) or part == "[]":
            schema = schema.get("items") or {}
            continue
        schema = (schema.get("properties") or {}).get(part) or {}
        names_zh.append(str(schema.get("x-label-zh") or part))
        names_en.append(str(schema.get("x-label-en") or part.replace("_", " ")))
    return _Field(
        tuple(names_zh), tuple(names_en), schema.get("x-format") == "money", schema.get("format") == "date-time",
        status=parts == ["status"],
    )  # fmt: skip


def node_name(node: Mapping[str, Any], language: str) -> str:
    """What people call a node: its name, else its kind (``开始``, ``End``), else its id."""
    name = node.get("name")
    if isinstance(name, Mapping):
        name = name.get(language) or name.get("zh") or name.get("en")
    if name:
        return str(name)
    handler = NODE_HANDLERS.get(str(node.get("type")))
    title = getattr(handler, "title", None) or {}
    return str(title.get(language) or title.get("en") or node.get("id") or "")


class Wording:
    """Says rules, values and branches in ``language`` ("zh" or "en")."""

    def __init__(
        self, language: str, *, currency: str = "CNY", node_names: Mapping[str, str] | None = None
    ) -> None:
        self.language = "en" if language == "en" else "zh"
        self.words = WORDS[self.language]
        code = (currency or "CNY").upper()
        self.sign = CURRENCY_SIGNS.get(code, code + " ")
        self.node_names = node_names or {}

    # -- fields and values --------------------------------------------------------------------

    def label(self, path: str) -> str:
        """``订单金额`` / ``Order amount``: the last two labels along the path."""
        if path.startswith("vars."):
            return self._var_label(path)
        found = _field(path)
        names = (found.en if self.language == "en" else found.zh)[-2:]
        if self.language == "en":
            return " ".join([names[0], *(n[:1].lower() + n[1:] for n in names[1:])])
        return "".join(names)

    def _var_label(self, path: str) -> str:
        # vars.<node>.<field>: what an earlier step decided, by the step's name
        parts = path.split(".")
        # A name the flow does not give in words stays a `code`, shown as code on pages.
        node = self.node_names.get(parts[1], f"`{parts[1]}`") if len(parts) > 1 else ""
        what = self.words.get(parts[2], f"`{parts[2]}`") if len(parts) > 2 else ""
        return f"「{node}」{what}" if self.language == "zh" else f"{node} {what}".strip()

    def value(self, path: str | None, value: Any) -> str:
        """A value as people write it: ``¥8,600.00``, ``是``, ``2026-12-07 04:14``."""
        found = _field(path) if path and not path.startswith("vars.") else None
        if value is None:
            return self.words["empty"]
        if isinstance(value, bool):
            return self.words["yes" if value else "no"]
        if isinstance(value, list | tuple):
            shown = [self.value(path, v) for v in value[:MAX_LISTED]]
            return self.words["sep"].join(shown) + ("…" if len(value) > MAX_LISTED else "")
        if isinstance(value, timedelta):
            return self._duration(value)
        if isinstance(value, datetime):
            return clock.local(value)
        if found is not None and found.status and isinstance(value, str):
            return self._status(value)
        if found is not None and found.moment and isinstance(value, str):
            try:
                return clock.local(datetime.fromisoformat(value.replace("Z", "+00:00")))
            except ValueError:
                return value
        number = None if isinstance(value, str) and not (found and found.money) else _number(value)
        if number is not None:
            if found is not None and found.money:
                return f"{self.sign}{number:,.2f}"
            return f"{number:,.0f}" if number == number.to_integral_value() else f"{number:,}"
        if path and path.startswith("vars.") and isinstance(value, str):
            return f"`{value}`"  # a code an earlier step set (an action, a route)
        return str(value)

    def _status(self, code: str) -> str:

        info = states().get(code)
        if info is None:
            return f"`{code}`"  # a code the status model does not know stays a code
        return info.en if self.language == "en" else info.zh

    def _duration(self, span: timedelta) -> str:
        seconds = int(span.total_seconds())
        if seconds % 86400 == 0:
            return self.words["days"] % (seconds // 86400)
        if seconds % 3600 == 0:
            return self.words["hours"] % (seconds // 3600)
        return self.words["minutes"] % (seconds // 60)

    def fact(self, path: str, value: Any) -> str:
        """``订单金额 ¥8,600.00``."""
        return f"{self.label(path)} {self.value(path, value)}"

    def facts(self, inputs: Mapping[str, Any]) -> list[Clause]:
        return [Clause(self.fact(path, value)) for path, value in inputs.items()]

    # -- rules --------------------------------------------------------------------------------

    def rule(self, source: str, inputs: Mapping[str, Any]) -> list[Clause]:
        """A condition as clauses with their verdicts; the values it read when it cannot be
        said clause by clause (arithmetic, functions, comprehensions)."""
        try:
            clauses = self._clauses(parse_expression(source), inputs, 0)
        except (DslError, _UnsayableError):
            clauses = None
        return clauses if clauses else self.facts(inputs)

    def check(self, check: Mapping[str, Any]) -> str:
        """One approval check on one line: ``✗ 未超信用额度：订单金额 ¥60,000.00 ≤ ¥50,000.00``."""
        label = check.get("label")
        if isinstance(label, Mapping):
            label = label.get(self.language) or label.get("zh") or label.get("en")
        rule, inputs = str(check.get("rule") or ""), check.get("inputs") or {}
        said = self.rule(rule, inputs) if rule else self.facts(inputs)
        text = self.words["clause_sep"].join(c.text for c in said)
        head = f"{'✓' if check.get('passed') else '✗'} {label or check.get('name') or ''}"
        return f"{head}{self.words['colon']}{text}" if text else head

    def branch(self, branch: str | None) -> str:
        """``是`` / ``No`` / ``同意`` for the engine's branch names; others as they are."""
        if branch is None:
            return ""
        known = {"true": "yes", "false": "no"}.get(branch, branch)
        return self.words.get(known, branch) if known in WORDS["en"] else branch

    def row(self, number: int) -> str:
        return self.words["row"] % number

    def _clauses(self, node: A.Node, inputs: Mapping[str, Any], depth: int) -> list[Clause]:
        if depth > 6:
            raise _UnsayableError
        if isinstance(node, A.BoolOp):
            return [c for o in node.operands for c in self._clauses(o, inputs, depth + 1)]
        return [self._clause(node, inputs)]

    def _clause(self, node: A.Node, inputs: Mapping[str, Any]) -> Clause:
        if isinstance(node, A.Compare):
            left, right = _side(node.left, inputs), _side(node.right, inputs)
            path = left.path or right.path
            if path is None:
                raise _UnsayableError
            text = " ".join(
                (self._said(left, path), SYMBOLS.get(node.op, node.op), self._said(right, path))
            )
            return Clause(text, _holds(node.op, left.value, right.value))
        if isinstance(node, A.IsNull):
            side = _side(node.operand, inputs)
            if side.path is None:
                raise _UnsayableError
            word = self.words["not_empty" if node.negated else "is_empty"]
            empty = side.value is None
            return Clause(f"{self.label(side.path)} {word}", empty != node.negated)
        if isinstance(node, A.In) and isinstance(node.right, A.ListLit):
            side = _side(node.left, inputs)
            items = [_side(i, inputs) for i in node.right.items]
            if side.path is None or any(i.path is not None or not i.known for i in items):
                raise _UnsayableError
            options = [i.value for i in items]
            word = self.words["not_in" if node.negated else "in"]
            text = f"{self._said(side, side.path)} {word} {self.value(side.path, options)}"
            return Clause(text, (side.value in options) != node.negated if side.known else None)
        if isinstance(node, A.Unary) and node.op == "not":
            inner = self._clause(node.operand, inputs)
            holds = None if inner.holds is None else not inner.holds
            return Clause(f"{self.words['not']}{self.words['joiner']}（{inner.text}）"
                          if self.language == "zh" else f"not ({inner.text})", holds)  # fmt: skip
        side = _side(node, inputs)
        if side.path is not None:  # a yes/no field on its own
            return Clause(self.fact(side.path, side.value), side.value is True)
        raise _UnsayableError

    def _said(self, side: _Side, path: str) -> str:
        if side.path is not None:
            return self.fact(side.path, side.value)
        return self.value(path, side.value)


class _UnsayableError(Exception):
    """The rule uses something that reads better as the values it read."""


@dataclass(frozen=True)
class _Side:
    path: str | None
    value: Any
    known: bool = True


def _path(node: A.Node) -> str | None:
    written = ""
    while isinstance(node, A.Attr | A.Index):
        if isinstance(node, A.Attr):
            written = f".{node.name}{written}"
        elif isinstance(node.index, A.Literal) and isinstance(node.index.value, int | str):
            key = node.index.value
            written = f"[{key}]{written}" if isinstance(key, int) else f"['{key}']{written}"
        else:
            return None
        node = node.obj
    return f"{node.name}{written}" if isinstance(node, A.Name) else None


def _side(node: A.Node, inputs: Mapping[str, Any]) -> _Side:
    path = _path(node)
    if path is not None:
        for key in (path, "order." + path, path.removeprefix("order.")):
            if key in inputs:
                return _Side(key, inputs[key])
        wanted = parts_of(path)
        for key, value in inputs.items():
            if parts_of(key) in (wanted, ("order", *wanted)):
                return _Side(key, value)
        return _Side(path, None, known=False)
    if isinstance(node, A.Literal):
        return _Side(None, node.value)
    if isinstance(node, A.Unary) and node.op == "neg" and isinstance(node.operand, A.Literal):
        number = _number(node.operand.value)
        if number is not None:
            return _Side(None, -number)
    if isinstance(node, A.Call) and node.name in ("date", "datetime") and len(node.args) == 1:
        arg = node.args[0]
        if isinstance(arg, A.Literal) and isinstance(arg.value, str):
            return _Side(None, arg.value)
    raise _UnsayableError


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    if isinstance(value, str) and not value.strip().lstrip("-").replace(".", "", 1).isdigit():
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _holds(op: str, left: Any, right: Any) -> bool | None:
    a, b = _number(left), _number(right)
    if a is None or b is None:
        a, b = left, right
    compare = COMPARE.get(op)
    if compare is None:
        return None
    try:
        return bool(compare(a, b))
    except TypeError:  # an ordering between a missing value, a text and a number
        return None
