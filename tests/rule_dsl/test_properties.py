"""Property tests: any text compiles or raises DslError; compiled code agrees with a tiny
reference evaluator (kept here, written from the documented semantics) on random orders."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rule_dsl import DecisionTable, DslError, compile_expression, compile_ruleset
from rule_dsl.runtime import EvalFaultError

from .schemas import SCHEMA, sample_context

NOW = datetime(2026, 2, 1, tzinfo=UTC)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TOKENS = [
    "order", ".", "amount", "lines", "tags", "[", "]", "(", ")", "l", "for", "in", "if", "then",
    "else", "and", "or", "not", "is", "null", "true", "false", "==", "!=", "<", ">=", "+", "-",
    "*", "/", "%", ",", "..", "0", "1.5", "5000", '"a"', "'b'", "48h", "3d", "sum", "any",
    "count", "len", "matches", "coalesce", 'date("2026-01-01")', "now()", "customer", "tier",
    "广东", "订单", "金额", "#", "\n", "$", "@", "\\", '"', "“", "rule", "when", "end", "set",
    "=", "tag", "priority", "mode",
]  # fmt: skip
texts = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join),
    st.lists(st.sampled_from(TOKENS), max_size=30).map("".join),
)


@FAST
@given(texts)
def test_any_text_compiles_or_raises_dsl_error(source: str) -> None:
    for schema in (None, SCHEMA):
        try:
            expr = compile_expression(source, schema)
        except DslError as err:
            assert err.message and err.message_zh and err.code
            continue
        try:
            expr(sample_context(), now=NOW)
        except DslError:
            pass


@FAST
@given(texts)
def test_any_rule_set_text_compiles_or_raises_dsl_error(source: str) -> None:
    try:
        rules = compile_ruleset('rule "r" when ' + source + ' then tag "x" end\n' + source)
    except DslError:
        return
    try:
        rules(sample_context(), now=NOW)
    except DslError:
        pass


@FAST
@given(texts)
def test_any_cell_text_compiles_or_raises_dsl_error(cell: str) -> None:
    data = {
        "inputs": [{"name": "amount", "expression": "order.amount"}],
        "outputs": [{"name": "out"}],
        "rules": [{"inputs": [cell], "outputs": ['"x"']}],
    }
    try:
        table = DecisionTable.from_dict(data)
    except DslError:
        return
    try:
        table.evaluate(sample_context())
        table.analyze()
    except DslError:
        pass


# ------------------------------------------------------------------ reference evaluator


def num(value: Any) -> Any:
    return Decimal(str(value)) if isinstance(value, float) else value


def read(ctx: Any, path: tuple[str, ...]) -> Any:
    value = ctx
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return num(value)


def same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def ref(tree: tuple[Any, ...], ctx: Any, env: dict[str, Any]) -> Any:  # noqa: C901
    op = tree[0]
    if op == "lit":
        return tree[1]
    if op == "path":
        return read(ctx, tree[1])
    if op == "var":
        return num(env[tree[1]].get(tree[2]) if isinstance(env[tree[1]], dict) else None)
    if op in ("+", "-", "*", "/"):
        a, b = ref(tree[1], ctx, env), ref(tree[2], ctx, env)
        if a is None or b is None:
            return None
        if op == "/":
            return Decimal(a) / Decimal(b)
        return a + b if op == "+" else a - b if op == "-" else a * b
    if op == "neg":
        value = ref(tree[1], ctx, env)
        return None if value is None else -value
    if op in ("<", "<=", ">", ">="):
        a, b = ref(tree[1], ctx, env), ref(tree[2], ctx, env)
        if a is None or b is None:
            return False
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    if op == "==":
        return same(ref(tree[1], ctx, env), ref(tree[2], ctx, env))
    if op == "!=":
        return not same(ref(tree[1], ctx, env), ref(tree[2], ctx, env))
    if op == "and":
        return all(ref(t, ctx, env) is True for t in tree[1:])
    if op == "or":
        return any(ref(t, ctx, env) is True for t in tree[1:])
    if op == "not":
        return ref(tree[1], ctx, env) is not True
    if op == "if":
        chosen = tree[2] if ref(tree[1], ctx, env) is True else tree[3]
        return ref(chosen, ctx, env)
    if op == "in":
        value = ref(tree[1], ctx, env)
        return any(same(value, item) for item in tree[2])
    if op == "range":
        value, low, high = ref(tree[1], ctx, env), tree[2], tree[3]
        if value is None:
            return False
        return (low <= value if tree[4] else low < value) and (
            value <= high if tree[5] else value < high
        )
    if op == "isnull":
        return ref(tree[1], ctx, env) is None
    if op == "coalesce":
        return next((v for v in (ref(t, ctx, env) for t in tree[1:]) if v is not None), None)
    lines = read(ctx, ("order", "lines")) or []
    if op == "sum":
        values = [ref(tree[1], ctx, {"l": line}) for line in lines]
        return sum((v for v in values if v is not None), 0)
    if op == "any":
        return any(ref(tree[1], ctx, {"l": line}) is True for line in lines)
    raise AssertionError(op)


def render(tree: tuple[Any, ...]) -> str:  # noqa: C901
    op = tree[0]
    if op == "lit":
        value = tree[1]
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        return f'"{value}"' if isinstance(value, str) else str(value)
    if op == "path":
        return ".".join(tree[1])
    if op == "var":
        return f"{tree[1]}.{tree[2]}"
    if op in ("+", "-", "*", "/", "<", "<=", ">", ">=", "==", "!="):
        return f"({render(tree[1])} {op} {render(tree[2])})"
    if op == "neg":
        return f"(-{render(tree[1])})"
    if op in ("and", "or"):
        return "(" + f" {op} ".join(render(t) for t in tree[1:]) + ")"
    if op == "not":
        return f"(not {render(tree[1])})"
    if op == "if":
        return f"(if {render(tree[1])} then {render(tree[2])} else {render(tree[3])})"
    if op == "in":
        return f"({render(tree[1])} in [{', '.join(render(('lit', v)) for v in tree[2])}])"
    if op == "range":
        low, high = "[" if tree[4] else "(", "]" if tree[5] else ")"
        return f"({render(tree[1])} in {low}{tree[2]}..{tree[3]}{high})"
    if op == "isnull":
        return f"({render(tree[1])} is null)"
    if op == "coalesce":
        return f"coalesce({', '.join(render(t) for t in tree[1:])})"
    if op == "sum":
        return f"sum({render(tree[1])} for l in order.lines)"
    if op == "any":
        return f"any({render(tree[1])} for l in order.lines)"
    raise AssertionError(op)


numbers = st.one_of(
    st.integers(-50, 6000), st.decimals(-100, 100, places=2, allow_nan=False, allow_infinity=False)
)
num_leaves = st.one_of(
    numbers.map(lambda v: ("lit", v)),
    st.sampled_from([("path", ("order", "amount")), ("path", ("order", "custom", "n"))]),
)
line_leaves = st.sampled_from([("var", "l", "qty"), ("var", "l", "price")])
str_leaves = st.one_of(
    st.sampled_from(["gold", "silver", "广东"]).map(lambda v: ("lit", v)),
    st.just(("path", ("customer", "tier"))),
)


def num_exprs(leaves: Any) -> Any:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(st.sampled_from(["+", "-", "*"]), inner, inner),
            st.tuples(
                st.just("/"),
                inner,
                st.sampled_from([2, 4, Decimal("0.5")]).map(lambda v: ("lit", v)),
            ),
            st.tuples(st.just("neg"), inner),
            st.tuples(st.just("coalesce"), inner, inner),
        ),
        max_leaves=6,
    )


line_nums = num_exprs(st.one_of(line_leaves, numbers.map(lambda v: ("lit", v))))
top_nums = st.one_of(num_exprs(num_leaves), st.tuples(st.just("sum"), line_nums))
comparisons = st.one_of(
    st.tuples(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), top_nums, top_nums),
    st.tuples(st.sampled_from(["==", "!="]), str_leaves, str_leaves),
    st.tuples(st.just("in"), top_nums, st.lists(numbers, min_size=1, max_size=4)),
    st.tuples(st.just("in"), str_leaves, st.lists(st.sampled_from(["gold", "vip"]), min_size=1)),
    st.tuples(st.just("range"), top_nums, st.integers(-10, 100), st.integers(100, 7000),
              st.booleans(), st.booleans()),
    st.tuples(st.just("isnull"), st.one_of(top_nums, str_leaves)),
    st.just(("path", ("order", "urgent"))),
    st.tuples(st.just("any"), st.tuples(st.just(">"), line_nums, numbers.map(lambda v: ("lit", v)))),
)  # fmt: skip
booleans = st.recursive(
    comparisons,
    lambda inner: st.one_of(
        st.tuples(st.just("and"), inner, inner),
        st.tuples(st.just("or"), inner, inner, inner),
        st.tuples(st.just("not"), inner),
        st.tuples(st.just("if"), inner, inner, inner),
    ),
    max_leaves=5,
)
expressions = st.one_of(booleans, top_nums, st.tuples(st.just("if"), booleans, top_nums, top_nums))

maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731
money = st.one_of(
    st.integers(0, 9000),
    st.decimals(0, 9000, places=2, allow_nan=False, allow_infinity=False),
    st.floats(0, 9000).map(lambda f: round(f, 2)),
)
contexts = st.fixed_dictionaries(
    {
        "order": st.fixed_dictionaries(
            {
                "amount": maybe(money),
                "urgent": maybe(st.booleans()),
                "custom": st.fixed_dictionaries({"n": maybe(money)}),
                "lines": st.lists(
                    st.fixed_dictionaries(
                        {"qty": maybe(st.integers(1, 50)), "price": maybe(money)}
                    ),
                    max_size=4,
                ),
            }
        ),
        "customer": st.fixed_dictionaries({"tier": maybe(st.sampled_from(["gold", "silver"]))}),
    }
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions, st.lists(contexts, min_size=1, max_size=4))
def test_compiled_code_agrees_with_reference_evaluator(tree: Any, ctxs: list[Any]) -> None:
    source = render(tree)
    typed = compile_expression(source, SCHEMA)
    untyped = compile_expression(source)
    checked = typed._entry.__globals__["safe"]
    for ctx in ctxs:
        expected = ref(tree, ctx, {})
        for value in (typed(ctx), untyped(ctx), checked(ctx, None)):
            assert same(value, expected) or (value == expected and type(value) is type(expected)), (
                source,
                ctx,
                value,
                expected,
            )


# ------------------------------------------------------------------ hostile data

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-10, 10_000),
        st.floats(allow_nan=True, allow_infinity=True),
        st.decimals(allow_nan=False, allow_infinity=False, places=2),
        st.text(max_size=5),
        st.sampled_from(["gold", "hazmat", "2026-01-31T10:00:00+08:00", "2026-02-03"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["qty", "price", "category", "x"]), inner, max_size=3),
    ),
    max_leaves=8,
)
hostile_contexts = st.fixed_dictionaries(
    {
        "order": st.dictionaries(
            st.sampled_from(["amount", "urgent", "lines", "created_at", "promised_on", "tags",
                             "address", "custom", "external_id"]),
            json_values,
        ),
        "customer": st.one_of(json_values, st.dictionaries(st.sampled_from(["tier", "credit_limit"]), json_values)),
    }
)  # fmt: skip
WORKLOADS = [
    'order.amount > 5000 and customer.tier in ["gold", "platinum"]',
    "sum(l.qty * l.price for l in order.lines) > customer.credit_limit - 10"
    ' or any(l.category == "hazmat" for l in order.lines)',
    "order.amount in [1000..5000)",
    "order.amount * 2 + 1",
    "-order.amount",
    "order.amount == 5",
    "order.amount in [1, 2.5]",
    "now() - order.created_at > 48h",
    "order.promised_on - today()",
    "count(l for l in order.lines if l.qty > 1)",
    "[l.price for l in order.lines]",
    '"vip" in order.tags',
    'order.address.province == "广东"',
    "coalesce(order.amount, 0) + len(order.lines)",
    "if order.urgent then order.amount else 0",
    "order.lines[0].qty",
    "max(l.price for l in order.lines)",
]
COMPILED = [compile_expression(s, SCHEMA) for s in WORKLOADS] + [
    compile_expression(s) for s in WORKLOADS
]


def public_outcome(run: Any) -> tuple[str, Any]:
    """What a caller of a compiled expression sees: a value or a DslError, nothing else."""
    try:
        return ("value", run())
    except DslError as err:
        return ("error", err.code)


def checked_outcome(run: Any) -> tuple[str, Any]:
    """What the internal checked twin does, translated as the entry point translates it."""
    try:
        return ("value", run())
    except EvalFaultError as fault:
        return ("error", fault.code)
    except DslError as err:
        return ("error", err.code)
    except Exception:  # a helper defect: the entry point reports it as eval_failed
        return ("error", "eval_failed")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_contexts)
def test_fast_and_checked_code_agree_on_hostile_data(ctx: Any) -> None:
    """The fast code may only ever answer what the fully checked code answers."""
    for expr in COMPILED:
        checked = expr._entry.__globals__["safe"]
        fast = public_outcome(lambda e=expr: e(ctx, now=NOW))
        slow = checked_outcome(lambda c=checked: c(ctx, NOW))
        # an internal defect is never an acceptable answer, even when both paths agree
        assert fast != ("error", "eval_failed"), (expr.source, ctx, fast)
        assert fast[0] == slow[0], (expr.source, ctx, fast, slow)
        assert repr(fast[1]) == repr(slow[1]), (expr.source, ctx, fast, slow)


# ------------------------------------------------------------------ JSON floats against whole numbers

# Each operator as a table cell: equality is the plain number, inequality its negation.
_CELLS = {"<": "< {n}", "<=": "<= {n}", ">": "> {n}", ">=": ">= {n}", "==": "{n}", "!=": "not({n})"}
_FLOAT_OPS = tuple(_CELLS)
_LIMIT = 2**53 - 1
whole_numbers = st.one_of(
    st.integers(-1000, 1000), st.integers(-_LIMIT, _LIMIT), st.sampled_from([_LIMIT, -_LIMIT])
)


@st.composite
def floats_near(draw: Any, n: int) -> float:
    """A float equal to ``n``, one step either side of it, or anywhere."""
    near = float(n)
    return draw(
        st.one_of(
            st.just(near),
            st.just(math.nextafter(near, math.inf)),
            st.just(math.nextafter(near, -math.inf)),
            st.floats(allow_nan=True, allow_infinity=True),
        )
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), whole_numbers, st.sampled_from(_FLOAT_OPS))
def test_json_floats_compare_with_whole_literals_as_their_decimal_form(
    data: Any, n: int, op: str
) -> None:
    """Fast code compares a JSON float with a whole-number literal directly; it must answer
    exactly what the checked code answers on the float's decimal form (NaN included)."""
    _check_float_against_whole(data.draw(floats_near(n)), n, n + data.draw(st.integers(1, 10)), op)


@pytest.mark.parametrize("op", _FLOAT_OPS)
@pytest.mark.parametrize(
    ("x", "n"),
    [(math.nan, 5), (math.inf, 5), (-math.inf, 5), (5.0, 5), (math.nextafter(5.0, 6), 5),
     (math.nextafter(5.0, 4), 5), (-0.0, 0), (float(_LIMIT), _LIMIT), (0.1, 0)],
)  # fmt: skip
def test_json_float_edge_cases_against_whole_literals(x: float, n: int, op: str) -> None:
    _check_float_against_whole(x, n, n + 3, op)


def _check_float_against_whole(x: float, n: int, high: int, op: str) -> None:
    sources = [f"order.amount {op} {n}", f"{n} {op} order.amount"]
    if abs(high) <= _LIMIT:
        sources.append(f"order.amount in [{n}..{high})")
    ctx = {"order": {"amount": x}}
    for source in sources:
        expr = compile_expression(source, SCHEMA)
        checked = expr._entry.__globals__["safe"]
        fast = public_outcome(lambda e=expr: e(ctx, now=NOW))
        slow = checked_outcome(lambda c=checked: c(ctx, NOW))
        assert fast == slow, (source, x, fast, slow)
    table = DecisionTable.from_dict(
        {
            "hit_policy": "first",
            "inputs": [{"name": "amount", "expression": "order.amount"}],
            "outputs": [{"name": "hit"}],
            "rules": [
                {"inputs": [_CELLS[op].format(n=n)], "outputs": ["1"]},
                {"inputs": [f"[{n}..{n + 1}]"], "outputs": ["2"]},
                {"inputs": ["-"], "outputs": ["3"]},
            ],
        },
        SCHEMA,
    )
    outcome = public_outcome(lambda: table.evaluate(ctx, now=NOW).outputs)
    if x != x:  # NaN equals nothing and orders with nothing: an ordering reports it
        assert outcome == (("value", {"hit": 1}) if op == "!=" else ("error", "bad_value"))
        return
    exact = Decimal(repr(x))  # what the checked code compares: the float's decimal form
    first = {
        "<": exact < n, "<=": exact <= n, ">": exact > n, ">=": exact >= n,
        "==": exact == n, "!=": exact != n,
    }[op]  # fmt: skip
    want = 1 if first else 2 if n <= exact <= n + 1 else 3
    assert outcome == ("value", {"hit": want}), (op, n, x)
