"""Simulation: run a flow on one order with scripted events and perform no effects.

Effects are played by their kind's ``simulate`` (declared with the node type that emits it,
see :mod:`flow_engine.effect_kinds`) and awaited ones answered on the spot: ``reserve_inventory`` from a small in-memory
inventory seeded with ``ref["inventory"]``, awaited webhooks with ``ok`` and the canned response
given for their node, ``merge`` with a group of this order alone that closes at the end of its
window (a simulation sees one order, so there is nobody to merge with). Scripted events may
name a node instead of an id::

    {"type": "approval_decided", "node": "finance_review", "decision": "approved", "actor": "li"}
    {"type": "timer_fired", "node": "wait_payment"}          # the node's earliest pending timer
    {"type": "advance", "to": "2024-06-01T12:00:00+08:00"}  # or {"by": "2h"}: fires due timers
    {"type": "external_event", "name": "shipped", "payload": {"tracking": "SF123"}}

Any event may carry ``"at"`` (ISO datetime) to move the clock before it is applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flow_engine._calendar import BusinessCalendar
from flow_engine._codec import plain
from flow_engine._durations import parse_duration
from flow_engine.compiled import CompiledFlow, compile_flow
from flow_engine.errors import FlowStateError
from flow_engine.events import TimerFired, event_from_dict
from flow_engine.nodes import effect_kinds
from flow_engine.runner import start_run, step
from flow_engine.state import AuditEvent, Effect, StepResult

_STEP_KINDS = ("node_passed", "node_waiting", "event_received", "join_waiting", "incident")


class InMemoryInventory:
    """Available units per warehouse and SKU; reservations are all-or-nothing."""

    def __init__(self, stock: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        # Read through to ``stock`` (shared, never written); a warehouse is copied on its
        # first change, so a simulation that reserves nothing copies nothing.
        self._seed = stock or {}
        self.stock: dict[str, dict[str, int]] = {}

    def _own(self, warehouse: str) -> dict[str, int]:
        skus = self.stock.get(warehouse)
        if skus is None:
            seed = self._seed.get(warehouse) or {}
            skus = self.stock[warehouse] = {sku: int(q) for sku, q in seed.items()}
        return skus

    def reserve(self, allocations: Iterable[Mapping[str, Any]]) -> tuple[str, dict[str, Any]]:
        """Reserve every allocation or none: ("reserved" | "insufficient", details)."""
        allocations = list(allocations)
        need: dict[tuple[str, str], int] = {}
        for a in allocations:
            key = (a["warehouse"], a["sku"])
            need[key] = need.get(key, 0) + int(a["qty"])
        short = [
            {"warehouse": wh, "sku": sku, "requested": qty, "available": self.available(wh, sku)}
            for (wh, sku), qty in need.items()
            if self.available(wh, sku) < qty
        ]
        if short:
            return "insufficient", {"shortages": short}
        for (wh, sku), qty in need.items():
            self._own(wh)[sku] -= qty
        return "reserved", {"allocations": allocations}

    def release(self, allocations: Iterable[Mapping[str, Any]]) -> None:
        """Put released units back."""
        for a in allocations:
            skus = self._own(a["warehouse"])
            skus[a["sku"]] = skus.get(a["sku"], 0) + int(a["qty"])

    def available(self, warehouse: str, sku: str) -> int:
        """Units of ``sku`` available in ``warehouse``."""
        skus = self.stock.get(warehouse)
        if skus is None:
            return int((self._seed.get(warehouse) or {}).get(sku, 0))
        return skus.get(sku, 0)


@dataclass
class SimulationReport:
    """What a simulation did: the final result plus everything emitted along the way."""

    result: StepResult
    audit: list[AuditEvent] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    ignored: list[dict[str, Any]] = field(default_factory=list)
    timers: dict[str, dict[str, Any]] = field(default_factory=dict)
    names: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report: path, decisions with inputs, fields set, effects, outcome or wait.

        Decimals appear as strings and datetimes as ISO text.
        """
        snap = self.result.snapshot
        steps: list[dict[str, Any]] = []
        fields: dict[str, Any] = {}
        for a in self.audit:
            if a.kind not in _STEP_KINDS:
                continue
            data = dict(a.data)
            changes = data.pop("changes", None) or {}
            fields.update(changes)
            entry: dict[str, Any] = {
                "node": a.node_id,
                "type": a.node_type,
                "event": a.kind,
                "branch": a.branch,
            }
            name = self.names.get(a.node_id or "")
            if name:
                entry["name"] = name
            entry.update(inputs=data.pop("inputs", {}), decision=data, changes=changes, at=a.at)
            if a.actor:
                entry["actor"] = a.actor
            steps.append(entry)
        pending = []
        for token in snap.tokens:
            wait = dict(token.wait or {})
            item: dict[str, Any] = {"node": token.node_id, "waiting_for": wait.get("kind", "run")}
            if wait.get("kind") == "approval":
                item["tasks"] = [t for t in wait["tasks"] if t["status"] == "pending"]
                item["checks"] = wait.get("checks", [])
            if wait.get("event"):
                item["event"] = wait["event"]
            due = [self.timers[t] for t in wait.get("timers", ()) if t in self.timers]
            if due:
                item["timers"] = due
            pending.append(item)
        report: dict[str, Any] = {
            "run_id": snap.run_id,
            "flow": snap.flow_key,
            "status": snap.status,
            "outcome": snap.outcome,
            "path": list(snap.path),
            "steps": steps,
            "fields_set": fields,
            "effects": [
                {"id": e.id, "kind": e.kind, "node": e.node_id, "payload": e.payload}
                for e in self.effects
            ],
            "pending": pending,
            "incident": snap.incident.to_dict() if snap.incident else None,
            "ignored_events": self.ignored,
            "order": snap.order,
            "vars": snap.vars,
        }
        shown: dict[str, Any] = plain(report)
        return shown


class _Simulator:
    def __init__(
        self,
        flow: CompiledFlow,
        ref: Mapping[str, Any] | None,
        responses: Mapping[str, Any],
        calendar: BusinessCalendar | None = None,
    ) -> None:
        self.flow = flow
        self.calendar = calendar
        self.ref = ref or {}
        self.inventory = InMemoryInventory(self.ref.get("inventory"))
        self.responses = responses
        self.report: SimulationReport | None = None
        self.names = flow.node_names
        self.kinds = effect_kinds()
        self.now = datetime.now(UTC)

    @property
    def timers(self) -> dict[str, dict[str, Any]]:
        """Timers pending in the report (the effects of scheduling and cancelling play here)."""
        return self.started.timers

    def absorb(self, result: StepResult, event: Any = None) -> StepResult:
        rep = self.report
        if rep is None:
            rep = self.report = SimulationReport(result, names=self.names)
        rep.result = result
        if result.ignored and event is not None:
            rep.ignored.append({"event": event, "reason": result.ignored})
        rep.audit += result.audit
        rep.effects += result.effects
        answers = []
        for effect in result.effects:
            kind = self.kinds.get(effect.kind)
            if kind is None:
                raise FlowStateError(f"effect kind {effect.kind!r} is not declared by a node type")
            if kind.simulate is not None:
                answer = kind.simulate(self, effect)
                if answer is not None:
                    answers.append(answer)
        for answer in answers:
            result = self.apply(answer)
        return result

    @property
    def started(self) -> SimulationReport:
        """The report, there from the run's start (every scripted event comes after it)."""
        if self.report is None:
            raise FlowStateError("the simulated run has not started")
        return self.report

    def apply(self, event: Any, raw: Any = None) -> StepResult:
        snapshot = self.started.result.snapshot
        result = step(
            self.flow, snapshot, event, now=self.now, ref=self.ref, calendar=self.calendar
        )
        return self.absorb(result, raw if raw is not None else event.type)

    def scripted(self, raw: Mapping[str, Any]) -> None:
        raw = dict(raw)
        if "at" in raw:
            self.now = _aware(raw.pop("at"))
        kind = raw.get("type")
        if kind == "advance":
            target = _aware(raw["to"]) if "to" in raw else self.now + parse_duration(raw["by"])
            while True:
                due = sorted(
                    (t["due"], t["id"])
                    for t in self.started.timers.values()
                    if _aware(t["due"]) <= target
                )
                if not due:
                    break
                self.now = max(self.now, _aware(due[0][0]))
                self.started.timers.pop(due[0][1], None)
                self.apply(TimerFired(due[0][1]), raw)
            self.now = target
            return
        if kind == "timer_fired" and "timer_id" not in raw:
            timers = sorted(
                (t["due"], t["id"])
                for t in self.started.timers.values()
                if raw.get("node") in (None, t["node"])
            )
            if not timers:
                self.started.ignored.append({"event": raw, "reason": "no_pending_timer"})
                return
            raw["timer_id"] = timers[0][1]
            self.now = max(self.now, _aware(timers[0][0]))
        if kind in ("approval_decided", "approval_delegated") and "task_id" not in raw:
            raw["task_id"] = self._pending_task(raw.get("node"))
        if kind == "timer_fired":
            self.started.timers.pop(raw["timer_id"], None)
        event = event_from_dict({k: v for k, v in raw.items() if k != "node"})
        self.apply(event, raw)

    def _pending_task(self, node: str | None) -> str:
        for token in self.started.result.snapshot.tokens:
            wait = token.wait or {}
            if wait.get("kind") == "approval" and node in (None, token.node_id):
                for task in wait["tasks"]:
                    if task["status"] == "pending":
                        return str(task["id"])
        return f"<no pending task at {node}>"


def _aware(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise FlowStateError(f"datetime {value!r} needs a UTC offset")
    return moment


def simulate(
    flow: CompiledFlow | Mapping[str, Any],
    order: Mapping[str, Any],
    *,
    events: Iterable[Mapping[str, Any]] = (),
    now: datetime | str | None = None,
    ref: Mapping[str, Any] | None = None,
    webhook_responses: Mapping[str, Any] | None = None,
    run_id: str = "sim",
    calendar: BusinessCalendar | None = None,
) -> SimulationReport:
    """Run ``flow`` on ``order`` with scripted ``events``; nothing outside is touched.

    ``calendar`` counts business-time SLAs (else the calendar tables in ``ref``).
    """
    compiled = flow if isinstance(flow, CompiledFlow) else compile_flow(flow)
    sim = _Simulator(compiled, ref, webhook_responses or {}, calendar)
    if now is not None:
        sim.now = _aware(now)
    started = start_run(compiled, order, run_id=run_id, now=sim.now, ref=sim.ref, calendar=calendar)
    sim.absorb(started)
    for raw in events:
        sim.scripted(raw)
    assert sim.report is not None
    return sim.report
