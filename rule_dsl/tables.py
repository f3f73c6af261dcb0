"""Decision tables: input columns, unary-test cells, output cells and hit policies.

A table compiles into one Python function (see ``_tablegen``): the input expressions are
evaluated once into locals and the rows' tests are inlined as nested ``if`` statements.
First-hit tables whose outputs are constants return precomputed results.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rule_dsl import ast as A
from rule_dsl._tablegen import (
    AGGREGATIONS,
    HIT_POLICIES,
    SINGLE_HIT,
    _table_error,
    compile_table,
    generate,
    result_maker,
)
from rule_dsl.errors import DslError, DslEvalError, make_error
from rule_dsl.expression import run_checked
from rule_dsl.results import Finding, TableResult

__all__ = ["HIT_POLICIES", "DecisionTable", "Finding", "TableResult"]


class DecisionTable:
    """A compiled decision table; build it with ``DecisionTable.from_dict``."""

    def __init__(self, data: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> None:
        comp, policy, aggregation, outputs, defaults = compile_table(data, schema)
        self.hit_policy: str = policy
        self.aggregation: str | None = aggregation
        self.input_names = tuple(c.name for c in comp.columns)
        self.output_names = tuple(str(o["name"]) for o in outputs)
        self.paths = comp.checker.final_paths()
        self.columns = tuple(comp.columns)
        self._data = data
        self._comp = comp
        self._priorities = [list(o.get("priorities") or ()) for o in outputs]
        self._defaults = defaults
        self._whole = A.Span(1, 1, 1, 1)
        names = list(self.output_names)
        self._fast, self._safe = generate(comp, policy, names, defaults, self._whole)
        if policy == "first":
            # The compiled first-hit function already returns the TableResult and recovers
            # from odd data itself; binding it on the instance saves a Python frame per call.
            self.evaluate = self._fast  # type: ignore[method-assign]

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], schema: Mapping[str, Any] | None = None
    ) -> DecisionTable:
        """Compile a table from its JSON form; raises ``DslError`` located at the cell."""
        if not isinstance(data, Mapping):
            raise _table_error("a decision table must be an object", "决策表必须是对象")
        return cls(data, schema)

    @staticmethod
    def validate(
        data: Mapping[str, Any], schema: Mapping[str, Any] | None = None
    ) -> list[DslError]:
        """Every error of a table in its JSON form (one per faulty cell), or ``[]``."""
        if not isinstance(data, Mapping):
            return [_table_error("a decision table must be an object", "决策表必须是对象")]
        errors: list[DslError] = []
        try:
            compile_table(data, schema, errors)
        except DslError as err:
            errors.append(err)
        return errors

    def evaluate(self, context: Mapping[str, Any], *, now: datetime | None = None) -> TableResult:
        """Evaluate the table against a context and apply its hit policy."""
        if self.hit_policy == "first":
            return self._fast(context, now=now)  # type: ignore[no-any-return]
        try:
            found = self._fast(context, now)
        except Exception as exc:
            args = (context, now)
            found = run_checked(self._comp.unit, self._fast, self._safe, exc, args, self._whole)
        return self._finish(found)

    def __call__(self, context: Mapping[str, Any], *, now: datetime | None = None) -> TableResult:
        return self.evaluate(context, now=now)

    def _finish(self, matches: list[tuple[int, tuple[Any, ...]]]) -> TableResult:
        names = self.output_names
        make = result_maker(list(names))
        if not matches:
            if self.hit_policy in SINGLE_HIT:
                return self._no_match()
            if self.aggregation is None:
                return TableResult((), [], [])
        rows = tuple(row for row, _ in matches)
        if self.hit_policy == "unique":
            if len(matches) > 1:
                numbers = [str(r + 1) for r in rows]
                err = make_error(
                    DslEvalError,
                    "unique_violation",
                    "",
                    None,
                    rows=", ".join(numbers),
                    rows_zh="、".join(numbers),
                )
                err.location = {"part": "rows", "rows": list(rows)}
                raise err
            return make(*matches[0])
        if self.hit_policy == "priority":
            return make(*min(matches, key=self._rank))
        if self.aggregation is not None:
            total = AGGREGATIONS[self.aggregation]((v[0] for _, v in matches), -1)
            return TableResult(rows, {names[0]: total}, total)
        outputs = [dict(zip(names, values, strict=True)) for _, values in matches]
        value = [v[0] for _, v in matches] if len(names) == 1 else outputs
        return TableResult(rows, outputs, value)

    def _rank(self, match: tuple[int, tuple[Any, ...]]) -> tuple[int, ...]:
        row, values = match
        rank = []
        for order, value in zip(self._priorities, values, strict=True):
            if order:
                rank.append(order.index(value) if value in order else len(order))
        return (*rank, row)

    def _no_match(self) -> TableResult:
        if self._defaults is None:
            return TableResult((), None, None)
        values = tuple(n.value for n in self._defaults)
        return result_maker(list(self.output_names))(None, values)

    def analyze(self) -> list[Finding]:
        """Report overlapping rows, gaps and unreachable rows, each with an example input."""
        from rule_dsl.analysis import analyze

        return analyze(self)

    def to_dict(self) -> dict[str, Any]:
        """Return the table in the JSON form ``from_dict`` accepts."""
        return {
            "hit_policy": self.hit_policy,
            "aggregation": self.aggregation,
            "inputs": [dict(i) for i in self._data["inputs"]],
            "outputs": [dict(o) for o in self._data["outputs"]],
            "rules": [
                {**r, "inputs": list(r["inputs"]), "outputs": list(r["outputs"])}
                for r in self._data["rules"]
            ],
        }

    def __repr__(self) -> str:
        return f"DecisionTable({len(self._comp.outputs)} rows, hit_policy={self.hit_policy!r})"
