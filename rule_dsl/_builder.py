"""Lark parse tree -> ``rule_dsl.ast`` nodes: literals decoded, spans attached."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from lark import Token, Tree

from rule_dsl import ast as A
from rule_dsl.errors import DslSyntaxError, make_error
from rule_dsl.runtime import MAX_DIGITS

__all__ = ["Builder", "span_of", "token_span"]

_DURATION_US = {
    "ms": 1_000,
    "s": 1_000_000,
    "m": 60_000_000,
    "h": 3_600_000_000,
    "d": 86_400_000_000,
    "w": 604_800_000_000,
}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "/": "/", "0": "\0"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


def token_span(token: Token) -> A.Span:
    return A.Span(
        token.line or 1,
        token.column or 1,
        token.end_line or 1,
        token.end_column or 1,
        token.start_pos or 0,
        token.end_pos or 0,
    )


def span_of(item: Tree[Token] | Token) -> A.Span:
    if isinstance(item, Token):
        return token_span(item)
    meta = item.meta
    if getattr(meta, "empty", True):
        return A.Span(1, 1, 1, 1)
    return A.Span(
        meta.line, meta.column, meta.end_line, meta.end_column, meta.start_pos, meta.end_pos
    )


class Builder:
    """Turns a Lark parse tree into ``rule_dsl.ast`` nodes."""

    def __init__(self, source: str) -> None:
        self.source = source

    def build(self, item: Tree[Token] | Token) -> A.Node:
        if isinstance(item, Token):
            return self.token(item)
        method = getattr(self, f"t_{item.data}", None)
        if method is None:  # a parenthesised or single-child rule
            return self.build(item.children[0])
        node: A.Node = method(item, span_of(item), item.children)
        return node

    def token(self, token: Token) -> A.Node:
        span = token_span(token)
        kind = token.type
        if kind == "NUMBER":
            text = str(token)
            if len(text.split(".")[0].lstrip("0")) > MAX_DIGITS:
                name = f"{text[:12]}…"
                raise make_error(DslSyntaxError, "too_large", self.source, span, name=name)
            try:
                value: Any = int(text) if "." not in text else Decimal(text)
            except (ValueError, InvalidOperation):
                raise make_error(
                    DslSyntaxError, "bad_number", self.source, span, text=text
                ) from None
            return A.Literal(span, value, "number")
        if kind == "NAME":
            return A.Name(span, str(token))
        raise make_error(
            DslSyntaxError,
            "unexpected_token",
            self.source,
            span,
            token=repr(str(token)),
            expected="",
        )

    def string_value(self, token: Token) -> str:
        body = str(token)[1:-1]

        def unescape(match: re.Match[str]) -> str:
            esc = match.group(1)
            if esc[0] == "u" and len(esc) == 5:
                return chr(int(esc[1:], 16))
            if esc in _ESCAPES:
                return _ESCAPES[esc]
            line = token.line or 1
            start = (token.column or 1) + 1 + match.start()
            span = A.Span(line, start, line, start + 2)
            raise make_error(DslSyntaxError, "bad_escape", self.source, span, escape=match.group(0))

        return _ESCAPE_RE.sub(unescape, body)

    # literals
    def t_number(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return self.token(ch[0])

    def t_duration(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)", str(ch[0]))
        assert match is not None  # the terminal's own pattern
        micros = Decimal(match.group(1)) * _DURATION_US[match.group(2)]
        try:
            value = timedelta(microseconds=int(micros))
        except OverflowError:
            raise make_error(
                DslSyntaxError, "bad_literal", self.source, span, kind="duration", text=str(ch[0])
            ) from None
        return A.Literal(span, value, "duration")

    def t_string(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.Literal(span, self.string_value(ch[0]), "string")

    def t_true(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.Literal(span, True, "boolean")

    def t_false(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.Literal(span, False, "boolean")

    def t_null(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.Literal(span, None, "null")

    def t_name(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.Name(span, str(ch[0]))

    def t_list(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.ListLit(span, self.arguments(ch[0]))

    def arguments(self, tree: Tree[Token] | None) -> tuple[A.Node, ...]:
        if tree is None:
            return ()
        return tuple(self.build(child) for child in tree.children)

    # paths and calls
    def t_attr(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.Attr(span, self.build(ch[0]), str(ch[1]), token_span(ch[1]))

    def t_index(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.Index(span, self.build(ch[0]), self.build(ch[1]))

    def t_call(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.Call(span, str(ch[0]), self.arguments(ch[1]), token_span(ch[0]))

    def t_comprehension(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        func, element, var, iterable, cond = ch
        return A.Comprehension(
            span,
            str(func),
            self.build(element),
            str(var),
            token_span(var),
            self.build(iterable),
            None if cond is None else self.build(cond),
            token_span(func),
        )

    def t_list_comprehension(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        element, var, iterable, cond = ch
        return A.Comprehension(
            span,
            "list",
            self.build(element),
            str(var),
            token_span(var),
            self.build(iterable),
            None if cond is None else self.build(cond),
            A.Span(span.line, span.column, span.line, span.column + 1),
        )

    # operators
    def t_neg(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        operand = self.build(ch[1])
        if isinstance(operand, A.Literal) and operand.kind in ("number", "duration"):
            return A.Literal(span, -operand.value, operand.kind)
        return A.Unary(span, "neg", operand)

    def t_not_(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.Unary(span, "not", self.build(ch[1]))

    def t_binary(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.Binary(span, str(ch[1]), self.build(ch[0]), self.build(ch[2]))

    def t_compare(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.Compare(span, str(ch[1]), self.build(ch[0]), self.build(ch[2]))

    def t_and_chain(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.BoolOp(span, "and", tuple(self.build(c) for c in ch))

    def t_or_chain(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.BoolOp(span, "or", tuple(self.build(c) for c in ch))

    def t_in_(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.In(span, False, self.build(ch[0]), self.build(ch[1]))

    def t_not_in(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.In(span, True, self.build(ch[0]), self.build(ch[2]))

    def t_is_null(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.IsNull(span, False, self.build(ch[0]))

    def t_is_not_null(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.IsNull(span, True, self.build(ch[0]))

    def t_if_expr(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.IfExpr(span, self.build(ch[0]), self.build(ch[1]), self.build(ch[2]))

    def _range(self, span: A.Span, ch: list[Any], low: bool, high: bool) -> A.Range:
        return A.Range(span, self.build(ch[0]), self.build(ch[1]), low, high)

    def t_range_cc(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return self._range(span, ch, True, True)

    def t_range_co(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return self._range(span, ch, True, False)

    def t_range_oc(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return self._range(span, ch, False, True)

    def t_range_oo(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return self._range(span, ch, False, False)

    # rule sets
    def t_ruleset(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        mode = None
        rules = []
        for child in ch:
            if child is None:
                continue
            if child.data == "mode":
                mode = str(child.children[0])
            else:
                rules.append(self.t_rule(child, span_of(child), child.children))
        return A.RuleSetNode(span, mode, tuple(rules))

    def t_rule(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Rule:
        name_tok, priority, cond, *actions = ch
        prio = 0
        if priority is not None:
            digits = int(str(priority.children[-1]))
            prio = -digits if len(priority.children) == 2 else digits
        return A.Rule(
            span,
            self.string_value(name_tok),
            prio,
            self.build(cond),
            tuple(self.build(a) for a in actions),
        )

    def t_set_action(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.SetAction(span, self.build(ch[0]), self.build(ch[1]))

    def t_tag_action(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.TagAction(span, self.build(ch[0]))

    def t_stop_action(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.StopAction(span)

    # unary tests
    def t_any_test(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.AnyTest(span)

    def t_not_tests(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        inner = self.t_positive_tests(ch[1], span_of(ch[1]), ch[1].children)
        return A.NotTests(span, inner)

    def t_positive_tests(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Tests:
        return A.Tests(span, tuple(self.build(c) for c in ch))

    def t_compare_test(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.CompareTest(span, str(ch[0]), self.build(ch[1]))

    def t_range_test(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        rng = self.build(ch[0])
        assert isinstance(rng, A.Range)
        return A.RangeTest(span, rng)

    def t_equal_test(self, tree: Tree[Token], span: A.Span, ch: list[Any]) -> A.Node:
        return A.EqualTest(span, self.build(ch[0]))
