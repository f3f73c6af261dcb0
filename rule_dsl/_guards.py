"""Class tests that guard inlined operators in fast code, and the facts they rest on.

Fast code inlines an operator when each operand's class passes a test read once at run time;
a value that fails goes to the helper the checked code calls. The tests and the literals
that need none are decided here.
"""

from __future__ import annotations

from rule_dsl import ast as A
from rule_dsl.runtime import EvalFaultError, to_date, to_datetime

__all__ = [
    "NUMERIC",
    "NUM_OR_FLOAT",
    "SMALL_INT",
    "TEXT",
    "class_test",
    "plain_text",
    "whole_literal",
]

SMALL_INT = 2**53
# Kinds whose operands fast code inlines behind a class test; for ``any`` the test is what
# tells the type, for ``number`` it only turns away nulls, JSON floats and bad data.
NUMERIC = frozenset({"number", "any"})
TEXT = frozenset({"string", "any"})
# Class test for a number compared with a whole-number literal: a JSON float may be compared
# as it is, because a float orders against (and equals) an integer below 2**53 exactly as its
# shortest decimal form does, which is the value the checked path compares. NaN is left to
# the checked path (it reports it).
NUM_OR_FLOAT = "in NUM_ or float"


def whole_literal(node: A.Node) -> bool:
    """A whole-number literal that a float compares with exactly (see NUM_OR_FLOAT)."""
    return isinstance(node, A.Literal) and type(node.value) is int and abs(node.value) < SMALL_INT


def class_test(first: str, again: str, cls: str) -> str:
    """Source testing the class of a value: ``first`` reads it, ``again`` reads it after."""
    # two identity tests cost less than one frozenset lookup, and money is mostly decimal
    exact = f"{first}.__class__ is D or {again}.__class__ is int_"
    if cls == NUM_OR_FLOAT:
        return f"({exact} or {again}.__class__ is float_ and {again} == {again})"
    if cls == "in NUM_":
        return f"({exact})"
    return f"{first}.__class__ {cls}"


def plain_text(node: A.Node) -> bool:
    """A text literal that no date, datetime or duration would read as a moment: ``==``
    against it is false for every value that is not that text, as ``eq`` says."""
    if not (isinstance(node, A.Literal) and node.kind == "string"):
        return False
    for read in (to_date, to_datetime):
        try:
            read(node.value)
        except EvalFaultError:
            continue
        return False
    return True
