"""Typed syntax tree of the rule language: frozen dataclasses, each with a source span."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "AnyTest",
    "Attr",
    "Binary",
    "BoolOp",
    "Call",
    "Compare",
    "CompareTest",
    "Comprehension",
    "EqualTest",
    "IfExpr",
    "In",
    "Index",
    "IsNull",
    "ListLit",
    "Literal",
    "Name",
    "Node",
    "NotTests",
    "Range",
    "RangeTest",
    "Rule",
    "RuleSetNode",
    "SetAction",
    "Span",
    "StopAction",
    "TagAction",
    "Tests",
    "Unary",
]


@dataclass(frozen=True, slots=True)
class Span:
    """Location of a node: 1-based line/column of its first and one-past-last character."""

    line: int
    column: int
    end_line: int
    end_column: int
    start: int = 0
    end: int = 0

    def to(self, other: Span) -> Span:
        """Return the span from the start of ``self`` to the end of ``other``."""
        return Span(self.line, self.column, other.end_line, other.end_column, self.start, other.end)


@dataclass(frozen=True, slots=True)
class Node:
    """Base of every syntax-tree node."""

    span: Span


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A constant: number (int or Decimal), string, boolean, null or duration (timedelta)."""

    value: Any
    kind: str


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Name(Node):
    """A top-level context name (``order``) or a comprehension variable (``l``)."""

    name: str


@dataclass(frozen=True, slots=True)
class Attr(Node):
    """Field access ``obj.name``; ``name_span`` locates the field name alone."""

    obj: Node
    name: str
    name_span: Span


@dataclass(frozen=True, slots=True)
class Index(Node):
    obj: Node
    index: Node


@dataclass(frozen=True, slots=True)
class Unary(Node):
    """``-x`` (op "neg") or ``not x`` (op "not")."""

    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    """Arithmetic ``+ - * / %``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class BoolOp(Node):
    """A flat chain of ``and`` or ``or`` operands."""

    op: str
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Compare(Node):
    """``== != < <= > >=``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Range(Node):
    low: Node
    high: Node
    low_closed: bool
    high_closed: bool


@dataclass(frozen=True, slots=True)
class In(Node):
    """``x in list``, ``x in range``, ``x in text`` and their negations."""

    negated: bool
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class IsNull(Node):
    negated: bool
    operand: Node


@dataclass(frozen=True, slots=True)
class IfExpr(Node):
    condition: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]
    name_span: Span


@dataclass(frozen=True, slots=True)
class Comprehension(Node):
    """``func(element for var in iterable if condition)``; func "list" is ``[... for ...]``."""

    func: str
    element: Node
    var: str
    var_span: Span
    iterable: Node
    condition: Node | None
    name_span: Span


# Rule sets


@dataclass(frozen=True, slots=True)
class SetAction(Node):
    target: Node
    value: Node


@dataclass(frozen=True, slots=True)
class TagAction(Node):
    tag: Node


@dataclass(frozen=True, slots=True)
class StopAction(Node):
    pass


@dataclass(frozen=True, slots=True)
class Rule(Node):
    name: str
    priority: int
    condition: Node
    actions: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class RuleSetNode(Node):
    mode: str | None
    rules: tuple[Rule, ...]


# Unary tests (decision-table input cells)


@dataclass(frozen=True, slots=True)
class AnyTest(Node):
    """``-``: matches every value, null included."""


@dataclass(frozen=True, slots=True)
class CompareTest(Node):
    """``> 5000``: the input compared with a value."""

    op: str
    value: Node


@dataclass(frozen=True, slots=True)
class RangeTest(Node):
    range: Range


@dataclass(frozen=True, slots=True)
class EqualTest(Node):
    """A bare value: the input equals it."""

    value: Node


@dataclass(frozen=True, slots=True)
class Tests(Node):
    """Comma-separated tests: the cell matches when any of them does."""

    tests: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class NotTests(Node):
    """``not(...)``: the cell matches when none of the inner tests does."""

    tests: Tests
