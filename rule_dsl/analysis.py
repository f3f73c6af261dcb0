"""Static analysis of decision tables: overlapping rows, gaps and unreachable rows.

Each input column's value domain is cut into segments at the constants its cells mention
(points, the open intervals between them, the ends, "any other value" for categories, and
null when a cell tests for null). A cell is then the set of segments it accepts, a row a
box of such sets, and the questions become set algebra over boxes. Example inputs are
built from a representative value of each segment.

Cells that compare with something other than a constant cannot be placed on the domain:
they count as matching everything when looking for gaps and as matching nothing when
looking for overlaps and unreachable rows, so no finding is ever a false alarm.
Overlaps are reported for ``unique`` tables, and for ``first`` and ``priority`` tables when
the overlapping rows give different outputs; ``collect`` and ``rule_order`` tables overlap
by design. Gaps are not reported for tables whose outputs have defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rule_dsl import ast as A
from rule_dsl.runtime import EvalFaultError, compare, eq, in_range, kind_of

if TYPE_CHECKING:
    from rule_dsl._tablegen import Column
    from rule_dsl.tables import DecisionTable, Finding

__all__ = ["OTHER", "analyze"]

OTHER = "<other>"
MAX_FINDINGS = 100
_MAX_WORK = 20_000

Box = tuple[frozenset[int], ...]


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a column's domain and a value standing for all of it."""

    kind: str  # point | open | below | above | other | null | unknown
    value: Any
    low: Any = None
    high: Any = None


def _constants(node: A.Node) -> list[Any] | None:
    if isinstance(node, A.IsNull):
        return []
    if isinstance(node, A.Compare) and isinstance(node.right, A.Literal):
        return [node.right.value]
    if isinstance(node, A.In) and isinstance(node.right, A.Range):
        low, high = node.right.low, node.right.high
        if isinstance(low, A.Literal) and isinstance(high, A.Literal):
            return [low.value, high.value]
    return None


def _holds(node: A.Node, value: Any) -> bool:
    try:
        if isinstance(node, A.IsNull):
            return value is None
        if isinstance(node, A.Compare):
            right = node.right.value  # type: ignore[attr-defined]
            if node.op in ("==", "!="):
                return eq(value, right) is (node.op == "==")
            return compare(node.op, value, right, -1)
        rng = node.right  # type: ignore[attr-defined]
        return in_range(value, rng.low.value, rng.high.value, rng.low_closed, rng.high_closed, -1)
    except EvalFaultError:
        return False


def _step(value: Any, sign: int) -> Any:
    if isinstance(value, datetime | date):
        return value + sign * timedelta(days=1)
    if isinstance(value, timedelta):
        return value + sign * timedelta(hours=1)
    return value + sign


def _between(low: Any, high: Any, integer: bool) -> Any:
    if integer:
        candidate = int(Decimal(low).to_integral_value(rounding="ROUND_FLOOR")) + 1
        return candidate if candidate < high else None
    if type(low) is date:
        days = (high - low).days
        return low + timedelta(days=days // 2) if days >= 2 else None
    if isinstance(low, datetime | timedelta):
        return low + (high - low) / 2
    return (Decimal(low) + Decimal(high)) / 2


def _domain(column: Column) -> list[Segment] | None:
    cells = [c for c in column.cells if c is not None]
    tests = [t for _, ts in cells for t in ts]
    found = [_constants(t) for t in tests]
    values = [v for vs in found if vs for v in vs if v is not None]
    with_null = any(isinstance(t, A.IsNull) for t in tests)
    ordered = any(
        isinstance(t, A.In) or (isinstance(t, A.Compare) and t.op not in ("==", "!="))
        for t, vs in zip(tests, found, strict=True)
        if vs is not None
    )
    kinds = {kind_of(v) for v in values}
    segments: list[Segment] = []
    if ordered:
        if len(kinds) != 1 or kinds & {"string", "boolean", "list", "object"}:
            return None
        points: list[Any] = []
        for v in sorted(values):
            if not points or not eq(points[-1], v):
                points.append(v)
        integer = column.type.integer
        segments.append(Segment("below", _step(points[0], -1), None, points[0]))
        for index, point in enumerate(points):
            segments.append(Segment("point", point, point, point))
            nxt = points[index + 1] if index + 1 < len(points) else None
            if nxt is not None:
                middle = _between(point, nxt, integer)
                if middle is not None:
                    segments.append(Segment("open", middle, point, nxt))
        segments.append(Segment("above", _step(points[-1], 1), points[-1], None))
    else:
        if column.type.kind == "boolean" or kinds == {"boolean"}:
            choices: list[Any] = [True, False]
        else:
            choices = []
            for v in [*values, *(column.type.enum or ())]:
                if not any(eq(v, c) and kind_of(v) == kind_of(c) for c in choices):
                    choices.append(v)
        segments.extend(Segment("point", v, v, v) for v in choices)
        if not choices and not with_null:
            return [Segment("unknown", None)]  # only "-" cells: the column never matters
        if column.type.kind != "boolean" and kinds != {"boolean"} and not column.type.enum:
            other = max(values) + 1 if kinds == {"number"} else OTHER
            segments.append(Segment("other", other))
    if with_null:
        segments.append(Segment("null", None))
    return segments


def _cell_sets(
    column: Column, domain: list[Segment], known: bool
) -> list[tuple[frozenset[int], bool]]:
    """Per row: the accepted segments and whether that set is exact (constants only)."""
    every = frozenset(range(len(domain)))
    out = []
    for cell in column.cells:
        if cell is None:
            out.append((every, True))
            continue
        negated, tests = cell
        if not known or any(_constants(t) is None for t in tests):
            out.append((every, False))
            continue
        accepted = set()
        for index, seg in enumerate(domain):
            value = None if seg.kind == "null" else seg.value
            hit = any(_holds(t, value) for t in tests) if seg.kind != "other" else False
            if seg.kind == "other":
                hit = any(isinstance(t, A.Compare) and t.op == "!=" for t in tests)
            if hit is not negated:
                accepted.add(index)
        out.append((frozenset(accepted), True))
    return out


class _Search:
    """Finds sub-boxes of a box that no row of a list covers (within a work budget)."""

    def __init__(self) -> None:
        self.work = 0

    def uncovered(self, box: Box, rows: list[Box], limit: int) -> list[Box]:
        found: list[Box] = []
        self._walk(box, rows, 0, (), found, limit)
        return found

    def _walk(
        self, box: Box, rows: list[Box], col: int, prefix: Box, found: list[Box], limit: int
    ) -> None:
        self.work += 1
        if len(found) >= limit or self.work > _MAX_WORK:
            return
        if not rows:
            found.append(prefix + box[col:])
            return
        if col == len(box):
            return
        groups: dict[frozenset[int], set[int]] = {}
        for seg in box[col]:
            key = frozenset(i for i, r in enumerate(rows) if seg in r[col])
            groups.setdefault(key, set()).add(seg)
        for key, segs in groups.items():
            subset = [rows[i] for i in sorted(key)]
            self._walk(box, subset, col + 1, (*prefix, frozenset(segs)), found, limit)


def _fmt(value: Any) -> str:
    if value == OTHER and isinstance(value, str):
        return "any other value"
    if isinstance(value, str):
        return f'"{value}"'
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, timedelta):
        return f"{value.total_seconds() / 3600:g}h"
    if isinstance(value, date):
        return f'{type(value).__name__}("{value.isoformat()}")'
    return str(value)


def _bound(seg: Segment, low: bool) -> tuple[Any, bool] | None:
    """The bound a segment gives a run of segments: (value, closed) or None for unbounded."""
    if seg.kind == "point":
        return seg.value, True
    if seg.kind == "open":
        return (seg.low if low else seg.high), False
    if (seg.kind == "below") == low:
        return None
    return (seg.high if seg.kind == "below" else seg.low), False


def _run_text(first: Segment, last: Segment) -> str:
    if first is last and first.kind == "point":
        return _fmt(first.value)
    low, high = _bound(first, True), _bound(last, False)
    if low is None and high is None:
        return "-"
    if low is None:
        return f"{'<=' if high[1] else '<'} {_fmt(high[0])}"  # type: ignore[index]
    if high is None:
        return f"{'>=' if low[1] else '>'} {_fmt(low[0])}"
    return f"{'[' if low[1] else '('}{_fmt(low[0])}..{_fmt(high[0])}{']' if high[1] else ')'}"


def describe(domain: list[Segment], segs: frozenset[int]) -> str:
    """Unary-test text for a set of segments, e.g. ``< 1000, [5000..6000]``."""
    parts: list[str] = []
    ordered = [i for i in sorted(segs) if domain[i].kind in ("below", "point", "open", "above")]
    is_ordered = any(domain[i].kind in ("below", "open", "above") for i in range(len(domain)))
    if is_ordered:
        runs: list[list[int]] = []
        for i in ordered:
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        parts.extend(_run_text(domain[r[0]], domain[r[-1]]) for r in runs)
    else:
        rest = [i for i in range(len(domain)) if i not in segs]
        if len(segs) > len(domain) / 2 and rest:  # "not(...)" reads better than a long list
            shown = [_fmt(OTHER if domain[i].kind == "other" else domain[i].value) for i in rest]
            return f"not({', '.join(shown)})"
        parts.extend(_fmt(domain[i].value) for i in ordered)
    parts.extend(
        _fmt(OTHER if domain[i].kind == "other" else None)
        for i in sorted(segs)
        if domain[i].kind in ("other", "null")
    )
    return ", ".join(parts)


def analyze(table: DecisionTable) -> list[Finding]:
    """Overlaps, gaps and unreachable rows of ``table`` (see the module docstring)."""
    from rule_dsl.tables import Finding

    columns = list(table.columns)
    found = [_domain(c) for c in columns]
    domains = [d if d is not None else [Segment("unknown", None)] for d in found]
    per_column = [
        _cell_sets(c, d, f is not None) for c, d, f in zip(columns, domains, found, strict=True)
    ]
    row_count = len(table._comp.outputs)
    sure: list[Box] = []
    cover: list[Box] = []
    for row in range(row_count):
        cells = [pc[row] for pc in per_column]
        cover.append(tuple(s for s, _ in cells))
        sure.append(tuple(s if exact else frozenset() for s, exact in cells))
    names = [c.name for c in columns]
    search = _Search()
    findings: list[Finding] = []

    def example(box: Box) -> dict[str, Any]:
        out = {}
        for name, domain, segs in zip(names, domains, box, strict=True):
            seg = domain[min(segs)] if segs else None
            if seg is not None and seg.kind != "unknown":
                out[name] = None if seg.kind == "null" else seg.value
        return out

    def text(sample: dict[str, Any]) -> str:
        return ", ".join(f"{k} = {_fmt(v)}" for k, v in sample.items())

    outputs = [tuple(table._comp.outputs_src.get(r, ())) for r in range(row_count)]
    policy = table.hit_policy
    if policy in ("unique", "first", "priority"):
        for i in range(row_count):
            for j in range(i + 1, row_count):
                if policy != "unique" and outputs[i] == outputs[j]:
                    continue
                both = tuple(a & b for a, b in zip(sure[i], sure[j], strict=True))
                if all(both) and len(findings) < MAX_FINDINGS:
                    shown_sample = text(example(both))
                    findings.append(
                        Finding(
                            "overlap",
                            (i, j),
                            example(both),
                            f"rows {i + 1} and {j + 1} overlap: both match {shown_sample}",
                            f"第 {i + 1} 行与第 {j + 1} 行重叠：两行都匹配 {shown_sample}",
                        )
                    )
    if domains and table._defaults is None:  # with defaults, unmatched inputs are handled
        whole = tuple(frozenset(range(len(d))) for d in domains)
        for gap in search.uncovered(whole, cover, MAX_FINDINGS - len(findings)):
            sample = example(gap)
            where = "; ".join(
                f"{name}: {describe(domain, segs)}"
                for name, domain, segs, full in zip(names, domains, gap, whole, strict=True)
                if segs != full
            )
            findings.append(
                Finding(
                    "gap",
                    (),
                    sample,
                    f"no row matches {where} (e.g. {text(sample)})",
                    f"没有任何行匹配 {where}（例如 {text(sample)}）",
                )
            )
    for r in range(row_count):
        if not all(cover[r]):
            findings.append(
                Finding(
                    "unreachable",
                    (r,),
                    {},
                    f"row {r + 1} matches no input",
                    f"第 {r + 1} 行不匹配任何输入",
                )
            )
            continue
        if policy != "first" or r == 0:
            continue
        earlier = [sure[i] for i in range(r)]
        if search.uncovered(cover[r], earlier, 1) or search.work > _MAX_WORK:
            continue
        sample = example(cover[r])
        hits = [i for i in range(r) if all(a & b for a, b in zip(sure[i], cover[r], strict=True))]
        shown = ", ".join(str(i + 1) for i in hits)
        verb = f"row {shown} matches" if len(hits) == 1 else f"rows {shown} match"
        findings.append(
            Finding(
                "unreachable",
                (r, *hits),
                sample,
                f"row {r + 1} is unreachable: {verb} every input it matches (e.g. {text(sample)})",
                f"第 {r + 1} 行永远不会命中：第 {shown} 行已匹配它能匹配的所有输入（例如 {text(sample)}）",
            )
        )
    return findings
