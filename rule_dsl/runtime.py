"""Helpers that compiled rule code may call, and nothing else.

Compiled code runs with ``__builtins__`` set to ``{}`` and a namespace holding only
``NAMESPACE``. Helpers take plain values and an integer span id (``sid``) and report a
failure by raising ``EvalFaultError(sid, code, params)``, which the caller turns into a
located ``DslEvalError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

__all__ = [
    "INT_BOUND",
    "MAX_DIGITS",
    "MAX_ITEMS",
    "MAX_STEPS",
    "MAX_TEXT",
    "NAMESPACE",
    "EvalFaultError",
    "kind_of",
    "normalize_now",
    "overflow",
    "within_bounds",
]

# Bounds of one evaluation (docs/dsl.md, "Limits"). A source is at most 20,000 characters, so
# without them a few hundred bytes of text could build gigabytes or run for hours.
# Whole numbers keep at most this many digits, and numbers with more digits before the point
# are never turned into Python ints: int() of 1e999999999 would stall the evaluation.
MAX_DIGITS = 1000
MAX_TEXT = 100_000  # characters in one text value
MAX_ITEMS = 100_000  # items in one list value
MAX_STEPS = 100_000  # steps of one evaluation: see ``charge``

_D = Decimal
_ZERO = Decimal(0)
INT_BOUND: int = 10**MAX_DIGITS  # a whole number of MAX_DIGITS digits is below this
_TEXT_PER_STEP = 100

DIGITS_LIMIT = (
    f"a whole number may have at most {MAX_DIGITS:,} digits",
    f"整数最多 {MAX_DIGITS:,} 位",
)
DATE_LIMIT = ("dates must lie between the years 1 and 9999", "日期必须在公元 1 年至 9999 年之间")
RANGE_LIMIT = ("the result is outside the supported range", "结果超出支持的范围")


class EvalFaultError(Exception):
    """A located evaluation failure raised by a helper (internal; becomes DslEvalError)."""

    def __init__(self, sid: int, code: str, **params: Any) -> None:
        super().__init__(code)
        self.sid = sid
        self.code = code
        self.params = params


def overflow(sid: int, op: str, limit: tuple[str, str] = RANGE_LIMIT) -> EvalFaultError:
    """The ``overflow`` fault of ``op``, saying which bound (``DIGITS_LIMIT``...) was passed."""
    return EvalFaultError(sid, "overflow", op=op, limit=limit[0], limit_zh=limit[1])


def int_overflow(sid: int, op: str) -> Any:
    """Raise the fault of a fast-path ``op`` whose whole number passed MAX_DIGITS."""
    raise overflow(sid, op, DIGITS_LIMIT)


def too_large(sid: int, op: str, size: int, text: bool) -> EvalFaultError:
    """The ``value_too_large`` fault of ``op`` building ``size`` characters or items."""
    limit = MAX_TEXT if text else MAX_ITEMS
    unit, unit_zh = ("characters", "个字符") if text else ("items", "项")
    return EvalFaultError(
        sid, "value_too_large", op=op, size=f"{size:,}", limit=f"{limit:,}", unit=unit,
        unit_zh=unit_zh,
    )  # fmt: skip


def check_size(value: Any, sid: int, op: str) -> Any:
    """``value`` itself, when a text holds at most MAX_TEXT characters and a list MAX_ITEMS."""
    t = type(value)
    if t is str and len(value) > MAX_TEXT:
        raise too_large(sid, op, len(value), True)
    if t is list and len(value) > MAX_ITEMS:
        raise too_large(sid, op, len(value), False)
    return value


def within_bounds(value: Any) -> bool:
    """Whether every number in ``value`` (nested in lists and objects) is one any JSON store
    keeps: finite, a whole number of at most MAX_DIGITS digits, a decimal of magnitude
    between 10**-MAX_DIGITS and 10**MAX_DIGITS (or zero)."""
    t = value.__class__
    if t is int:
        whole: int = value
        return -INT_BOUND < whole < INT_BOUND
    if t is Decimal:
        return value.is_finite() and (not value or -MAX_DIGITS < value.adjusted() < MAX_DIGITS)
    if t is float:
        return value == value and value not in (float("inf"), float("-inf"))
    if t is list or t is tuple:
        return all(within_bounds(item) for item in value)
    if isinstance(value, Mapping):
        return all(within_bounds(item) for item in value.values())
    return True


def too_much_work(sid: int) -> EvalFaultError:
    """The fault of an evaluation that passed MAX_STEPS."""
    return EvalFaultError(sid, "too_much_work", limit=f"{MAX_STEPS:,}")


def charge(value: Any, sid: int, budget: list[int]) -> Any:
    """Count ``value`` against the evaluation's step budget and return it.

    Compiled code charges what it walks or builds inside a comprehension: the list of a
    comprehension nested in another, list arguments of list functions, the results of text
    and list functions. A list costs a step per item, a text a step per 100 characters. Work
    outside comprehensions is linear in the source and the data and is not counted.
    """
    t = type(value)
    if t is list or t is tuple:
        budget[0] -= len(value)
    elif t is str:
        budget[0] -= len(value) // _TEXT_PER_STEP
    if budget[0] < 0:
        raise too_much_work(sid)
    return value


def kind_of(value: Any) -> str:
    """Return the rule-language type name of a runtime value."""
    t = type(value)
    if value is None:
        return "null"
    if t is bool:
        return "boolean"
    if t is int or t is Decimal or t is float:
        return "number"
    if t is str:
        return "string"
    if t is datetime:
        return "datetime"
    if t is date:
        return "date"
    if t is timedelta:
        return "duration"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return "unknown"


def sum_numbers(values: Any) -> Any:
    """The fast path's ``sum``: ``aggregate_sum`` of whole numbers, decimals and nulls.

    Like the checked sum it skips nulls, keeps a lone value as it is (``-0.00`` stays
    ``-0.00``, a decimal keeps all its digits) and bounds every partial sum. Anything else (a
    boolean, a JSON float, a duration) raises, and the caller falls back to the checked
    evaluation, which normalises floats and reports type errors with their location. So does
    a whole number over MAX_DIGITS: the fast code leaves that check of its elements to here.
    """
    total: Any = None
    for value in values:
        cls = value.__class__
        if cls is _D:
            total = value if total is None else total + value
        elif cls is int:
            if not -INT_BOUND < value < INT_BOUND:
                raise OverflowError("the checked path reports where")
            total = value if total is None else total + value
            if total.__class__ is int and not -INT_BOUND < total < INT_BOUND:
                raise OverflowError("the checked path reports where")
        elif value is not None:
            raise TypeError("not an exact number")
    return 0 if total is None else total


def num(value: Any) -> Any:
    """Read a JSON float as an exact decimal; leave every other value alone."""
    if type(value) is float:
        return Decimal(str(value))
    return value


def normalize_now(now: datetime | None) -> datetime:
    """Return the evaluation clock: ``now`` made time-zone aware (UTC if naive), or the current time."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        return now.replace(tzinfo=UTC)
    return now


def to_datetime(value: Any, sid: int = -1) -> Any:
    """Coerce ISO text or a naive datetime to an aware datetime (UTC when no offset)."""
    t = type(value)
    if t is datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if value is None:
        return None
    if t is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise EvalFaultError(sid, "bad_value", expected="datetime", value=repr(value)) from None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if t is date:
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise EvalFaultError(sid, "wrong_value", type=kind_of(value), expected="datetime")


def to_date(value: Any, sid: int = -1) -> Any:
    """Coerce ISO text or a datetime (in its own time zone) to a date."""
    t = type(value)
    if t is date or value is None:
        return value
    if t is datetime:
        return value.date()
    if t is str:
        try:
            return date.fromisoformat(value) if len(value) <= 10 else to_datetime(value).date()
        except ValueError:
            raise EvalFaultError(sid, "bad_value", expected="date", value=repr(value)) from None
    raise EvalFaultError(sid, "wrong_value", type=kind_of(value), expected="date")


def get(obj: Any, key: Any) -> Any:
    """Field access: a missing key, a null or a non-object gives null."""
    if isinstance(obj, Mapping):
        return num(obj.get(key))
    return None


def index(obj: Any, key: Any, sid: int) -> Any:
    """``obj[key]``: list position (negative counts from the end) or object key; else null."""
    key = num(key)
    if isinstance(obj, (list, tuple)):
        if type(key) is Decimal:
            if key.adjusted() >= MAX_DIGITS or key != key.to_integral_value():
                return None
            key = int(key)
        if type(key) is not int:
            return None
        return num(obj[key]) if -len(obj) <= key < len(obj) else None
    if isinstance(obj, Mapping) and type(key) is str:
        return num(obj.get(key))
    return None


def iterate(value: Any, sid: int) -> Iterable[Any]:
    """The list a comprehension walks: null is the empty list."""
    if value.__class__ is list or value.__class__ is tuple:
        return value
    if value is None:
        return ()
    raise EvalFaultError(sid, "not_a_list", type=kind_of(value))


def iterate_charged(value: Any, sid: int, budget: list[int]) -> Iterable[Any]:
    """``iterate`` for a comprehension nested in another: its items count as steps."""
    items: Iterable[Any] = charge(iterate(value, sid), sid, budget)
    return items


def _coerce_text(text: str, other: Any) -> Any:
    """ISO text next to a date, datetime or duration is read as a date or datetime."""
    t = type(other)
    if t is date or (t is timedelta and len(text) == 10):
        try:
            return to_date(text)
        except EvalFaultError:
            return text
    if t is datetime or t is timedelta:
        try:
            return to_datetime(text)
        except EvalFaultError:
            return text
    return text


def _coerce_pair(a: Any, b: Any) -> tuple[Any, Any]:
    a, b = num(a), num(b)
    if type(a) is str and type(b) is not str:
        a = _coerce_text(a, b)
    elif type(b) is str and type(a) is not str:
        b = _coerce_text(b, a)
    if type(a) is datetime and a.tzinfo is None:
        a = a.replace(tzinfo=UTC)
    if type(b) is datetime and b.tzinfo is None:
        b = b.replace(tzinfo=UTC)
    return a, b


def _fault(sid: int, op: str, a: Any, b: Any) -> EvalFaultError:
    return EvalFaultError(sid, "eval_type", op=op, left=kind_of(a), right=kind_of(b))


def eq(a: Any, b: Any) -> bool:
    """Value equality: null equals only null; numbers compare exactly; types never coerce to bool."""
    a, b = _coerce_pair(a, b)
    ka, kb = kind_of(a), kind_of(b)
    if ka != kb:
        return False
    if ka == "list":
        return len(a) == len(b) and all(eq(x, y) for x, y in zip(a, b, strict=True))
    if ka == "object":
        return a.keys() == b.keys() and all(eq(a[k], b[k]) for k in a)
    if ka == "datetime":
        moment: datetime = a.astimezone(UTC)
        other: datetime = b.astimezone(UTC)
        return moment == other
    return bool(a == b)


_ORDERED = frozenset({"number", "string", "date", "datetime", "duration"})


def _is_nan(value: Any) -> bool:
    return type(value) is Decimal and value.is_nan()


def compare(op: str, a: Any, b: Any, sid: int) -> bool:
    """Ordering comparison: false when either side is null; an error across types."""
    if a is None or b is None:
        return False
    a, b = _coerce_pair(a, b)
    ka = kind_of(a)
    if ka != kind_of(b) or ka not in _ORDERED:
        raise _fault(sid, op, a, b)
    if ka == "number" and (_is_nan(a) or _is_nan(b)):  # a JSON NaN orders with nothing
        raise EvalFaultError(sid, "bad_value", expected="number", value="NaN")
    if ka == "datetime":  # same-zone datetimes would otherwise compare wall-clock times
        try:
            a, b = a.astimezone(UTC), b.astimezone(UTC)
        except OverflowError:
            raise overflow(sid, op, DATE_LIMIT) from None
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def in_range(
    value: Any, low: Any, high: Any, low_closed: bool, high_closed: bool, sid: int
) -> bool:
    """``value in [low..high)`` and friends; false when the value or a bound is null."""
    if value is None or low is None or high is None:
        return False
    if not compare("<=" if low_closed else "<", low, value, sid):
        return False
    return compare("<=" if high_closed else "<", value, high, sid)


def contained(value: Any, container: Any, sid: int) -> bool:
    """``value in container``: list membership by value equality, or substring of text."""
    if container is None:
        return False
    if type(container) is str:
        return type(value) is str and value in container
    if isinstance(container, (list, tuple, frozenset)):
        return any(eq(value, item) for item in container)
    raise _fault(sid, "in", value, container)


def truth(value: Any) -> bool:
    """Truth of a condition: only ``true`` is true; null and every other value are false."""
    return value is True


def _arith_number(op: str, a: Any, b: Any, sid: int) -> Any:
    if op in "+-*":
        result = a + b if op == "+" else a - b if op == "-" else a * b
        if result.__class__ is int and not -INT_BOUND < result < INT_BOUND:
            raise overflow(sid, op, DIGITS_LIMIT)
        return result
    if b == 0:
        raise EvalFaultError(sid, "division_by_zero")
    if op == "/":
        return _D(a) / _D(b)
    return _D(a) % _D(b)


def arith(op: str, a: Any, b: Any, sid: int) -> Any:
    """``+ - * / %`` with null propagation, exact decimals, dates and durations."""
    if a is None or b is None:
        return None
    a, b = _coerce_pair(a, b)
    ka, kb = kind_of(a), kind_of(b)
    try:
        if ka == kb == "number":
            return _arith_number(op, a, b, sid)
        if op == "+" and ka == kb and ka in ("string", "list"):
            if len(a) + len(b) > (MAX_TEXT if ka == "string" else MAX_ITEMS):
                raise too_large(sid, op, len(a) + len(b), ka == "string")
            return a + b if ka == "string" else list(a) + list(b)
        if op in "+-" and ka == "datetime" and kb == "duration":
            return _shift(a, b if op == "+" else -b, sid, op)
        if op == "+" and ka == "duration" and kb == "datetime":
            return _shift(b, a, sid, op)
        if op in "+-" and ka == "date" and kb == "duration":
            return a + b if op == "+" else a - b
        if op == "+" and ka == "duration" and kb == "date":
            return b + a
        if op in "+-" and ka == kb == "duration":
            return a + b if op == "+" else a - b
        if op == "-" and ka == kb == "datetime":
            return a.astimezone(UTC) - b.astimezone(UTC)
        if op == "-" and ka == kb == "date":
            return a - b
        if op == "*" and {ka, kb} == {"duration", "number"}:
            d, n = (a, b) if ka == "duration" else (b, a)
            if type(n) is Decimal and n.is_finite() and n.adjusted() >= MAX_DIGITS:
                raise overflow(sid, op)  # int() of the product would build a huge number
            return timedelta(microseconds=int(_D(d // timedelta(microseconds=1)) * n))
        if op == "/" and ka == "duration" and kb == "number":
            if b == 0:
                raise EvalFaultError(sid, "division_by_zero")
            return timedelta(microseconds=int(_D(a // timedelta(microseconds=1)) / _D(b)))
        if op == "/" and ka == kb == "duration":
            if not b:
                raise EvalFaultError(sid, "division_by_zero")
            return _D(a // timedelta(microseconds=1)) / _D(b // timedelta(microseconds=1))
    except OverflowError:
        raise overflow(sid, op, DATE_LIMIT if "date" in (ka + kb) else RANGE_LIMIT) from None
    except (ArithmeticError, ValueError):  # decimal.Overflow: an exponent beyond 999,999
        raise overflow(sid, op) from None
    raise _fault(sid, op, a, b)


def _shift(moment: datetime, delta: timedelta, sid: int, op: str) -> datetime:
    """Elapsed-time shift: ``48h`` is 48 real hours even across a daylight-saving change."""
    try:
        return (moment.astimezone(UTC) + delta).astimezone(moment.tzinfo)
    except OverflowError:
        raise overflow(sid, op, DATE_LIMIT) from None


def negate(value: Any, sid: int) -> Any:
    """Unary minus: numbers and durations; null stays null."""
    value = num(value)
    if value is None:
        return None
    if kind_of(value) in ("number", "duration"):
        return -value
    raise EvalFaultError(sid, "eval_type", op="-", left="-", right=kind_of(value))


def aggregate_sum(values: Iterable[Any], sid: int) -> Any:
    """Sum of the non-null values (0 for none); numbers or durations."""
    total: Any = None
    for value in values:
        if value is None:
            continue
        if kind_of(value) not in ("number", "duration"):
            raise EvalFaultError(sid, "eval_type", op="sum", left="numbers", right=kind_of(value))
        total = num(value) if total is None else arith("+", total, value, sid)
    return 0 if total is None else total


def aggregate_count(values: Iterable[Any], sid: int) -> int:
    """Number of non-null values."""
    return sum(1 for value in values if value is not None)


def aggregate_avg(values: Iterable[Any], sid: int) -> Any:
    """Mean of the non-null values; null when there are none."""
    items = [num(v) for v in values if v is not None]
    if not items:
        return None
    return arith("/", aggregate_sum(items, sid), len(items), sid)


def aggregate_min(values: Iterable[Any], sid: int) -> Any:
    """Smallest non-null value; null when there are none."""
    best = None
    for value in values:
        if value is not None and (best is None or compare("<", value, best, sid)):
            best = num(value)
    return best


def aggregate_max(values: Iterable[Any], sid: int) -> Any:
    """Largest non-null value; null when there are none."""
    best = None
    for value in values:
        if value is not None and (best is None or compare(">", value, best, sid)):
            best = num(value)
    return best


def aggregate_any(values: Iterable[Any], sid: int) -> bool:
    """True when some value is true."""
    return any(value is True for value in values)


def aggregate_all(values: Iterable[Any], sid: int) -> bool:
    """True when every value is true (and for an empty list)."""
    return all(value is True for value in values)


def _build_namespace() -> dict[str, Any]:
    from rule_dsl import functions  # the function library lives beside the core helpers

    names: dict[str, Any] = {
        "__builtins__": {},
        "D": Decimal,
        "float_": float,
        "str_": str,
        "exc_base_": Exception,
        "NUM_": frozenset({int, Decimal}),
        "num": num,
        "get": get,
        "index": index,
        "iterate": iterate,
        "iterate_w": iterate_charged,
        "charge_": charge,
        "int_overflow_": int_overflow,
        "int_": int,
        "INT_BOUND_": INT_BOUND,
        "MAX_STEPS_": MAX_STEPS,
        "eq": eq,
        "compare": compare,
        "in_range": in_range,
        "contained": contained,
        "truth": truth,
        "arith": arith,
        "negate": negate,
        "to_datetime": to_datetime,
        "to_date": to_date,
        "now_": normalize_now,
        "sum_": sum_numbers,
        "any_": any,
        "all_": all,
        "agg_sum": aggregate_sum,
        "agg_count": aggregate_count,
        "agg_avg": aggregate_avg,
        "agg_min": aggregate_min,
        "agg_max": aggregate_max,
        "agg_any": aggregate_any,
        "agg_all": aggregate_all,
    }
    for name, impl in functions.FUNCTIONS.items():
        names[f"f_{name}"] = impl
    return names


NAMESPACE: dict[str, Any] = {}


def namespace() -> dict[str, Any]:
    """A fresh globals dict for one compiled unit (helpers only, no builtins)."""
    if not NAMESPACE:
        NAMESPACE.update(_build_namespace())
    fresh = dict(NAMESPACE)
    fresh["__builtins__"] = {}
    return fresh
