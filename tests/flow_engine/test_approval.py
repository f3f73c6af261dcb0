"""Approvals: any-one / all / sequential, double decisions, delegation, SLA with injected clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flow_engine import COMPLETED, WAITING, ApprovalDecided, ApprovalDelegated, TimerFired, step
from tests.flow_engine.helpers import NOW, edge, effects, flow_doc, node, run, sample_order

HOUR = timedelta(hours=1)


def _approval(**config) -> dict:
    config.setdefault("assignees", [{"role": "finance"}, {"user": "u-wang"}])
    branches = ["approved", "rejected"]
    sla = config.get("sla") or {}
    if sla.get("on_timeout", "timeout") == "timeout" and sla:
        branches.append("timeout")
    if sla.get("on_timeout") == "escalate" and "escalation_duration" in sla:
        branches.append("timeout")
    return flow_doc(
        [node("start", "start"), node("ap", "approval", **config)]
        + [node(b, "end", outcome=b) for b in branches],
        [edge("start", "ap")] + [edge("ap", b, b) for b in branches],
    )


def _tasks(snapshot, status=None):
    (token,) = snapshot.tokens
    return [t for t in token.wait["tasks"] if status is None or t["status"] == status]


def test_approval_creates_tasks_with_the_checks_shown_to_approvers():
    doc = _approval(
        checks=[
            {
                "name": "within_credit",
                "label": {"en": "Within credit", "zh": "未超额度"},
                "expression": "customer.outstanding + order.amount <= customer.credit_limit",
            },
            {"name": "vip", "expression": 'customer.tier == "vip"'},
        ],
        reason={"en": "Large order", "zh": "大额订单"},
    )
    _, started = run(doc)
    (create,) = effects(started, "create_approval_tasks")
    assert [t["assignee"] for t in create.payload["tasks"]] == [
        {"role": "finance"},
        {"user": "u-wang"},
    ]
    checks = {c["name"]: c["passed"] for c in create.payload["checks"]}
    assert checks == {"within_credit": True, "vip": False}
    assert create.payload["reason"]["zh"] == "大额订单"
    assert started.snapshot.status == WAITING


def test_any_mode_first_decision_wins_and_other_tasks_are_withdrawn():
    flow, started = run(_approval(mode="any"))
    first, second = _tasks(started.snapshot)
    decided = step(
        flow, started.snapshot, ApprovalDecided(second["id"], "u-wang", "approved", "ok"), now=NOW
    )
    assert decided.snapshot.outcome == "approved"
    (withdraw,) = effects(decided, "withdraw_approval_tasks")
    assert withdraw.payload["task_ids"] == [first["id"]]
    record = decided.snapshot.vars["ap"]
    assert record["actors"] == ["u-wang"] and record["comments"] == ["ok"]


def test_any_mode_rejection_by_one_approver_rejects():
    flow, started = run(_approval(mode="any"))
    first, _ = _tasks(started.snapshot)
    decided = step(flow, started.snapshot, ApprovalDecided(first["id"], "li", "rejected"), now=NOW)
    assert decided.snapshot.outcome == "rejected"


def test_all_mode_needs_every_approval_and_any_rejection_ends_it():
    flow, started = run(_approval(mode="all"))
    first, second = _tasks(started.snapshot)
    one = step(flow, started.snapshot, ApprovalDecided(first["id"], "li", "approved"), now=NOW)
    assert one.snapshot.status == WAITING
    assert [t["id"] for t in _tasks(one.snapshot, "pending")] == [second["id"]]
    both = step(flow, one.snapshot, ApprovalDecided(second["id"], "u-wang", "approved"), now=NOW)
    assert both.snapshot.outcome == "approved"
    assert both.snapshot.vars["ap"]["actors"] == ["li", "u-wang"]
    rejected = step(
        flow, one.snapshot, ApprovalDecided(second["id"], "u-wang", "rejected"), now=NOW
    )
    assert rejected.snapshot.outcome == "rejected"


def test_sequential_mode_opens_the_next_task_only_after_approval():
    doc = _approval(mode="sequential", assignees=[{"user": "a"}, {"user": "b"}, {"user": "c"}])
    flow, started = run(doc)
    (create,) = effects(started, "create_approval_tasks")
    assert [t["assignee"] for t in create.payload["tasks"]] == [{"user": "a"}]
    a, b, c = _tasks(started.snapshot)
    early = step(flow, started.snapshot, ApprovalDecided(b["id"], "b", "approved"), now=NOW)
    assert early.ignored == "task_queued"
    snap = step(flow, started.snapshot, ApprovalDecided(a["id"], "a", "approved"), now=NOW).snapshot
    snap2 = step(flow, snap, ApprovalDecided(b["id"], "b", "approved"), now=NOW)
    assert [t["assignee"] for t in effects(snap2, "create_approval_tasks")[0].payload["tasks"]] == [
        {"user": "c"}
    ]
    done = step(flow, snap2.snapshot, ApprovalDecided(c["id"], "c", "approved"), now=NOW)
    assert done.snapshot.outcome == "approved"
    assert done.snapshot.vars["ap"]["actors"] == ["a", "b", "c"]


def test_a_second_decision_on_a_decided_task_says_so_and_changes_nothing():
    flow, started = run(_approval(mode="all"))
    first, second = _tasks(started.snapshot)
    one = step(flow, started.snapshot, ApprovalDecided(first["id"], "li", "approved"), now=NOW)
    twice = step(flow, one.snapshot, ApprovalDecided(first["id"], "li", "rejected"), now=NOW)
    assert twice.ignored == "task_already_decided"
    assert twice.snapshot is one.snapshot
    assert twice.audit == () and twice.effects == ()
    done = step(flow, one.snapshot, ApprovalDecided(second["id"], "u-wang", "approved"), now=NOW)
    late = step(flow, done.snapshot, ApprovalDecided(second["id"], "u-wang", "rejected"), now=NOW)
    assert late.ignored == "run_finished"


def test_decision_after_the_approval_closed_in_a_still_running_flow():
    doc = flow_doc(
        [
            node("start", "start"),
            node("ap", "approval", assignees=[{"user": "a"}, {"user": "b"}]),
            node("ship", "wait_event", event="shipped"),
            node("end", "end", outcome="done"),
            node("no", "end", outcome="no"),
        ],
        [
            edge("start", "ap"),
            edge("ap", "ship", "approved"),
            edge("ap", "no", "rejected"),
            edge("ship", "end", "received"),
        ],
    )
    flow, started = run(doc)
    a, b = _tasks(started.snapshot)
    decided = step(flow, started.snapshot, ApprovalDecided(a["id"], "a", "approved"), now=NOW)
    assert decided.snapshot.status == WAITING
    for task, who in ((a, "a"), (b, "b")):
        again = step(flow, decided.snapshot, ApprovalDecided(task["id"], who, "rejected"), now=NOW)
        assert again.ignored == "task_already_decided"
        assert again.snapshot is decided.snapshot


def test_invalid_decision_and_unknown_task_are_ignored():
    flow, started = run(_approval())
    first, _ = _tasks(started.snapshot)
    assert step(
        flow, started.snapshot, ApprovalDecided(first["id"], "li", "maybe"), now=NOW
    ).ignored
    unknown = step(flow, started.snapshot, ApprovalDecided("R1:a999", "li", "approved"), now=NOW)
    assert unknown.ignored == "no_waiting_node"


def test_delegation_hands_the_task_to_another_user():
    flow, started = run(_approval(mode="all"))
    first, second = _tasks(started.snapshot)
    moved = step(flow, started.snapshot, ApprovalDelegated(first["id"], "li", "u-zhao"), now=NOW)
    (withdraw,) = effects(moved, "withdraw_approval_tasks")
    assert withdraw.payload == {"task_ids": [first["id"]], "reason": "delegated"}
    (create,) = effects(moved, "create_approval_tasks")
    (new_task,) = create.payload["tasks"]
    assert new_task["assignee"] == {"user": "u-zhao"}
    stale = step(flow, moved.snapshot, ApprovalDecided(first["id"], "li", "approved"), now=NOW)
    assert stale.ignored == "task_delegated"
    snap = step(
        flow, moved.snapshot, ApprovalDecided(new_task["id"], "u-zhao", "approved"), now=NOW
    )
    done = step(flow, snap.snapshot, ApprovalDecided(second["id"], "u-wang", "approved"), now=NOW)
    assert done.snapshot.outcome == "approved"


def _timers(result):
    return {e.payload["purpose"]: e.payload for e in effects(result, "schedule_timer")}


def test_sla_reminder_then_timeout_branch_with_an_injected_clock():
    doc = _approval(sla={"duration": "24h", "reminders": ["4h"], "on_timeout": "timeout"})
    flow, started = run(doc)
    timers = _timers(started)
    assert timers["sla_reminder"]["due"] == (NOW + 4 * HOUR).isoformat()
    assert timers["sla_deadline"]["due"] == (NOW + 24 * HOUR).isoformat()
    reminded = step(
        flow, started.snapshot, TimerFired(timers["sla_reminder"]["timer_id"]), now=NOW + 4 * HOUR
    )
    (note,) = effects(reminded, "notify")
    assert note.payload["kind"] == "approval_reminder"
    assert len(note.payload["recipients"]) == 2
    timeout = step(
        flow,
        reminded.snapshot,
        TimerFired(timers["sla_deadline"]["timer_id"]),
        now=NOW + 24 * HOUR,
    )
    assert timeout.snapshot.outcome == "timeout"
    assert len(effects(timeout, "withdraw_approval_tasks")[0].payload["task_ids"]) == 2
    assert timeout.snapshot.vars["ap"]["auto"] is True


def test_decision_before_the_deadline_cancels_the_sla_timers():
    doc = _approval(sla={"duration": "24h", "reminders": ["4h"], "on_timeout": "timeout"})
    flow, started = run(doc)
    first, _ = _tasks(started.snapshot)
    decided = step(flow, started.snapshot, ApprovalDecided(first["id"], "li", "approved"), now=NOW)
    cancelled = {e.payload["timer_id"] for e in effects(decided, "cancel_timer")}
    assert cancelled == {t["timer_id"] for t in _timers(started).values()}
    stale = step(
        flow, decided.snapshot, TimerFired(_timers(started)["sla_deadline"]["timer_id"]), now=NOW
    )
    assert stale.ignored == "run_finished"


@pytest.mark.parametrize(("action", "outcome"), [("approve", "approved"), ("reject", "rejected")])
def test_automatic_decision_on_timeout(action, outcome):
    flow, started = run(_approval(sla={"duration": "8h", "on_timeout": action}))
    deadline = _timers(started)["sla_deadline"]["timer_id"]
    done = step(flow, started.snapshot, TimerFired(deadline), now=NOW + 8 * HOUR)
    assert done.snapshot.outcome == outcome
    assert done.snapshot.vars["ap"]["auto"] is True


def test_escalation_on_timeout_then_timeout_after_the_escalation_window():
    doc = _approval(
        sla={
            "duration": "24h",
            "on_timeout": "escalate",
            "escalate_to": [{"role": "ops_manager"}],
            "escalation_duration": "8h",
        }
    )
    flow, started = run(doc)
    deadline = _timers(started)["sla_deadline"]["timer_id"]
    escalated = step(flow, started.snapshot, TimerFired(deadline), now=NOW + 24 * HOUR)
    assert escalated.snapshot.status == WAITING
    assert len(effects(escalated, "withdraw_approval_tasks")[0].payload["task_ids"]) == 2
    (create,) = effects(escalated, "create_approval_tasks")
    assert create.payload["kind"] == "escalation"
    assert create.payload["tasks"][0]["assignee"] == {"role": "ops_manager"}
    second = _timers(escalated)["sla_deadline"]
    assert second["due"] == (NOW + 32 * HOUR).isoformat()
    manager_task = create.payload["tasks"][0]["id"]
    approved = step(
        flow, escalated.snapshot, ApprovalDecided(manager_task, "boss", "approved"), now=NOW
    )
    assert approved.snapshot.outcome == "approved"
    late = step(flow, escalated.snapshot, TimerFired(second["timer_id"]), now=NOW + 32 * HOUR)
    assert late.snapshot.outcome == "timeout"


def test_assignees_by_expression():
    doc = _approval(assignees=[{"expression": "customer.account_manager"}, {"role": "finance"}])
    _, started = run(doc, sample_order())
    (create,) = effects(started, "create_approval_tasks")
    assert create.payload["tasks"][0]["assignee"] == {"user": "u-zhang"}
    assert started.snapshot.status == WAITING
    assert COMPLETED != started.snapshot.status


def test_approval_checks_are_evaluated_again_on_todays_data_without_changing_the_run():
    from flow_engine import FlowStateError, approval_checks

    checks = [
        {"name": "stock", "expression": 'ref.inventory["GZ"]["SKU-A"] >= 1'},
        {"name": "ratio", "expression": "order.amount / order.custom.divisor > 1"},
    ]
    flow, started = run(_approval(checks=checks), sample_order(custom={"divisor": 2}),
                        ref={"inventory": {"GZ": {"SKU-A": 3}}})  # fmt: skip
    snapshot = started.snapshot
    now = approval_checks(flow, snapshot, "ap", now=NOW, ref={"inventory": {"GZ": {"SKU-A": 0}}},
                          order={**snapshot.order, "custom": {"divisor": 0}})  # fmt: skip
    stock, ratio = now
    assert (stock["passed"], stock["inputs"]) == (False, {"ref.inventory['GZ']['SKU-A']": 0})
    # A check that cannot be evaluated on today's data says why instead of failing the page.
    assert ratio["value"] is None and ratio["passed"] is False and "zero" in ratio["error"]
    assert started.snapshot == snapshot  # nothing changed
    with pytest.raises(FlowStateError):
        approval_checks(flow, snapshot, "start", now=NOW)
