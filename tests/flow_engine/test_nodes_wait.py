"""Waiting nodes: timer and wait_event; control nodes: start, end, parallel, join."""

from __future__ import annotations

from datetime import timedelta

from flow_engine import COMPLETED, WAITING, ExternalEvent, TimerFired, step
from tests.flow_engine.helpers import (
    NOW,
    chain,
    edge,
    effects,
    flow_doc,
    node,
    passed,
    run,
    sample_order,
)


def test_timer_with_a_duration_schedules_and_fires():
    flow, started = run(chain(node("t", "timer", duration="1d2h")))
    (timer,) = effects(started, "schedule_timer")
    assert timer.payload["due"] == (NOW + timedelta(hours=26)).isoformat()
    assert started.snapshot.status == WAITING
    assert started.snapshot.current_nodes == ("t",)
    done = step(flow, started.snapshot, TimerFired(timer.payload["timer_id"]), now=NOW)
    assert done.snapshot.status == COMPLETED


def test_timer_until_an_expression_and_already_past_dates():
    doc = chain(node("t", "timer", until="order.created_at + 48h"))
    _, future = run(doc, sample_order(created_at="2024-06-03T08:30:00+08:00"))
    (timer,) = effects(future, "schedule_timer")
    assert timer.payload["due"] == "2024-06-05T08:30:00+08:00"
    _, past = run(doc, sample_order(created_at="2024-05-01T08:30:00+08:00"))
    assert past.snapshot.status == COMPLETED
    assert not effects(past, "schedule_timer")


def test_stale_or_unknown_timer_is_ignored():
    flow, started = run(chain(node("t", "timer", duration="1h")))
    result = step(flow, started.snapshot, TimerFired("R1:t999"), now=NOW)
    assert result.ignored == "no_waiting_node"
    assert result.snapshot is started.snapshot


def _wait_event(timeout: bool) -> dict:
    config = {"event": "shipped", "store_as": "shipment"}
    if timeout:
        config["timeout"] = "72h"
    return flow_doc(
        [
            node("start", "start"),
            node("w", "wait_event", **config),
            node("ok", "end", outcome="shipped"),
            node("late", "end", outcome="late"),
        ],
        [edge("start", "w"), edge("w", "ok", "received")]
        + ([edge("w", "late", "timeout")] if timeout else []),
    )


def test_wait_event_receives_the_external_status_and_cancels_its_timeout():
    flow, started = run(_wait_event(timeout=True))
    (timer,) = effects(started, "schedule_timer")
    other = step(flow, started.snapshot, ExternalEvent("delivered"), now=NOW)
    assert other.ignored == "no_waiting_node"
    payload = {"tracking": "SF1234", "carrier": "SF"}
    done = step(flow, started.snapshot, ExternalEvent("shipped", payload), now=NOW)
    assert done.snapshot.outcome == "shipped"
    assert done.snapshot.vars["shipment"] == payload
    (cancel,) = effects(done, "cancel_timer")
    assert cancel.payload["timer_id"] == timer.payload["timer_id"]
    late_timer = step(flow, done.snapshot, TimerFired(timer.payload["timer_id"]), now=NOW)
    assert late_timer.ignored == "run_finished"


def test_wait_event_timeout_branch():
    flow, started = run(_wait_event(timeout=True))
    (timer,) = effects(started, "schedule_timer")
    done = step(flow, started.snapshot, TimerFired(timer.payload["timer_id"]), now=NOW)
    assert done.snapshot.outcome == "late"
    again = step(flow, done.snapshot, ExternalEvent("shipped"), now=NOW)
    assert again.ignored == "run_finished"


def _parallel() -> dict:
    return flow_doc(
        [
            node("start", "start"),
            node("fork", "parallel"),
            node("credit", "tag", tags=["credit_ok"]),
            node("wms", "wait_event", event="picked"),
            node("pay", "wait_event", event="paid"),
            node("join", "join"),
            node("end", "end", outcome="ready"),
        ],
        [
            edge("start", "fork"),
            edge("fork", "credit"),
            edge("fork", "wms"),
            edge("fork", "pay"),
            edge("credit", "join"),
            edge("wms", "join", "received"),
            edge("pay", "join", "received"),
            edge("join", "end"),
        ],
    )


def test_parallel_branches_run_and_the_join_waits_for_all_of_them():
    flow, started = run(_parallel())
    snap = started.snapshot
    assert snap.status == WAITING
    assert sorted(snap.current_nodes) == ["pay", "wms"]
    assert snap.order["tags"] == ["credit_ok"]
    joins = [a for a in started.audit if a.kind == "join_waiting"]
    assert joins[0].data == {"arrived": 1, "expected": 3}
    picked = step(flow, snap, ExternalEvent("picked"), now=NOW)
    assert picked.snapshot.status == WAITING
    assert picked.snapshot.current_nodes == ("pay",)
    paid = step(flow, picked.snapshot, ExternalEvent("paid"), now=NOW)
    assert paid.snapshot.status == COMPLETED
    assert ("join", None) in passed(paid)
    assert paid.snapshot.forks == {}


def test_end_inside_a_parallel_branch_ends_the_run_and_withdraws_the_others():
    doc = flow_doc(
        [
            node("start", "start"),
            node("fork", "parallel"),
            node("wait", "timer", duration="2h"),
            node("check", "condition", expression="order.amount > 100000"),
            node("join", "join"),
            node("stop", "end", outcome="blocked"),
            node("end", "end", outcome="ok"),
        ],
        [
            edge("start", "fork"),
            edge("fork", "wait"),
            edge("fork", "check"),
            edge("wait", "join"),
            edge("check", "stop", "true"),
            edge("check", "join", "false"),
            edge("join", "end"),
        ],
    )
    _, blocked = run(doc, sample_order(amount=500000))
    assert blocked.snapshot.outcome == "blocked"
    assert blocked.snapshot.tokens == ()
    scheduled = effects(blocked, "schedule_timer")[0].payload["timer_id"]
    assert effects(blocked, "cancel_timer")[0].payload["timer_id"] == scheduled
    flow, fine = run(doc, sample_order(amount=10))
    assert fine.snapshot.status == WAITING
    timer = effects(fine, "schedule_timer")[0].payload["timer_id"]
    done = step(flow, fine.snapshot, TimerFired(timer), now=NOW)
    assert done.snapshot.outcome == "ok"


def test_nested_parallel_splits_close_in_their_own_joins():
    doc = flow_doc(
        [
            node("start", "start"),
            node("outer", "parallel"),
            node("inner", "parallel"),
            node("a", "tag", tags=["a"]),
            node("b", "tag", tags=["b"]),
            node("inner_join", "join"),
            node("c", "tag", tags=["c"]),
            node("outer_join", "join"),
            node("end", "end", outcome="ok"),
        ],
        [
            edge("start", "outer"),
            edge("outer", "inner"),
            edge("outer", "c"),
            edge("inner", "a"),
            edge("inner", "b"),
            edge("a", "inner_join"),
            edge("b", "inner_join"),
            edge("inner_join", "outer_join"),
            edge("c", "outer_join"),
            edge("outer_join", "end"),
        ],
    )
    _, result = run(doc)
    assert result.snapshot.status == COMPLETED
    assert sorted(result.snapshot.order["tags"]) == ["a", "b", "c"]
    assert result.snapshot.path.count("end") == 1
