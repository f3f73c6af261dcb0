"""Deciding nodes: condition, switch, decision table and rule set."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flow_engine.errors import NodeError
from flow_engine.model import Node
from flow_engine.nodes.base import (
    CONDITION,
    EXPRESSION,
    VAR_NAME,
    BranchSpec,
    CompileEnv,
    Exits,
    HandlerBase,
    Next,
    Runtime,
    field,
    input_reader,
    obj,
)
from rule_dsl import compile_expression

_FINDING_ZH = {"overlap": "规则重叠", "gap": "存在缺口", "unreachable": "规则不可达"}
# Hit policies that give one row's outputs: a miss leaves them null.
_SINGLE_HIT = frozenset({"first", "unique", "priority"})
_BRANCH = {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"}


class ConditionHandler(HandlerBase):
    type = "condition"
    family = "decide"
    title = {"en": "Condition", "zh": "条件判断"}
    config_schema = obj(
        "Condition",
        "条件判断",
        {
            "expression": field(
                CONDITION,
                "Condition",
                "条件",
                "A rule DSL condition; true leaves by 'true', false or null by 'false'.",
                "规则 DSL 条件：为真走“是”出口，为假或为空走“否”出口。",
                examples=['order.amount > 5000 and customer.tier in ["gold", "platinum"]'],
            )
        },
        required=("expression",),
    )

    def branches(self, config: Mapping[str, Any]) -> BranchSpec:
        return BranchSpec(required=("true", "false"), allowed=frozenset({"true", "false"}))

    def compile(self, node: Node, env: CompileEnv) -> Any:
        expr = env.expression(node.config["expression"], "expression", expect="boolean")
        return None if expr is None else (expr, input_reader(expr.paths))

    def run(self, prep: Any, rt: Runtime) -> Next:
        expr, read_inputs = prep
        value = expr(rt.context, now=rt.now)
        branch = "true" if value is True else "false"
        return Next(branch, {"inputs": read_inputs(rt.context), "value": value})


class SwitchHandler(HandlerBase):
    type = "switch"
    exits = Exits(required=("default",), labels_from=("cases", "branch"))
    family = "decide"
    title = {"en": "Switch", "zh": "多路分支"}
    config_schema = obj(
        "Switch",
        "多路分支",
        {
            "mode": field(
                {"enum": ["first", "all"], "default": "first"},
                "Mode",
                "匹配方式",
                "first: leave by the first matching case; all: follow every matching case "
                "in parallel (close them with a join).",
                "首个匹配：走第一个匹配的情况；全部匹配：并行走每个匹配的情况（用汇聚节点收拢）。",
                enum_zh={"first": "首个匹配", "all": "全部匹配"},
            ),
            "cases": field(
                {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 200,
                    "items": obj(
                        "Case",
                        "分支条件",
                        {
                            "branch": field(_BRANCH, "Branch", "分支名"),
                            "when": field(CONDITION, "When", "条件"),
                        },
                        required=("branch", "when"),
                    ),
                },
                "Cases",
                "分支",
                "Checked in order; several cases may share a branch.",
                "按顺序检查；多个情况可以共用一个出口。",
            ),
        },
        required=("cases",),
        description="Unmatched orders leave by the 'default' branch.",
        description_zh="没有匹配任何情况的订单走“默认”出口。",
    )

    def compile(self, node: Node, env: CompileEnv) -> Any:
        cases = []
        for i, case in enumerate(node.config["cases"]):
            expr = env.expression(case["when"], f"cases/{i}/when", expect="boolean")
            if expr is not None:
                cases.append((case["branch"], expr, input_reader(expr.paths)))
        return (node.config.get("mode", "first") == "all", tuple(cases))

    def run(self, prep: Any, rt: Runtime) -> Next:
        match_all, cases = prep
        context, now = rt.context, rt.now
        matched: list[str] = []
        inputs: dict[str, Any] = {}
        for branch, expr, read_inputs in cases:
            inputs.update(read_inputs(rt.context))
            if expr(context, now=now) is True:
                if not match_all:
                    return Next(branch, {"inputs": inputs, "matched": [branch]})
                if branch not in matched:
                    matched.append(branch)
        if not match_all:
            return Next("default", {"inputs": inputs, "matched": []})
        data = {"inputs": inputs, "matched": matched}
        return Next(tuple(matched) or ("default",), data, fork=True)


_CELLS = {"type": "array", "items": {"type": "string", "maxLength": 2000}}
_TABLE: dict[str, Any] = {
    "type": "object",
    "x-editor": "table",
    "required": ["inputs", "outputs", "rules"],
    "properties": {
        "hit_policy": field(
            {"enum": ["first", "unique", "priority", "collect", "rule_order"]},
            "Hit policy",
            "命中策略",
            enum_zh={
                "first": "首个命中",
                "unique": "唯一命中",
                "priority": "优先级",
                "collect": "全部收集",
                "rule_order": "按规则顺序",
            },
        ),  # fmt: skip
        "aggregation": field(
            {"enum": [None, "sum", "count", "min", "max"]},
            "Aggregation",
            "汇总方式",
            enum_zh={"sum": "求和", "count": "计数", "min": "最小值", "max": "最大值"},
        ),
        "inputs": field(
            {
                "type": "array",
                "minItems": 1,
                "items": obj(
                    "Input",
                    "输入",
                    {
                        "name": field({"type": "string"}, "Name", "名称"),
                        "expression": field(EXPRESSION, "Expression", "表达式"),
                    },
                    required=("name", "expression"),
                ),
            },
            "Inputs",
            "输入列",
        ),
        "outputs": field(
            {
                "type": "array",
                "minItems": 1,
                "items": obj(
                    "Output",
                    "输出",
                    {
                        "name": field({"type": "string"}, "Name", "名称"),
                        "type": field({"type": "string"}, "Type", "类型"),
                        "priorities": field({"type": "array"}, "Priorities", "优先顺序"),
                    },
                    required=("name",),
                ),
            },
            "Outputs",
            "输出列",
        ),
        "rules": field(
            {
                "type": "array",
                "items": obj(
                    "Rule",
                    "规则",
                    {
                        "inputs": field(_CELLS, "Input cells", "输入条件"),
                        "outputs": field(_CELLS, "Output cells", "输出值"),
                        "description": field({"type": "string"}, "Description", "说明"),
                    },
                    required=("inputs", "outputs"),
                ),
            },
            "Rules",
            "规则",
        ),
    },
}


for _part in ("inputs", "outputs", "rules"):
    # The rule language owns the table format; editors may keep extra keys on rows and columns.
    _TABLE["properties"][_part]["items"]["additionalProperties"] = True


def _table_var_schema(table: Mapping[str, Any]) -> dict[str, Any]:
    outputs = {}
    for out in table.get("outputs", ()):
        if isinstance(out, Mapping) and isinstance(out.get("name"), str):
            kind = out.get("type")
            outputs[out["name"]] = {"type": kind} if isinstance(kind, str) else {}
    row = {"type": "object", "properties": outputs}
    if table.get("hit_policy") in ("collect", "rule_order") and not table.get("aggregation"):
        return {"type": "array", "items": row}
    return row


class DecisionTableHandler(HandlerBase):
    type = "decision_table"
    family = "decide"
    title = {"en": "Decision table", "zh": "决策表"}
    config_schema = obj(
        "Decision table",
        "决策表",
        {
            "table": field(
                _TABLE,
                "Table",
                "决策表",
                "Hit policy, input expressions, outputs and rules (unary-test cells).",
                "命中策略、输入表达式、输出和规则（单元格为一元测试，如 > 5000）。",
            ),
            "store_as": field(
                VAR_NAME,
                "Store result as",
                "结果变量",
                "Variable receiving the outputs (vars.<name>); defaults to the node id.",
                "接收输出的变量（vars.<名称>）；默认为节点编号。",
            ),
        },
        required=("table",),
    )

    def branches(self, config: Mapping[str, Any]) -> BranchSpec:
        return BranchSpec(required=(None,), allowed=frozenset({None, "no_match"}))

    def var_schema(self, node: Node) -> dict[str, Any]:
        name = node.config.get("store_as") or node.id
        return {name: _table_var_schema(node.config.get("table") or {})}

    def compile(self, node: Node, env: CompileEnv) -> Any:
        table = env.table(node.config["table"], "table")
        if table is None:
            return None
        policy = node.config["table"].get("hit_policy", "unique")
        no_match = "no_match" in env.connected
        findings = table.analyze()
        gaps = [f for f in findings if f.kind == "gap"]
        can_miss = bool(gaps) and policy in _SINGLE_HIT and not no_match
        en = node.name.get("en") or node.name.get("zh") or node.id
        names = (en, node.name.get("zh") or en)
        if can_miss:
            # an order in a gap would go on with no decision (outputs null); one example is
            # enough to show what to fix, the other gaps are counted
            more = (
                (f" (and {len(gaps) - 1} more)", f"（另有 {len(gaps) - 1} 处）")
                if gaps[1:]
                else ("", "")
            )
            env.warning(
                "table_can_miss", "table/rules", name=names[0], name_zh=names[1],
                detail=gaps[0].message + more[0], detail_zh=gaps[0].message_zh + more[1],
            )  # fmt: skip
        for finding in findings:
            if policy == "first" and finding.kind == "overlap":
                continue  # first-hit tables resolve overlaps by row order, by design
            if can_miss and finding.kind == "gap":
                continue
            env.warning(
                "table_finding",
                "table/rules",
                kind=finding.kind,
                kind_zh=_FINDING_ZH.get(finding.kind, finding.kind),
                detail=finding.message,
                detail_zh=finding.message_zh,
            )
        paths: set[str] = set()
        for item in node.config["table"].get("inputs", ()):
            paths |= compile_expression(item["expression"], env.context_schema).paths
        # a single-hit table that can still miss at run time (a null input, a cell comparing
        # with another value) and has neither a default nor a "no match" exit
        strict = names if policy in _SINGLE_HIT and not no_match else None
        return (
            table,
            node.config.get("store_as") or node.id,
            input_reader(frozenset(paths)),
            no_match,
            strict,
        )

    def run(self, prep: Any, rt: Runtime) -> Next:
        table, store_as, read_inputs, no_match, strict = prep
        result = table.evaluate(rt.context, now=rt.now)
        rt.set_var(store_as, result.outputs)
        data = {
            "inputs": read_inputs(rt.context),
            "matched": list(result.matched),
            "outputs": result.outputs,
        }
        if no_match and not result.matched:
            return Next("no_match", data)
        if strict is not None and result.outputs is None:  # never go on without a decision
            raise _missed(strict, data["inputs"])
        return Next(None, data)


def _missed(names: tuple[str, str], inputs: Mapping[str, Any]) -> NodeError:
    shown = ", ".join(f"{path} = {_shown(value)}" for path, value in inputs.items())
    return NodeError(
        "table_no_match",
        f"Decision table '{names[0]}' matched no row for {shown or 'this order'}. Add a default "
        "row (every input '-') or connect its \"no match\" exit, then retry the run.",
        f"决策表“{names[1]}”没有命中任何行：{shown or '该订单'}。请添加一条默认行（所有输入均为“-”），"
        "或连接该节点的“未命中”出口，然后重试。",
        {"inputs": dict(inputs)},
    )


def _shown(value: Any) -> str:
    return "null" if value is None else json.dumps(value, ensure_ascii=False, default=str)


class RulesetHandler(HandlerBase):
    type = "ruleset"
    family = "decide"
    title = {"en": "Rule set", "zh": "规则集"}
    config_schema = obj(
        "Rule set",
        "规则集",
        {
            "source": field(
                {**EXPRESSION, "maxLength": 100000, "x-dsl": "ruleset"},
                "Rules",
                "规则",
                'rule "name" when <condition> then set <path> = <value> end ...',
                '`rule "名称" when <条件> then set <路径> = <值> end` ……',
            )
        },
        required=("source",),
    )

    def compile(self, node: Node, env: CompileEnv) -> Any:
        rules = env.ruleset(node.config["source"], "source")
        if rules is None:
            return None
        return (rules, input_reader(frozenset(getattr(rules, "paths", ()))))

    def run(self, prep: Any, rt: Runtime) -> Next:
        rules, read_inputs = prep
        inputs = read_inputs(rt.context)
        result = rules(rt.context, now=rt.now)
        for path, value in result.changes.items():
            rt.set_path(path, value)
        added = rt.add_tags(list(result.tags)) if result.tags else []
        return Next(None, {"inputs": inputs, "fired": list(result.fired), "tags": added})
