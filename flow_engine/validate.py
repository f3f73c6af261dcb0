"""Flow validation: collects every problem in a document, with node id and JSON path.

Checks, in order: format version (older documents are migrated first), the flow JSON Schema,
each node's config schema, the graph (one start, no dangling edges, branches connected and
known, reachability, no loop without a wait node, joins matched with splits) and every
expression (compiled and type-checked against the order schema, errors carry the DSL caret).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from flow_engine._durations import DurationError, duration_fields, normalise_duration
from flow_engine._graph import GraphCheck
from flow_engine._schema_errors import describe, missing_property
from flow_engine.context import flow_context_schema, flow_schema
from flow_engine.errors import FlowMigrationError
from flow_engine.issues import ERROR, ValidationIssue, make_issue
from flow_engine.migrations import migrate
from flow_engine.model import Edge, Flow, Node, Trigger, text_of
from flow_engine.nodes import NODE_HANDLERS, NodeHandler
from flow_engine.nodes.base import CompileEnv

__all__ = ["ValidationIssue", "normalise_durations", "validate_flow"]

_FLOW_VALIDATOR: Draft202012Validator | None = None
_FLOW_VALIDATOR_TYPES: tuple[str, ...] = ()  # the node types it was built for
_CONFIG_VALIDATORS: dict[str, tuple[NodeHandler, Draft202012Validator]] = {}


@dataclass
class Analysis:
    """What validation learned about a document; compile_flow builds on it."""

    issues: list[ValidationIssue]
    flow: Flow | None = None
    preps: dict[str, Any] | None = None
    context_schema: dict[str, Any] | None = None
    trigger_filter: Any = None

    @property
    def ok(self) -> bool:
        return not any(i.severity == ERROR for i in self.issues)


def validate_flow(
    doc: Mapping[str, Any], order_schema: Mapping[str, Any] | None = None
) -> list[ValidationIssue]:
    """Return every problem in ``doc`` (empty when valid); warnings have severity 'warning'.

    ``order_schema`` defaults to the canonical order schema shipped in flow_engine/schema.
    """
    return analyse(doc, order_schema).issues


def _pointer(parts: Any) -> str:
    return "".join(f"/{p}" for p in parts) or "/"


def _node_id_at(doc: Mapping[str, Any], parts: list[Any]) -> str | None:
    if len(parts) >= 2 and parts[0] == "nodes" and isinstance(parts[1], int):
        nodes = doc.get("nodes")
        if isinstance(nodes, list) and parts[1] < len(nodes) and isinstance(nodes[parts[1]], dict):
            node_id = nodes[parts[1]].get("id")
            return node_id if isinstance(node_id, str) else None
    return None


def _schema_issues(doc: Mapping[str, Any]) -> list[ValidationIssue]:
    global _FLOW_VALIDATOR, _FLOW_VALIDATOR_TYPES
    if _FLOW_VALIDATOR is None or _FLOW_VALIDATOR_TYPES != tuple(NODE_HANDLERS):
        _FLOW_VALIDATOR = Draft202012Validator(flow_schema())
        _FLOW_VALIDATOR_TYPES = tuple(NODE_HANDLERS)
    out = []
    for err in sorted(_FLOW_VALIDATOR.iter_errors(doc), key=lambda e: list(map(str, e.path))):
        parts = list(err.absolute_path)
        en, zh = describe(err, _FLOW_VALIDATOR.schema, ("Flow", "流程"))
        node_id = _node_id_at(doc, parts)
        out.append(make_issue("schema", _pointer(parts), node_id=node_id, detail=en, detail_zh=zh))
    return out


def _error_pointer(err: Any) -> str:
    """Where ``err`` points; a missing required field points at the field itself, so that
    the editor puts the message under it and names it."""
    pointer = _pointer(err.absolute_path).rstrip("/")
    if err.validator == "required":
        missing = missing_property(err)
        if missing is not None:
            pointer += f"/{missing}"
    return pointer


def _config_validator(node_type: str) -> Draft202012Validator:
    handler = NODE_HANDLERS[node_type]
    known = _CONFIG_VALIDATORS.get(node_type)
    if known is None or known[0] is not handler:
        known = _CONFIG_VALIDATORS[node_type] = (
            handler,
            Draft202012Validator(dict(handler.config_schema)),
        )
    return known[1]


def _field_names(chain: tuple[Mapping[str, Any], ...], path: tuple[Any, ...]) -> tuple[str, str]:
    en, zh = [], []
    for schema, step in zip(chain[1:], path, strict=True):
        if isinstance(step, int):
            en.append(f"#{step + 1}")
            zh.append(f"第 {step + 1} 项")
        elif schema.get("title"):
            en.append(str(schema["title"]))
            zh.append(str(schema.get("x-title-zh") or schema["title"]))
    return " › ".join(en), "“" + " · ".join(zh) + "”"


def _node_names(
    doc: Mapping[str, Any], node: Node, title: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """The node's name in English and Chinese; unnamed, its type's title and id."""
    name = doc["nodes"][node.index].get("name")
    if isinstance(name, str) and name:
        return name, name
    name = name if isinstance(name, Mapping) else {}
    en, zh = name.get("en") or name.get("zh"), name.get("zh") or name.get("en")
    if title and not (en or zh):
        en, zh = title.get("en", node.type), title.get("zh", node.type)
        return f"{en} `{node.id}`", f"{zh} `{node.id}`"
    return str(en or node.id), str(zh or node.id)


def _duration_issues(doc: Mapping[str, Any], node: Node, path: str) -> list[ValidationIssue]:
    out = []
    schema = NODE_HANDLERS[node.type].config_schema
    for parts, text, chain in duration_fields(schema, node.config):
        if not isinstance(text, str):
            continue  # the config schema reports the wrong type
        try:
            normalise_duration(text)
        except DurationError as err:
            field_en, field_zh = _field_names(chain, parts)
            node_en, node_zh = _node_names(doc, node)
            code = "duration_too_long" if err.reason == "too_long" else "invalid_duration"
            out.append(
                make_issue(
                    code,
                    path + _pointer(parts),
                    node_id=node.id,
                    node=node_en,
                    node_zh=node_zh,
                    field=field_en,
                    field_zh=field_zh,
                    value=err.text,
                )
            )
    return out


def normalise_durations(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``doc`` with every readable duration in node configs in canonical form.

    ``4小时`` becomes ``4h`` and ``2d 4h`` becomes ``2d4h``; what cannot be read is left as
    written, for validation to report.
    """
    out = dict(doc)
    nodes = doc.get("nodes")
    if not isinstance(nodes, list):
        return out
    out["nodes"] = []
    for raw in nodes:
        handler = NODE_HANDLERS.get(raw.get("type", "")) if isinstance(raw, dict) else None
        if handler is None or not isinstance(raw.get("config"), dict):
            out["nodes"].append(raw)
            continue
        node = copy.deepcopy(raw)
        for parts, text, _chain in duration_fields(handler.config_schema, raw["config"]):
            try:
                canonical = normalise_duration(text)
            except DurationError:
                continue
            target = node["config"]
            for step in parts[:-1]:
                target = target[step]
            target[parts[-1]] = canonical
        out["nodes"].append(node)
    return out


# Read what can be read of a document that may have schema errors.
def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _usable_flow(doc: Mapping[str, Any]) -> Flow | None:
    nodes, edges = doc.get("nodes"), doc.get("edges")
    if not isinstance(nodes, list) or not isinstance(edges, list):
        return None
    good_nodes = tuple(
        Node(
            raw["id"],
            raw["type"],
            dict(raw.get("config") or {}),
            name=text_of(raw.get("name")) if isinstance(raw.get("name"), str | dict) else {},
            index=i,
        )
        for i, raw in enumerate(nodes)
        if isinstance(raw, dict)
        and isinstance(raw.get("id"), str)
        and isinstance(raw.get("type"), str)
        and raw["type"] in NODE_HANDLERS
        and isinstance(raw.get("config", {}), dict)
    )
    good_edges = tuple(
        Edge(raw["from"], raw["to"], raw.get("branch"), _text_or_none(raw.get("id")), index=i)
        for i, raw in enumerate(edges)
        if isinstance(raw, dict)
        and isinstance(raw.get("from"), str)
        and isinstance(raw.get("to"), str)
        and isinstance(raw.get("branch", ""), str)
    )
    trigger = doc.get("trigger")
    if not isinstance(trigger, dict):
        trigger = {}
    return Flow(
        key=str(doc.get("key", "")),
        name={},
        trigger=Trigger.from_dict(trigger),
        nodes=good_nodes,
        edges=good_edges,
    )


def analyse(doc: Any, order_schema: Mapping[str, Any] | None = None) -> Analysis:
    """Validate ``doc`` and compile what compiles (used by validate_flow and compile_flow)."""
    if not isinstance(doc, Mapping):
        return Analysis([make_issue("schema", "/", detail="a flow document is a JSON object")])
    try:
        doc = migrate(doc)
    except FlowMigrationError:
        version = doc.get("format_version")
        return Analysis(
            [make_issue("unknown_format_version", "/format_version", version=repr(version))]
        )
    issues = _schema_issues(doc)
    flow = _usable_flow(doc)
    if flow is None:
        return Analysis(issues)
    valid_config = set()
    for node in flow.nodes:
        validator = _config_validator(node.type)
        errors = list(validator.iter_errors(dict(node.config)))
        if errors:
            handler = NODE_HANDLERS[node.type]
            node_en, node_zh = _node_names(doc, node, handler.title)
            top = (handler.title.get("en", node.type), handler.title.get("zh", node.type))
        for err in errors:
            path = f"/nodes/{node.index}/config" + _error_pointer(err)
            en, zh = describe(err, validator.schema, top)
            issues.append(
                make_issue(
                    "config",
                    path,
                    node_id=node.id,
                    node=node_en,
                    node_zh=node_zh,
                    detail=en,
                    detail_zh=zh,
                )
            )
        durations = _duration_issues(doc, node, path=f"/nodes/{node.index}/config")
        issues += durations
        if not errors and not durations:
            valid_config.add(node.index)
    issues += GraphCheck(flow, NODE_HANDLERS, valid_config).run()

    vars_schema: dict[str, Any] = {}
    for node in flow.nodes:
        if node.index in valid_config:
            try:
                vars_schema.update(NODE_HANDLERS[node.type].var_schema(node))
            except (TypeError, ValueError, KeyError, AttributeError):
                continue  # the node's own compile step reports what is wrong
    schema = flow_context_schema(order_schema, vars_schema=vars_schema)
    env = CompileEnv(schema, issues)
    trigger_filter = None
    if flow.trigger.filter:
        env.node_id, env.base_path = None, "/trigger"
        trigger_filter = env.expression(flow.trigger.filter, "filter", expect="boolean")
    connected: dict[str, set[str | None]] = defaultdict(set)
    for edge in flow.edges:
        connected[edge.source].add(edge.branch)
    preps: dict[str, Any] = {}
    for node in flow.nodes:
        if node.index in valid_config:
            handler = NODE_HANDLERS[node.type]
            env.at(node, frozenset(connected[node.id]))
            try:
                preps[node.id] = handler.compile(node, env)
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                # Config that passes its schema but still cannot be used (e.g. table cells
                # the rule language rejects in an unexpected way) is a problem of that node.
                detail = f"{type(exc).__name__}: {exc}"
                env.error("config", "", detail=detail, detail_zh=f"配置无法使用（`{detail}`）")
    return Analysis(issues, flow, preps, schema, trigger_filter)
