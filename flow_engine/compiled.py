"""Compiled flows: validated once, every expression compiled, adjacency precomputed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from flow_engine.context import build_context
from flow_engine.errors import FlowValidationError
from flow_engine.issues import ERROR, REFUSED_AT_PUBLISH, WARNING, ValidationIssue
from flow_engine.migrations import migrate
from flow_engine.model import Flow
from flow_engine.nodes import NODE_HANDLERS, NodeHandler
from flow_engine.validate import analyse


@dataclass(frozen=True, slots=True)
class CompiledNode:
    """A node ready to run: its handler, its compiled config and where each exit leads."""

    id: str
    type: str
    handler: NodeHandler
    prep: Any
    next: Mapping[str | None, tuple[str, ...]]
    targets: tuple[str, ...]
    run: Any = None  # handler.run, looked up once

    def __post_init__(self) -> None:
        object.__setattr__(self, "run", self.handler.run)


@dataclass(frozen=True, slots=True)
class CompiledFlow:
    """A flow that passed validation; the runner only ever steps compiled flows."""

    flow: Flow
    key: str
    version: str
    digest: str
    start: str
    nodes: Mapping[str, CompiledNode]
    context_schema: Mapping[str, Any]
    trigger_event: str
    trigger_filter: Any
    warnings: tuple[ValidationIssue, ...]
    # Each named node's name as simulation reports show it (English, else Chinese).
    node_names: Mapping[str, str] = field(default_factory=dict)

    def matches(
        self,
        event: str,
        order: Mapping[str, Any],
        *,
        now: datetime,
        ref: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> bool:
        """True when ``event`` for ``order`` should start a run of this flow.

        ``data`` is the event's own data; for ``order.status_changed`` its ``from`` and
        ``to`` states are checked against the trigger's, for ``order.updated`` its changed
        ``fields``. Raises the DSL's error when the
        filter cannot be evaluated on this order.
        """
        if event != self.trigger_event:
            return False
        trigger = self.flow.trigger
        data = data or {}
        if trigger.from_states and data.get("from") not in trigger.from_states:
            return False
        if trigger.to_states and data.get("to") not in trigger.to_states:
            return False
        if trigger.fields and not set(trigger.fields) & set(data.get("fields") or ()):
            return False
        if self.trigger_filter is None:
            return True
        return self.trigger_filter(build_context(order, ref=ref), now=now) is True


def flow_digest(doc: Mapping[str, Any]) -> str:
    """A stable content hash of a flow document (editor positions excluded)."""
    canon = dict(doc)
    canon["nodes"] = [{k: v for k, v in n.items() if k != "position"} for n in doc["nodes"]]
    text = json.dumps(canon, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compile_flow(
    doc: Mapping[str, Any],
    order_schema: Mapping[str, Any] | None = None,
    *,
    version: str | None = None,
    publishing: bool = False,
) -> CompiledFlow:
    """Validate and compile a flow document (any known format_version).

    Raises FlowValidationError listing every issue when the document has errors. ``version``
    is what snapshots are pinned to; it defaults to ``sha256:<digest prefix>``. With
    ``publishing`` the warnings publishing refuses (a decision table that can miss) are
    errors too.
    """
    analysis = analyse(doc, order_schema)
    if publishing:
        analysis.issues = [
            replace(i, severity=ERROR) if i.code in REFUSED_AT_PUBLISH else i
            for i in analysis.issues
        ]
    if not analysis.ok or analysis.flow is None or analysis.preps is None:
        raise FlowValidationError(analysis.issues)
    current = migrate(doc)
    flow = Flow.from_dict(current)
    digest = flow_digest(current)
    outgoing: dict[str, dict[str | None, list[str]]] = {n.id: {} for n in flow.nodes}
    all_targets: dict[str, list[str]] = {n.id: [] for n in flow.nodes}
    for edge in flow.edges:
        outgoing[edge.source].setdefault(edge.branch, []).append(edge.target)
        all_targets[edge.source].append(edge.target)
    nodes = {}
    start = ""
    for node in flow.nodes:
        exits = {b: tuple(t) for b, t in outgoing[node.id].items()}
        targets = tuple(all_targets[node.id])
        nodes[node.id] = CompiledNode(
            node.id, node.type, NODE_HANDLERS[node.type], analysis.preps[node.id], exits, targets
        )
        if node.type == "start":
            start = node.id
    return CompiledFlow(
        flow=flow,
        key=flow.key,
        version=version or f"sha256:{digest[:16]}",
        digest=digest,
        start=start,
        nodes=nodes,
        context_schema=analysis.context_schema or {},
        trigger_event=flow.trigger.event,
        trigger_filter=analysis.trigger_filter,
        warnings=tuple(i for i in analysis.issues if i.severity == WARNING),
        node_names=MappingProxyType(
            {n.id: n.name.get("en") or n.name.get("zh") or "" for n in flow.nodes if n.name}
        ),
    )
