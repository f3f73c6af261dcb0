"""Node types: one handler per type, registered in ``NODE_HANDLERS``.

One module per family: ``control`` (start, end, parallel, join), ``decide`` (condition,
switch, decision_table, ruleset), ``act`` (set, tag, webhook, notify, alert, merge; with
``routing`` for route and split and ``inventory`` for reserve and release), ``human``
(approval) and ``wait`` (timer, wait_event).
"""

from __future__ import annotations

from flow_engine.nodes.act import (
    AlertHandler,
    MergeHandler,
    NotifyHandler,
    SetHandler,
    TagHandler,
    WebhookHandler,
)
from flow_engine.nodes.base import BranchSpec, CompileEnv, NodeHandler, Runtime
from flow_engine.nodes.control import EndHandler, JoinHandler, ParallelHandler, StartHandler
from flow_engine.nodes.decide import (
    ConditionHandler,
    DecisionTableHandler,
    RulesetHandler,
    SwitchHandler,
)
from flow_engine.nodes.human import ApprovalHandler
from flow_engine.nodes.inventory import ReleaseInventoryHandler, ReserveInventoryHandler
from flow_engine.nodes.routing import RouteHandler, SplitHandler
from flow_engine.nodes.wait import TimerHandler, WaitEventHandler

NODE_HANDLERS: dict[str, NodeHandler] = {
    "start": StartHandler(),
    "end": EndHandler(),
    "parallel": ParallelHandler(),
    "join": JoinHandler(),
    "condition": ConditionHandler(),
    "switch": SwitchHandler(),
    "decision_table": DecisionTableHandler(),
    "ruleset": RulesetHandler(),
    "set": SetHandler(),
    "route": RouteHandler(),
    "reserve_inventory": ReserveInventoryHandler(),
    "release_inventory": ReleaseInventoryHandler(),
    "merge": MergeHandler(),
    "split": SplitHandler(),
    "tag": TagHandler(),
    "webhook": WebhookHandler(),
    "notify": NotifyHandler(),
    "alert": AlertHandler(),
    "approval": ApprovalHandler(),
    "timer": TimerHandler(),
    "wait_event": WaitEventHandler(),
}

__all__ = ["NODE_HANDLERS", "BranchSpec", "CompileEnv", "NodeHandler", "Runtime"]
