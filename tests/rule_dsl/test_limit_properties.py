"""Property test of the evaluation bounds: values near every bound (text and list sizes,
digits, the ends of the calendar, nested comprehensions, work in loops) give a result or a
documented error code, each evaluation within a CPU-time and memory budget."""

from __future__ import annotations

import re
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rule_dsl import DslEvalError, compile_expression
from rule_dsl.runtime import MAX_DIGITS, MAX_ITEMS, MAX_STEPS, MAX_TEXT

DOCS = Path(__file__).resolve().parents[2] / "docs"
SECONDS = 0.5
PEAK_BYTES = 4 << 20
BOUNDED = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))


def documented_codes() -> set[str]:
    """Every code in the error table of docs/dsl.md."""
    text = (DOCS / "dsl.md").read_text(encoding="utf-8")
    table = text.split("| code | class | when |", 1)[1].split("\n\n", 1)[0]
    return set(
        re.findall(r"`([a-z_]+)`", "\n".join(r.split("|")[1] for r in table.splitlines()[2:]))
    )


CODES = documented_codes() - {"eval_failed"}  # documented as a defect, never expected


def near(bound: int) -> st.SearchStrategy[int]:
    """Sizes around ``bound``: its half (two of them reach it) and the bound itself, ± a few."""
    return st.sampled_from([bound // 2, bound]).flatmap(lambda b: st.integers(max(b - 3, 0), b + 3))


def evaluate(source: str, order: dict[str, Any], most: int | None = None) -> None:
    """Evaluate twice: once timed in CPU seconds, once under tracemalloc for the peak; a
    result (a length or a count) is at most ``most``."""
    expr = compile_expression(source)
    context = {"order": order}
    for traced in (False, True):
        if traced:
            tracemalloc.start()
        started = time.process_time()
        try:
            result = expr(context)
            assert most is None or result is None or result <= most, (source, result)
        except DslEvalError as err:
            assert err.code in CODES, (source, err.code)
            assert err.message and err.message_zh and err.line == 1
        finally:
            spent = time.process_time() - started
            peak = tracemalloc.get_traced_memory()[1] if traced else 0
            if traced:
                tracemalloc.stop()
        if not traced:
            assert spent < SECONDS, (source, spent)
        assert peak < PEAK_BYTES, (source, peak)


TEXT_SOURCES = [
    "len(order.s + order.t)",
    "len(replace(order.s, order.old, order.t))",
    "len(join(order.words, order.t))",
    "len(upper(order.s))",
    "count(split(order.s, order.old))",
    "len(string(order.words))",
    "count(l for l in order.words if contains(order.s, l))",
    "len(join(list(order.t for w in order.words), order.old))",
]


@BOUNDED
@given(
    st.sampled_from(TEXT_SOURCES),
    near(MAX_TEXT),
    near(MAX_TEXT),
    st.sampled_from(["", "a", "ab", "ß", "x"]),
    st.integers(0, 2000),
)
def test_text_near_the_size_bound(source: str, s: int, t: int, old: str, words: int) -> None:
    order = {"s": "ab" * (s // 2), "t": "ß" * (t // 50), "old": old, "words": ["ab"] * words}
    evaluate(source, order, MAX_TEXT)


@BOUNDED
@given(
    st.sampled_from(["count(order.a + order.b)", "count(distinct(order.a + order.b))",
                     "count(list(x for x in order.a + order.b))"]),
    near(MAX_ITEMS),
    near(MAX_ITEMS),
)  # fmt: skip
def test_lists_near_the_size_bound(source: str, a: int, b: int) -> None:
    evaluate(source, {"a": list(range(a)), "b": ["x"] * b}, MAX_ITEMS)


@BOUNDED
@given(
    st.sampled_from([
        "order.x * order.y", "string(order.x * order.y)", "order.x * order.y * order.x",
        "len(string(order.x + order.y))", "round(order.d * order.d, order.n)",
        "floor(order.d * order.d)", "order.dur * order.d", "number(string(order.x))",
        "sum(l * order.x for l in [order.y, order.x])", "-(order.x * order.y) * 2",
    ]),
    st.integers(1, MAX_DIGITS + 3),
    st.integers(1, MAX_DIGITS + 3),
    st.sampled_from(["1E+400", "9.99E+499", "1E+999", "1E+999990", "1.5", "-7E+500"]),
    st.integers(-2000, 2000),
)  # fmt: skip
def test_numbers_near_the_digit_bound(source: str, x: int, y: int, d: str, n: int) -> None:
    order = {"x": 10**x - 1, "y": -(10 ** (y - 1)), "d": Decimal(d), "n": n, "dur": timedelta(1)}
    evaluate(source, order)


ENDS = [
    datetime(1, 1, 1, tzinfo=UTC), datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
    datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
    datetime(9999, 12, 31, 20, tzinfo=timezone(timedelta(hours=-12))),
]  # fmt: skip


@BOUNDED
@given(
    st.sampled_from([
        'in_timezone(order.t, order.zone)', 'date(order.t, order.zone)',
        'datetime(order.t, order.zone)', "order.t + order.dur", "order.t - order.dur",
        "order.t < order.u", "order.t == order.u", "days_between(order.t, order.u)",
        "hours_between(order.u, order.t)", "order.day + order.dur", "order.t - order.u",
        "hours(order.n) + order.t", "order.dur * order.n", "today(order.zone)",
        "string(order.t)", "year(in_timezone(order.t, order.zone)) > 1",
    ]),
    st.sampled_from(ENDS),
    st.sampled_from(ENDS),
    st.sampled_from(["Asia/Shanghai", "Pacific/Kiritimati", "Etc/GMT+12", "UTC"]),
    st.sampled_from([timedelta(days=1), timedelta(days=-1), timedelta(days=999_999_999)]),
    st.sampled_from([1, -1, 10**6, 10**12, Decimal("1E+400")]),
)  # fmt: skip
def test_dates_near_the_ends_of_the_calendar(
    source: str, t: datetime, u: datetime, zone: str, dur: timedelta, n: Any
) -> None:
    day = date(t.year, t.month, t.day)
    evaluate(source, {"t": t, "u": u, "zone": zone, "dur": dur, "n": n, "day": day})


NESTED = [
    "sum(sum(1 for b in order.lines) for a in order.lines)",
    "sum(sum(sum(1 for c in order.lines) for b in order.lines) for a in order.lines)",
    "count(a for a in order.lines if any(b == a for b in order.lines))",
    "count(a for a in order.lines if contains(order.lines, a))",
    "count(a for a in order.lines if a in order.lines)",
    "sum(count(distinct(order.lines)) for a in order.lines)",
    "count(list(list(b for b in order.lines) for a in order.lines))",
    'sum(len(join(order.words, "")) for a in order.lines)',
    "count(distinct(order.objects))",
]


@BOUNDED
@given(
    st.sampled_from(NESTED),
    st.sampled_from([1, 46, 47, 316, 317, 2000]).flatmap(lambda n: st.integers(n - 1, n + 1)),
    st.integers(0, 400),
)
def test_nested_loops_near_the_work_bound(source: str, lines: int, objects: int) -> None:
    assert MAX_STEPS == 100_000  # 317 ** 2 and 47 ** 3 pass it
    order = {
        "lines": [{"sku": f"S{i % 50}", "qty": i} for i in range(lines)],
        "words": ["w" * 100] * 100,
        "objects": [{"n": i} for i in range(objects)],
    }
    evaluate(source, order)
