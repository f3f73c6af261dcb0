"""A compiled unit: the generated functions of one source, their constants and spans.

``Unit.build`` compiles the generated Python source once and executes it in a fresh
namespace holding only the runtime helpers (``__builtins__`` is empty).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from rule_dsl import _types as ty
from rule_dsl import ast as A
from rule_dsl.checker import Checker
from rule_dsl.errors import DslEvalError, DslSyntaxError, make_error
from rule_dsl.runtime import EvalFaultError, namespace

if TYPE_CHECKING:
    from rule_dsl.compiler import Emitter

__all__ = ["Unit", "build_entry", "build_unit", "located"]


class Unit:
    """Shared state of one compiled source: constants, spans and generated functions."""

    def __init__(self, source: str, checker: Checker) -> None:
        self.source = source
        self.checker = checker
        self.consts: dict[str, Any] = {}
        self._const_names: dict[tuple[type, str], str] = {}
        self.spans: list[A.Span] = []
        self.origins: list[tuple[str, dict[str, Any] | None]] = []
        self.origin: tuple[str, dict[str, Any] | None] = (source, None)
        self.functions: list[str] = []

    def const(self, value: Any) -> str:
        key = (type(value), repr(value))
        name = self._const_names.get(key)
        if name is None:
            name = f"k{len(self._const_names)}"
            self._const_names[key] = name
            self.consts[name] = value
        return name

    def sid(self, span: A.Span) -> int:
        """Register a span (in the current origin: source text and table cell) for errors."""
        self.spans.append(span)
        self.origins.append(self.origin)
        return len(self.spans) - 1

    def build(self) -> dict[str, Any]:
        """Compile every generated function; return the namespace holding them."""
        code_text = "\n\n".join(self.functions)
        try:
            with warnings.catch_warnings():  # generated code is ours; its style is not news
                warnings.simplefilter("ignore")
                code = compile(code_text, "<rule>", "exec")
        except (SyntaxError, RecursionError, MemoryError, ValueError):
            span = A.Span(1, 1, 1, 2)
            raise make_error(
                DslSyntaxError, "too_deep", self.source, span, limit="the supported"
            ) from None
        scope = namespace()
        scope.update(self.consts)
        exec(code, scope)
        return scope


def located(unit: Unit, fault: EvalFaultError, whole: A.Span) -> DslEvalError:
    """Turn a helper's ``EvalFaultError`` into a ``DslEvalError`` at the span it names."""
    known = 0 <= fault.sid < len(unit.spans)
    span = unit.spans[fault.sid] if known else whole
    source, location = unit.origins[fault.sid] if known else (unit.source, None)
    params = dict(fault.params)
    for side in ("left", "right", "type", "expected"):
        if side in params:
            params[f"{side}_zh"] = ty._ZH.get(params[side], params[side])
    err = make_error(DslEvalError, fault.code, source, span, **params)
    err.location = location
    return err  # type: ignore[return-value]


def build_unit(unit: Unit, name: str, body: str, *, clock: bool, emitter: Emitter) -> None:
    """Append ``def name(ctx, now): return body`` to the unit, after the emitter's prelude."""
    lines = [f"def {name}(ctx, now):"]
    if clock:
        lines.append("    now = now_(now)")
    lines.extend(f"    {line}" for line in emitter.prelude())
    lines.append(f"    return {body}")
    unit.functions.append("\n".join(lines))


def build_entry(unit: Unit, name: str, body: str, *, clock: bool, emitter: Emitter) -> None:
    """Like ``build_unit`` but callable as ``name(ctx, now=None)``; failures go to ``recover_``."""
    lines = [f"def {name}(ctx, *, now=None):", "    try:"]
    if clock:
        lines.append("        now = now_(now)")
    lines.extend(f"        {line}" for line in emitter.prelude())
    lines.append(f"        return {body}")
    lines.append("    except exc_base_ as exc_:")
    lines.append("        return recover_(exc_, ctx, now)")
    unit.functions.append("\n".join(lines))
