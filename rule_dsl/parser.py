"""Source text -> typed syntax tree, with Lark errors turned into ``DslSyntaxError``."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr

from rule_dsl import ast as A
from rule_dsl._builder import Builder, span_of
from rule_dsl.errors import DslSyntaxError, make_error

__all__ = ["MAX_DEPTH", "MAX_SOURCE_LENGTH", "parse_expression", "parse_ruleset", "parse_tests"]

MAX_SOURCE_LENGTH = 20_000
MAX_DEPTH = 48

_LARK = Lark.open(
    "grammar.lark",
    rel_to=__file__,
    parser="lalr",
    propagate_positions=True,
    maybe_placeholders=True,
    start=["expression", "ruleset", "unary_tests"],
)

_FRIENDLY = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "DURATION": "a duration",
    "COMP_OP": "a comparison (== != < <= > >=)",
    "$END": "the end of the text",
}
_FRIENDLY_ZH = {
    "NAME": "名称",
    "NUMBER": "数字",
    "STRING": "字符串",
    "DURATION": "时长",
    "COMP_OP": "比较运算符 (== != < <= > >=)",
    "$END": "文本结尾",
}
_TOKEN_HINTS = {"=": "==", "&&": "and", "||": "or", "!": "not", "<>": "!="}


@lru_cache(maxsize=256)
def _describe(terminal: str, zh: bool) -> str:
    if terminal in _FRIENDLY:
        return (_FRIENDLY_ZH if zh else _FRIENDLY)[terminal]
    try:
        pattern = _LARK.get_terminal(terminal).pattern
    except KeyError:
        return terminal.lower()
    if isinstance(pattern, PatternStr):
        return f"`{pattern.value}`"
    return terminal.lower()


_VALUE_STARTS = frozenset(
    {"DURATION", "FALSE", "LPAR", "LSQB", "NAME", "NULL", "NUMBER", "STRING", "TRUE"}
)


def _accepted(err: UnexpectedInput) -> set[str]:
    parser = getattr(err, "interactive_parser", None)
    if parser is not None:
        try:
            return set(parser.accepts())
        except Exception:  # the precise set is a nicety; fall back to Lark's own guess
            pass
    return set(getattr(err, "expected", None) or ())


def _expected(names: set[str] | frozenset[str], zh: bool) -> str:
    names = set(names)
    value = []
    if _VALUE_STARTS <= names:
        names -= _VALUE_STARTS | {"MINUS", "NOT", "IF"}
        value = ["值" if zh else "a value"]
    shown = value + sorted({_describe(n, zh) for n in names if not n.startswith("__ANON")})
    if len(shown) > 8:
        shown = shown[:8] + ["…"]
    return (" 或 " if zh else " or ").join(shown) or ("more input" if not zh else "更多内容")


def _point(line: int, column: int, width: int = 1) -> A.Span:
    return A.Span(line, column, line, column + width)


def _syntax_error(err: UnexpectedInput, source: str) -> DslSyntaxError:
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream or 0
        char = source[pos] if pos < len(source) else ""
        hint = None
        if char in "“”‘’":
            hint = ("quote_text", {"text": "..."})
        elif char in _TOKEN_HINTS or source[pos : pos + 2] in _TOKEN_HINTS:
            two = source[pos : pos + 2]
            hint = ("did_you_mean", {"name": _TOKEN_HINTS.get(two) or _TOKEN_HINTS[char]})
        return make_error(  # type: ignore[return-value]
            DslSyntaxError,
            "unexpected_character",
            source,
            _point(err.line, err.column),
            hint=hint,
            char=repr(char),
        )
    if isinstance(err, UnexpectedToken) and err.token.type != "$END":
        token = err.token
        text = str(token)
        hint = ("did_you_mean", {"name": _TOKEN_HINTS[text]}) if text in _TOKEN_HINTS else None
        span = A.Span(
            token.line or 1,
            token.column or 1,
            token.end_line or token.line or 1,
            token.end_column or (token.column or 1) + len(text),
        )
        exc = make_error(
            DslSyntaxError,
            "unexpected_token",
            source,
            span,
            hint=hint,
            token=f"`{text}`",
            expected=_expected(_accepted(err), False),
        )
        exc.message_zh = make_error(
            DslSyntaxError,
            "unexpected_token",
            source,
            span,
            token=f"`{text}`",
            expected=_expected(_accepted(err), True),
        ).message_zh
        return exc  # type: ignore[return-value]
    expected = _accepted(err)
    lines = source.splitlines() or [""]
    span = _point(len(lines), len(lines[-1]) + 1)
    exc = make_error(
        DslSyntaxError, "unexpected_end", source, span, expected=_expected(expected, False)
    )
    exc.message_zh = make_error(
        DslSyntaxError, "unexpected_end", source, span, expected=_expected(expected, True)
    ).message_zh
    return exc  # type: ignore[return-value]


def _check_depth(tree: Tree[Token], source: str) -> None:
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            meta = node.meta
            span = _point(meta.line, meta.column)
            raise make_error(DslSyntaxError, "too_deep", source, span, limit=MAX_DEPTH)
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


def _parse(source: str, start: str) -> Tree[Token]:
    if not isinstance(source, str):
        raise DslSyntaxError("empty", "the source must be text", "源内容必须是文本")
    if len(source) > MAX_SOURCE_LENGTH:
        raise make_error(
            DslSyntaxError,
            "too_long",
            source,
            _point(1, 1),
            length=len(source),
            limit=MAX_SOURCE_LENGTH,
        )
    if start != "ruleset" and not source.strip():
        raise make_error(DslSyntaxError, "empty", source, _point(1, 1))
    try:
        tree = _LARK.parse(source, start=start)
    except UnexpectedInput as err:
        raise _syntax_error(err, source) from None
    if isinstance(tree, Tree):
        _check_depth(tree, source)
    return tree


@lru_cache(maxsize=2048)
def _cached(source: str, start: str) -> A.Node:
    """Parse once per distinct text: trees are immutable, so compiles may share them."""
    if start == "ruleset":
        tree = _parse(source, start)
        return Builder(source).t_ruleset(tree, span_of(tree), tree.children)
    node = Builder(source).build(_parse(source, start))
    if start == "unary_tests" and not isinstance(node, (A.Tests, A.NotTests, A.AnyTest)):
        node = A.Tests(node.span, (node,))
    return node


def _checked_text(source: object) -> str:
    if not isinstance(source, str):
        raise DslSyntaxError("empty", "the source must be text", "源内容必须是文本")
    return source


def parse_expression(source: str) -> A.Node:
    """Parse a condition or computed value."""
    return _cached(_checked_text(source), "expression")


def parse_ruleset(source: str) -> A.RuleSetNode:
    """Parse a rule set (``rule "..." when ... then ... end`` blocks)."""
    node = _cached(_checked_text(source), "ruleset")
    assert isinstance(node, A.RuleSetNode)
    return node


def parse_tests(source: str) -> A.Node:
    """Parse a decision-table input cell (unary tests)."""
    return _cached(_checked_text(source), "unary_tests")
