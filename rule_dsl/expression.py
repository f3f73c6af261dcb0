"""Compiled expressions: ``compile_expression(source, schema) -> Expression``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from rule_dsl import _types as ty
from rule_dsl import ast as A
from rule_dsl.checker import Checker
from rule_dsl.compiler import Emitter, Unit, build_entry, build_unit, located
from rule_dsl.errors import DslError, DslEvalError, make_error
from rule_dsl.parser import parse_expression
from rule_dsl.runtime import RANGE_LIMIT, EvalFaultError

__all__ = ["Expression", "compile_expression", "run_checked", "validate_expression"]

EXPECTABLE = frozenset(ty.KINDS) | {"integer"}


def run_checked(
    unit: Unit, fast: Any, safe: Any, exc: Exception, args: tuple[Any, ...], whole: A.Span
) -> Any:
    """Recover from an exception of a fast function: rerun its checked twin, locate errors."""
    if isinstance(exc, EvalFaultError):
        raise located(unit, exc, whole) from None
    if isinstance(exc, DslError):
        raise exc
    try:
        return safe(*args)
    except EvalFaultError as fault:
        raise located(unit, fault, whole) from None
    except DslError:
        raise
    except (OverflowError, ArithmeticError):  # e.g. a datetime at year 9999 moved to UTC by ==
        op = unit.source if len(unit.source) <= 40 else unit.source[:39] + "…"
        limit, limit_zh = RANGE_LIMIT
        raise make_error(
            DslEvalError, "overflow", unit.source, whole, op=op, limit=limit, limit_zh=limit_zh
        ) from None
    except Exception as err:  # a defect in a helper must still surface as a DslError
        raise make_error(
            DslEvalError,
            "eval_failed",
            unit.source,
            whole,
            reason=f"internal error ({type(err).__name__})",
            reason_zh=f"内部错误（{type(err).__name__}）",
        ) from None


class Expression:
    """A compiled condition or computed value; call it with a context mapping.

    ``expr(context, now=None)`` evaluates; ``source``, ``result_type`` (a type name such as
    "boolean", "number", "integer", "string", "datetime") and ``paths`` (the context paths
    read, e.g. ``order.lines[].qty``) describe it.
    """

    __slots__ = ("source", "result_type", "paths", "uses_clock", "_entry", "_unit")

    source: str
    result_type: str
    paths: frozenset[str]
    uses_clock: bool
    _entry: Callable[..., Any]
    _unit: Unit

    def __call__(self, context: Mapping[str, Any], *, now: datetime | None = None) -> Any:
        return self._entry(context, now=now)

    def __repr__(self) -> str:
        return f"Expression({self.source!r}, result_type={self.result_type!r})"


def _build_expression(
    source: str, result_type: str, paths: frozenset[str], unit: Unit, whole: A.Span
) -> Expression:
    scope = unit.build()
    safe = scope["safe"]

    def recover(exc: Exception, context: Any, now: Any) -> Any:
        return run_checked(unit, None, safe, exc, (context, now), whole)

    scope["recover_"] = recover
    entry = scope["fast"]
    # A class per expression lets ``expr(ctx)`` call the compiled function without an extra
    # Python frame: ``__call__`` is the compiled function itself.
    cls = type(
        "Expression",
        (Expression,),
        {"__slots__": (), "__call__": staticmethod(entry), "__module__": __name__},
    )
    expr: Expression = object.__new__(cls)
    expr.source = source
    expr.result_type = result_type
    expr.paths = paths
    expr.uses_clock = unit.checker.uses_clock
    expr._entry = entry
    expr._unit = unit
    return expr


def _type_name(t: ty.T) -> str:
    if t.kind == "number" and t.integer:
        return "integer"
    return t.kind


def check_expression(
    source: str, schema: Mapping[str, Any] | None, expect: str | None = None
) -> tuple[Checker, A.Node, ty.T]:
    """Parse and type-check ``source``; the checker holds types and paths."""
    checker = Checker(source, schema)
    node, t = checker.check(parse_expression(source), {})
    if expect is not None:
        if expect not in EXPECTABLE:
            raise ValueError(f"expect must be one of {sorted(EXPECTABLE)}, not {expect!r}")
        checker.expect(node, t, "number" if expect == "integer" else expect)
    return checker, node, t


def compile_expression(
    source: str, schema: Mapping[str, Any] | None = None, *, expect: str | None = None
) -> Expression:
    """Compile a condition or computed value.

    ``schema`` is a JSON Schema of the evaluation context (an object whose properties are
    the top-level names such as ``order``); ``None`` skips name and type checks. With
    ``expect="boolean"`` (conditions) the expression must be boolean and a null result
    counts as false. Raises ``DslSyntaxError`` or ``DslTypeError``.
    """
    checker, node, t = check_expression(source, schema, expect)
    unit = Unit(source, checker)
    as_condition = expect == "boolean"
    for name, fast in (("fast", True), ("safe", False)):
        emitter = Emitter(unit, fast)
        body = emitter.boolean(node) if as_condition else emitter.emit(node)
        if fast:
            build_entry(unit, name, body, clock=checker.uses_clock, emitter=emitter)
        else:
            build_unit(unit, name, body, clock=checker.uses_clock, emitter=emitter)
    result = "boolean" if as_condition else _type_name(t)
    return _build_expression(source, result, checker.final_paths(), unit, node.span)


def validate_expression(
    source: str, schema: Mapping[str, Any] | None = None, *, expect: str | None = None
) -> list[DslError]:
    """The error that keeps ``source`` from compiling, as a list (``[]`` when it compiles)."""
    try:
        check_expression(source, schema, expect)
    except DslError as err:
        return [err]
    return []
