"""Baselines for bench/flow_bench.py (other benchmarks may reuse them): the routing decisions without the engine, and on Spiff.

* ``DslOnlyRouting``: the routing flow's decisions with the very same compiled rule-DSL objects,
  chained by hand in Python (what the engine adds on top is its overhead);
* ``SpiffRouting``: the same logic as a BPMN process on SpiffWorkflow;
* ``chain_flow`` / ``dsl_only_chain``: linear flows of any size and their hand-chained twin.

Every runner returns ``"<outcome or waiting node>/<warehouse>/<priority>"`` so that answers can
be compared order by order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flow_engine import CompiledFlow
from rule_dsl import DecisionTable, compile_expression


def route_by_hand(order: dict, ref: dict) -> str | None:
    """Active warehouse serving the province with every line in stock, lowest cost first."""
    need: dict[str, int] = {}
    for ln in order["lines"]:
        need[ln["sku"]] = need.get(ln["sku"], 0) + ln["qty"]
    province = order["shipping_address"].get("province")
    inventory = ref["inventory"]
    best = None
    for wh in ref["warehouses"]:
        if not wh.get("active", True):
            continue
        stock = inventory.get(wh["id"], {})
        if any(stock.get(sku, 0) < qty for sku, qty in need.items()):
            continue
        regions = wh.get("regions")
        if regions is not None and "*" not in regions and province not in regions:
            continue
        if best is None or wh["cost"] < best["cost"]:
            best = wh
    return best["id"] if best else None


def credit_by_hand(order: dict) -> bool:
    c = order["customer"]
    if c.get("payment_terms") == "prepaid":
        return True
    return (c.get("outstanding") or 0) + order["amount"] <= (c.get("credit_limit") or 0)


def priority_by_hand(order: dict) -> dict[str, Any]:
    """The 21-row priority table of routing.flow.json written as Python."""
    ch, tier, amount = order["channel"], order["customer"]["tier"], order["amount"]

    def p(level: str, hours: int) -> dict[str, Any]:
        return {"priority": level, "sla_hours": hours}

    if order.get("urgent") is True:
        return p("P0", 4)
    if ch == "b2b":
        if tier in ("platinum", "vip"):
            return p("P1", 12)
        if tier == "gold":
            return p("P1", 24) if amount >= 50000 else p("P2", 24)
        return p("P2", 36) if tier == "silver" else p("P3", 48)
    if ch in ("tmall", "taobao"):
        if tier in ("vip", "platinum"):
            return p("P1", 12)
        if tier == "gold":
            return p("P1", 24) if amount >= 2000 else p("P2", 24)
        return p("P2", 24) if amount >= 5000 else p("P3", 48)
    if ch == "jd":
        return p("P1", 24) if amount >= 5000 else p("P2", 24)
    if ch in ("douyin", "kuaishou"):
        return p("P1", 24) if amount >= 3000 else p("P2", 36)
    if ch == "pinduoduo":
        return p("P3", 48)
    if ch in ("shopify", "amazon"):
        return p("P1", 48) if tier in ("vip", "platinum", "gold") else p("P2", 72)
    if ch == "wechat":
        return p("P2", 24) if amount >= 1000 else p("P3", 48)
    return p("P3", 72)


class DslOnlyRouting:
    """The routing flow's expressions compiled once with rule_dsl and chained by hand."""

    def __init__(self, flow: CompiledFlow, doc: dict) -> None:
        schema = dict(flow.context_schema)
        cfg = {n["id"]: n["config"] for n in doc["nodes"]}

        def expr(source: str, expect: str | None = None) -> Any:
            return compile_expression(source, schema, expect=expect)

        cases = cfg["channel"]["cases"]
        self.b2b = expr(cases[0]["when"], "boolean")
        self.cross_border = expr(cases[1]["when"], "boolean")
        self.credit = expr(cfg["credit"]["expression"], "boolean")
        self.alert = [(k, expr(v)) for k, v in cfg["credit_alert"]["params"].items()]
        self.customs = [(f["path"][5:], expr(f["expression"])) for f in cfg["customs"]["fields"]]
        self.table = DecisionTable.from_dict(cfg["priority"]["table"], schema)
        self.large = expr(cfg["large"]["expression"], "boolean")
        self.checks = [expr(c["expression"]) for c in cfg["approve"]["checks"]]
        self.manager = expr(cfg["approve"]["assignees"][1]["expression"])
        self.reserve = expr(cfg["reserve"]["warehouse"], "string")
        self.body = [(k, expr(v)) for k, v in cfg["wms"]["body"].items()]

    def run(self, order: dict, ref: dict, now: datetime) -> str:
        v: dict[str, Any] = {}
        ctx = {"order": order, "customer": order.get("customer") or {}, "vars": v, "ref": ref}
        if self.b2b(ctx, now=now) is True:
            if self.credit(ctx, now=now) is not True:
                v["alert"] = {k: e(ctx, now=now) for k, e in self.alert}
                return "credit_hold/None/None"
        elif self.cross_border(ctx, now=now) is True:
            for name, e in self.customs:
                v[name] = e(ctx, now=now)
        v["priority"] = self.table.evaluate(ctx, now=now).outputs
        level = v["priority"]["priority"]
        chosen = route_by_hand(order, ref)
        if chosen is None:
            return f"backorder/None/{level}"
        v["route"] = {"chosen": chosen}
        if self.large(ctx, now=now) is True:
            v["checks"] = [c(ctx, now=now) for c in self.checks]
            v["manager"] = self.manager(ctx, now=now)
            return f"approve/{chosen}/{level}"
        v["reservation"] = self.reserve(ctx, now=now)
        v["body"] = {k: e(ctx, now=now) for k, e in self.body}
        return f"routed/{chosen}/{level}"


class SpiffRouting:
    """The routing process (routing.bpmn) on SpiffWorkflow, decisions in plain Python."""

    def __init__(self, bpmn: str, ref: dict) -> None:
        from SpiffWorkflow.bpmn import BpmnWorkflow
        from SpiffWorkflow.bpmn.parser import BpmnParser
        from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
        from SpiffWorkflow.util.task import TaskState
        from SpiffWorkflow.version import __version__

        parser = BpmnParser()
        parser.add_bpmn_str(bpmn.encode("utf-8"))
        self.spec = parser.get_spec("order_routing")
        helpers = {
            "credit_ok": credit_by_hand,
            "priority_of": priority_by_hand,
            "route_of": lambda order: route_by_hand(order, ref),
        }
        self.engine = PythonScriptEngine(environment=TaskDataEnvironment(helpers))
        self.workflow = BpmnWorkflow
        self.ready = TaskState.READY
        self.completed = TaskState.COMPLETED
        self.version = __version__
        self.tasks = 0.0
        self._counted = 0

    def run(self, order: dict) -> str:
        wf = self.workflow(self.spec, script_engine=self.engine)
        wf.task_tree.data = {"order": order}
        wf.do_engine_steps()
        if self._counted < 100:
            done = len(wf.get_tasks(state=self.completed))
            self.tasks = (self.tasks * self._counted + done) / (self._counted + 1)
            self._counted += 1
        if wf.is_completed():
            data = wf.data
            outcome = data["outcome"]
        else:
            (task,) = wf.get_tasks(state=self.ready)
            data, outcome = task.data, task.task_spec.name
        priority = (data.get("priority") or {}).get("priority")
        return f"{outcome}/{data.get('warehouse')}/{priority}"


def chain_flow(size: int) -> dict:
    """start -> (condition, set) alternating -> end, ``size`` nodes in all."""
    nodes: list[dict] = [{"id": "start", "type": "start", "config": {}}]
    edges = []
    for i in range(1, size - 1):
        if i % 2:
            config = {"expression": f"order.amount > {i}"}
            nodes.append({"id": f"n{i}", "type": "condition", "config": config})
        else:
            fields = [{"path": f"vars.v{i}", "expression": f"order.amount * 2 + {i}"}]
            nodes.append({"id": f"n{i}", "type": "set", "config": {"fields": fields}})
    nodes.append({"id": "end", "type": "end", "config": {"outcome": "done"}})
    for a, b in zip(nodes, nodes[1:], strict=False):
        if a["type"] == "condition":
            edges += [{"from": a["id"], "to": b["id"], "branch": x} for x in ("true", "false")]
        else:
            edges.append({"from": a["id"], "to": b["id"]})
    return {
        "format_version": 2,
        "key": f"chain-{size}",
        "name": {"en": f"Chain of {size}", "zh": f"{size} 节点链"},
        "trigger": {"event": "order.created"},
        "nodes": nodes,
        "edges": edges,
    }


def dsl_only_chain(flow: CompiledFlow, doc: dict) -> Callable[[dict, datetime], dict]:
    """The chain flow's expressions evaluated in sequence without the engine."""
    schema = dict(flow.context_schema)
    steps = []
    for n in doc["nodes"]:
        if n["type"] == "condition":
            steps.append((None, compile_expression(n["config"]["expression"], schema)))
        elif n["type"] == "set":
            f = n["config"]["fields"][0]
            steps.append((f["path"][5:], compile_expression(f["expression"], schema)))

    def run(order: dict, now: datetime) -> dict:
        v: dict[str, Any] = {}
        ctx = {"order": order, "customer": {}, "vars": v, "ref": {}}
        for name, e in steps:
            value = e(ctx, now=now)
            if name is not None:
                v[name] = value
        return v

    return run
