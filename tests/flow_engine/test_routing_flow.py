"""The realistic 15-node routing flow on its sample orders (also used by the benchmark)."""

from __future__ import annotations

import pytest

from flow_engine import (
    COMPLETED,
    WAITING,
    EffectResult,
    InMemoryInventory,
    compile_flow,
    simulate,
    start_run,
    step,
)
from tests.flow_engine.helpers import BENCH_FLOWS, NOW, load_json

DOC = load_json(BENCH_FLOWS / "routing.flow.json")
REF = load_json(BENCH_FLOWS / "ref.json")
SAMPLES = load_json(BENCH_FLOWS / "orders.json")
FLOW = compile_flow(DOC)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s["order"]["external_id"])
def test_sample_order_reaches_its_expected_outcome(sample):
    report = simulate(FLOW, sample["order"], ref=REF, now=NOW)
    snap = report.result.snapshot
    if sample["expected_outcome"] == "approval":
        assert snap.status == WAITING and snap.current_nodes == ("approve",)
    else:
        assert snap.status == COMPLETED and snap.outcome == sample["expected_outcome"]
    assert (snap.vars.get("route") or {}).get("chosen") == sample["expected_warehouse"]
    assert (snap.vars.get("priority") or {}).get("priority") == sample["expected_priority"]


def test_approved_large_order_is_reserved_and_sent_to_the_wms():
    sample = next(s for s in SAMPLES if s["order"]["external_id"] == "B2B-77003")
    report = simulate(
        FLOW,
        sample["order"],
        ref=REF,
        now=NOW,
        events=[{"type": "approval_decided", "node": "approve", "actor": "u-zhang",
                 "decision": "approved", "comment": "长期客户"}],
    )  # fmt: skip
    data = report.to_dict()
    assert data["status"] == "completed" and data["outcome"] == "routed"
    kinds = [e["kind"] for e in data["effects"]]
    assert kinds.index("create_approval_tasks") < kinds.index("reserve_inventory")
    wms = next(e for e in data["effects"] if e["kind"] == "webhook")
    assert wms["payload"]["body"] == {
        "order_id": "B2B-77003",
        "warehouse": "CN-HUB",
        "priority": "P1",
        "sla_hours": 12,
    }
    approve = [s for s in data["steps"] if s["node"] == "approve" and s["event"] == "node_passed"]
    assert approve[0]["branch"] == "approved"
    assert data["vars"]["approve"]["actors"] == ["u-zhang"]


def test_large_order_approval_is_rejected_automatically_after_its_sla():
    sample = next(s for s in SAMPLES if s["order"]["external_id"] == "WX20240603011")
    report = simulate(
        FLOW, sample["order"], ref=REF, now=NOW, events=[{"type": "advance", "by": "25h"}]
    )
    data = report.to_dict()
    assert data["outcome"] == "rejected"
    reminders = [e for e in data["effects"] if e["kind"] == "notify"]
    assert len(reminders) == 2


def test_checks_shown_to_the_approver_are_evaluated_on_the_order():
    sample = next(s for s in SAMPLES if s["order"]["external_id"] == "B2B-77003")
    report = simulate(FLOW, sample["order"], ref=REF, now=NOW)
    (create,) = [e for e in report.effects if e.kind == "create_approval_tasks"]
    checks = {c["name"]: c["passed"] for c in create.payload["checks"]}
    assert checks == {"within_credit": True, "known_customer": True}
    assignees = [t["assignee"] for t in create.payload["tasks"]]
    assert assignees == [{"role": "finance"}, {"user": "u-zhang"}]


def test_decision_path_is_recorded_with_inputs_for_the_timeline():
    sample = SAMPLES[0]
    steps = simulate(FLOW, sample["order"], ref=REF, now=NOW).to_dict()["steps"]
    by_node = {s["node"]: s for s in steps if s["event"] == "node_passed"}
    assert by_node["channel"]["branch"] == "default"
    assert by_node["priority"]["decision"]["matched"] == [8]  # 0-based: gold, under 2,000
    assert by_node["priority"]["inputs"]["order.channel"] == "taobao"
    assert by_node["route"]["decision"]["chosen"] == "SH-01"
    assert by_node["large"]["inputs"] == {"order.amount": sample["order"]["amount"]}


def test_two_orders_racing_for_the_last_units_only_one_reserves():
    tight = {
        **REF,
        "inventory": {**REF["inventory"], "SH-01": {"SKU-TEA-001": 2, "SKU-CUP-001": 1}},
    }
    tight["warehouses"] = [w for w in REF["warehouses"] if w["id"] == "SH-01"]
    order = SAMPLES[0]["order"]
    first = start_run(FLOW, order, run_id="A", now=NOW, ref=tight)
    second = start_run(FLOW, {**order, "external_id": "TB-2"}, run_id="B", now=NOW, ref=tight)
    stock = InMemoryInventory(tight["inventory"])
    outcomes = []
    for result in (first, second):
        (reserve,) = [e for e in result.effects if e.kind == "reserve_inventory"]
        status, data = stock.reserve(reserve.payload["allocations"])
        done = step(
            FLOW, result.snapshot, EffectResult(reserve.id, status, data), now=NOW, ref=tight
        )
        outcomes.append(done.snapshot.outcome)
    assert outcomes == ["routed", "backorder"]
    assert stock.available("SH-01", "SKU-TEA-001") == 0
