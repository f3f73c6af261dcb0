"""Checked syntax tree -> Python source -> code object, run in a namespace of helpers only.

Each unit is compiled twice from the same tree:

* a *fast* function that inlines operators, null checks and dict lookups for statically
  typed operands and assumes well-shaped data;
* a *checked* function in which every operation goes through a ``runtime`` helper that
  implements the full semantics and reports located errors.

Callers run the fast function and fall back to the checked one when it raises, so odd data
costs time, never correctness. Both functions receive ``(ctx, now)`` and nothing else.

A value whose type is unknown (``any``: no schema, or an untyped field) is inlined like a
number or a text: the same class test that guards typed operands decides at run time, once
per value, between the inlined operator and the helper the checked function calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rule_dsl import ast as A
from rule_dsl._guards import (
    NUM_OR_FLOAT,
    NUMERIC,
    SMALL_INT,
    TEXT,
    class_test,
    plain_text,
    whole_literal,
)
from rule_dsl._unit import Unit, build_entry, build_unit, located

__all__ = ["Emitter", "Unit", "build_entry", "build_unit", "located"]

# Inside a comprehension these functions walk their list arguments and these build texts or
# lists; both count against the evaluation's step budget there (``runtime.charge``).
_WALKS = frozenset({"sum", "avg", "count", "any", "all", "min", "max", "distinct", "contains"})
_BUILDS = frozenset({"replace", "join", "split", "upper", "lower", "string", "distinct"})
_COMPREHENSION_HELPERS = {
    "sum": "agg_sum",
    "count": "agg_count",
    "avg": "agg_avg",
    "min": "agg_min",
    "max": "agg_max",
    "any": "agg_any",
    "all": "agg_all",
}


class Emitter:
    """Emits Python expression source for checked nodes, in fast or checked mode.

    Fast mode guards inlined operators with an exact class test (``_guards.class_test``)
    and hands anything else (null, JSON floats, wrong types) to the checked helper, so the
    guard costs one test and the answer never depends on the path taken.
    """

    def __init__(self, unit: Unit, fast: bool) -> None:
        self.unit = unit
        self.checker = unit.checker
        self.fast = fast
        self.count = 0
        self.vars: dict[str, str] = {}
        self.inputs: dict[str, str] = {}
        self.roots: dict[str, tuple[str, bool]] = {}
        # (local, class test) -> local already holding the result of that test
        self.guards: dict[tuple[str, str], str] = {}
        self.no_walrus = 0
        # id of the element of the ``sum_`` being emitted: ``sum_`` bounds the whole numbers
        # it adds, so the element's own operator is inlined without that check
        self.summed = 0
        self.exact: set[int] = set()  # ids of nodes whose fast code yields an int or Decimal
        self.budget = False  # whether the code charges the step budget ``w_``

    # -------------------------------------------------------------- utilities
    def prelude(self) -> list[str]:
        """Statements reading each top-level name once, ahead of the expression."""
        lines = [
            f"{local} = ctx[{name!r}]" if present else f"{local} = ctx.get({name!r})"
            for name, (local, present) in self.roots.items()
        ]
        return ["w_ = [MAX_STEPS_]", *lines] if self.budget else lines

    def charged(self, src: str, sid: int) -> str:
        """``src`` counted against the step budget when inside a comprehension."""
        if not self.vars:
            return src
        self.budget = True
        return f"charge_({src}, {sid}, w_)"

    def tmp(self) -> str:
        self.count += 1
        return f"t{self.count}"

    def kind(self, node: A.Node) -> str:
        return self.checker.type_of(node).kind

    def inline(self) -> bool:
        return self.fast and not self.no_walrus

    def sid(self, node: A.Node) -> int:
        return self.unit.sid(node.span)

    def is_input(self, node: A.Node) -> bool:
        return isinstance(node, A.Name) and node.name in self.inputs

    def nullable(self, node: A.Node) -> bool:
        """Whether fast code must test ``node`` for null before using it."""
        if isinstance(node, A.Literal):
            return node.kind == "null"
        if isinstance(node, A.Name) and node.name in self.vars:
            return not self.fast
        if isinstance(node, (A.Name, A.Attr)) and not self.is_input(node):
            return id(node) not in self.checker.present
        if self.checker.is_boolean(node) or isinstance(node, A.ListLit):
            return False
        if isinstance(node, A.Comprehension):
            return node.func in ("min", "max", "avg")
        return True

    def raw_read(self, node: A.Node) -> bool:
        """A fast-mode context read that may still hold a JSON float."""
        return (
            self.fast
            and isinstance(node, (A.Name, A.Attr))
            and not self.is_input(node)
            and self.kind(node) in ("number", "any")
        )

    def boolean(self, node: A.Node) -> str:
        if isinstance(node, A.Literal):
            return repr(node.value is True)
        src = self.emit(node, norm=False)
        return src if self.checker.is_boolean(node) else f"({src} is True)"

    def guarded(
        self, operands: list[tuple[A.Node, str]], cls: str, body: Any, fallback: Any
    ) -> str:
        """``(body if every operand's class is in cls else fallback)`` with shared temps.

        The tests stop at the first that fails (``and``) when the fallback can read again
        each operand whose test may not have run; otherwise every test runs (``&``)."""
        names, tests, reread = [], [], []
        lazy = True
        for node, src in operands:
            if isinstance(node, A.Literal) or src.isidentifier():
                names.append(src)
                reread.append(src)
                if not isinstance(node, A.Literal) and id(node) not in self.exact:
                    tests.append(self.guards.get((src, cls)) or class_test(src, src, cls))
                continue
            t1 = self.tmp()
            names.append(t1)
            if not tests:  # the first test always runs
                reread.append(t1)
            elif self.pure(node):  # its test may not have run: the fallback reads it again
                reread.append(src)
            else:
                reread.append(t1)
                lazy = False
            if id(node) in self.exact:  # its class is known: read it in turn, test nothing
                tests.append(f"(({t1} := {src}) is not None)")
            else:
                tests.append(class_test(f"({t1} := {src})", t1, cls))
        if not tests:
            return f"({body(*names)})"
        if len(tests) == 1:
            return f"({body(*names)} if {tests[0]} else {fallback(*names)})"
        if not lazy:
            guard = " & ".join(f"({t})" for t in tests)
            return f"({body(*names)} if {guard} else {fallback(*names)})"
        return f"({body(*names)} if {' and '.join(tests)} else {fallback(*reread)})"

    def pure(self, node: A.Node) -> bool:
        """Whether the fast source of ``node`` only reads the context or a variable, so the
        fallback may read it again (a date or datetime read also converts: not pure)."""
        if self.kind(node) in ("date", "datetime"):
            return False
        while isinstance(node, A.Attr):
            node = node.obj
        return isinstance(node, A.Name)

    # -------------------------------------------------------------- dispatch
    def emit(self, node: A.Node, norm: bool = True) -> str:
        """Python source for ``node``; ``norm=False`` may leave a fast-mode JSON float."""
        src: str = getattr(self, f"e_{type(node).__name__}")(node)
        if isinstance(node, (A.Name, A.Attr, A.Index)) and not self.is_input(node):
            kind = self.kind(node)
            if kind in ("date", "datetime"):
                return f"to_{kind}({src}, {self.sid(node)})"
        if norm and self.raw_read(node):
            if not self.inline():
                return f"num({src})"
            t1 = self.tmp()
            return f"({t1} if ({t1} := {src}).__class__ is not float_ else num({t1}))"
        return src

    def e_Literal(self, node: A.Literal) -> str:
        value = node.value
        if value is None or type(value) in (bool, str):
            return repr(value)
        if type(value) is int and abs(value) < SMALL_INT:
            return repr(value)
        return self.unit.const(value)

    def e_ListLit(self, node: A.ListLit) -> str:
        return "[" + ", ".join(self.emit(i) for i in node.items) + "]"

    def e_Name(self, node: A.Name) -> str:
        if node.name in self.vars:
            return self.vars[node.name]
        if node.name in self.inputs:
            return self.inputs[node.name]
        if not self.fast:
            return f"get(ctx, {node.name!r})"
        present = id(node) in self.checker.present
        local, was_present = self.roots.get(node.name, (f"r{len(self.roots)}", True))
        self.roots[node.name] = (local, present and was_present)
        return local

    def e_Attr(self, node: A.Attr) -> str:
        obj = self.emit(node.obj, norm=False)
        if not self.fast:
            return f"get({obj}, {node.name!r})"
        key = f"[{node.name!r}]" if id(node) in self.checker.present else f".get({node.name!r})"
        if not self.inline() or not self.nullable(node.obj):
            return f"{obj}{key}"
        if obj.isidentifier():
            return f"(None if {obj} is None else {obj}{key})"
        t1 = self.tmp()
        return f"(None if ({t1} := {obj}) is None else {t1}{key})"

    def e_Index(self, node: A.Index) -> str:
        return f"index({self.emit(node.obj)}, {self.emit(node.index)}, {self.sid(node)})"

    def e_Unary(self, node: A.Unary) -> str:
        if node.op == "not":
            if self.checker.is_boolean(node.operand):
                return f"(not {self.emit(node.operand)})"
            return f"({self.emit(node.operand, norm=False)} is not True)"
        operand = self.emit(node.operand, norm=False)
        sid = self.sid(node)
        if self.inline() and self.kind(node.operand) in NUMERIC:
            return self.guarded(
                [(node.operand, operand)],
                "in NUM_",
                lambda a: f"-{a}",
                lambda a: f"negate({a}, {sid})",
            )
        return f"negate({operand}, {sid})"

    def e_Binary(self, node: A.Binary) -> str:
        left, right = self.emit(node.left, norm=False), self.emit(node.right, norm=False)
        sid = self.sid(node)
        kinds = (self.kind(node.left), self.kind(node.right))
        op = node.op
        # ``+`` of two texts or lists builds a value: inside a comprehension it is charged
        charge = op == "+" and "number" not in kinds

        def fallback(a: str, b: str) -> str:
            src = f"arith({op!r}, {a}, {b}, {sid})"
            return self.charged(src, sid) if charge else src

        if self.inline() and op in "+-*" and NUMERIC.issuperset(kinds):
            return self.guarded(
                [(node.left, left), (node.right, right)],
                "in NUM_",
                (lambda a, b: f"{a} {op} {b}")
                if id(node) == self.summed
                else (lambda a, b: self.bounded(a, op, b, sid)),
                fallback,
            )
        return fallback(left, right)

    def bounded(self, a: str, op: str, b: str, sid: int) -> str:
        """Inlined ``a op b`` that refuses whole numbers over MAX_DIGITS (a decimal result
        keeps 28 digits: its context bounds it)."""
        t1 = self.tmp()
        within = f"-INT_BOUND_ < {t1} < INT_BOUND_"
        fault = f"int_overflow_({sid}, {op!r})"
        return f"({t1} if ({t1} := {a} {op} {b}).__class__ is not int_ or {within} else {fault})"

    def e_BoolOp(self, node: A.BoolOp) -> str:
        return "(" + f" {node.op} ".join(self.boolean(o) for o in node.operands) + ")"

    def compare_src(self, op: str, left: A.Node, right: A.Node, lsrc: str | None = None) -> str:
        """Source of ``left op right``; ``lsrc`` replaces the left operand's own source."""
        lk, rk = self.kind(left), self.kind(right)
        lhs = lsrc if lsrc is not None else self.emit(left, norm=False)
        rhs = self.emit(right, norm=False)
        sid = self.unit.sid(left.span.to(right.span))
        equality = op in ("==", "!=")
        fallback: Callable[[str, str], str]
        if equality:
            fallback = (
                (lambda a, b: f"eq({a}, {b})")
                if op == "=="
                else (lambda a, b: f"(not eq({a}, {b}))")
            )
        else:
            fallback = lambda a, b: f"compare({op!r}, {a}, {b}, {sid})"  # noqa: E731
        if self.inline() and lk in NUMERIC and rk in NUMERIC:
            operands = [(left, lhs), (right, rhs)]
            cls = NUM_OR_FLOAT if whole_literal(left) or whole_literal(right) else "in NUM_"
            return self.guarded(operands, cls, lambda a, b: f"{a} {op} {b}", fallback)
        if self.inline() and lk in TEXT and rk in TEXT:
            if equality and (lk == rk or plain_text(left) or plain_text(right)):
                return f"({lhs} {op} {rhs})"
            operands = [(left, lhs), (right, rhs)]
            return self.guarded(operands, "is str_", lambda a, b: f"{a} {op} {b}", fallback)
        # booleans are singletons and equal only themselves: null and every other type
        # compare unequal, so an identity test is the whole of ``eq`` here, in either order
        for literal, other in ((right, lhs), (left, rhs)):
            if equality and isinstance(literal, A.Literal) and literal.kind == "boolean":
                return f"({other} {'is' if op == '==' else 'is not'} {literal.value!r})"
        if self.fast:
            lhs, rhs = self.emit_norm(left, lhs), self.emit_norm(right, rhs)
        return fallback(lhs, rhs)

    def emit_norm(self, node: A.Node, src: str) -> str:
        return f"num({src})" if self.raw_read(node) else src

    def e_Compare(self, node: A.Compare) -> str:
        return self.compare_src(node.op, node.left, node.right)

    def constant_list(self, node: A.Node, kind: str) -> tuple[str, str, str] | None:
        """(kind, frozenset, tuple) for ``x in [literals of one kind]``; an ``any`` x takes
        the literals' kind."""
        if not (isinstance(node, A.ListLit) and node.items):
            return None
        if kind == "any" and isinstance(node.items[0], A.Literal):
            kind = node.items[0].kind
        if kind not in ("string", "number"):
            return None
        if not all(isinstance(i, A.Literal) and i.kind == kind for i in node.items):
            return None
        values = [i.value for i in node.items]  # type: ignore[attr-defined]
        return kind, self.unit.const(frozenset(values)), self.unit.const(tuple(values))

    def in_src(self, node: A.In, lsrc: str | None = None) -> str:
        right = node.right
        lhs = lsrc if lsrc is not None else self.emit(node.left, norm=False)
        sid = self.sid(node)
        lk = self.kind(node.left)
        if isinstance(right, A.Range):
            src = self.range_src(right, node.left, lhs)
        else:
            consts = self.constant_list(right, lk) if self.inline() else None
            # texts no date would read equal only themselves: no value needs its class tested
            plain = consts is not None and all(plain_text(i) for i in right.items)  # type: ignore[attr-defined]
            if consts is not None and (lk == "string" or plain):
                return f"({lhs} {'not in' if node.negated else 'in'} {consts[1]})"
            if consts is not None:
                kind, fs, tup = consts
                src = self.guarded(
                    [(node.left, lhs)],
                    "in NUM_" if kind == "number" else "is str_",
                    lambda a: f"{a} in {fs}",
                    lambda a: f"contained({a}, {tup}, {sid})",
                )
            else:
                container = self.emit(right)
                if not isinstance(right, A.ListLit):
                    container = self.charged(container, sid)
                src = f"contained({self.emit_norm(node.left, lhs)}, {container}, {sid})"
        return f"(not {src})" if node.negated else src

    def range_src(self, rng: A.Range, left: A.Node, lhs: str) -> str:
        sid = self.sid(rng)
        low, high = self.emit(rng.low), self.emit(rng.high)
        flags = f"{rng.low_closed}, {rng.high_closed}"
        literal_bounds = all(
            isinstance(b, A.Literal) and b.kind == "number" for b in (rng.low, rng.high)
        )
        if self.inline() and self.kind(left) in NUMERIC and literal_bounds:
            lo_op = "<=" if rng.low_closed else "<"
            hi_op = "<=" if rng.high_closed else "<"
            whole = whole_literal(rng.low) and whole_literal(rng.high)
            return self.guarded(
                [(left, lhs)],
                NUM_OR_FLOAT if whole else "in NUM_",
                lambda a: f"{low} {lo_op} {a} {hi_op} {high}",
                lambda a: f"in_range({a}, {low}, {high}, {flags}, {sid})",
            )
        return f"in_range({self.emit_norm(left, lhs)}, {low}, {high}, {flags}, {sid})"

    def e_In(self, node: A.In) -> str:
        return self.in_src(node)

    def e_IsNull(self, node: A.IsNull) -> str:
        if isinstance(node.operand, A.Literal):  # `"gold" is null` is a constant
            return repr((node.operand.value is None) != node.negated)
        return f"({self.emit(node.operand, norm=False)} is {'not ' if node.negated else ''}None)"

    def e_IfExpr(self, node: A.IfExpr) -> str:
        cond = self.boolean(node.condition)
        return f"({self.emit(node.then)} if {cond} else {self.emit(node.otherwise)})"

    def e_Call(self, node: A.Call) -> str:
        from rule_dsl.functions import SIGNATURES

        sid = self.sid(node)
        args = [str(sid)]
        if SIGNATURES[node.name].clock:
            args.append("now")
        walks = node.name in _WALKS
        args.extend(
            self.charged(self.emit(a), sid)
            if walks and self.kind(a) in ("list", "any")
            else self.emit(a)
            for a in node.args
        )
        src = f"f_{node.name}({', '.join(args)})"
        return self.charged(src, sid) if node.name in _BUILDS else src

    def e_Comprehension(self, node: A.Comprehension) -> str:
        sid = self.sid(node)
        self.no_walrus += 1  # Python forbids := in a comprehension's iterable
        try:
            # ``iterate`` takes a JSON float for the number it is: no need to read it exactly
            iterable = f"{self.emit(node.iterable, norm=False)}, {self.sid(node.iterable)}"
        finally:
            self.no_walrus -= 1
        if self.vars:  # nested: its walks multiply, so they count against the step budget
            self.budget = True
            iterable = f"iterate_w({iterable}, w_)"
        else:
            iterable = f"iterate({iterable})"
        var = f"c{len(self.vars)}_{self.count}"
        self.count += 1
        saved = self.vars.get(node.var)
        self.vars[node.var] = var
        summed = self.inline() and node.func == "sum" and self.kind(node.element) in NUMERIC
        outer_summed, self.summed = self.summed, id(node.element) if summed else 0
        try:
            wants_bool = node.func in ("any", "all")
            element = self.boolean(node.element) if wants_bool else self.emit(node.element)
            cond = "" if node.condition is None else f" if {self.boolean(node.condition)}"
        finally:
            self.summed = outer_summed
            if saved is None:
                del self.vars[node.var]
            else:
                self.vars[node.var] = saved
        loop = f"{element} for {var} in {iterable}{cond}"
        if node.func == "list":
            return f"[{loop}]"
        if self.inline() and node.func in ("any", "all"):
            return f"{node.func}_({loop})"
        if summed:
            self.exact.add(id(node))
            return f"sum_({loop})"
        return f"{_COMPREHENSION_HELPERS[node.func]}(({loop}), {sid})"
