"""Orders, the W3 routing table and the peers' renderings of W1-W3 for the DSL benchmark."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

PROVINCES = [
    "广东", "广西", "海南", "上海", "江苏", "浙江", "北京", "天津", "河北", "四川", "重庆",
    "湖北", "湖南", "河南", "辽宁", "吉林", "黑龙江", "陕西", "甘肃", "新疆", "山东", "福建",
]  # fmt: skip
CHANNELS = ["taobao", "tmall", "douyin", "jd", "shopify", "b2b", "wechat"]
TIERS = ["standard", "silver", "gold", "platinum", "vip"]
CATEGORIES = ["tools", "food", "apparel", "electronics", "furniture"]

ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-label-zh": "订单",
    "required": ["external_id", "channel", "amount", "currency"],
    "properties": {
        "external_id": {"type": "string"},
        "channel": {"type": "string", "enum": CHANNELS},
        "currency": {"type": "string"},
        "amount": {"type": "number", "x-label-zh": "金额"},
        "urgent": {"type": "boolean", "x-label-zh": "加急"},
        "shipping_address": {
            "type": "object",
            "properties": {"province": {"type": "string", "x-label-zh": "省份"}},
        },
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku", "qty"],
                "properties": {
                    "sku": {"type": "string"},
                    "qty": {"type": "integer", "minimum": 1},
                    "price": {"type": "number"},
                    "category": {"type": "string"},
                },
            },
        },
        "customer": {
            "type": "object",
            "x-label-zh": "客户",
            "properties": {
                "tier": {"type": "string", "enum": TIERS},
                "credit_limit": {"type": "number"},
                "outstanding": {"type": "number"},
            },
        },
    },
}

# The W3 routing table: region list, channel test, amount range, urgent flag -> warehouse.
# channel: None (any), ("in", [...]) or ("not", value); amount: None or (low, high, low_closed,
# high_closed) with None for an open end; urgent: None (any) or True.
SOUTH = ["广东", "广西", "海南"]
EAST = ["上海", "江苏", "浙江"]
NORTH = ["北京", "天津", "河北"]
WEST = ["四川", "重庆"]
CENTRE = ["湖北", "湖南", "河南"]
NORTHEAST = ["辽宁", "吉林", "黑龙江"]
NORTHWEST = ["陕西", "甘肃", "宁夏", "青海", "新疆"]
W3_ROWS: list[tuple[Any, Any, Any, Any, str]] = [
    (SOUTH, None, (20000, None, True, False), True, "GZ-EXPRESS"),
    (SOUTH, ("in", ["b2b"]), None, None, "GZ-B2B"),
    (SOUTH, None, (5000, 20000, True, False), None, "GZ-01"),
    (SOUTH, None, None, None, "GZ-02"),
    (EAST, None, (10000, None, True, False), True, "SH-EXPRESS"),
    (EAST, ("in", ["douyin", "taobao", "tmall"]), (0, 1000, True, False), None, "SH-SMALL"),
    (EAST, ("in", ["b2b"]), None, None, "SH-B2B"),
    (EAST, None, None, None, "SH-01"),
    (NORTH, None, None, True, "BJ-EXPRESS"),
    (NORTH, None, (50000, None, True, False), None, "BJ-BULK"),
    (NORTH, None, None, None, "BJ-01"),
    (WEST, ("not", "b2b"), (0, 3000, False, True), None, "CD-SMALL"),
    (WEST, None, None, None, "CD-01"),
    (CENTRE, None, (5000, None, True, False), True, "WH-EXPRESS"),
    (CENTRE, None, None, None, "WH-01"),
    (NORTHEAST, None, None, None, "SY-01"),
    (NORTHWEST, None, (8000, None, True, False), None, "XA-BULK"),
    (NORTHWEST, None, None, None, "XA-01"),
    (None, ("in", ["shopify"]), None, None, "INTL-HK"),
    (None, None, (30000, None, True, False), None, "CENTRAL-BULK"),
    (None, None, None, None, "CENTRAL"),
]


def _money(rnd: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rnd.randint(low * 100, high * 100)) / 100


def generate_orders(count: int, seed: int = 20260131) -> list[dict[str, Any]]:
    """``count`` evaluation contexts ``{"order": ..., "customer": ...}`` with Decimal money."""
    rnd = random.Random(seed)
    contexts = []
    for number in range(count):
        lines = []
        for index in range(rnd.choice([1, 1, 2, 2, 3, 4, 6, 10])):
            category = "hazmat" if rnd.random() < 0.03 else rnd.choice(CATEGORIES)
            lines.append({
                "sku": f"SKU-{rnd.randint(1, 5000):05d}",
                "qty": rnd.choice([1, 1, 2, 3, 5, 10, 20, 50, 100]),
                "price": _money(rnd, 1, 3000),
                "category": category,
                "line_no": index + 1,
            })  # fmt: skip
        amount = sum((line["qty"] * line["price"] for line in lines), Decimal(0))
        customer = {
            "tier": rnd.choice(TIERS),
            "credit_limit": Decimal(rnd.choice([5, 10, 20, 50, 100, 200]) * 1000),
            "outstanding": _money(rnd, 0, 150000),
        }
        order = {
            "external_id": f"TB-{number:06d}",
            "channel": rnd.choice(CHANNELS),
            "currency": "CNY",
            "amount": amount,
            "urgent": rnd.random() < 0.2,
            "shipping_address": {"province": rnd.choice(PROVINCES + ["宁夏", "青海"])},
            "lines": lines,
            "customer": customer,
        }
        contexts.append({"order": order, "customer": customer})
    return contexts


def to_floats(value: Any) -> Any:
    """The same data with Decimals as floats (what JSON-native engines take)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: to_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_floats(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------
# The workloads rendered for the peer engines, each through its fastest documented path.
# build() returns {workload: {engine: (callable, prepare)}}; prepare turns the float copy
# of the contexts into the engine's own input form before timing starts.

PACKAGES = ("zen-engine", "rule-engine", "cel-python", "panzi-json-logic")


def _same(items: list[Any]) -> list[Any]:
    return items


def _zen_cells(row: tuple[Any, ...]) -> list[str]:
    regions, channel, amount, urgent, _ = row
    region = ", ".join(f'"{r}"' for r in regions) if regions else ""
    if channel is None:
        chan = ""
    elif channel[0] == "in":
        chan = ", ".join(f'"{c}"' for c in channel[1])
    else:
        chan = f'$ != "{channel[1]}"'
    if amount is None:
        amt = ""
    elif amount[1] is None:
        amt = f"{'>=' if amount[2] else '>'} {amount[0]}"
    else:
        amt = f"{'[' if amount[2] else '('}{amount[0]}..{amount[1]}{']' if amount[3] else ')'}"
    return [region, chan, amt, "true" if urgent else ""]


def zen_graph(rows: list[tuple[Any, ...]]) -> str:
    """The W3 table as a GoRules JDM graph (input -> decision table -> output)."""
    fields = ["order.shipping_address.province", "order.channel", "order.amount", "order.urgent"]
    inputs = [{"id": f"in{i}", "name": f, "type": "expression", "field": f}
              for i, f in enumerate(fields)]  # fmt: skip
    rules = []
    for n, row in enumerate(rows):
        rule = {"_id": f"r{n}", "out": f'"{row[4]}"'}
        rule.update({f"in{i}": cell for i, cell in enumerate(_zen_cells(row))})
        rules.append(rule)
    table = {
        "id": "table", "type": "decisionTableNode", "name": "routing",
        "position": {"x": 0, "y": 0},
        "content": {
            "hitPolicy": "first", "inputs": inputs, "rules": rules,
            "outputs": [{"id": "out", "name": "warehouse", "type": "expression",
                         "field": "warehouse"}],
        },
    }  # fmt: skip
    nodes = [
        {"id": "in", "type": "inputNode", "name": "Request", "position": {"x": 0, "y": 0}},
        table,
        {"id": "out", "type": "outputNode", "name": "Response", "position": {"x": 0, "y": 0}},
    ]
    edges = [
        {"id": "e1", "sourceId": "in", "targetId": "table", "type": "edge"},
        {"id": "e2", "sourceId": "table", "targetId": "out", "type": "edge"},
    ]
    return json.dumps({"contentType": "application/vnd.gorules.decision", "nodes": nodes,
                       "edges": edges}, ensure_ascii=False)  # fmt: skip


def _conditions(row: tuple[Any, ...], style: str) -> list[str]:
    """Row tests in rule-engine ("re") or CEL ("cel") syntax."""
    regions, channel, amount, urgent, _ = row
    num = (lambda v: f"{float(v)}") if style == "cel" else str
    quote = lambda items: "[" + ", ".join(f'"{i}"' for i in items) + "]"  # noqa: E731
    out = []
    if regions:
        out.append(f"order.shipping_address.province in {quote(regions)}")
    if channel and channel[0] == "in":
        out.append(f"order.channel in {quote(channel[1])}")
    elif channel:
        out.append(f'order.channel != "{channel[1]}"')
    if amount:
        out.append(f"order.amount {'>=' if amount[2] else '>'} {num(amount[0])}")
        if amount[1] is not None:
            out.append(f"order.amount {'<=' if amount[3] else '<'} {num(amount[1])}")
    if urgent:
        out.append("order.urgent")
    return out


def _chain(rows: list[tuple[Any, ...]], style: str) -> str:
    joiner = " && " if style == "cel" else " and "
    source = '"NONE"'
    for row in reversed(rows):
        tests = _conditions(row, style)
        cond = joiner.join(tests) if tests else "true"
        source = f'({cond}) ? "{row[4]}" : ({source})'
    return source


def _jsonlogic_table(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    args: list[Any] = []
    for regions, channel, amount, urgent, warehouse in rows:
        tests: list[Any] = []
        if regions:
            tests.append({"in": [{"var": "order.shipping_address.province"}, regions]})
        if channel and channel[0] == "in":
            tests.append({"in": [{"var": "order.channel"}, channel[1]]})
        elif channel:
            tests.append({"!=": [{"var": "order.channel"}, channel[1]]})
        if amount:
            tests.append({">=" if amount[2] else ">": [{"var": "order.amount"}, amount[0]]})
            if amount[1] is not None:
                op = "<=" if amount[3] else "<"
                tests.append({op: [{"var": "order.amount"}, amount[1]]})
        if urgent:
            tests.append({"==": [{"var": "order.urgent"}, True]})
        args += [{"and": tests} if tests else True, warehouse]
    return {"if": [*args, "NONE"]}


def build(w1: str, w2: str, rows: list[tuple[Any, ...]]) -> dict[str, dict[str, Any]]:
    """Compile W1-W3 for every installed peer."""
    engines: dict[str, dict[str, Any]] = {"W1": {}, "W2": {}, "W3": {}}
    try:
        import zen

        z1 = zen.compile_expression(w1).evaluate
        z2 = zen.compile_expression(
            "sum(map(order.lines, #.qty * #.price)) > customer.credit_limit - customer.outstanding"
            ' or some(order.lines, #.category == "hazmat")'
        ).evaluate
        graph = zen_graph(rows)
        engine = zen.ZenEngine({"loader": lambda key: graph})
        evaluate = engine.evaluate
        engines["W1"]["zen-engine"] = (z1, _same)
        engines["W2"]["zen-engine"] = (z2, _same)
        engines["W3"]["zen-engine"] = (
            lambda ctx: evaluate("w3", ctx)["result"].get("warehouse"),
            _same,
        )
    except ImportError:
        pass
    try:
        import rule_engine

        context = rule_engine.Context(default_value=None)
        r1 = rule_engine.Rule(w1, context=context).evaluate
        r2 = rule_engine.Rule(
            "$sum([l.qty * l.price for l in order.lines]) > customer.credit_limit"
            ' - customer.outstanding or $any([l.category == "hazmat" for l in order.lines])',
            context=context,
        ).evaluate
        r3 = rule_engine.Rule(_chain(rows, "re"), context=context).evaluate
        # rule-engine reads numbers as Decimal itself; give it the Decimal data directly.
        engines["W1"]["rule-engine"] = (r1, None)
        engines["W2"]["rule-engine"] = (r2, None)
        engines["W3"]["rule-engine"] = (r3, None)
    except ImportError:
        pass
    try:
        import celpy
        from celpy import celtypes

        def cel_sum(values: Any) -> Any:
            total = celtypes.DoubleType(0)
            for value in values:
                total = total + value
            return total

        env = celpy.Environment()
        c1 = env.program(env.compile(
            'order.amount > 5000.0 && customer.tier in ["gold", "platinum"]'
        )).evaluate  # fmt: skip
        c2 = env.program(
            env.compile(
                "sum(order.lines.map(l, double(l.qty) * l.price)) > customer.credit_limit"
                ' - customer.outstanding || order.lines.exists(l, l.category == "hazmat")'
            ),
            functions={"sum": cel_sum},
        ).evaluate
        c3 = env.program(env.compile(_chain(rows, "cel"))).evaluate

        def to_cel(items: list[Any]) -> list[Any]:
            return [celpy.json_to_cel(item) for item in items]

        engines["W1"]["cel-python"] = (lambda a: bool(c1(a)), to_cel)
        engines["W2"]["cel-python"] = (lambda a: bool(c2(a)), to_cel)
        engines["W3"]["cel-python"] = (lambda a: str(c3(a)), to_cel)
    except ImportError:
        pass
    try:
        from json_logic import jsonLogic

        j1 = {"and": [{">": [{"var": "order.amount"}, 5000]},
                      {"in": [{"var": "customer.tier"}, ["gold", "platinum"]]}]}  # fmt: skip
        total = {"reduce": [{"map": [{"var": "order.lines"},
                                     {"*": [{"var": "qty"}, {"var": "price"}]}]},
                            {"+": [{"var": "current"}, {"var": "accumulator"}]}, 0]}  # fmt: skip
        j2 = {"or": [
            {">": [total, {"-": [{"var": "customer.credit_limit"},
                                 {"var": "customer.outstanding"}]}]},
            {"some": [{"var": "order.lines"}, {"==": [{"var": "category"}, "hazmat"]}]},
        ]}  # fmt: skip
        j3 = _jsonlogic_table(rows)
        engines["W1"]["json-logic (panzi)"] = (lambda d: bool(jsonLogic(j1, d)), _same)
        engines["W2"]["json-logic (panzi)"] = (lambda d: bool(jsonLogic(j2, d)), _same)
        engines["W3"]["json-logic (panzi)"] = (lambda d: jsonLogic(j3, d), _same)
    except ImportError:
        pass
    return engines
