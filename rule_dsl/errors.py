"""Errors raised by the rule language.

Exception tree::

    DslError            base class; every failure of the rule language is one of these
    ├── DslSyntaxError  the text is not a well-formed expression, rule set or table cell
    ├── DslTypeError    well-formed, but names or types do not fit the context schema
    └── DslEvalError    evaluation failed (division by zero, value of the wrong type at run time)

Every error carries a stable machine ``code``, a 1-based ``line``/``column`` (with
``end_column``), an English ``message``, a Chinese ``message_zh``, an ``excerpt`` (the
source line and a caret line under the fault) and, where one exists, a ``hint`` /
``hint_zh``. Errors in decision tables also carry ``location`` (part, row, column, name).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from rule_dsl.ast import Span

__all__ = [
    "MESSAGES",
    "DslError",
    "DslEvalError",
    "DslSyntaxError",
    "DslTypeError",
    "caret_excerpt",
    "make_error",
]

# code -> (English template, Chinese template); templates use str.format fields.
MESSAGES: dict[str, tuple[str, str]] = {
    "empty": ("the expression is empty", "表达式为空"),
    "too_long": (
        "the source is {length} characters long; the limit is {limit}",
        "源文本长度为 {length} 个字符，超过上限 {limit}",
    ),
    "too_deep": (
        "the expression is nested more than {limit} levels deep",
        "表达式嵌套层数超过上限 {limit}",
    ),
    "too_many_loops": (
        "comprehensions are nested more than {limit} deep",
        "推导式嵌套超过 {limit} 层",
    ),
    "unexpected_character": ("unexpected character {char}", "无法识别的字符 {char}"),
    "unexpected_token": (
        "unexpected {token}; expected {expected}",
        "此处不应出现 {token}，应为 {expected}",
    ),
    "unexpected_end": (
        "the text ends too early; expected {expected}",
        "文本意外结束，应为 {expected}",
    ),
    "bad_escape": (
        "invalid escape sequence {escape} in string",
        "字符串中的转义序列 {escape} 无效",
    ),
    "bad_number": ("invalid number {text}", "无效的数字 {text}"),
    "unknown_field": ("unknown field `{name}`", "未知字段 `{name}`"),
    "unknown_function": ("unknown function `{name}`", "未知函数 `{name}`"),
    "wrong_arguments": (
        "`{name}` takes {expected} argument(s), got {got}",
        "`{name}` 需要 {expected} 个参数，实际传入 {got} 个",
    ),
    "not_an_object": (
        "`{name}` is a {type}, it has no field `{field}`",
        "`{name}` 的类型是 {type_zh}，没有字段 `{field}`",
    ),
    "not_a_list": ("expected a list here, got {type}", "此处应为列表，实际为 {type_zh}"),
    "type_mismatch": (
        "cannot apply `{op}` to {left} and {right}",
        "不能对 {left_zh} 和 {right_zh} 使用 `{op}`",
    ),
    "bad_operand": (
        "`{op}` needs {expected}, got {type}",
        "`{op}` 需要 {expected_zh}，实际为 {type_zh}",
    ),
    "expected_type": (
        "expected a {expected} value here, got {type}",
        "此处应为{expected_zh}，实际为{type_zh}",
    ),
    "bad_literal": ("invalid {kind} literal {text}", "无效的 {kind} 字面量 {text}"),
    "bad_pattern": ("invalid regular expression: {reason}", "正则表达式无效：{reason}"),
    "bad_timezone": ("unknown time zone {name}", "未知时区 {name}"),
    "not_assignable": (
        "`{name}` cannot be set: only fields of the context can",
        "`{name}` 不能被赋值：只能设置上下文中的字段",
    ),
    "duplicate_rule": ("rule {name} is defined twice", "规则 {name} 重复定义"),
    "division_by_zero": ("division by zero", "除数为零"),
    "eval_type": (
        "cannot apply `{op}` to {left} and {right} at run time",
        "运行时不能对 {left_zh} 和 {right_zh} 使用 `{op}`",
    ),
    "eval_failed": ("evaluation failed: {reason}", "求值失败：{reason_zh}"),
    "bad_value": ("invalid {expected} {value}", "无效的{expected_zh} {value}"),
    "wrong_value": ("a {type} is not a {expected}", "{type_zh}不是{expected_zh}"),
    "too_large": ("`{name}`: the number is too large", "`{name}`：数字过大"),
    "overflow": ("`{op}` overflowed: {limit}", "`{op}` 计算溢出：{limit_zh}"),
    "value_too_large": (
        "`{op}` would build {size} {unit}; a value may hold at most {limit} {unit}",
        "`{op}` 将生成 {size} {unit_zh}，单个值最多 {limit} {unit_zh}",
    ),
    "too_much_work": (
        "the evaluation needs more than {limit} steps (items of lists walked, and text built,"
        " inside comprehensions); filter the lists first or nest fewer comprehensions",
        "求值需要超过 {limit} 步（推导式内遍历的列表元素与生成的文本）；请先筛选列表或减少推导式嵌套",
    ),
    "empty_separator": (
        "`split` needs a non-empty separator",
        "`split` 的分隔符不能为空",
    ),
    "unique_violation": (
        "hit policy `unique` but rows {rows} all match",
        "命中策略为 `unique`，但第 {rows_zh} 行同时匹配",
    ),
    "bad_table": ("invalid decision table: {reason}", "决策表无效：{reason_zh}"),
}

HINTS: dict[str, tuple[str, str]] = {
    "did_you_mean": ("did you mean `{name}`?", "您是不是想写 `{name}`？"),
    "quote_text": ('put text in double quotes: "{text}"', '文本需要放在双引号中："{text}"'),
}


_WINDOW = 100


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def caret_excerpt(source: str, line: int, column: int, end_column: int | None = None) -> str:
    """Return the source line and a caret line under columns ``column``..``end_column``."""
    lines = source.splitlines() or [""]
    if not 1 <= line <= len(lines):
        return ""
    text = lines[line - 1].replace("\t", " ")
    start = max(column - 1, 0)
    end = max(end_column - 1 if end_column else start + 1, start + 1)
    if len(text) > _WINDOW:  # show a window around the fault on very long lines
        first = max(start - _WINDOW // 3, 0)
        last = min(max(end, start + 1) + _WINDOW // 3, len(text), first + _WINDOW)
        lead = "…" if first else ""
        text = lead + text[first:last] + ("…" if last < len(lines[line - 1]) else "")
        start, end = start - first + len(lead), min(end, last) - first + len(lead)
    pad = _width(text[:start])
    marks = max(_width(text[start:end]), 1)
    return f"{text}\n{' ' * pad}{'^' * marks}"


class DslError(Exception):
    """Base class of every rule-language error (syntax, type and evaluation)."""

    kind = "error"

    def __init__(
        self,
        code: str,
        message: str,
        message_zh: str,
        *,
        line: int | None = None,
        column: int | None = None,
        end_line: int | None = None,
        end_column: int | None = None,
        excerpt: str = "",
        hint: str | None = None,
        hint_zh: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_zh = message_zh
        self.line = line
        self.column = column
        self.end_line = end_line
        self.end_column = end_column
        self.excerpt = excerpt
        self.hint = hint
        self.hint_zh = hint_zh
        self.location: dict[str, Any] | None = None

    def __str__(self) -> str:
        where = f" (line {self.line}, column {self.column})" if self.line else ""
        parts = [f"{self.message}{where}"]
        if self.excerpt:
            parts.append(self.excerpt)
        if self.hint:
            parts.append(self.hint)
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Return the error as a JSON-serialisable dict."""
        return {
            "kind": self.kind,
            "code": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "excerpt": self.excerpt,
            "hint": self.hint,
            "hint_zh": self.hint_zh,
            "location": self.location,
        }


class DslSyntaxError(DslError):
    """The source text is not well formed."""

    kind = "syntax"


class DslTypeError(DslError):
    """The source is well formed but names or types do not fit the context schema."""

    kind = "type"


class DslEvalError(DslError):
    """Evaluation failed in a way that has no defined null result."""

    kind = "eval"


def make_error(
    cls: type[DslError],
    code: str,
    source: str,
    span: Span | None,
    hint: tuple[str, dict[str, Any]] | None = None,
    **params: Any,
) -> DslError:
    """Build ``cls`` for catalogue ``code`` located at ``span`` inside ``source``."""
    en, zh = MESSAGES[code]
    params.setdefault("type_zh", params.get("type", ""))
    params.setdefault("left_zh", params.get("left", ""))
    params.setdefault("right_zh", params.get("right", ""))
    params.setdefault("expected_zh", params.get("expected", ""))
    params.setdefault("reason_zh", params.get("reason", ""))
    hint_en = hint_zh = None
    if hint is not None:
        hint_code, hint_params = hint
        hint_en = HINTS[hint_code][0].format(**hint_params)
        hint_zh = HINTS[hint_code][1].format(**hint_params)
    if span is None:
        return cls(code, en.format(**params), zh.format(**params), hint=hint_en, hint_zh=hint_zh)
    end_column = span.end_column if span.end_line == span.line else None
    return cls(
        code,
        en.format(**params),
        zh.format(**params),
        line=span.line,
        column=span.column,
        end_line=span.end_line,
        end_column=end_column,
        excerpt=caret_excerpt(source, span.line, span.column, end_column),
        hint=hint_en,
        hint_zh=hint_zh,
    )
