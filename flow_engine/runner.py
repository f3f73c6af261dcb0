"""The interpreter: a pure step function over run snapshots. The only code that walks edges.

``start_run`` and ``step`` take a compiled flow, a snapshot and an event and return the next
snapshot, the audit events and the effects for the app to perform. Nothing is performed here
and nothing global is read: the clock is injected and ids come from the run's own sequence, so
the same flow, order, events and clock always give the same result.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flow_engine._calendar import BusinessCalendar
from flow_engine._runtime import Working
from flow_engine.compiled import CompiledFlow, CompiledNode
from flow_engine.errors import FlowStateError, NodeError
from flow_engine.events import (
    ApprovalSentBack,
    CancelRun,
    Event,
    OrderArrived,
    Retry,
    event_key,
    event_summary,
)
from flow_engine.nodes.base import Finish, Ignore, JoinArrival, Jump, Next, Wait
from flow_engine.state import (
    CANCELLED,
    COMPLETED,
    EMPTY,
    FINISHED,
    INCIDENT,
    NEW,
    WAITING,
    AuditEvent,
    Incident,
    RunSnapshot,
    StepResult,
    Token,
)
from rule_dsl import DslError

MAX_NODES_PER_STEP = 10_000


def _check_clock(now: datetime) -> None:
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise FlowStateError("now must be a timezone-aware datetime")


def start_run(
    flow: CompiledFlow,
    order: Mapping[str, Any],
    *,
    run_id: str,
    now: datetime,
    ref: Mapping[str, Any] | None = None,
    vars: Mapping[str, Any] | None = None,
    max_nodes: int = MAX_NODES_PER_STEP,
    calendar: BusinessCalendar | None = None,
    pause_before: frozenset[str] = frozenset(),
) -> StepResult:
    """Start a run of ``flow`` for ``order`` and advance it as far as it goes.

    With ``pause_before`` the walk stops, untouched, when it is about to run one of those
    nodes: the snapshot then holds that token ready (see :func:`is_paused`) and
    :func:`run_paused` goes on exactly where it stopped.
    """
    _check_clock(now)
    snapshot = RunSnapshot(run_id, flow.key, flow.version, NEW, {}, dict(vars or {}), (), now, now)
    run = _Step(flow, snapshot, now, ref, max_nodes, calendar)
    run.pause = pause_before
    run.begin(order)  # what step() does with OrderArrived(order) on a new snapshot
    return run.result()


def is_paused(snapshot: RunSnapshot) -> bool:
    """True when ``start_run(pause_before=...)`` stopped this run before one of the nodes."""
    return snapshot.status == WAITING and any(t.wait is None for t in snapshot.tokens)


def run_paused(
    flow: CompiledFlow,
    snapshot: RunSnapshot,
    *,
    now: datetime,
    ref: Mapping[str, Any] | None = None,
    max_nodes: int = MAX_NODES_PER_STEP,
    calendar: BusinessCalendar | None = None,
    pause_before: frozenset[str] = frozenset(),
) -> StepResult:
    """Go on with a paused run in ``flow`` (its own version, or another version of the same
    flow whose nodes on the way so far are alike: :func:`flow_engine.fork.divergence`),
    walking the same nodes in the same order as if it had never stopped. The node it paused
    before runs; with ``pause_before`` the walk pauses again before the next of those nodes.
    The result holds only what was done after the pause; the snapshot is pinned to
    ``flow``'s version."""
    _check_clock(now)
    if snapshot.flow_key != flow.key or not is_paused(snapshot):
        raise FlowStateError(f"run {snapshot.run_id} is not a paused run of {flow.key}")
    if snapshot.flow_version != flow.version:
        snapshot = snapshot._replace(flow_version=flow.version)
    run = _Step(flow, snapshot, now, ref, max_nodes, calendar)
    run.pause, run.resumed = pause_before, True
    run.drain()
    return run.result()


def step(
    flow: CompiledFlow,
    snapshot: RunSnapshot,
    event: Event,
    *,
    now: datetime,
    ref: Mapping[str, Any] | None = None,
    max_nodes: int = MAX_NODES_PER_STEP,
    calendar: BusinessCalendar | None = None,
) -> StepResult:
    """Apply ``event`` to the run and advance it until every branch waits or the run ends.

    ``calendar`` counts business time for SLAs that ask for it; without it the calendar in
    ``ref`` (tables ``calendar_hours`` and ``calendar_days``) is used.
    Raises FlowStateError only for programming errors (wrong flow for the snapshot, naive
    clock); failures caused by order data put the run into ``incident`` instead.
    """
    _check_clock(now)
    if snapshot.flow_key != flow.key or snapshot.flow_version not in (None, flow.version):
        raise FlowStateError(
            f"run {snapshot.run_id} belongs to {snapshot.flow_key}@{snapshot.flow_version}, "
            f"not {flow.key}@{flow.version}"
        )
    if snapshot.status in FINISHED:
        return StepResult(snapshot, ignored="run_finished")
    return _Step(flow, snapshot, now, ref, max_nodes, calendar).run(event)


def approval_checks(
    flow: CompiledFlow,
    snapshot: RunSnapshot,
    node_id: str,
    *,
    now: datetime,
    ref: Mapping[str, Any] | None = None,
    order: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The checks of approval node ``node_id`` evaluated now, on the run's data (or on
    ``order`` when given, e.g. the order as it is stored now) and ``ref``. Changes nothing:
    the approver sees whether stock, credit and dates still hold when they decide.

    An expression error in a check gives that check ``value`` None and ``error``.
    """
    from flow_engine.nodes.human import evaluate_checks

    _check_clock(now)
    node = flow.nodes.get(node_id)
    if node is None or node.type != "approval":
        raise FlowStateError(f"{node_id!r} is not an approval node of {flow.key}")
    working = Working(snapshot, now, ref)
    if order is not None:
        working.set_order(order)
    return evaluate_checks(node.prep, working, tolerant=True)


class _Step:
    __slots__ = (
        "flow", "nodes", "snap", "w", "max_nodes", "count", "status", "outcome", "incident",
        "pending", "pause", "resumed",
    )  # fmt: skip

    def __init__(
        self,
        flow: CompiledFlow,
        snapshot: RunSnapshot,
        now: datetime,
        ref: Mapping[str, Any] | None,
        max_nodes: int,
        calendar: BusinessCalendar | None = None,
    ) -> None:
        self.flow = flow
        self.nodes = flow.nodes
        self.snap = snapshot
        self.w = Working(snapshot, now, ref, calendar)
        self.max_nodes = max_nodes
        self.count = 0
        self.status = snapshot.status
        self.outcome = snapshot.outcome
        self.incident = snapshot.incident
        self.pending: list[Event] = list(snapshot.pending_events)
        self.pause: frozenset[str] = frozenset()
        self.resumed = False  # a paused run going on: the node it paused before runs

    # -- events ----------------------------------------------------------------------------

    def run(self, event: Event) -> StepResult:
        reason = self.apply(event, primary=True)
        if reason is not None:
            return StepResult(self.snap, ignored=reason)
        return self.result()

    def apply(self, event: Event, primary: bool) -> str | None:
        w = self.w
        if isinstance(event, CancelRun):
            self.cancel(event)
            return None
        if self.status == NEW:
            if not isinstance(event, OrderArrived):
                return self.ignore("not_started", event, primary)
            self.begin(event.order)
            return None
        if isinstance(event, OrderArrived):
            return self.ignore("already_started", event, primary)
        if isinstance(event, Retry):
            if self.status != INCIDENT or self.incident is None:
                return self.ignore("no_incident", event, primary)
            if event.order is not None:
                w.set_order(event.order)
            w.log("retried", self.incident.node_id, actor=event.actor)
            self.status, self.incident = WAITING, None
            replay, self.pending = self.pending, []
            self.drain()
            for deferred in replay:
                self.apply(deferred, primary=False)
            return None
        if self.status == INCIDENT:
            self.pending.append(event)
            w.log("event_deferred", data={"event": event.type, **event_summary(event)})
            return None
        return self.resume(event, primary)

    def begin(self, order: Mapping[str, Any]) -> None:
        """Apply the order to a new run and walk from the start node."""
        w = self.w
        self.status = WAITING
        w.set_order(order)
        started = {"flow": self.flow.key, "version": self.flow.version}
        w.log("run_started", None, None, None, None, started)
        w.ready.append(Token(w.new_id("k"), self.flow.start))
        self.drain()

    def ignore(self, reason: str, event: Event, primary: bool) -> str | None:
        if primary:
            return reason
        self.w.log("event_ignored", data={"event": event.type, "reason": reason})
        return None

    def resume(self, event: Event, primary: bool) -> str | None:
        w = self.w
        key = event_key(event)
        targets = [t for t in w.waiting if key in (t.wait or {}).get("keys", ())]
        if not targets:
            return self.ignore(w.closed.get(key or "", "no_waiting_node"), event, primary)
        reasons = []
        for token in targets:
            if self.status in FINISHED:
                break
            if self.incident is not None:
                self.pending.append(event)
                break
            node = self.nodes[token.node_id]
            if isinstance(event, ApprovalSentBack) and event.to_node is not None:
                problem = self.bad_jump(token, event.to_node)
                if problem is not None:
                    reasons.append(problem)
                    continue
            w.node_id, w.changes = node.id, None
            try:
                out = node.handler.resume(node.prep, w, token, event)
            except Exception as exc:  # any failure in a node becomes an incident
                w.waiting.remove(token)
                node.handler.cancel(node.prep, w, token)
                self.fail(Token(token.id, node.id, token.forks), node, exc)
                continue
            if isinstance(out, Ignore):
                reasons.append(out.reason)
                continue
            actor = getattr(event, "actor", None)
            data = {"event": event.type, **event_summary(event), **(out.data or {})}
            w.log("event_received", node.id, node.type, actor=actor, data=data)
            index = w.waiting.index(token)
            if isinstance(out, Wait):
                w.waiting[index] = Token(token.id, node.id, token.forks, out.wait)
                continue
            del w.waiting[index]
            self.close(token)
            self.leave(token, node, out)
        if len(reasons) == len(targets):
            return self.ignore(reasons[0], event, primary)
        self.drain()
        return None

    def bad_jump(self, token: Token, target: str) -> str | None:
        """Why a 退回 from ``token`` to node ``target`` is refused, or None: the target must be
        another approval node this run passed, and the run must not be inside parallel
        branches (a jump out of one would leave its join waiting)."""
        node = self.nodes.get(target)
        if node is None or node.type != "approval" or target == token.node_id:
            return "bad_send_back_target"
        if target not in self.snap.path and target not in self.w.path:
            return "bad_send_back_target"
        if token.forks:
            return "send_back_in_parallel_branch"
        return None

    def close(self, token: Token) -> None:
        for key in (token.wait or {}).get("keys", ()):
            self.w.close_key(key, "wait_closed")

    def cancel(self, event: CancelRun) -> None:
        w = self.w
        for token in w.waiting:
            node = self.nodes[token.node_id]
            w.node_id = node.id
            node.handler.cancel(node.prep, w, token)
            self.close(token)
        w.node_id = ""
        released = w.release_reservations(None)
        allocations = [a for r in released for a in r["allocations"]]
        if allocations:
            order_id = w.order.get("external_id")
            w.emit("release_inventory", {"order_id": order_id, "allocations": allocations})
        w.waiting.clear()
        w.ready.clear()
        self.status, self.incident = CANCELLED, None
        self.pending = []
        w.log("run_cancelled", actor=event.actor, data={"reason": event.reason})

    # -- walking ---------------------------------------------------------------------------

    def drain(self) -> None:
        w, nodes, max_nodes, pause = self.w, self.nodes, self.max_nodes, self.pause
        ready, path, audit = w.ready, w.path, w.audit
        now = w.now
        while ready and self.incident is None and self.status not in FINISHED:
            token = ready.popleft()
            node_id, forks = token.node_id, token.forks
            # Follow the token through single exits without re-queueing it; a Token is only
            # built again when it parks, forks, joins, ends or fails.
            while True:
                if pause and node_id in pause:
                    if not self.resumed:  # first in line again: nothing else moves
                        ready.appendleft(Token(token.id, node_id, forks))
                        return
                    self.resumed = False
                node = nodes[node_id]
                if self.count >= max_nodes:
                    limit = NodeError("step_limit", f"more than {max_nodes} nodes in one step")
                    self.fail(Token(token.id, node_id, forks), node, limit)
                    return
                self.count += 1
                w.node_id = node_id
                w.changes = None
                path.append(node_id)
                try:
                    out = node.run(node.prep, w)
                except Exception as exc:  # any failure in a node becomes an incident
                    self.fail(Token(token.id, node_id, forks), node, exc)
                    return
                if type(out) is not Next or out.fork:
                    self.leave(Token(token.id, node_id, forks), node, out)
                    break
                # A tuple of branches comes only with fork, which leave() took above; no cast
                # call in this loop, the hottest of the engine.
                branch: str | None = out.branch  # type: ignore[assignment]  # see above
                targets = node.next.get(branch)
                if not targets:
                    problem = NodeError("branch_not_connected", f"no edge for {branch}")
                    self.fail(Token(token.id, node_id, forks), node, problem)
                    return
                data = out.data
                changes = w.changes
                if changes:
                    if data is None:
                        data = {"changes": changes}
                    else:
                        data["changes"] = changes
                seq = w.seq + 1
                w.seq = seq
                audit.append(
                    AuditEvent(
                        seq, now, "node_passed", node_id, node.type, branch, None, data or EMPTY
                    )
                )
                node_id = targets[0]

    def leave(self, token: Token, node: CompiledNode, out: Any) -> None:
        w = self.w
        data = out.data
        if w.changes:
            if data is None:
                data = {"changes": w.changes}
            else:
                data["changes"] = w.changes
        kind = type(out)
        if kind is Next:
            branch = out.branch
            if out.fork:
                if branch is None:
                    targets = node.targets
                else:
                    targets = tuple(t for b in branch for t in node.next.get(b, ()))
                fork = w.new_id("f")
                w.fork_table()[fork] = {"node": node.id, "expected": len(targets), "arrived": 0}
                label = ",".join(branch) if isinstance(branch, tuple) else None
                w.log("node_passed", node.id, node.type, label, data=data)
                forks = (*token.forks, fork)
                for target in targets:
                    w.ready.append(Token(w.new_id("k"), target, forks))
                return
            exits = node.next.get(branch)
            if not exits:
                self.fail(token, node, NodeError("branch_not_connected", f"no edge for {branch}"))
                return
            w.log("node_passed", node.id, node.type, branch, data=data)
            w.ready.append(Token(token.id, exits[0], token.forks))
        elif kind is Wait:
            w.log("node_waiting", node.id, node.type, None, None, data)
            w.waiting.append(Token(token.id, node.id, token.forks, out.wait))
        elif kind is Jump:
            w.log("node_passed", node.id, node.type, "sent_back", data=data)
            w.ready.append(Token(token.id, out.target, token.forks))
        elif kind is Finish:
            w.log("node_passed", node.id, node.type, None, None, data)
            self.complete(out.outcome)
        elif kind is JoinArrival:
            self.join(token, node, data)
        else:
            self.fail(token, node, NodeError("bad_outcome", f"handler returned {out!r}"))

    def join(self, token: Token, node: CompiledNode, data: Any) -> None:
        w = self.w
        fork_id = token.forks[-1] if token.forks else ""
        forks = w.fork_table()
        fork = forks.get(fork_id) if fork_id else None
        if fork is None:
            self.fail(token, node, NodeError("join_without_split", "token reached a join unforked"))
            return
        arrived = fork["arrived"] + 1
        if arrived < fork["expected"]:
            forks[fork_id] = {**fork, "arrived": arrived}
            info = {"arrived": arrived, "expected": fork["expected"]}
            w.log("join_waiting", node.id, node.type, data=info)
            return
        del forks[fork_id]
        w.log("node_passed", node.id, node.type, data={"joined": fork["expected"]})
        w.ready.append(Token(token.id, node.next[None][0], token.forks[:-1]))

    def complete(self, outcome: str) -> None:
        w = self.w
        for token in w.waiting:
            other = self.nodes[token.node_id]
            w.node_id = other.id
            other.handler.cancel(other.prep, w, token)
            self.close(token)
            w.log("token_cancelled", other.id, other.type)
        w.waiting.clear()
        w.ready.clear()
        if w.forks:
            w.fork_table().clear()
        self.status, self.outcome = COMPLETED, outcome
        w.log("run_completed", None, None, None, None, {"outcome": outcome})

    def fail(self, token: Token, node: CompiledNode, exc: Exception) -> None:
        w = self.w
        if isinstance(exc, DslError):
            code, en, zh = "expression_error", exc.message, exc.message_zh
            details: dict[str, Any] = {"dsl": exc.to_dict()}
        elif isinstance(exc, NodeError):
            code, en, zh, details = exc.code, exc.message, exc.message_zh, exc.details
        else:
            code, en, zh = "node_failed", f"{type(exc).__name__}: {exc}", f"节点执行失败：{exc}"
            details = {}
        self.incident = Incident(node.id, token.id, code, en, zh, w.now, details)
        self.status = INCIDENT
        w.ready.appendleft(Token(token.id, node.id, token.forks))
        w.log("incident", node.id, node.type, data={"code": code, "message": en, **details})

    # -- result ----------------------------------------------------------------------------

    def result(self) -> StepResult:
        w = self.w
        status = self.status
        if status == WAITING and not w.waiting and not w.ready:
            status = COMPLETED
        before = self.snap
        snap = RunSnapshot(  # positional, in field order: this runs once per step
            before.run_id,
            before.flow_key,
            before.flow_version or self.flow.version,
            status,
            w.order,
            w.vars,
            (*w.waiting, *w.ready),
            before.started_at,
            w.now,
            w.seq,
            before.revision + 1,
            w.forks,
            self.outcome,
            self.incident,
            before.path + tuple(w.path) if w.path else before.path,
            tuple(w.reservations),
            tuple(self.pending),
            w.closed,
        )
        return StepResult(snap, tuple(w.audit), tuple(w.effects))
