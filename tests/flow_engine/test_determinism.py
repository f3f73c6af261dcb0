"""Determinism: replaying a recorded run (same flow, order, events, clock) gives the same result.

Hypothesis drives random orders and random event sequences through two flows that use every
waiting mechanism; each run is recorded, then replayed twice: in memory, and with the snapshot
sent through JSON and the flow recompiled from its document before every event (what the app
does across transactions and restarts). All three must agree exactly.
"""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flow_engine import (
    ApprovalDecided,
    ApprovalDelegated,
    EffectResult,
    ExternalEvent,
    Retry,
    RunSnapshot,
    TimerFired,
    compile_flow,
    start_run,
    step,
)
from tests.flow_engine.helpers import BENCH_FLOWS, NOW, edge, flow_doc, load_json, node

ROUTING = load_json(BENCH_FLOWS / "routing.flow.json")
REF = load_json(BENCH_FLOWS / "ref.json")
SAMPLES = [s["order"] for s in load_json(BENCH_FLOWS / "orders.json")]

WAITS = flow_doc(
    [
        node("start", "start"),
        node("fork", "parallel"),
        node(
            "ap",
            "approval",
            mode="all",
            assignees=[{"role": "finance"}, {"expression": "customer.account_manager"}],
            sla={
                "duration": "8h",
                "reminders": ["2h"],
                "on_timeout": "escalate",
                "escalate_to": [{"role": "boss"}],
                "escalation_duration": "4h",
            },
        ),
        node("ship", "wait_event", event="shipped", timeout="24h", store_as="shipment"),
        node("hold", "merge", window="30m"),
        node(
            "check",
            "set",
            fields=[{"path": "vars.ratio", "expression": "order.amount / order.custom.k"}],
        ),
        node("join", "join"),
        node("ok", "end", outcome="ok"),
        node("no", "end", outcome="no"),
    ],
    [
        edge("start", "fork"),
        edge("fork", "ap"),
        edge("fork", "ship"),
        edge("fork", "hold"),
        edge("ap", "join", "approved"),
        edge("ap", "no", "rejected"),
        edge("ap", "no", "timeout"),
        edge("ship", "join", "received"),
        edge("ship", "no", "timeout"),
        edge("hold", "check"),
        edge("check", "join"),
        edge("join", "ok"),
    ],
)
FLOWS = {"routing": ROUTING, "waits": WAITS}
COMPILED = {name: compile_flow(doc) for name, doc in FLOWS.items()}

orders = st.builds(
    lambda base, amount, urgent, k, channel: {
        **base,
        "amount": amount,
        "urgent": urgent,
        "custom": {"k": k},
        "channel": channel or base["channel"],
    },
    st.sampled_from(SAMPLES),
    st.sampled_from([0, 99.5, 1999, 5000, 20000, 60000]),
    st.booleans(),
    st.sampled_from([0, 1, 4]),
    st.sampled_from([None, "b2b", "tmall", "shopify", "jd"]),
)
actions = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "approve",
                "reject",
                "delegate",
                "timer",
                "event",
                "reserve",
                "short",
                "webhook",
                "retry",
            ]
        ),
        st.integers(0, 3),
        st.integers(0, 600),
    ),
    max_size=8,
)


def _open(snapshot):
    tasks, timers, effects = [], [], []
    for token in snapshot.tokens:
        wait = token.wait or {}
        tasks += [t["id"] for t in wait.get("tasks", ()) if t["status"] == "pending"]
        timers += list(wait.get("timers", ()))
        if wait.get("effect_id"):
            effects.append(wait["effect_id"])
    return tasks, timers, effects


def _event(kind, pick, snapshot):
    tasks, timers, effects = _open(snapshot)

    def choose(items):
        return items[pick % len(items)] if items else f"missing-{pick}"

    if kind in ("approve", "reject"):
        return ApprovalDecided(
            choose(tasks), f"user{pick}", kind + "d" if kind == "approve" else "rejected"
        )
    if kind == "delegate":
        return ApprovalDelegated(choose(tasks), "someone", f"deputy{pick}")
    if kind == "timer":
        return TimerFired(choose(timers))
    if kind == "event":
        return ExternalEvent("shipped", {"tracking": f"SF{pick}"})
    if kind in ("reserve", "short"):
        status = "reserved" if kind == "reserve" else "insufficient"
        return EffectResult(choose(effects), status, {"n": pick})
    if kind == "webhook":
        return EffectResult(choose(effects), "failed" if pick == 0 else "ok", {})
    fixed = {**snapshot.order, "custom": {"k": pick + 1}}
    return Retry(actor="ops", order=fixed)


def _record(flow, order, script):
    now = NOW
    results = [start_run(flow, order, run_id="R9", now=now, ref=REF)]
    events = []
    for kind, pick, minutes in script:
        now = now + timedelta(minutes=minutes)
        event = _event(kind, pick, results[-1].snapshot)
        events.append((event, now))
        results.append(step(flow, results[-1].snapshot, event, now=now, ref=REF))
    return events, results


def _as_json(result):
    return json.dumps(result.to_dict(), sort_keys=True, ensure_ascii=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(FLOWS)), orders, actions)
def test_replaying_a_recorded_run_gives_identical_results(name, order, script):
    flow = COMPILED[name]
    events, recorded = _record(flow, order, script)

    replay = [start_run(flow, order, run_id="R9", now=NOW, ref=REF)]
    for event, at in events:
        replay.append(step(flow, replay[-1].snapshot, event, now=at, ref=REF))
    assert replay == recorded

    stored = json.loads(
        _as_json(start_run(compile_flow(FLOWS[name]), order, run_id="R9", now=NOW, ref=REF))
    )
    for (event, at), expected in zip(events, recorded[1:], strict=True):
        fresh = compile_flow(json.loads(json.dumps(FLOWS[name])))
        snapshot = RunSnapshot.from_dict(json.loads(json.dumps(stored["snapshot"])))
        result = step(fresh, snapshot, event, now=at, ref=REF)
        if result.ignored:
            assert result.snapshot == snapshot
        assert _as_json(result) == _as_json(expected)
        stored = json.loads(_as_json(result))


@settings(max_examples=25, deadline=None)
@given(orders)
def test_ids_are_derived_from_the_run_id_and_sequence(order):
    flow = COMPILED["waits"]
    one = start_run(flow, order, run_id="RUN-A", now=NOW, ref=REF)
    two = start_run(flow, order, run_id="RUN-B", now=NOW, ref=REF)
    assert [e.id.replace("RUN-A", "RUN-B") for e in one.effects] == [e.id for e in two.effects]
    assert all(e.id.startswith("RUN-A:") for e in one.effects)
    seqs = [a.seq for a in one.audit]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
