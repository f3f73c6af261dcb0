"""Checking and code generation for decision tables.

``compile_table`` validates the JSON form and type-checks every cell against its input
column; ``generate`` emits one Python function for the whole table. Consecutive rows that
share a cell are nested under a single test, the way a person would write the branches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rule_dsl import _types as ty
from rule_dsl import ast as A
from rule_dsl._guards import NUM_OR_FLOAT, whole_literal
from rule_dsl.checker import Checker
from rule_dsl.compiler import Emitter, Unit
from rule_dsl.errors import DslError, DslSyntaxError, make_error
from rule_dsl.expression import run_checked
from rule_dsl.parser import parse_expression, parse_tests
from rule_dsl.results import TableResult
from rule_dsl.runtime import aggregate_count, aggregate_max, aggregate_min, aggregate_sum

__all__ = ["AGGREGATIONS", "HIT_POLICIES", "Column", "compile_table", "generate", "result_maker"]

HIT_POLICIES = ("first", "unique", "priority", "collect", "rule_order")
AGGREGATIONS = {
    "sum": aggregate_sum,
    "count": aggregate_count,
    "min": aggregate_min,
    "max": aggregate_max,
}
SINGLE_HIT = ("first", "unique", "priority")
_MAX_INDENT = 4 * 24


@dataclass(slots=True)
class Column:
    """An input column after checking: its name, type and checked cell tests per row."""

    name: str
    expression: str
    type: ty.T
    subject: A.Name
    cells: list[tuple[bool, list[A.Node]] | None] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def _table_error(reason: str, reason_zh: str, location: dict[str, Any] | None = None) -> DslError:
    err = make_error(DslSyntaxError, "bad_table", "", None, reason=reason, reason_zh=reason_zh)
    err.location = location
    return err


def _locate(err: DslError, location: dict[str, Any], label_en: str, label_zh: str) -> DslError:
    err.location = location
    err.message = f"{label_en}: {err.message}"
    err.message_zh = f"{label_zh}：{err.message_zh}"
    err.args = (err.message,)
    return err


class _Compiler:
    """Builds the table function; keeps checked cells for the analysis."""

    def __init__(self, data: Mapping[str, Any], schema: Mapping[str, Any] | None) -> None:
        self.data = data
        self.checker = Checker("", schema)
        self.unit = Unit("", self.checker)
        self.columns: list[Column] = []
        self.outputs: list[list[A.Node]] = []
        self.outputs_src: dict[int, list[str]] = {}
        self.input_nodes: list[A.Node] = []
        self.errors: list[DslError] | None = None

    def collect(self, step: Any, *args: Any) -> Any:
        """Run a checking step; when collecting, keep its error and leave a placeholder."""
        if self.errors is None:
            return step(*args)
        try:
            return step(*args)
        except DslError as err:
            self.errors.append(err)
        if step == self.add_input:
            index = args[0]
            subject = A.Name(A.Span(1, 1, 1, 1), f"input{index}")
            self.checker.types[id(subject)] = ty.ANY
            self.columns.append(Column(str(args[1].get("name", index)), "", ty.ANY, subject))
            self.input_nodes.append(A.Literal(subject.span, None, "null"))
        elif step == self.add_cell:
            column = self.columns[args[1]]
            column.cells.append(None)
            column.sources.append("-")
        return A.Literal(A.Span(1, 1, 1, 1), None, "null")

    def at(self, source: str, location: dict[str, Any]) -> None:
        self.checker.source = source
        self.unit.origin = (source, location)

    def add_input(self, index: int, spec: Mapping[str, Any]) -> None:
        name, source = str(spec.get("name", f"input{index + 1}")), spec.get("expression")
        if not isinstance(source, str):
            raise _table_error(
                f"input {index + 1} needs an expression",
                f"输入 {index + 1} 缺少表达式",
                {"input": index},
            )
        location = {"part": "input", "column": index, "name": name}
        self.at(source, location)
        try:
            node, t = self.checker.check(parse_expression(source), {})
        except DslError as err:
            raise _locate(err, location, f"input `{name}`", f"输入「{name}」") from None
        subject = A.Name(node.span, f"input{index}")
        self.checker.types[id(subject)] = t
        self.columns.append(Column(name, source, t, subject))
        self.input_nodes.append(node)

    def add_cell(self, row: int, col: int, source: Any) -> None:
        column = self.columns[col]
        location = {"part": "input", "row": row, "column": col, "name": column.name}
        label = (f"row {row + 1}, input `{column.name}`", f"第 {row + 1} 行「{column.name}」")
        if not isinstance(source, str):
            raise _table_error(
                f"{label[0]}: a cell must be text", f"{label[1]}：单元格必须是文本", location
            )
        self.at(source, location)
        try:
            tests = parse_tests(source)
            column.cells.append(self._check_tests(tests, column))
            column.sources.append(source)
        except DslError as err:
            raise _locate(err, location, *label) from None

    def _check_tests(self, tests: A.Node, column: Column) -> tuple[bool, list[A.Node]] | None:
        if isinstance(tests, A.AnyTest):
            return None
        negated = isinstance(tests, A.NotTests)
        inner = tests.tests if isinstance(tests, A.NotTests) else tests
        assert isinstance(inner, A.Tests)
        env = {column.subject.name: column.type}
        checked = []
        for test in inner.tests:
            if isinstance(test, A.CompareTest):
                node: A.Node = A.Compare(test.span, test.op, column.subject, test.value)
            elif isinstance(test, A.RangeTest):
                node = A.In(test.span, False, column.subject, test.range)
            elif (
                isinstance(test, A.EqualTest)
                and isinstance(test.value, A.Literal)
                and (test.value.kind == "null")
            ):
                node = A.IsNull(test.span, False, column.subject)
            else:
                assert isinstance(test, A.EqualTest)
                node = A.Compare(test.span, "==", column.subject, test.value)
            checked.append(self.checker.check(node, env)[0])
        return negated, checked

    def add_output(self, row: int, col: int, source: Any, spec: Mapping[str, Any]) -> A.Node:
        name = str(spec["name"])
        location = {"part": "output", "row": row, "column": col, "name": name}
        label = (f"row {row + 1}, output `{name}`", f"第 {row + 1} 行输出「{name}」")
        if not isinstance(source, str):
            raise _table_error(
                f"{label[0]}: a cell must be text", f"{label[1]}：单元格必须是文本", location
            )
        self.at(source, location)
        self.outputs_src.setdefault(row, []).append(source)
        try:
            node, t = self.checker.check(parse_expression(source), {})
            if spec.get("type"):
                self.checker.expect(node, t, str(spec["type"]).replace("integer", "number"))
        except DslError as err:
            raise _locate(err, location, *label) from None
        return node

    def whole_cells(self, col: int) -> bool:
        """Whether a cell of number column ``col`` compares with a whole-number literal."""
        for cell in self.columns[col].cells:
            for test in cell[1] if cell is not None else ():
                if isinstance(test, A.Compare) and whole_literal(test.right):
                    return True
                rng = test.right if isinstance(test, A.In) else None
                if isinstance(rng, A.Range) and whole_literal(rng.low) and whole_literal(rng.high):
                    return True
        return False

    def cell_condition(self, emitter: Emitter, row: int, col: int) -> str | None:
        """Source testing one input cell (None for ``-``)."""
        column = self.columns[col]
        cell = column.cells[row]
        if cell is None:
            return None
        negated, tests = cell
        location = {"part": "input", "row": row, "column": col, "name": column.name}
        self.unit.origin = (column.sources[row], location)
        body = self._membership(emitter, column, tests)
        if body is None:
            body = " or ".join(emitter.emit(t) for t in tests)
        return f"not ({body})" if negated else f"({body})"

    def _membership(self, emitter: Emitter, column: Column, tests: list[A.Node]) -> str | None:
        """``"a", "b", "c"`` cells become one set lookup instead of a chain of ``==``."""
        kind = column.type.kind
        if len(tests) < 2 or kind not in ("string", "number") or not emitter.fast:
            return None
        values = []
        for test in tests:
            if not (
                isinstance(test, A.Compare)
                and test.op == "=="
                and isinstance(test.right, A.Literal)
                and test.right.kind == kind
            ):
                return None
            values.append(test.right.value)
        local = emitter.inputs[column.subject.name]
        members = self.unit.const(frozenset(values))
        if kind == "string":
            return f"{local} in {members}"
        listed = self.unit.const(tuple(values))
        sid = self.unit.sid(tests[0].span.to(tests[-1].span))
        guard = emitter.guards.get((local, "in NUM_"), f"{local}.__class__ in NUM_")
        return f"({local} in {members} if {guard} else contained({local}, {listed}, {sid}))"

    def cell_key(self, row: int, col: int) -> str | None:
        column = self.columns[col]
        return None if column.cells[row] is None else column.sources[row].strip()

    def emit_rows(
        self, emitter: Emitter, rows: list[int], col: int, indent: str, action: Any
    ) -> list[str]:
        """Row tests, nesting runs of consecutive rows that share the cell in column ``col``."""
        out: list[str] = []
        width = len(self.columns)
        index = 0
        while index < len(rows):
            row = rows[index]
            key = self.cell_key(row, col) if col < width and len(indent) < _MAX_INDENT else None
            end = index + 1
            while key is not None and end < len(rows) and self.cell_key(rows[end], col) == key:
                end += 1
            if end - index >= 2:
                out.append(f"{indent}if {self.cell_condition(emitter, row, col)}:")
                out += self.emit_rows(emitter, rows[index:end], col + 1, indent + "    ", action)
                index = end
                continue
            tests = [self.cell_condition(emitter, row, c) for c in range(col, width)]
            # Plain tests before guarded numeric ones: same answer, fewer operations.
            ordered = sorted((t for t in tests if t), key=lambda t: " if " in t)
            cond = " and ".join(ordered) or "True"
            out.append(f"{indent}if {cond}: {action(emitter, row)}")
            index += 1
        return out


def compile_table(
    data: Mapping[str, Any],
    schema: Mapping[str, Any] | None,
    errors: list[DslError] | None = None,
) -> tuple[Any, ...]:
    """Validate and check a table; with ``errors``, cell faults are collected, not raised."""
    policy = str(data.get("hit_policy", "first")).lower().replace(" ", "_")
    if policy not in HIT_POLICIES:
        choices = ", ".join(HIT_POLICIES)
        raise _table_error(
            f"unknown hit policy {policy!r}; use one of {choices}",
            f"未知的命中策略 {policy!r}，可选：{choices}",
        )
    aggregation = data.get("aggregation")
    if aggregation is not None and (policy != "collect" or aggregation not in AGGREGATIONS):
        raise _table_error(
            "aggregation (sum, count, min, max) needs hit policy collect",
            "汇总（sum、count、min、max）需要命中策略 collect",
        )
    inputs, outputs, rows = data.get("inputs"), data.get("outputs"), data.get("rules")
    if not isinstance(inputs, list) or not isinstance(outputs, list) or not outputs:
        raise _table_error(
            "a table needs a list of inputs and at least one output",
            "决策表需要输入列表和至少一个输出",
        )
    if not isinstance(rows, list):
        raise _table_error("rules must be a list", "rules 必须是列表")
    for index, spec in enumerate(outputs):
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise _table_error(
                f"output {index + 1} needs a name", f"输出 {index + 1} 缺少名称", {"output": index}
            )
    if aggregation is not None and len(outputs) != 1:
        raise _table_error("an aggregation needs exactly one output column", "汇总只能有一个输出列")
    if policy == "priority" and not any(o.get("priorities") for o in outputs):
        raise _table_error(
            "hit policy priority needs `priorities` on an output",
            "命中策略 priority 需要在某个输出上设置 `priorities`",
        )
    comp = _Compiler(data, schema)
    comp.errors = errors
    for index, spec in enumerate(inputs):
        if not isinstance(spec, Mapping):
            raise _table_error(
                f"input {index + 1} must be an object",
                f"输入 {index + 1} 必须是对象",
                {"input": index},
            )
        comp.collect(comp.add_input, index, spec)
    for row, rule in enumerate(rows):
        cells = rule.get("inputs") if isinstance(rule, Mapping) else None
        outs = rule.get("outputs") if isinstance(rule, Mapping) else None
        if not isinstance(cells, list) or len(cells) != len(inputs):
            raise _table_error(
                f"row {row + 1} needs {len(inputs)} input cells",
                f"第 {row + 1} 行需要 {len(inputs)} 个输入单元格",
                {"row": row},
            )
        if not isinstance(outs, list) or len(outs) != len(outputs):
            raise _table_error(
                f"row {row + 1} needs {len(outputs)} output cells",
                f"第 {row + 1} 行需要 {len(outputs)} 个输出单元格",
                {"row": row},
            )
        for col, cell in enumerate(cells):
            comp.collect(comp.add_cell, row, col, cell)
        comp.outputs.append(
            [comp.collect(comp.add_output, row, c, cell, outputs[c]) for c, cell in enumerate(outs)]
        )
    defaults = None
    if any("default" in o for o in outputs):
        defaults = [
            comp.add_output(-1, c, str(o.get("default", "null")), o) for c, o in enumerate(outputs)
        ]
        if not all(isinstance(n, A.Literal) for n in defaults):
            raise _table_error(
                "output defaults must be constants", "输出默认值必须是常量", {"part": "defaults"}
            )
    return comp, policy, aggregation, outputs, defaults


def result_maker(names: list[str]) -> Callable[[int | None, tuple[Any, ...]], TableResult]:
    single = len(names) == 1

    def make(row: int | None, values: tuple[Any, ...]) -> TableResult:
        outputs = dict(zip(names, values, strict=True))
        return TableResult(() if row is None else (row,), outputs, values[0] if single else outputs)

    return make


def generate(
    comp: _Compiler, policy: str, names: list[str], defaults: Any, whole: A.Span
) -> tuple[Any, Any]:
    """Compile the table; returns (entry, checked function).

    For ``first`` the entry is ``entry(ctx, *, now=None) -> TableResult`` and recovers from
    odd data by itself; for the other policies it is ``entry(ctx, now) -> [(row, outputs)]``.
    """
    unit = comp.unit
    make = result_maker(names)
    unit.consts["mk_"] = make
    unit.consts["nomatch_"] = TableResult((), None, None)
    if defaults is not None:
        unit.consts["default_"] = make(None, tuple(n.value for n in defaults))

    def outputs_src(emitter: Emitter, row: int) -> tuple[str, bool]:
        nodes = comp.outputs[row]
        if all(isinstance(n, A.Literal) for n in nodes):
            return unit.const(tuple(n.value for n in nodes)), True  # type: ignore[attr-defined]
        parts = []
        for col, node in enumerate(nodes):
            unit.origin = (comp.outputs_src[row][col], {"part": "output", "row": row})
            parts.append(emitter.emit(node))
        return "(" + "".join(p + ", " for p in parts) + ")", False

    def action(emitter: Emitter, row: int) -> str:
        outs, constant = outputs_src(emitter, row)
        if policy != "first":
            return f"m.append(({row}, {outs}))"
        if constant:
            unit.consts[f"R{row}"] = make(row, unit.consts[outs])
            return f"return R{row}"
        return f"return mk_({row}, {outs})"

    entry_first = policy == "first"
    for fname, fast in (("table_fast", True), ("table_safe", False)):
        emitter = Emitter(unit, fast)
        wrap = fast and entry_first
        pad = "        " if wrap else "    "
        body = []
        for j, node in enumerate(comp.input_nodes):
            column = comp.columns[j]
            unit.origin = (column.expression, {"part": "input", "column": j, "name": column.name})
            # Cell tests guard their operands themselves, so inputs are read as they are.
            body.append(f"{pad}i{j} = {emitter.emit(node, norm=not fast)}")
            emitter.inputs[column.subject.name] = f"i{j}"
            if fast and column.type.kind == "number":
                body.append(f"{pad}g{j} = i{j}.__class__ in NUM_")
                emitter.guards[(f"i{j}", "in NUM_")] = f"g{j}"
                if comp.whole_cells(j):
                    float_ok = f"i{j}.__class__ is float_ and i{j} == i{j}"
                    body.append(f"{pad}h{j} = g{j} or {float_ok}")
                    emitter.guards[(f"i{j}", NUM_OR_FLOAT)] = f"h{j}"
        if not entry_first:
            body.append(f"{pad}m = []")
        body += comp.emit_rows(emitter, list(range(len(comp.outputs))), 0, pad, action)
        if not entry_first:
            body.append(f"{pad}return m")
        else:
            body.append(f"{pad}return {'default_' if defaults is not None else 'nomatch_'}")
        head = [f"{pad}now = now_(now)"] if comp.checker.uses_clock else []
        head += [f"{pad}{line}" for line in emitter.prelude()]
        if wrap:
            lines = [f"def {fname}(ctx, *, now=None):", "    try:", *head, *body]
            lines += ["    except exc_base_ as exc_:", "        return recover_(exc_, ctx, now)"]
        else:
            lines = [f"def {fname}(ctx, now):", *head, *body]
        unit.functions.append("\n".join(lines))
    scope = unit.build()
    safe = scope["table_safe"]

    def recover(exc: Exception, context: Any, now: Any) -> Any:
        return run_checked(unit, None, safe, exc, (context, now), whole)

    scope["recover_"] = recover
    return scope["table_fast"], safe
