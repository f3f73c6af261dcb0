"""Snapshots, audit events, effects and events round-trip through JSON exactly."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from flow_engine import (
    ApprovalDecided,
    ApprovalDelegated,
    CancelRun,
    EffectResult,
    ExternalEvent,
    FlowStateError,
    OrderArrived,
    Retry,
    RunSnapshot,
    StepResult,
    TimerFired,
    event_from_dict,
    event_to_dict,
    step,
)
from flow_engine.migrations import SNAPSHOT_FORMAT_VERSION
from tests.flow_engine.helpers import NOW, chain, node, run, sample_order


def _via_json(data):
    return json.loads(json.dumps(data, ensure_ascii=False))


def test_step_result_round_trips_with_decimals_datetimes_and_durations():
    doc = chain(
        node(
            "s",
            "set",
            fields=[
                {"path": "vars.price", "expression": "order.amount * 1.13"},
                {"path": "vars.ship_by", "expression": "order.created_at + 48h"},
                {"path": "vars.window", "expression": "2h"},
                {"path": "vars.day", "expression": "date(order.created_at)"},
            ],
        ),
        node("w", "approval", assignees=[{"role": "finance"}], sla={"duration": "4h"}),
    )
    doc["edges"][-1]["branch"] = "approved"
    doc["nodes"].append(node("no", "end", outcome="no"))
    doc["nodes"].append(node("late", "end", outcome="late"))
    doc["edges"] += [
        {"from": "w", "to": "no", "branch": "rejected"},
        {"from": "w", "to": "late", "branch": "timeout"},
    ]
    _, result = run(doc, sample_order(amount=0.1))
    snap = result.snapshot
    assert snap.vars["price"] == Decimal("0.113")
    restored = StepResult.from_dict(_via_json(result.to_dict()))
    assert restored == result
    assert isinstance(restored.snapshot.vars["price"], Decimal)
    assert restored.snapshot.vars["ship_by"] == snap.vars["ship_by"]
    assert isinstance(restored.snapshot.vars["ship_by"], datetime)


def _approval_doc() -> dict:
    """start → approval by x → approved / rejected: a run that waits with a task."""
    doc = chain(node("a", "approval", assignees=[{"user": "x"}]))
    doc["edges"][-1]["branch"] = "approved"
    doc["nodes"].append(node("no", "end", outcome="no"))
    doc["edges"].append({"from": "a", "to": "no", "branch": "rejected"})
    return doc


def test_restored_snapshot_continues_exactly_like_the_original():
    flow, started = run(_approval_doc())
    task = started.snapshot.tokens[0].wait["tasks"][0]["id"]
    restored = RunSnapshot.from_dict(_via_json(started.snapshot.to_dict()))
    event = ApprovalDecided(task, "x", "approved", "fine")
    assert step(flow, restored, event, now=NOW) == step(flow, started.snapshot, event, now=NOW)


def test_snapshots_carry_their_format_version_and_older_ones_are_upgraded():
    flow, started = run(_approval_doc())
    stored = _via_json(started.snapshot.to_dict())
    assert stored["format_version"] == SNAPSHOT_FORMAT_VERSION == 2
    # A snapshot stored before the version field existed (format 1) still continues.
    old = {
        k: v for k, v in stored.items() if k not in ("format_version", "closed", "pending_events")
    }
    restored = RunSnapshot.from_dict(old)
    assert restored == started.snapshot
    task = started.snapshot.tokens[0].wait["tasks"][0]["id"]
    event = ApprovalDecided(task, "x", "approved", "fine")
    assert step(flow, restored, event, now=NOW) == step(flow, started.snapshot, event, now=NOW)
    with pytest.raises(FlowStateError, match="format_version 3"):
        RunSnapshot.from_dict({**stored, "format_version": 3})


@pytest.mark.parametrize(
    "event",
    [
        OrderArrived({"external_id": "A", "amount": Decimal("1.10")}),
        ApprovalDecided("R:a1", "li", "approved", "ok"),
        ApprovalDelegated("R:a1", "li", "wang"),
        TimerFired("R:t3"),
        ExternalEvent("shipped", {"at": datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=8)))}),
        EffectResult("R:e4", "reserved", {"allocations": [{"sku": "A", "qty": 1}]}),
        Retry("ops", {"external_id": "A"}),
        CancelRun("cs", "customer asked"),
    ],
)
def test_events_round_trip(event):
    assert event_from_dict(_via_json(event_to_dict(event))) == event


def test_tagged_values_cover_dates_and_durations():
    snap = RunSnapshot(
        run_id="R",
        flow_key="k",
        flow_version="v",
        status="waiting",
        order={"d": date(2024, 2, 29), "t": timedelta(hours=1, microseconds=5)},
        vars={"n": [Decimal("1E+3"), (1, 2)]},
        tokens=(),
        started_at=NOW,
        updated_at=NOW,
    )
    back = RunSnapshot.from_dict(_via_json(snap.to_dict()))
    assert back.order == snap.order
    assert back.vars == {"n": [Decimal("1E+3"), [1, 2]]}


@pytest.mark.parametrize(
    "data",
    [
        {"type": "teleport"},
        {"type": "timer_fired"},
        {"type": "timer_fired", "timer_id": "x", "extra": 1},
    ],
)
def test_bad_event_dicts_raise_flow_state_error(data):
    with pytest.raises(FlowStateError):
        event_from_dict(data)


def test_malformed_snapshot_raises_flow_state_error():
    with pytest.raises(FlowStateError):
        RunSnapshot.from_dict({"run_id": "R", "status": "sleeping"})
    with pytest.raises(FlowStateError):
        RunSnapshot.from_dict({"run_id": "R", "status": "waiting"})


def test_step_refuses_a_snapshot_of_another_flow_and_a_naive_clock():
    flow, started = run(chain(node("t", "timer", duration="1h")))
    other, _ = run(chain(node("t", "timer", duration="2h")))
    with pytest.raises(FlowStateError):
        step(other, started.snapshot, TimerFired("x"), now=NOW)
    with pytest.raises(FlowStateError):
        step(flow, started.snapshot, TimerFired("x"), now=datetime(2024, 1, 1))


def test_a_later_step_never_changes_an_earlier_snapshot():
    doc = chain(
        node("a", "set", fields=[{"path": "order.customer.tier", "expression": '"silver"'}]),
        node("wait", "timer", duration="1h"),
        node(
            "b",
            "set",
            fields=[
                {"path": "order.customer.tier", "expression": '"vip"'},
                {"path": "vars.info.level", "expression": "2"},
            ],
        ),
        node("c", "set", fields=[{"path": "vars.info.level", "expression": "3"}]),
    )
    flow, first = run(doc)
    before = json.dumps(first.snapshot.to_dict(), sort_keys=True)
    timer = first.effects[-1].payload["timer_id"]
    second = step(flow, first.snapshot, TimerFired(timer), now=NOW)
    assert second.snapshot.order["customer"]["tier"] == "vip"
    assert second.snapshot.vars["info"] == {"level": 3}
    assert json.dumps(first.snapshot.to_dict(), sort_keys=True) == before
    assert first.snapshot.order["customer"]["tier"] == "silver"
