"""Rule sets: ``rule "name" priority 10 when <condition> then <actions> end``.

Rules run in priority order (highest first, source order among equals). Each rule sees the
changes made by the rules that fired before it; no rule fires twice, so evaluation always
terminates. In ``first`` mode evaluation stops after the first rule that fires; ``stop``
ends it from inside any rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rule_dsl import _types as ty
from rule_dsl import ast as A
from rule_dsl.checker import Checker
from rule_dsl.compiler import Emitter, Unit, build_unit
from rule_dsl.errors import DslError, DslSyntaxError, DslTypeError, make_error
from rule_dsl.expression import run_checked
from rule_dsl.parser import parse_ruleset

__all__ = ["RuleInfo", "RuleSet", "RuleSetResult", "compile_ruleset", "validate_ruleset"]

MODES = ("all", "first")


@dataclass(frozen=True, slots=True)
class RuleSetResult:
    """What a rule set did: rules fired (in order), field changes, tags and the new context."""

    fired: tuple[str, ...]
    changes: dict[str, Any]
    tags: tuple[str, ...]
    context: dict[str, Any] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Return fired rules, changes and tags as a plain dict."""
        return {"fired": list(self.fired), "changes": dict(self.changes), "tags": list(self.tags)}


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """Name, priority and location of one compiled rule."""

    name: str
    priority: int
    line: int


@dataclass(slots=True)
class _Action:
    kind: str  # "set" | "tag" | "stop"
    span: A.Span
    path: tuple[str, ...] = ()
    fast: Any = None
    safe: Any = None


EMPTY_PATH: tuple[str, ...] = ()


@dataclass(slots=True)
class _Rule:
    info: RuleInfo
    fast: Any
    safe: Any
    span: A.Span
    actions: list[_Action]


def _assign(context: Mapping[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """Copy-on-write assignment: containers along ``path`` are copied, the input is untouched."""
    root = dict(context)
    current = root
    for key in path[:-1]:
        child = current.get(key)
        child = dict(child) if isinstance(child, Mapping) else {}
        current[key] = child
        current = child
    current[path[-1]] = value
    return root


class RuleSet:
    """A compiled rule set; call it with a context to get a ``RuleSetResult``."""

    def __init__(self, source: str, mode: str, rules: list[_Rule], unit: Unit) -> None:
        self.source = source
        self.mode = mode
        self.rules = tuple(r.info for r in rules)
        self.paths = unit.checker.final_paths()
        self._rules = rules
        self._unit = unit

    def _run(self, fast: Any, safe: Any, span: A.Span, ctx: Any, now: Any) -> Any:
        try:
            return fast(ctx, now)
        except Exception as exc:
            return run_checked(self._unit, fast, safe, exc, (ctx, now), span)

    def __call__(self, context: Mapping[str, Any], *, now: datetime | None = None) -> RuleSetResult:
        ctx: Mapping[str, Any] = context
        fired: list[str] = []
        changes: dict[str, Any] = {}
        tags: list[str] = []
        for rule in self._rules:
            if not self._run(rule.fast, rule.safe, rule.span, ctx, now):
                continue
            fired.append(rule.info.name)
            stop = self.mode == "first"
            for action in rule.actions:
                if action.kind == "stop":
                    stop = True
                    break
                value = self._run(action.fast, action.safe, action.span, ctx, now)
                if action.kind == "tag":
                    if value is not None and value not in tags:
                        tags.append(value)
                    continue
                ctx = _assign(ctx, action.path, value)
                changes[".".join(action.path)] = value
            if stop:
                break
        new_context = ctx if ctx is not context else dict(context)
        return RuleSetResult(tuple(fired), changes, tuple(tags), new_context)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"RuleSet({len(self._rules)} rules, mode={self.mode!r})"


def _target_path(checker: Checker, node: A.Node, source: str) -> tuple[str, ...]:
    parts: list[str] = []
    current = node
    while isinstance(current, A.Attr):
        parts.append(current.name)
        current = current.obj
    if not isinstance(current, A.Name) or not parts:
        raise make_error(
            DslTypeError,
            "not_assignable",
            source,
            node.span,
            name=source[node.span.start : node.span.end],
        )
    parts.append(current.name)
    return tuple(reversed(parts))


def _compile_action(unit: Unit, checker: Checker, action: A.Node, key: str) -> _Action:
    source = unit.source
    if isinstance(action, A.StopAction):
        return _Action("stop", action.span)
    if isinstance(action, A.TagAction):
        node, t = checker.check(action.tag, {})
        checker.expect(node, t, "string")
        kind, path = "tag", EMPTY_PATH
    else:
        assert isinstance(action, A.SetAction)
        target, target_t = checker.check(action.target, {})
        path = _target_path(checker, target, source)
        node, t = checker.check(action.value, {})
        if not ty.compatible(target_t, t):
            raise make_error(
                DslTypeError,
                "type_mismatch",
                source,
                action.span,
                op="=",
                left=target_t.kind,
                right=t.kind,
            )
        kind = "set"
    for name, fast in ((f"{key}_fast", True), (f"{key}_safe", False)):
        emitter = Emitter(unit, fast)
        build_unit(unit, name, emitter.emit(node), clock=checker.uses_clock, emitter=emitter)
    return _Action(kind, node.span, path, f"{key}_fast", f"{key}_safe")


def _attempt(errors: list[DslError] | None, build: Any, *args: Any) -> Any:
    """Run one compile step; with an error list, record its DslError and carry on."""
    if errors is None:
        return build(*args)
    try:
        return build(*args)
    except DslError as err:
        errors.append(err)
        return None


def _compile(
    source: str,
    schema: Mapping[str, Any] | None,
    mode: str | None,
    errors: list[DslError] | None = None,
) -> RuleSet | None:
    tree = parse_ruleset(source)
    chosen = mode or tree.mode or "all"
    if chosen not in MODES:
        raise make_error(
            DslSyntaxError, "bad_literal", source, tree.span, kind="mode", text=repr(chosen)
        )
    checker = Checker(source, schema)
    unit = Unit(source, checker)
    seen: set[str] = set()
    pending: list[tuple[_Rule, list[_Action]]] = []
    for index, rule in enumerate(tree.rules):
        if rule.name in seen:
            dup = make_error(
                DslSyntaxError, "duplicate_rule", source, rule.span, name=repr(rule.name)
            )
            _attempt(errors, _raise, dup)
        seen.add(rule.name)
        cond = _attempt(errors, checker.condition, rule.condition, {})
        if cond is not None:
            for name, fast in ((f"r{index}_fast", True), (f"r{index}_safe", False)):
                emitter = Emitter(unit, fast)
                body = emitter.boolean(cond)
                build_unit(unit, name, body, clock=checker.uses_clock, emitter=emitter)
        actions = [
            _attempt(errors, _compile_action, unit, checker, action, f"r{index}a{n}")
            for n, action in enumerate(rule.actions)
        ]
        info = RuleInfo(rule.name, rule.priority, rule.span.line)
        span = rule.condition.span
        pending.append((_Rule(info, f"r{index}_fast", f"r{index}_safe", span, []), actions))
    if errors:
        return None
    scope = unit.build()
    rules = []
    for compiled, actions in pending:
        compiled.fast, compiled.safe = scope[compiled.fast], scope[compiled.safe]
        for action in actions:
            if action.kind != "stop":
                action.fast, action.safe = scope[action.fast], scope[action.safe]
        compiled.actions = actions
        rules.append(compiled)
    rules.sort(key=lambda r: -r.info.priority)
    return RuleSet(source, chosen, rules, unit)


def _raise(err: DslError) -> None:
    raise err


def compile_ruleset(
    source: str, schema: Mapping[str, Any] | None = None, *, mode: str | None = None
) -> RuleSet:
    """Compile a rule set; ``mode`` ("all" or "first") overrides a ``mode`` line in the source.

    Raises ``DslSyntaxError`` or ``DslTypeError`` for the first fault found.
    """
    result = _compile(source, schema, mode)
    assert result is not None
    return result


def validate_ruleset(source: str, schema: Mapping[str, Any] | None = None) -> list[DslError]:
    """Every error of a rule set (one per faulty condition or action), or ``[]``."""
    errors: list[DslError] = []
    try:
        _compile(source, schema, None, errors)
    except DslError as err:
        errors.append(err)
    return errors
