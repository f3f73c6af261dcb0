"""Name resolution and type checking against the JSON Schema of the evaluation context.

The checker returns a rewritten tree (labels such as ``订单.金额`` replaced by canonical
field names, ``date("...")`` folded into constants) plus the static type of every node.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from rule_dsl import _types as ty
from rule_dsl import ast as A
from rule_dsl.errors import DslSyntaxError, DslTypeError, make_error
from rule_dsl.functions import SIGNATURES, compile_pattern, zone
from rule_dsl.runtime import EvalFaultError, to_date, to_datetime

__all__ = ["COMPREHENSIONS", "MAX_LOOPS", "Checker"]

T = ty.T
COMPREHENSIONS = ("sum", "any", "all", "count", "min", "max", "avg", "list")
MAX_LOOPS = 3
_ORDERED = ("number", "string", "date", "datetime", "duration")
_TEMPORAL = ("date", "datetime")
_BOOLEAN_NODES = (A.Compare, A.In, A.IsNull, A.BoolOp)


class Checker:
    """Checks one source text; ``types`` maps ``id(node)`` of the returned tree to its type."""

    def __init__(self, source: str, schema: Mapping[str, Any] | None) -> None:
        self.source = source
        self.root = ty.from_schema(schema) if schema is not None else None
        self.types: dict[int, T] = {}
        self.path_of: dict[int, str] = {}
        self.paths: set[str] = set()
        self.uses_clock = False
        self.present: set[int] = set()  # ids of path nodes a valid context always fills
        self.loops = 0
        self._keep: list[A.Node] = []

    # -------------------------------------------------------------- helpers
    def fail(self, code: str, span: A.Span, hint: Any = None, **params: Any) -> DslTypeError:
        for side in ("type", "left", "right", "expected"):
            value = params.get(side)
            if isinstance(value, T):
                params[side] = ty.display(value)
                params[f"{side}_zh"] = ty.display(value, zh=True)
        return make_error(DslTypeError, code, self.source, span, hint=hint, **params)  # type: ignore[return-value]

    def done(self, node: A.Node, t: T, path: str | None = None) -> tuple[A.Node, T]:
        self.types[id(node)] = t
        self._keep.append(node)
        if path is not None:
            self.path_of[id(node)] = path
            self.paths.add(path)
        return node, t

    def type_of(self, node: A.Node) -> T:
        return self.types.get(id(node), ty.ANY)

    def final_paths(self) -> frozenset[str]:
        """Referenced context paths, without those that only lead to a longer one."""
        found = self.paths
        return frozenset(
            p for p in found if not any(q != p and q.startswith((p + ".", p + "[")) for q in found)
        )

    def expect(self, node: A.Node, t: T, expected: str) -> None:
        if t.kind in ("any", "null") or expected == "any" or t.kind == expected:
            return
        if expected in _TEMPORAL and t.kind == "string":
            return
        expected_t = ty.SIMPLE.get(expected, ty.ANY)
        raise self.fail("expected_type", node.span, expected=expected_t, type=t)

    def condition(self, node: A.Node, env: dict[str, T]) -> A.Node:
        node, t = self.check(node, env)
        self.expect(node, t, "boolean")
        return node

    # -------------------------------------------------------------- dispatch
    def check(self, node: A.Node, env: dict[str, T]) -> tuple[A.Node, T]:
        method = getattr(self, f"c_{type(node).__name__}")
        checked: tuple[A.Node, T] = method(node, env)
        return checked

    def c_Literal(self, node: A.Literal, env: dict[str, T]) -> tuple[A.Node, T]:
        if node.kind == "number":
            return self.done(node, ty.INTEGER if type(node.value) is int else ty.NUMBER)
        return self.done(node, ty.SIMPLE[node.kind])

    def c_ListLit(self, node: A.ListLit, env: dict[str, T]) -> tuple[A.Node, T]:
        items = [self.check(item, env) for item in node.items]
        item_t = ty.NULL
        for _, t in items:
            item_t = ty.unify(item_t, t)
        new = replace(node, items=tuple(n for n, _ in items))
        return self.done(new, T("list", item=item_t if items else ty.ANY))

    def c_Name(self, node: A.Name, env: dict[str, T]) -> tuple[A.Node, T]:
        if node.name in env:
            var_path = self.path_of.get(id(env[node.name]))
            return self.done(node, env[node.name], var_path)
        if self.root is None:
            return self.done(node, ty.ANY, node.name)
        found = ty.field_type(self.root, node.name)
        if found is None:
            raise self._unknown(node.name, node.span, self.root, "", env)
        name, t = found
        new = replace(node, name=name)
        if ty.always_present(self.root, name):
            self.present.add(id(new))
        return self.done(new, t, name)

    def _unknown(self, name: str, span: A.Span, obj: T, prefix: str, env: Any = ()) -> DslTypeError:
        names = ty.suggestions(obj)
        pool = list(names) + [v for v in env if not prefix]
        close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
        hint = None
        if close:
            target = names.get(close[0], close[0])
            hint = ("did_you_mean", {"name": f"{prefix}{target}"})
        elif not prefix:  # a bare unknown word is most often text missing its quotes
            hint = ("quote_text", {"text": name})
        return self.fail("unknown_field", span, hint=hint, name=f"{prefix}{name}")

    def c_Attr(self, node: A.Attr, env: dict[str, T]) -> tuple[A.Node, T]:
        obj, obj_t = self.check(node.obj, env)
        base = self.path_of.get(id(obj))
        path = f"{base}.{node.name}" if base is not None else None
        if obj_t.kind in ("any", "null"):
            return self.done(replace(node, obj=obj), ty.ANY, path)
        if obj_t.kind != "object":
            raise self.fail(
                "not_an_object", node.name_span, name=base or "value", type=obj_t, field=node.name
            )
        found = ty.field_type(obj_t, node.name)
        if found is None:
            prefix = f"{base}." if base else ""
            raise self._unknown(node.name, node.name_span, obj_t, prefix)
        name, t = found
        path = f"{base}.{name}" if base is not None else None
        new = replace(node, obj=obj, name=name)
        if ty.always_present(obj_t, name):
            self.present.add(id(new))
        return self.done(new, t, path)

    def c_Index(self, node: A.Index, env: dict[str, T]) -> tuple[A.Node, T]:
        obj, obj_t = self.check(node.obj, env)
        index, index_t = self.check(node.index, env)
        base = self.path_of.get(id(obj))
        if isinstance(index, A.Literal) and index.kind == "string" and obj_t.kind == "object":
            attr = A.Attr(node.span, obj, index.value, index.span)
            return self.c_Attr(attr, env)
        new = replace(node, obj=obj, index=index)
        if obj_t.kind == "list":
            self.expect(index, index_t, "number")
            suffix = f"[{index.value}]" if isinstance(index, A.Literal) else "[]"
            return self.done(new, obj_t.item or ty.ANY, None if base is None else base + suffix)
        if obj_t.kind not in ("any", "null", "object"):
            raise self.fail("not_a_list", node.obj.span, type=obj_t)
        suffix = f"[{index.value!r}]" if isinstance(index, A.Literal) else "[]"
        return self.done(new, ty.ANY, None if base is None else base + suffix)

    def c_Unary(self, node: A.Unary, env: dict[str, T]) -> tuple[A.Node, T]:
        operand, t = self.check(node.operand, env)
        new = replace(node, operand=operand)
        if node.op == "not":
            self.expect(operand, t, "boolean")
            return self.done(new, ty.BOOLEAN)
        if t.kind not in ("any", "null", "number", "duration"):
            raise self.fail("bad_operand", node.span, op="-", expected=ty.NUMBER, type=t)
        return self.done(new, t if t.kind != "null" else ty.NULL)

    def c_Binary(self, node: A.Binary, env: dict[str, T]) -> tuple[A.Node, T]:
        left, lt = self.check(node.left, env)
        right, rt = self.check(node.right, env)
        new = replace(node, left=left, right=right)
        result = ty.arith_type(node.op, lt, rt)
        if result is None:
            raise self.fail("type_mismatch", node.span, op=node.op, left=lt, right=rt)
        return self.done(new, result)

    def c_BoolOp(self, node: A.BoolOp, env: dict[str, T]) -> tuple[A.Node, T]:
        operands = tuple(self.condition(o, env) for o in node.operands)
        return self.done(replace(node, operands=operands), ty.BOOLEAN)

    def c_Compare(self, node: A.Compare, env: dict[str, T]) -> tuple[A.Node, T]:
        left, lt = self.check(node.left, env)
        right, rt = self.check(node.right, env)
        ok = ty.compatible(lt, rt)
        if node.op not in ("==", "!="):
            ok = ok and all(t.kind in ("any", "null", *_ORDERED) for t in (lt, rt))
        if not ok:
            raise self.fail("type_mismatch", node.span, op=node.op, left=lt, right=rt)
        return self.done(replace(node, left=left, right=right), ty.BOOLEAN)

    def c_Range(self, node: A.Range, env: dict[str, T]) -> tuple[A.Node, T]:
        low, lt = self.check(node.low, env)
        high, ht = self.check(node.high, env)
        for n, t in ((low, lt), (high, ht)):
            if t.kind not in ("any", "null", *_ORDERED):
                raise self.fail("bad_operand", n.span, op="..", expected=ty.NUMBER, type=t)
        if not ty.compatible(lt, ht):
            raise self.fail("type_mismatch", node.span, op="..", left=lt, right=ht)
        return self.done(replace(node, low=low, high=high), ty.unify(lt, ht))

    def c_In(self, node: A.In, env: dict[str, T]) -> tuple[A.Node, T]:
        left, lt = self.check(node.left, env)
        right, rt = self.check(node.right, env)
        op = "not in" if node.negated else "in"
        if isinstance(right, A.Range):
            ok = ty.compatible(lt, rt) and lt.kind in ("any", "null", *_ORDERED)
        elif rt.kind == "list":
            ok = ty.compatible(lt, rt.item or ty.ANY)
        elif rt.kind == "string":
            ok = lt.kind in ("any", "null", "string")
        else:
            ok = rt.kind in ("any", "null")
        if not ok:
            raise self.fail("type_mismatch", node.span, op=op, left=lt, right=rt)
        return self.done(replace(node, left=left, right=right), ty.BOOLEAN)

    def c_IsNull(self, node: A.IsNull, env: dict[str, T]) -> tuple[A.Node, T]:
        operand, _ = self.check(node.operand, env)
        return self.done(replace(node, operand=operand), ty.BOOLEAN)

    def c_IfExpr(self, node: A.IfExpr, env: dict[str, T]) -> tuple[A.Node, T]:
        cond = self.condition(node.condition, env)
        then, tt = self.check(node.then, env)
        other, ot = self.check(node.otherwise, env)
        new = replace(node, condition=cond, then=then, otherwise=other)
        return self.done(new, ty.unify(tt, ot))

    def c_Comprehension(self, node: A.Comprehension, env: dict[str, T]) -> tuple[A.Node, T]:
        if node.func not in COMPREHENSIONS:
            raise self._unknown_function(node.func, node.name_span)
        if self.loops >= MAX_LOOPS:  # keeps evaluation within O(n ** MAX_LOOPS) of the input
            raise make_error(
                DslSyntaxError, "too_many_loops", self.source, node.name_span, limit=MAX_LOOPS
            )
        iterable, it = self.check(node.iterable, env)
        if it.kind not in ("list", "any", "null"):
            raise self.fail("not_a_list", iterable.span, type=it)
        var_t = it.item if it.kind == "list" and it.item is not None else ty.ANY
        var_t = T(var_t.kind, var_t.integer, var_t.item, var_t.schema, var_t.root, var_t.enum)
        base = self.path_of.get(id(iterable))
        if base is not None:
            self.path_of[id(var_t)] = f"{base}[]"
        self._keep.append(var_t)  # type: ignore[arg-type]
        inner = {**env, node.var: var_t}
        self.loops += 1
        try:
            element, et = self.check(node.element, inner)
            cond = None if node.condition is None else self.condition(node.condition, inner)
        finally:
            self.loops -= 1
        new = replace(node, element=element, iterable=iterable, condition=cond)
        if node.func in ("any", "all"):
            self.expect(element, et, "boolean")
            return self.done(new, ty.BOOLEAN)
        if node.func == "count":
            return self.done(new, ty.INTEGER)
        if node.func == "list":
            return self.done(new, T("list", item=et))
        allowed = ("number", "duration") if node.func in ("sum", "avg") else _ORDERED
        if et.kind not in ("any", "null", *allowed):
            raise self.fail("bad_operand", element.span, op=node.func, expected=ty.NUMBER, type=et)
        return self.done(new, ty.NUMBER if node.func == "avg" else et)

    def _unknown_function(self, name: str, span: A.Span) -> DslTypeError:
        pool = sorted(set(SIGNATURES) | set(COMPREHENSIONS) - {"list"})
        close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
        hint = ("did_you_mean", {"name": close[0]}) if close else None
        return self.fail("unknown_function", span, hint=hint, name=name)

    def c_Call(self, node: A.Call, env: dict[str, T]) -> tuple[A.Node, T]:
        sig = SIGNATURES.get(node.name)
        if sig is None:
            raise self._unknown_function(node.name, node.name_span)
        count = len(node.args)
        if count < sig.min_args or (sig.max_args is not None and count > sig.max_args):
            want = str(sig.min_args) if sig.min_args == sig.max_args else None
            if want is None:
                upper = "…" if sig.max_args is None else str(sig.max_args)
                want = f"{sig.min_args}–{upper}"
            raise self.fail("wrong_arguments", node.span, name=node.name, expected=want, got=count)
        checked = [self.check(arg, env) for arg in node.args]
        for position, (arg, t) in enumerate(checked):
            kinds = sig.params[min(position, len(sig.params) - 1)].split("|")
            if "any" in kinds or t.kind in ("any", "null", *kinds):
                continue
            if t.kind == "string" and set(kinds) & set(_TEMPORAL):
                continue
            expected = ty.SIMPLE.get(kinds[0], ty.ANY)
            raise self.fail("bad_operand", arg.span, op=node.name, expected=expected, type=t)
        if node.name in ("sum", "avg") and checked[0][1].kind == "list":
            item = checked[0][1].item or ty.ANY
            if item.kind not in ("any", "null", "number", "duration"):
                raise self.fail(
                    "bad_operand", node.span, op=node.name, expected=ty.NUMBER, type=checked[0][1]
                )
        self.uses_clock = self.uses_clock or sig.clock
        self._check_constants(node, [a for a, _ in checked])
        new = replace(node, args=tuple(a for a, _ in checked))
        folded = self._fold(new)
        if folded is not None:
            return self.done(folded, ty.DATE if folded.kind == "date" else ty.DATETIME)
        return self.done(new, self._result(sig.result, [t for _, t in checked]))

    @staticmethod
    def _result(result: str, types: list[T]) -> T:
        if result == "arg0":
            return types[0]
        if result == "item":
            if len(types) == 1 and types[0].kind == "list":
                return types[0].item or ty.ANY
            out = ty.NULL
            for t in types:
                out = ty.unify(out, t)
            return out if len(types) > 1 else ty.ANY
        if result == "unify":
            out = ty.NULL
            for t in types:
                out = ty.unify(out, t)
            return out
        return ty.SIMPLE[result]

    def _check_constants(self, node: A.Call, args: list[A.Node]) -> None:
        for position, arg in enumerate(args):
            if not (isinstance(arg, A.Literal) and arg.kind == "string"):
                continue
            if node.name == "matches" and position == 1:
                try:
                    compile_pattern(arg.value)
                except ValueError as err:
                    raise self.fail("bad_pattern", arg.span, reason=str(err)) from None
            tz_position = 0 if node.name == "today" else 1
            if (
                node.name in ("today", "date", "datetime", "in_timezone")
                and position == tz_position
            ):
                try:
                    zone(arg.value)
                except ValueError:
                    raise self.fail("bad_timezone", arg.span, name=repr(arg.value)) from None

    def _fold(self, node: A.Call) -> A.Literal | None:
        if node.name not in ("date", "datetime") or len(node.args) != 1:
            return None
        arg = node.args[0]
        if not (isinstance(arg, A.Literal) and arg.kind == "string"):
            return None
        try:
            value: date | datetime = (
                to_date(arg.value) if node.name == "date" else to_datetime(arg.value)
            )
        except EvalFaultError:
            raise self.fail("bad_literal", arg.span, kind=node.name, text=repr(arg.value)) from None
        return A.Literal(node.span, value, node.name)

    def is_boolean(self, node: A.Node) -> bool:
        """Whether the compiled node always yields True or False (never null)."""
        if isinstance(node, (*_BOOLEAN_NODES, A.Unary)) and not (
            isinstance(node, A.Unary) and node.op == "neg"
        ):
            return True
        if isinstance(node, A.Literal):
            return node.kind == "boolean"
        if isinstance(node, A.Comprehension):
            return node.func in ("any", "all")
        if isinstance(node, A.Call):
            return node.name in ("contains", "starts_with", "ends_with", "matches", "any", "all")
        return False
