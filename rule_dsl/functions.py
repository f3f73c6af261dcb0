"""The function library: ``len``, ``round``, ``matches``, ``days_between`` and the rest.

Every implementation takes the span id first (for located errors), then the clock when its
signature says so, then the arguments. Null arguments give null, except for predicates
(``contains``, ``starts_with``, ``ends_with``, ``matches``), which give false, and
``coalesce``, whose purpose is nulls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import re2

from rule_dsl._timefns import TIME_FUNCTIONS, zone
from rule_dsl.runtime import (
    DIGITS_LIMIT,
    INT_BOUND,
    MAX_DIGITS,
    MAX_STEPS,
    MAX_TEXT,
    EvalFaultError,
    aggregate_all,
    aggregate_any,
    aggregate_avg,
    aggregate_count,
    aggregate_max,
    aggregate_min,
    aggregate_sum,
    check_size,
    eq,
    kind_of,
    num,
    overflow,
    too_large,
    too_much_work,
)

__all__ = ["FUNCTIONS", "SIGNATURES", "Signature", "compile_pattern", "zone"]

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_RE2_OPTIONS.max_mem = 4 << 20
MAX_PATTERN_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class Signature:
    """Arity and types of a library function, read by the checker.

    ``params`` lists the accepted kinds per position ("a|b"; the last entry repeats for
    variadic functions); ``result`` is a kind or one of "arg0" (the first argument's type),
    "item" (element type of a list argument), "unify" (common type of the arguments).
    """

    min_args: int
    max_args: int | None
    params: tuple[str, ...]
    result: str
    clock: bool = False


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Any:
    """Compile an RE2 pattern (linear-time matching, no backtracking); ValueError if invalid."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"pattern longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as err:
        reason = err.args[0] if err.args else err
        raise ValueError(reason.decode() if isinstance(reason, bytes) else str(reason)) from None


def _need(sid: int, name: str, value: Any, *kinds: str) -> Any:
    value = num(value)
    if kind_of(value) not in kinds:
        raise EvalFaultError(
            sid, "eval_type", op=name, left=" or ".join(kinds), right=kind_of(value)
        )
    return value


def f_len(sid: int, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (str, list, tuple, Mapping)):
        return len(value)
    raise EvalFaultError(sid, "eval_type", op="len", left="a list or text", right=kind_of(value))


def f_abs(sid: int, value: Any) -> Any:
    return None if value is None else abs(_need(sid, "abs", value, "number", "duration"))


def _whole(sid: int, name: str, value: Any, rounding: str = ROUND_DOWN) -> int:
    """``value`` (a number) as an int, refusing magnitudes no order field can mean."""
    if type(value) is int:
        return value
    if value.adjusted() >= MAX_DIGITS:
        raise EvalFaultError(sid, "too_large", name=name)
    return int(value.to_integral_value(rounding=rounding))


def f_round(sid: int, value: Any, digits: Any = 0) -> Any:
    if value is None or digits is None:
        return None
    value = _need(sid, "round", value, "number")
    places = _whole(sid, "round", _need(sid, "round", digits, "number"))
    if type(value) is int and places >= 0:
        return value
    try:
        return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise EvalFaultError(sid, "too_large", name="round") from None


def _to_int(sid: int, name: str, value: Any, rounding: str) -> Any:
    if value is None:
        return None
    return _whole(sid, name, _need(sid, name, value, "number"), rounding)


def f_floor(sid: int, value: Any) -> Any:
    return _to_int(sid, "floor", value, ROUND_FLOOR)


def f_ceil(sid: int, value: Any) -> Any:
    return _to_int(sid, "ceil", value, ROUND_CEILING)


def _spread(args: tuple[Any, ...]) -> Any:
    return args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args


def f_min(sid: int, *args: Any) -> Any:
    return aggregate_min(_spread(args), sid)


def f_max(sid: int, *args: Any) -> Any:
    return aggregate_max(_spread(args), sid)


def _list_arg(sid: int, name: str, value: Any) -> Any:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return value
    raise EvalFaultError(sid, "eval_type", op=name, left="a list", right=kind_of(value))


def f_sum(sid: int, value: Any) -> Any:
    return aggregate_sum(_list_arg(sid, "sum", value), sid)


def f_avg(sid: int, value: Any) -> Any:
    return aggregate_avg(_list_arg(sid, "avg", value), sid)


def f_count(sid: int, value: Any) -> Any:
    return aggregate_count(_list_arg(sid, "count", value), sid)


def f_any(sid: int, value: Any) -> Any:
    return aggregate_any(_list_arg(sid, "any", value), sid)


def f_all(sid: int, value: Any) -> Any:
    return aggregate_all(_list_arg(sid, "all", value), sid)


def _hashable_alike(items: list[Any]) -> bool:
    """All texts, or all exact numbers but NaN: there hash equality is the language's ``==``."""
    classes = {item.__class__ for item in items}
    if classes <= {str}:
        return True
    return classes <= {int, Decimal} and not any(
        item.__class__ is Decimal and item.is_nan() for item in items
    )


def f_distinct(sid: int, value: Any) -> Any:
    items = [num(item) for item in _list_arg(sid, "distinct", value)]
    if _hashable_alike(items):
        return list(dict.fromkeys(items))  # keeps the first of equal items, like the loop below
    out: list[Any] = []
    # Items compared pairwise cost the square of the list, and comparing two objects walks
    # both: ten steps per comparison.
    steps = MAX_STEPS // 10
    for item in items:
        steps -= len(out)
        if steps < 0:
            raise too_much_work(sid)
        if not any(eq(item, seen) for seen in out):
            out.append(item)
    return out


def _text(sid: int, name: str, value: Any) -> Any:
    return None if value is None else _need(sid, name, value, "string")


def f_lower(sid: int, value: Any) -> Any:
    value = _text(sid, "lower", value)
    return None if value is None else check_size(value.lower(), sid, "lower")


def f_upper(sid: int, value: Any) -> Any:
    value = _text(sid, "upper", value)  # "ß".upper() is "SS": case changes can lengthen text
    return None if value is None else check_size(value.upper(), sid, "upper")


def f_trim(sid: int, value: Any) -> Any:
    value = _text(sid, "trim", value)
    return None if value is None else value.strip()


def f_contains(sid: int, container: Any, item: Any) -> bool:
    if container is None or item is None:
        return False
    if type(container) is str:
        return type(item) is str and item in container
    return any(eq(item, x) for x in _list_arg(sid, "contains", container))


def f_starts_with(sid: int, value: Any, prefix: Any) -> bool:
    if value is None or prefix is None:
        return False
    text: str = _text(sid, "starts_with", value)
    return text.startswith(_text(sid, "starts_with", prefix))


def f_ends_with(sid: int, value: Any, suffix: Any) -> bool:
    if value is None or suffix is None:
        return False
    text: str = _text(sid, "ends_with", value)
    return text.endswith(_text(sid, "ends_with", suffix))


def f_matches(sid: int, value: Any, pattern: Any) -> bool:
    if value is None or pattern is None:
        return False
    value = _text(sid, "matches", value)
    try:
        regex = compile_pattern(_text(sid, "matches", pattern))
    except ValueError as err:
        raise EvalFaultError(sid, "bad_pattern", reason=str(err)) from None
    return regex.search(value) is not None


def f_replace(sid: int, value: Any, old: Any, new: Any) -> Any:
    if value is None or old is None or new is None:
        return None
    text, old, new = (_text(sid, "replace", x) for x in (value, old, new))
    # The size is known before the text is built: "" matches between every two characters.
    hits = len(text) + 1 if not old else text.count(old)
    size = len(text) + hits * (len(new) - len(old))
    if size > MAX_TEXT:
        raise too_large(sid, "replace", size, True)
    return text.replace(old, new)


def f_substring(sid: int, value: Any, start: Any, length: Any = None) -> Any:
    if value is None or start is None:
        return None
    text = _text(sid, "substring", value)
    begin = _whole(sid, "substring", _need(sid, "substring", start, "number"))
    if length is None:
        return text[begin:]
    size = _whole(sid, "substring", _need(sid, "substring", length, "number"))
    return text[begin : begin + max(size, 0)]


def f_split(sid: int, value: Any, sep: Any) -> Any:
    if value is None or sep is None:
        return None
    separator = _text(sid, "split", sep)
    if not separator:
        raise EvalFaultError(sid, "empty_separator")
    return check_size(_text(sid, "split", value).split(separator), sid, "split")


def f_join(sid: int, value: Any, sep: Any) -> Any:
    if value is None or sep is None:
        return None
    items = _list_arg(sid, "join", value)
    separator = _text(sid, "join", sep)
    texts = [f_string(sid, x) for x in items if x is not None]
    size = sum(map(len, texts)) + len(separator) * max(len(texts) - 1, 0)
    if size > MAX_TEXT:
        raise too_large(sid, "join", size, True)
    return separator.join(texts)


def f_string(sid: int, value: Any) -> Any:
    value = num(value)
    if value is None or type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if kind_of(value) in ("date", "datetime"):
        return value.isoformat()
    if type(value) is int and not -INT_BOUND < value < INT_BOUND:
        raise overflow(sid, "string", DIGITS_LIMIT)
    try:
        return str(value)
    except ValueError:  # a list or object holding a number str() refuses (over 4,300 digits)
        raise overflow(sid, "string", DIGITS_LIMIT) from None


def f_number(sid: int, value: Any) -> Any:
    value = num(value)
    if value is None or kind_of(value) == "number":
        return value
    text = _text(sid, "number", value).strip()
    try:
        parsed = Decimal(text)
    except InvalidOperation:
        return None
    if not parsed.is_finite() or parsed.adjusted() >= MAX_DIGITS:
        return None
    return int(parsed) if parsed == parsed.to_integral_value() and "." not in text else parsed


def f_coalesce(sid: int, *args: Any) -> Any:
    for value in args:
        if value is not None:
            return num(value)
    return None


FUNCTIONS: dict[str, Callable[..., Any]] = {
    **TIME_FUNCTIONS,
    "len": f_len,
    "abs": f_abs,
    "round": f_round,
    "floor": f_floor,
    "ceil": f_ceil,
    "min": f_min,
    "max": f_max,
    "sum": f_sum,
    "avg": f_avg,
    "count": f_count,
    "any": f_any,
    "all": f_all,
    "distinct": f_distinct,
    "lower": f_lower,
    "upper": f_upper,
    "trim": f_trim,
    "contains": f_contains,
    "starts_with": f_starts_with,
    "ends_with": f_ends_with,
    "matches": f_matches,
    "replace": f_replace,
    "substring": f_substring,
    "split": f_split,
    "join": f_join,
    "string": f_string,
    "number": f_number,
    "coalesce": f_coalesce,
}

_T = "date|datetime"
_S = Signature
SIGNATURES: dict[str, Signature] = {
    "len": _S(1, 1, ("string|list|object",), "integer"),
    "abs": _S(1, 1, ("number|duration",), "arg0"),
    "round": _S(1, 2, ("number", "number"), "number"),
    "floor": _S(1, 1, ("number",), "integer"),
    "ceil": _S(1, 1, ("number",), "integer"),
    "min": _S(1, None, ("any",), "item"),
    "max": _S(1, None, ("any",), "item"),
    "sum": _S(1, 1, ("list",), "item"),
    "avg": _S(1, 1, ("list",), "number"),
    "count": _S(1, 1, ("list",), "integer"),
    "any": _S(1, 1, ("list",), "boolean"),
    "all": _S(1, 1, ("list",), "boolean"),
    "distinct": _S(1, 1, ("list",), "arg0"),
    "lower": _S(1, 1, ("string",), "string"),
    "upper": _S(1, 1, ("string",), "string"),
    "trim": _S(1, 1, ("string",), "string"),
    "contains": _S(2, 2, ("string|list", "any"), "boolean"),
    "starts_with": _S(2, 2, ("string", "string"), "boolean"),
    "ends_with": _S(2, 2, ("string", "string"), "boolean"),
    "matches": _S(2, 2, ("string", "string"), "boolean"),
    "replace": _S(3, 3, ("string", "string", "string"), "string"),
    "substring": _S(2, 3, ("string", "number", "number"), "string"),
    "split": _S(2, 2, ("string", "string"), "list<string>"),
    "join": _S(2, 2, ("list", "string"), "string"),
    "string": _S(1, 1, ("any",), "string"),
    "number": _S(1, 1, ("string|number",), "number"),
    "coalesce": _S(1, None, ("any",), "unify"),
    "now": _S(0, 0, (), "datetime", clock=True),
    "today": _S(0, 1, ("string",), "date", clock=True),
    "date": _S(1, 2, ("string|date|datetime", "string"), "date"),
    "datetime": _S(1, 2, ("string|date|datetime", "string"), "datetime"),
    "in_timezone": _S(2, 2, ("datetime|string", "string"), "datetime"),
    "days_between": _S(2, 2, (_T, _T), "integer"),
    "hours_between": _S(2, 2, (_T, _T), "number"),
    "hours_since": _S(1, 1, (_T,), "number", clock=True),
    "days_since": _S(1, 1, (_T,), "integer", clock=True),
    "year": _S(1, 1, (_T,), "integer"),
    "month": _S(1, 1, (_T,), "integer"),
    "day": _S(1, 1, (_T,), "integer"),
    "hour": _S(1, 1, ("datetime",), "integer"),
    "weekday": _S(1, 1, (_T,), "integer"),
    "minutes": _S(1, 1, ("number",), "duration"),
    "hours": _S(1, 1, ("number",), "duration"),
    "days": _S(1, 1, ("number",), "duration"),
}
