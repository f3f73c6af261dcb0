"""The static flow model: a flow document read into frozen dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CURRENT_FORMAT_VERSION = 2


def text_of(value: Any) -> dict[str, str]:
    """A name or description as ``{"en": ..., "zh": ...}`` (a plain string serves both)."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if value is None:
        return {}
    return {"en": str(value), "zh": str(value)}


@dataclass(frozen=True, slots=True)
class Trigger:
    """What starts a run: an event name, an optional DSL filter condition, for
    ``order.status_changed`` the states moved from and to (empty: any), for ``order.updated``
    the order fields whose change starts it (empty: any), for ``order.scheduled`` its
    ``schedule`` (``cron``, ``business_days``), and whether a run
    starts while another run of the flow is open for the order (``concurrency``)."""

    event: str
    filter: str | None = None
    from_states: tuple[str, ...] = ()
    to_states: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    concurrency: str = "parallel"
    schedule: Mapping[str, Any] | None = None
    # Of the flows sharing a group, only the first that matches an order starts a run.
    exclusive_group: str | None = None
    group_priority: int = 0

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Trigger:
        """Build from the JSON form (parts of the wrong type are left out)."""
        text = raw.get("filter")
        concurrency = raw.get("concurrency")
        schedule = raw.get("schedule")
        group, priority = raw.get("exclusive_group"), raw.get("group_priority")
        return cls(
            event=str(raw.get("event", "")),
            filter=text if isinstance(text, str) else None,
            from_states=_states(raw.get("from")),
            to_states=_states(raw.get("to")),
            fields=_states(raw.get("fields")),
            concurrency=concurrency if isinstance(concurrency, str) else "parallel",
            schedule=dict(schedule) if isinstance(schedule, Mapping) else None,
            exclusive_group=group if isinstance(group, str) and group else None,
            group_priority=priority if type(priority) is int else 0,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        out: dict[str, Any] = {"event": self.event}
        if self.filter is not None:
            out["filter"] = self.filter
        if self.from_states:
            out["from"] = list(self.from_states)
        if self.to_states:
            out["to"] = list(self.to_states)
        if self.fields:
            out["fields"] = list(self.fields)
        if self.concurrency != "parallel":
            out["concurrency"] = self.concurrency
        if self.schedule is not None:
            out["schedule"] = dict(self.schedule)
        if self.exclusive_group is not None:
            out["exclusive_group"] = self.exclusive_group
            out["group_priority"] = self.group_priority
        return out


def _states(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list):
        return tuple(s for s in raw if isinstance(s, str))
    return ()


@dataclass(frozen=True, slots=True)
class Node:
    """One node of a flow; ``config`` is validated by the node type's config schema."""

    id: str
    type: str
    config: Mapping[str, Any] = field(default_factory=dict)
    name: Mapping[str, str] = field(default_factory=dict)
    position: tuple[float, float] | None = None
    index: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        out: dict[str, Any] = {"id": self.id, "type": self.type, "config": dict(self.config)}
        if self.name:
            out["name"] = dict(self.name)
        if self.position is not None:
            out["position"] = {"x": self.position[0], "y": self.position[1]}
        return out


@dataclass(frozen=True, slots=True)
class Edge:
    """A directed edge; ``branch`` names the exit of a deciding node."""

    source: str
    target: str
    branch: str | None = None
    id: str | None = None
    index: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        out: dict[str, Any] = {"from": self.source, "to": self.target}
        if self.id is not None:
            out["id"] = self.id
        if self.branch is not None:
            out["branch"] = self.branch
        return out


@dataclass(frozen=True, slots=True)
class Flow:
    """A flow document in the current format, as plain frozen data."""

    key: str
    name: Mapping[str, str]
    trigger: Trigger
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    description: Any = None
    format_version: int = CURRENT_FORMAT_VERSION
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Flow:
        """Read a document that already passed the flow JSON Schema (current format)."""
        nodes = []
        for i, raw in enumerate(doc.get("nodes", ())):
            pos = raw.get("position")
            nodes.append(
                Node(
                    id=raw["id"],
                    type=raw["type"],
                    config=dict(raw.get("config") or {}),
                    name=text_of(raw.get("name")),
                    position=(pos["x"], pos["y"]) if pos else None,
                    index=i,
                )
            )
        edges = tuple(
            Edge(
                source=raw["from"],
                target=raw["to"],
                branch=raw.get("branch"),
                id=raw.get("id"),
                index=i,
            )
            for i, raw in enumerate(doc.get("edges", ()))
        )
        trig = doc.get("trigger") or {}
        return cls(
            key=doc["key"],
            name=text_of(doc.get("name")),
            trigger=Trigger.from_dict(trig),
            nodes=tuple(nodes),
            edges=edges,
            description=doc.get("description"),
            format_version=doc.get("format_version", CURRENT_FORMAT_VERSION),
            metadata=dict(doc.get("metadata") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON document."""
        out: dict[str, Any] = {
            "format_version": self.format_version,
            "key": self.key,
            "name": dict(self.name),
            "trigger": self.trigger.to_dict(),
            "nodes": [n.to_dict() for n in self.nodes],
            "edges": [e.to_dict() for e in self.edges],
        }
        if self.description is not None:
            out["description"] = self.description
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out

    def node(self, node_id: str) -> Node:
        """Return the node with this id (KeyError when absent)."""
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)
