"""Two versions of one flow on the same order: where their runs can part ways, and a paired
simulation that walks the stretch they share once.

A run only ever does what the nodes it walks say (their type, config, name and exits) within
what the flow says as a whole (key, name, trigger, metadata, the context its expressions were
compiled against). So two versions that agree on the whole and on a node behave alike at that
node, and a run of one is a run of the other up to the first node where they disagree: the
*divergence*. A backtest asks the draft and the live version about thousands of orders, and
most of each run (intake checks, routing) lies before the one node an edit changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from flow_engine._calendar import BusinessCalendar
from flow_engine.compiled import CompiledFlow
from flow_engine.runner import MAX_NODES_PER_STEP, is_paused, run_paused, start_run
from flow_engine.simulate import SimulationReport, _aware, _Simulator, simulate
from flow_engine.state import AuditEvent, Effect, RunSnapshot, StepResult


class Paired(NamedTuple):
    """The reports of two versions on one order; ``alike`` when they walked the same steps
    (the second report is the first's, pinned to its version)."""

    first: SimulationReport
    second: SimulationReport
    alike: bool


def divergence(first: CompiledFlow, second: CompiledFlow) -> frozenset[str] | None:
    """The ids of the nodes at which runs of ``first`` and ``second`` may behave differently
    (changed, added or removed nodes, and nodes whose exits lead elsewhere), or None when the
    two differ beyond their nodes, so that no step can be taken as alike."""
    a, b = first.flow, second.flow
    whole_a = (a.key, a.name, a.trigger, a.metadata, first.context_schema, first.start)
    whole_b = (b.key, b.name, b.trigger, b.metadata, second.context_schema, second.start)
    if whole_a != whole_b:
        return None
    nodes_a = {n.id: n for n in a.nodes}
    nodes_b = {n.id: n for n in b.nodes}

    def alike(node_id: str) -> bool:
        x, y = nodes_a.get(node_id), nodes_b.get(node_id)
        if x is None or y is None:
            return False
        if (x.type, x.config, x.name) != (y.type, y.config, y.name):
            return False
        cx, cy = first.nodes[node_id], second.nodes[node_id]
        return cx.next == cy.next and cx.targets == cy.targets

    return frozenset(i for i in nodes_a.keys() | nodes_b.keys() if not alike(i))


def simulate_pair(
    first: CompiledFlow,
    second: CompiledFlow,
    order: Mapping[str, Any],
    *,
    now: datetime | str,
    ref: Mapping[str, Any] | None = None,
    run_id: str = "sim",
    calendar: BusinessCalendar | None = None,
    apart: frozenset[str] | None = None,
) -> Paired:
    """``simulate(first, order)`` and ``simulate(second, order)`` (no scripted events), the
    same reports, with what both runs do alike done once.

    ``apart`` is :func:`divergence` of the two (computed when not given; pass it when pairing
    the same versions over many orders). The run walks once up to a node of ``apart``; there
    each version runs that node, and when both leave the run in the same state (a changed
    threshold the order is on the same side of) they walk on together to the next one.
    Once their states differ, each goes on alone. A run that then ends or waits and is only
    moved on by its awaited effects (the simulator answers them) is shared the same way: the
    second version's report is the first's as long as no node of ``apart`` is walked.
    """
    if apart is None:
        apart = divergence(first, second)
    clock = _aware(now)
    if apart is None:
        return Paired(
            simulate(first, order, now=clock, ref=ref, run_id=run_id, calendar=calendar),
            simulate(second, order, now=clock, ref=ref, run_id=run_id, calendar=calendar),
            alike=False,
        )
    start = start_run(
        first, order, run_id=run_id, now=clock, ref=ref, calendar=calendar, pause_before=apart
    )
    walk = _Lockstep(first, second, apart, clock, ref, calendar, start)
    alike = walk.together()
    reports: list[SimulationReport] = []
    for flow in (first, second):
        if reports and alike:
            # The same state and trail after the first step: the rest is the first
            # version's as long as it walked no node of ``apart`` answering its effects.
            report = reports[0]
            if apart.isdisjoint(report.result.snapshot.path[len(walk.snapshot.path) :]):
                return Paired(report, _as_version(report, second), alike=True)
        sim = _simulator(flow, ref, clock, calendar)
        sim.absorb(walk.result(flow))
        reports.append(sim.started)
    return Paired(reports[0], reports[1], alike=False)


class _Lockstep:
    """The first step of two versions' runs, walked together while their states agree."""

    def __init__(
        self,
        first: CompiledFlow,
        second: CompiledFlow,
        apart: frozenset[str],
        now: datetime,
        ref: Mapping[str, Any] | None,
        calendar: BusinessCalendar | None,
        start: StepResult,
    ) -> None:
        self.first, self.second, self.apart = first, second, apart
        self.now, self.ref, self.calendar = now, ref, calendar
        self.start = start
        self.snapshot = start.snapshot
        # What each version did on its own (a node of ``apart`` logs its own inputs);
        # shared stretches are appended to both.
        self.audit: dict[str, list[AuditEvent]] = {side: list(start.audit) for side in "ab"}
        self.effects: dict[str, list[Effect]] = {side: list(start.effects) for side in "ab"}
        self.walked = len(start.snapshot.path)
        self.every = frozenset(first.nodes) | frozenset(second.nodes)
        self.apart_at: tuple[StepResult, StepResult] | None = None

    def _go(self, flow: CompiledFlow, snapshot: RunSnapshot, pause: frozenset[str]) -> StepResult:
        return run_paused(
            flow,
            snapshot,
            now=self.now,
            ref=self.ref,
            calendar=self.calendar,
            max_nodes=max(MAX_NODES_PER_STEP - self.walked, 1),
            pause_before=pause,
        )

    def together(self) -> bool:
        """Walk on while both versions leave the run in the same state; True when the step
        ended with them alike in state, audit trail and effects."""
        while is_paused(self.snapshot):
            if _paused_at(self.snapshot) not in self.apart:  # alike from here: walk it once
                shared = self._go(self.first, self.snapshot, self.apart)
                for side in ("a", "b"):
                    self.audit[side] += shared.audit
                    self.effects[side] += shared.effects
                self._moved(shared.snapshot)
                continue
            # Each version runs the node paused before, alone, and pauses again.
            a = self._go(self.first, self.snapshot, self.every)
            b = self._go(self.second, self.snapshot, self.every)
            self.audit["a"] += a.audit
            self.audit["b"] += b.audit
            self.effects["a"] += a.effects
            self.effects["b"] += b.effects
            if not _alike(a.snapshot, b.snapshot):
                self.apart_at = (a, b)
                return False
            self._moved(a.snapshot)
        return self.audit["a"] == self.audit["b"] and self.effects["a"] == self.effects["b"]

    def _moved(self, snapshot: RunSnapshot) -> None:
        self.walked += len(snapshot.path) - len(self.snapshot.path)
        self.snapshot = snapshot

    def result(self, flow: CompiledFlow) -> StepResult:
        """``flow``'s first step, as :func:`start_run` without pausing returns it."""
        side = "a" if flow is self.first else "b"
        if self.apart_at is None:
            snapshot = self.snapshot
        else:
            snapshot = self.apart_at[0 if side == "a" else 1].snapshot
            while is_paused(snapshot):
                rest = self._go(flow, snapshot, frozenset())
                self.audit[side] += rest.audit
                self.effects[side] += rest.effects
                snapshot = rest.snapshot
        snapshot = snapshot._replace(
            flow_version=flow.version, revision=self.start.snapshot.revision
        )
        return StepResult(
            snapshot, _started_as(tuple(self.audit[side]), flow), tuple(self.effects[side])
        )


def _paused_at(snapshot: RunSnapshot) -> str:
    """The node a paused run stopped before: its first ready token's."""
    return next(t.node_id for t in snapshot.tokens if t.wait is None)


def _alike(a: RunSnapshot, b: RunSnapshot) -> bool:
    """Whether two snapshots of one run would go on alike: equal but for the version each is
    pinned to (field 2) and the revision (field 10)."""
    return a[:2] == b[:2] and a[3:10] == b[3:10] and a[11:] == b[11:]


def _simulator(
    flow: CompiledFlow,
    ref: Mapping[str, Any] | None,
    now: datetime,
    calendar: BusinessCalendar | None,
) -> _Simulator:
    sim = _Simulator(flow, ref, {}, calendar)
    sim.now = now
    return sim


def _as_version(report: SimulationReport, flow: CompiledFlow) -> SimulationReport:
    """``report`` as the run of ``flow``: the same steps, the snapshot pinned to its version."""
    result = report.result
    snapshot = result.snapshot._replace(flow_version=flow.version)
    return SimulationReport(
        result._replace(snapshot=snapshot, audit=_started_as(result.audit, flow)),
        list(_started_as(tuple(report.audit), flow)),
        list(report.effects),
        list(report.ignored),
        dict(report.timers),
        flow.node_names,
    )


def _started_as(audit: tuple[AuditEvent, ...], flow: CompiledFlow) -> tuple[AuditEvent, ...]:
    """``audit`` with its ``run_started`` entry (the first) naming ``flow``'s version."""
    if not audit or audit[0].kind != "run_started":
        return audit
    first = audit[0]
    return (first._replace(data={**first.data, "version": flow.version}), *audit[1:])
