"""What every node handler provides, and what handlers get from the compiler and the runner."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

import rule_dsl
from flow_engine._runtime import resolve_path
from flow_engine.effect_kinds import EffectKind
from flow_engine.issues import ERROR, WARNING, ValidationIssue, make_issue
from flow_engine.model import Node
from flow_engine.state import Effect, Token
from rule_dsl import DslError, Expression, RuleSet, compile_expression

# ---------------------------------------------------------------------------------------------
# Outcomes a handler returns to the runner (short-lived messages, so not frozen: cheaper)


@dataclass(slots=True)
class Next:
    """Leave the node by ``branch`` (None: the single unlabelled exit; a tuple: several).

    ``data`` goes to the audit trail; it must be a fresh dict, the runner adds ``changes``.
    """

    branch: str | tuple[str, ...] | None = None
    data: Mapping[str, Any] | None = None
    fork: bool = False


@dataclass(slots=True)
class Wait:
    """Park the token; ``wait`` is JSON-able state whose ``keys`` name the events it awaits."""

    wait: Mapping[str, Any]
    data: Mapping[str, Any] | None = None


@dataclass(slots=True)
class Finish:
    """End the run with ``outcome``."""

    outcome: str
    data: Mapping[str, Any] | None = None


@dataclass(slots=True)
class JoinArrival:
    """A token reached a join; the runner counts arrivals against the open fork."""

    data: Mapping[str, Any] | None = None


@dataclass(slots=True)
class Jump:
    """Leave the node for ``target``, an earlier node of the run's path (退回 to an earlier
    approval); the runner checks the target before the handler sees the event."""

    target: str
    data: Mapping[str, Any] | None = None


@dataclass(slots=True)
class Ignore:
    """The event does not change this node (already decided, stale timer ...)."""

    reason: str


Outcome = Next | Wait | Finish | JoinArrival


@dataclass(frozen=True, slots=True)
class BranchSpec:
    """Exits of a node: ``required`` must be connected, ``allowed`` (None: any label)."""

    required: tuple[str | None, ...] = (None,)
    allowed: frozenset[str | None] | None = frozenset({None})


SINGLE_EXIT = BranchSpec()

# A condition on a node's config, as data both the engine and the editor evaluate:
# {"path": "sla.on_timeout", "default": "timeout", "in": ["timeout"]} (a missing key reads as
# ``default``), {"path": "timeout", "present": true} (set, not null, not empty), and
# {"all": [...]} / {"any": [...]} of those.
ConfigTest = Mapping[str, Any]


def config_holds(test: ConfigTest, config: Mapping[str, Any]) -> bool:
    """Whether ``test`` holds for ``config`` (the editor's ``configHolds`` is its twin)."""
    if "all" in test:
        return all(config_holds(t, config) for t in test["all"])
    if "any" in test:
        return any(config_holds(t, config) for t in test["any"])
    value: Any = config
    for key in test["path"].split("."):
        value = value.get(key, _MISSING) if isinstance(value, Mapping) else _MISSING
    if value is _MISSING:
        value = test.get("default")
    if "present" in test:
        return (value is not None and value != "" and value != {}) is bool(test["present"])
    return value in test["in"]


_MISSING = object()


@dataclass(frozen=True, slots=True)
class Exits:
    """Exits that depend on the node's config, declared as data so the editor draws the same
    exits the engine checks: ``required`` always need an edge, the labels of the
    ``labels_from`` list (``("cases", "branch")``: each case's ``branch``) come before them,
    and each ``optional`` exit (with its test, or None) is allowed and becomes required while
    its test holds."""

    required: tuple[str, ...] = ()
    labels_from: tuple[str, str] | None = None
    optional: tuple[tuple[str, ConfigTest | None], ...] = ()

    def spec(self, config: Mapping[str, Any]) -> BranchSpec:
        """The node's exits for ``config``."""
        labels: list[str] = []
        if self.labels_from is not None:
            items, key = self.labels_from
            listed = config.get(items)
            for item in listed if isinstance(listed, list | tuple) else ():
                if isinstance(item, Mapping) and item.get(key):
                    labels.append(item[key])
        labels += self.required
        labels += [e for e, test in self.optional if test and config_holds(test, config)]
        required = tuple(dict.fromkeys(labels))
        optional = (e for e, _ in self.optional)
        return BranchSpec(required=required, allowed=frozenset((*required, *optional)))

    def to_dict(self) -> dict[str, Any]:
        """The declaration as JSON, for the editor."""
        return {
            "required": list(self.required),
            "labels_from": list(self.labels_from) if self.labels_from else None,
            "optional": [[exit_, test] for exit_, test in self.optional],
        }


# ---------------------------------------------------------------------------------------------
# The runner's side of a step, as handlers see it


class Runtime(Protocol):
    """Mutable state of one step, given to handlers by the runner."""

    run_id: str
    now: datetime
    context: dict[str, Any]
    ref: Mapping[str, Any]
    node_id: str

    def new_id(self, prefix: str) -> str: ...

    def emit(self, kind: str, payload: Mapping[str, Any], *, awaited: bool = False) -> Effect: ...

    def set_path(self, path: str, value: Any) -> None: ...

    def set_var(self, name: str, value: Any) -> None: ...

    def add_tags(self, tags: list[str]) -> list[str]: ...

    def schedule_timer(self, due: datetime, purpose: str) -> str: ...

    def later(self, duration: timedelta, business: bool = False) -> datetime: ...

    def cancel_timer(self, timer_id: str) -> None: ...

    def close_keys(self, reasons: Mapping[str, str]) -> None: ...

    def hold_reservation(self, record: Mapping[str, Any]) -> None: ...

    def release_reservations(self, from_node: str | None) -> list[Mapping[str, Any]]: ...


class NodeHandler(Protocol):
    """One node type: its config schema, exits, compilation and behaviour."""

    # Read-only: handlers declare them as class attributes of narrower types (dict, literal).
    @property
    def type(self) -> str: ...

    @property
    def family(self) -> str: ...

    @property
    def title(self) -> Mapping[str, str]: ...

    @property
    def config_schema(self) -> Mapping[str, Any]: ...

    @property
    def waits(self) -> bool: ...

    @property
    def effects(self) -> tuple[EffectKind, ...]:
        """The effect kinds the node emits besides the runtime's (timers, releases)."""
        ...

    def branches(self, config: Mapping[str, Any]) -> BranchSpec: ...

    def var_schema(self, node: Node) -> dict[str, Any]: ...

    def compile(self, node: Node, env: CompileEnv) -> Any: ...

    def run(self, prep: Any, rt: Runtime) -> Outcome: ...

    def resume(
        self, prep: Any, rt: Runtime, token: Token, event: Any
    ) -> Outcome | Jump | Ignore: ...

    def cancel(self, prep: Any, rt: Runtime, token: Token) -> None: ...


class HandlerBase:
    """Defaults for handlers with a single exit that never wait."""

    type = ""
    family = ""
    title: Mapping[str, str] = {}
    config_schema: Mapping[str, Any] = {"type": "object"}
    waits = False
    effects: tuple[EffectKind, ...] = ()
    exits: Exits | None = None  # declared by types whose exits depend on their config

    def branches(self, config: Mapping[str, Any]) -> BranchSpec:
        return SINGLE_EXIT if self.exits is None else self.exits.spec(config)

    def var_schema(self, node: Node) -> dict[str, Any]:
        return {}

    def compile(self, node: Node, env: CompileEnv) -> Any:
        return node.config

    def resume(self, prep: Any, rt: Runtime, token: Token, event: Any) -> Outcome | Jump | Ignore:
        return Ignore("not_waiting")

    def cancel(self, prep: Any, rt: Runtime, token: Token) -> None:
        wait = token.wait or {}
        for timer_id in wait.get("timers", ()):
            rt.cancel_timer(timer_id)


# ---------------------------------------------------------------------------------------------
# Compilation environment


_SUBSCRIPT = re.compile(r"""\[(?:(\d+)|'([^']*)'|"([^"]*)"|)\]""")


def _path_parts(path: str) -> tuple[str | int, ...]:
    """``order.lines[0].sku`` -> ``("order", "lines", 0, "sku")``; ``[]`` stands for every
    item; quoted subscripts are keys (``ref.inventory['GZ-01']['SKU.1']``), dots in them too."""
    parts: list[str | int] = []
    i, n = 0, len(path)
    while i < n:
        if path[i] == ".":
            i += 1
            continue
        if path[i] == "[":
            match = _SUBSCRIPT.match(path, i)
            if match is None:  # not a subscript the recorder knows: keep the rest as one key
                parts.append(path[i:])
                break
            index, single, double = match.groups()
            if index is not None:
                parts.append(int(index))
            elif single is not None or double is not None:
                parts.append(single if single is not None else double)
            else:
                parts.append("[]")
            i = match.end()
            continue
        end = i
        while end < n and path[end] not in ".[":
            end += 1
        parts.append(path[i:end])
        i = end
    return tuple(parts)


InputReader = Callable[[Mapping[str, Any]], dict[str, Any]]


@lru_cache(maxsize=4096)
def input_reader(paths: frozenset[str]) -> InputReader:
    """A function reading the values of expression ``paths`` (``order.lines[].qty`` too) from
    a run context, for the audit trail: ``{path: value}`` in path order.

    The reads are generated as Python (shared prefixes read once), once per set of paths:
    nodes reading the same paths share one function, which keeps large flows in the CPU's
    caches. A value that is not an object ends its path with null, and list projections stop
    after ``MAX_LISTED`` items.
    """
    lines, items = ["def read(c):"], []
    names: dict[tuple[str | int, ...], str] = {}
    consts: dict[str, Any] = {"dict_": dict, "step_": _step_into, "resolve_": resolve_path}
    for path in sorted(paths):
        parts = _path_parts(path)
        if not all(type(p) is str and p != "[]" for p in parts):
            consts[f"p{len(consts)}"] = parts
            items.append(f"{path!r}: resolve_(c, p{len(consts) - 1})")
            continue
        src = "c"
        for depth in range(1, len(parts) + 1):
            prefix, part = parts[:depth], parts[depth - 1]
            if prefix not in names:
                name = names[prefix] = f"v{len(names)}"
                if depth == 1:  # the context itself is always a dict
                    lines.append(f"    {name} = c.get({part!r})")
                else:
                    read = f"{src}.get({part!r}) if {src}.__class__ is dict_ else step_({src}, {part!r})"
                    lines.append(f"    {name} = {read}")
            src = names[prefix]
        items.append(f"{path!r}: {src}")
    lines.append("    return {" + ", ".join(items) + "}")
    namespace = {"__builtins__": {}, **consts}
    exec("\n".join(lines), namespace)  # noqa: S102 - source built above from quoted paths
    reader: InputReader = namespace["read"]
    return reader


def _step_into(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


NO_INPUTS = input_reader(frozenset())


class CompileEnv:
    """Compiles a node's expressions against the context schema and collects issues."""

    def __init__(self, context_schema: dict[str, Any], issues: list[ValidationIssue]) -> None:
        self.context_schema = context_schema
        self.issues = issues
        self.node_id: str | None = None
        self.base_path = ""
        self.connected: frozenset[str | None] = frozenset()

    def at(self, node: Node, connected: frozenset[str | None] = frozenset()) -> CompileEnv:
        """Point the environment at ``node`` (paths become /nodes/<index>/config/...)."""
        self.node_id = node.id
        self.base_path = f"/nodes/{node.index}/config"
        self.connected = connected
        return self

    def _path(self, rel: str) -> str:
        return f"{self.base_path}/{rel}" if rel else self.base_path

    def _schema(self, extra: Mapping[str, Any] | None) -> dict[str, Any]:
        if not extra:
            return self.context_schema
        props = dict(self.context_schema.get("properties", {}))
        props.update(extra)
        return {**self.context_schema, "properties": props}

    def dsl_error(self, exc: DslError, rel: str) -> None:
        """Record a DSL compile error with its caret."""
        data = exc.to_dict()
        excerpt = f"\n{exc.excerpt}" if getattr(exc, "excerpt", None) else ""
        self.issues.append(
            make_issue(
                "expression",
                self._path(rel),
                node_id=self.node_id,
                dsl=data,
                detail=f"{exc.message}{excerpt}",
                detail_zh=f"{exc.message_zh}{excerpt}",
            )
        )

    def expression(
        self,
        source: str,
        rel: str,
        *,
        expect: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Expression | None:
        """Compile one expression; None (and an issue) when it does not compile."""
        try:
            return compile_expression(source, self._schema(extra), expect=expect)
        except DslError as exc:
            self.dsl_error(exc, rel)
            return None

    def ruleset(self, source: str, rel: str) -> RuleSet | None:
        """Compile a rule set; None (and an issue) on error."""
        try:
            return rule_dsl.compile_ruleset(source, self.context_schema)
        except DslError as exc:
            self.dsl_error(exc, rel)
            return None

    def table(self, data: Mapping[str, Any], rel: str) -> Any:
        """Build a decision table; None (and an issue) on error."""
        try:
            return rule_dsl.DecisionTable.from_dict(dict(data), self.context_schema)
        except DslError as exc:
            self.dsl_error(exc, rel)
            return None

    def error(self, code: str, rel: str, **params: Any) -> None:
        """Record a node-level error."""
        self.issues.append(make_issue(code, self._path(rel), node_id=self.node_id, **params))

    def warning(self, code: str, rel: str, **params: Any) -> None:
        """Record a node-level warning (does not block publishing)."""
        self.issues.append(
            make_issue(code, self._path(rel), node_id=self.node_id, severity=WARNING, **params)
        )

    @property
    def failed(self) -> bool:
        """True when any error has been recorded so far."""
        return any(i.severity == ERROR for i in self.issues)


# ---------------------------------------------------------------------------------------------
# Config schema helpers: every property carries en/zh titles for the generated editor form


def field(
    kind: Any,
    title: str,
    title_zh: str,
    description: str = "",
    description_zh: str = "",
    enum_zh: Mapping[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A config schema property with English and Chinese titles and help texts.

    A help text needs its Chinese twin (``x-description-zh``): the editor shows the reader's
    language and the catalogue test refuses a help without one.
    """
    out: dict[str, Any] = dict(kind) if isinstance(kind, Mapping) else {"type": kind}
    out["title"] = title
    out["x-title-zh"] = title_zh
    if description:
        out["description"] = description
    if description_zh:
        out["x-description-zh"] = description_zh
    if enum_zh is not None:
        out["x-enum-zh"] = enum_zh
    out.update(extra)
    return out


def obj(
    title: str,
    title_zh: str,
    properties: Mapping[str, Any],
    required: tuple[str, ...] = (),
    description: str = "",
    description_zh: str = "",
) -> dict[str, Any]:
    """A closed object schema with titles."""
    out: dict[str, Any] = {
        "type": "object",
        "title": title,
        "x-title-zh": title_zh,
        "properties": dict(properties),
        "additionalProperties": False,
    }
    if required:
        out["required"] = list(required)
    if description:
        out["description"] = description
    if description_zh:
        out["x-description-zh"] = description_zh
    return out


# Read by flow_engine._durations (4h, 2d 4h, 4小时, 半小时 ...); saving stores the canonical form.
DURATION = {"type": "string", "minLength": 1, "maxLength": 40, "x-editor": "duration"}
EXPRESSION = {"type": "string", "minLength": 1, "maxLength": 8000, "x-editor": "dsl"}
# A rule DSL field the editor checks, and builds with its condition builder, as a condition
# (a boolean); ``x-dsl`` is how a handler says so, and the editor reads nothing else.
CONDITION = {**EXPRESSION, "x-dsl": "condition"}
I18N = {
    "type": "object",
    "properties": {"en": {"type": "string"}, "zh": {"type": "string"}},
    "additionalProperties": False,
}
VAR_NAME = {"type": "string", "pattern": "^[a-z_][a-z0-9_]{0,63}$"}
_KEY = {"type": "string", "minLength": 1, "maxLength": 64}
ASSIGNEE = {
    "type": "object",
    "title": "Assignee",
    "x-title-zh": "处理人",
    "x-editor": "assignee",
    "description": (
        "One of: user (a person), role (a business role, optionally with a scope expression "
        "such as vars.route.warehouse), department (its members, or its head with head: true), "
        "manager_of (an expression naming a person, with levels up the manager chain), "
        "expression (user or role keys), contact (the order's own contact, notify only)."
    ),
    "x-description-zh": (
        "以下之一：user（指定人员）、role（业务角色，可用 scope 表达式限定范围，如 vars.route.warehouse）、"
        "department（部门成员；head: true 为部门负责人）、manager_of（某人的上级，levels 为向上级数）、"
        "expression（给出用户或角色编号的表达式）、contact（订单自身的联系人，仅用于通知）。"
    ),
    "properties": {
        "user": {**_KEY, "title": "User", "x-title-zh": "人员"},
        "role": {**_KEY, "title": "Business role", "x-title-zh": "业务角色"},
        "scope": {**EXPRESSION, "title": "Scope", "x-title-zh": "范围"},
        "department": {**_KEY, "title": "Department", "x-title-zh": "部门"},
        "head": {"type": "boolean", "title": "Head only", "x-title-zh": "仅部门负责人"},
        "manager_of": {**EXPRESSION, "title": "Manager of", "x-title-zh": "谁的上级"},
        "levels": {
            "type": "integer",
            "minimum": 1,
            "maximum": 10,
            "title": "Levels up",
            "x-title-zh": "向上级数",
        },
        "expression": {**EXPRESSION, "title": "Expression", "x-title-zh": "表达式"},
        "contact": {
            "enum": ["consignee", "customer"],
            "title": "Order contact",
            "x-title-zh": "订单联系人",
            "x-enum-zh": {"consignee": "收货人", "customer": "客户"},
        },
    },
    "oneOf": [
        {"required": ["user"], "maxProperties": 1},
        {"required": ["role"], "not": {"anyOf": [{"required": [k]} for k in (
            "user", "department", "head", "manager_of", "levels", "expression", "contact")]}},
        {"required": ["department"], "not": {"anyOf": [{"required": [k]} for k in (
            "user", "role", "scope", "manager_of", "levels", "expression", "contact")]}},
        {"required": ["manager_of"], "not": {"anyOf": [{"required": [k]} for k in (
            "user", "role", "scope", "department", "head", "expression", "contact")]}},
        {"required": ["expression"], "maxProperties": 1},
        {"required": ["contact"], "maxProperties": 1},
    ],
    "additionalProperties": False,
}  # fmt: skip
FALLBACK = {**_KEY, "title": "Fallback person", "x-title-zh": "后备处理人"}
