"""Control nodes: start, end, parallel split and join."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flow_engine.model import Node
from flow_engine.nodes.base import (
    BranchSpec,
    CompileEnv,
    Finish,
    HandlerBase,
    JoinArrival,
    Next,
    Runtime,
    field,
    obj,
)

_NEXT = Next()


class StartHandler(HandlerBase):
    type = "start"
    family = "control"
    title = {"en": "Start", "zh": "开始"}
    config_schema = obj("Start", "开始", {})

    def run(self, prep: Any, rt: Runtime) -> Next:
        return _NEXT


class EndHandler(HandlerBase):
    type = "end"
    family = "control"
    title = {"en": "End", "zh": "结束"}
    config_schema = obj(
        "End",
        "结束",
        {
            "outcome": field(
                {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"},
                "Outcome",
                "结果",
                "Recorded on the run, e.g. routed, rejected, manual_review.",
                "记录在运行上的结果代码，例如 `routed`、`rejected`、`manual_review`。",
            )
        },
        required=("outcome",),
        description="Ends the whole run; other branches still waiting are withdrawn.",
        description_zh="结束整个运行；其他仍在等待的分支会被撤回。",
    )

    def branches(self, config: Mapping[str, Any]) -> BranchSpec:
        return BranchSpec(required=(), allowed=frozenset())

    def compile(self, node: Node, env: CompileEnv) -> Any:
        return Finish(str(node.config.get("outcome", "completed")))

    def run(self, prep: Finish, rt: Runtime) -> Finish:
        return prep


class ParallelHandler(HandlerBase):
    type = "parallel"
    family = "control"
    title = {"en": "Parallel split", "zh": "并行拆分"}
    config_schema = obj(
        "Parallel split",
        "并行拆分",
        {},
        description="Follows every outgoing edge at once; a join waits for all of them.",
        description_zh="同时走所有流出的连线；汇聚节点等待它们全部到达。",
    )

    def branches(self, config: Mapping[str, Any]) -> BranchSpec:
        return BranchSpec(required=(), allowed=None)

    def run(self, prep: Any, rt: Runtime) -> Next:
        return Next(branch=None, fork=True)


class JoinHandler(HandlerBase):
    type = "join"
    family = "control"
    title = {"en": "Join", "zh": "汇聚"}
    config_schema = obj(
        "Join",
        "汇聚",
        {},
        description="Waits until every branch of the matching split has arrived.",
        description_zh="等待对应并行拆分的每个分支都到达后再继续。",
    )

    def run(self, prep: Any, rt: Runtime) -> JoinArrival:
        return JoinArrival()
