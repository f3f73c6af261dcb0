"""Stored flow formats and the small functions that upgrade them, keyed on ``format_version``.

Format history:

1. Pre-release format: ``name`` was one string, the trigger was an event-name string with the
   filter in a top-level ``condition``, nodes used ``kind``/``props`` and edges
   ``source``/``target``/``label``.
2. Current format (``flow.schema.json``): ``name`` {zh, en}, ``trigger`` {event, filter},
   nodes ``type``/``config``, edges ``from``/``to``/``branch``.

Each function takes a document in version N and returns a new document in version N + 1;
``migrate`` applies them in order. Documents are never modified in place.

Stored run snapshots carry their own ``format_version`` (:data:`SNAPSHOT_FORMAT_VERSION`),
upgraded the same way by ``migrate_snapshot``:

1. Snapshots written before the field existed: no ``format_version``; ``closed`` and
   ``pending_events`` may be missing.
2. Current: ``format_version`` 2, every field present.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from flow_engine.errors import FlowMigrationError
from flow_engine.model import CURRENT_FORMAT_VERSION


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ("condition", "trigger", "name")}
    name = doc.get("name")
    out["name"] = dict(name) if isinstance(name, Mapping) else {"en": str(name), "zh": str(name)}
    trigger = doc.get("trigger")
    if isinstance(trigger, str):
        trigger = {"event": trigger}
    out["trigger"] = dict(trigger or {})
    if doc.get("condition"):
        out["trigger"]["filter"] = doc["condition"]
    nodes = []
    for node in doc.get("nodes") or ():
        node = dict(node)
        if "kind" in node:
            node["type"] = node.pop("kind")
        if "props" in node:
            node["config"] = node.pop("props")
        nodes.append(node)
    out["nodes"] = nodes
    edges = []
    for edge in doc.get("edges") or ():
        renamed = {"source": "from", "target": "to", "label": "branch"}
        edges.append({renamed.get(k, k): v for k, v in edge.items()})
    out["edges"] = edges
    out["format_version"] = 2
    return out


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def migrate(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``doc`` upgraded to the current format (a copy; FlowMigrationError if impossible)."""
    version = doc.get("format_version")
    if version == CURRENT_FORMAT_VERSION:
        return dict(doc)
    if not isinstance(version, int) or isinstance(version, bool):
        raise FlowMigrationError(f"format_version must be an integer, not {version!r}")
    if version > CURRENT_FORMAT_VERSION or version not in MIGRATIONS:
        raise FlowMigrationError(
            f"unknown format_version {version} (this OrderFlow reads up to "
            f"{CURRENT_FORMAT_VERSION})"
        )
    out = copy.deepcopy(dict(doc))
    while out["format_version"] != CURRENT_FORMAT_VERSION:
        out = MIGRATIONS[out["format_version"]](out)
    return out


SNAPSHOT_FORMAT_VERSION = 2


def _snapshot_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    out.setdefault("closed", {})
    out.setdefault("pending_events", [])
    out["format_version"] = 2
    return out


SNAPSHOT_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _snapshot_v1_to_v2}


def migrate_snapshot(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return a stored run snapshot in the current format (``data`` itself when it already is)."""
    version = data.get("format_version", 1)
    if version == SNAPSHOT_FORMAT_VERSION:
        return data
    if isinstance(version, bool) or version not in SNAPSHOT_MIGRATIONS:
        raise FlowMigrationError(
            f"unknown run snapshot format_version {version!r} (this OrderFlow reads up to "
            f"{SNAPSHOT_FORMAT_VERSION})"
        )
    out = dict(data)
    while out.get("format_version", 1) != SNAPSHOT_FORMAT_VERSION:
        out = SNAPSHOT_MIGRATIONS[out.get("format_version", 1)](out)
    return out
