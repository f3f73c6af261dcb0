"""Node types: one handler per type, registered in ``NODE_HANDLERS``, with the effect kinds
they emit (``effect_kinds()``).

One module per family: ``control`` (start, end, parallel, join), ``decide`` (condition,
switch, decision_table, ruleset), ``act`` (set, tag, webhook, notify, alert, merge; with
``routing`` for route and split and ``inventory`` for reserve and release), ``human``
(approval) and ``wait`` (timer, wait_event).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flow_engine.effect_kinds import RUNTIME_EFFECTS, EffectKind
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

FAMILIES = ("control", "decide", "act", "human", "wait")
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def _declared_effects() -> dict[str, EffectKind]:
    kinds = {k.kind: k for k in RUNTIME_EFFECTS}
    for handler in NODE_HANDLERS.values():
        kinds.update((k.kind, k) for k in handler.effects)
    return kinds


_EFFECT_KINDS = _declared_effects()


def effect_kinds() -> Mapping[str, EffectKind]:
    """Every effect kind a run may emit, by name: the runtime's and the node types'. The
    simulator plays them from here; a host must perform each of them."""
    return _EFFECT_KINDS


def register_node_type(handler: NodeHandler) -> None:
    """Add a node type: the flow schema, validation, compilation, simulation, execution and
    the editor's palette and forms all read it from here. ValueError when the handler lacks
    what they need."""
    problems = []
    if not isinstance(handler.type, str) or not _TYPE_NAME.match(handler.type):
        problems.append(f"type {handler.type!r} is not a lowercase name like 'credit_hold'")
    elif handler.type in NODE_HANDLERS:
        problems.append(f"type {handler.type!r} is registered already")
    if handler.family not in FAMILIES:
        problems.append(f"family {handler.family!r} is not one of {', '.join(FAMILIES)}")
    if not (handler.title.get("en") and handler.title.get("zh")):
        problems.append("title needs both 'en' and 'zh'")
    if handler.config_schema.get("type") != "object":
        problems.append("config_schema must describe an object")
    for kind in handler.effects:
        if kind.kind in _EFFECT_KINDS and _EFFECT_KINDS[kind.kind] is not kind:
            problems.append(f"effect kind {kind.kind!r} is declared already")
        elif not _TYPE_NAME.match(kind.kind):
            problems.append(
                f"effect kind {kind.kind!r} is not a lowercase name like 'credit_check'"
            )
    if problems:
        raise ValueError(f"node type {handler.type!r}: " + "; ".join(problems))
    NODE_HANDLERS[handler.type] = handler
    _EFFECT_KINDS.update((k.kind, k) for k in handler.effects)


def unregister_node_type(type_name: str) -> None:
    """Remove a node type added by :func:`register_node_type`, with the effect kinds it
    declared (a flow still using it no longer validates)."""
    handler = NODE_HANDLERS.pop(type_name, None)
    if handler is not None:
        _EFFECT_KINDS.clear()
        _EFFECT_KINDS.update(_declared_effects())


def set_notify_channels(channels: Mapping[str, str]) -> None:
    """Name the channels a notify node may use, each with its Chinese name (the embedding
    app's): the flow schema, validation and the editor's form read them from the notify
    handler, which is replaced when they change."""
    current = NODE_HANDLERS["notify"]
    if getattr(current, "channels", None) != dict(channels):
        NODE_HANDLERS["notify"] = NotifyHandler(channels)


__all__ = [
    "FAMILIES",
    "NODE_HANDLERS",
    "BranchSpec",
    "CompileEnv",
    "NodeHandler",
    "Runtime",
    "effect_kinds",
    "register_node_type",
    "unregister_node_type",
    "set_notify_channels",
]
