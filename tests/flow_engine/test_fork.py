"""Paired simulation: two versions of a flow on one order, the shared stretch walked once,
must give exactly what two separate simulations give, whatever the edit and the order."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flow_engine import compile_flow, simulate
from flow_engine.errors import FlowStateError
from flow_engine.fork import divergence, simulate_pair
from flow_engine.nodes.human import ApprovalHandler
from flow_engine.nodes.routing import RouteHandler
from flow_engine.runner import is_paused, run_paused, start_run
from tests.flow_engine.helpers import NOW
from tests.flow_engine.test_determinism import FLOWS, REF, SAMPLES


def _edit(doc: dict, what: str) -> dict:
    """``doc`` with one edit a supervisor might make."""
    out = copy.deepcopy(doc)
    nodes = {n["id"]: n for n in out["nodes"]}
    if what == "none":
        pass
    elif what == "threshold" and "large" in nodes:
        nodes["large"]["config"]["expression"] = "order.amount >= 8000"
    elif what == "approvers" and "approve" in nodes:
        nodes["approve"]["config"]["assignees"] = [{"role": "ops"}]
    elif what == "approvers" and "ap" in nodes:
        nodes["ap"]["config"]["mode"] = "any"
    elif what == "rewire":  # the first two exits of a branching node swap targets
        one = next(e for e in out["edges"] if e.get("branch"))
        two = next(e for e in out["edges"] if e["from"] == one["from"] and e["to"] != one["to"])
        one["to"], two["to"] = two["to"], one["to"]
    elif what == "outcome":
        end = next(n for n in out["nodes"] if n["type"] == "end")
        end["config"]["outcome"] = "changed"
    elif what == "renamed":  # the name shows in approvals: a renamed node is a changed one
        out["nodes"][1]["name"] = {"en": "Renamed", "zh": "改名"}
    elif what == "trigger":
        out["trigger"] = {"event": "order.created", "filter": "order.amount >= 0"}
    elif what == "moved":  # editor position only: nothing behaves differently
        out["nodes"][1]["position"] = {"x": 999, "y": 1}
    return out


# Amounts on both sides of the live threshold (20,000) and of the draft's (8,000).
orders = st.builds(
    lambda base, amount, k, channel: {
        **base, "amount": amount, "custom": {"k": k}, "channel": channel or base["channel"]
    },
    st.sampled_from(SAMPLES),
    st.sampled_from([0, 99.5, 5000, 9000, 12000, 20000, 60000]),
    st.sampled_from([0, 1, 4]),
    st.sampled_from([None, "b2b", "tmall", "shopify", "jd"]),
)  # fmt: skip

EDITS = ["none", "threshold", "approvers", "rewire", "outcome", "renamed", "trigger", "moved"]


def _seen(report, *, names: bool = True) -> str:
    """Everything a simulation report holds, as text (the snapshot, audit, effects, timers)."""
    body = {
        "result": report.result.to_dict(),
        "audit": [a.to_dict() for a in report.audit],
        "effects": [e.to_dict() for e in report.effects],
        "timers": report.timers,
        "ignored": report.ignored,
        "names": dict(report.names) if names else None,
        "report": report.to_dict(),
    }
    return json.dumps(body, sort_keys=True, default=str, ensure_ascii=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(FLOWS)), st.sampled_from(EDITS), orders)
def test_a_paired_simulation_equals_two_separate_ones(name, edit, order):
    live = compile_flow(FLOWS[name], version="7")
    draft = compile_flow(_edit(FLOWS[name], edit), version="draft")
    pair = simulate_pair(live, draft, order, now=NOW, ref=REF, run_id="bt-1")
    alone = (
        simulate(live, order, now=NOW, ref=REF, run_id="bt-1"),
        simulate(draft, order, now=NOW, ref=REF, run_id="bt-1"),
    )
    assert _seen(pair.first) == _seen(alone[0])
    assert _seen(pair.second) == _seen(alone[1])
    assert pair.second.result.snapshot.flow_version == "draft"
    if pair.alike and edit != "renamed":  # the same steps: all but the version agrees
        second = _seen(pair.second, names=False).replace('"draft"', '"7"')
        assert second == _seen(pair.first, names=False)


@pytest.mark.parametrize(
    ("edit", "apart"),
    [
        ("none", set()),
        ("moved", set()),
        ("threshold", {"large"}),
        ("approvers", {"approve"}),
        ("outcome", {"end_routed"}),
        ("renamed", {"channel"}),
        ("rewire", {"channel"}),
        ("trigger", None),
    ],
)
def test_divergence_names_the_nodes_an_edit_touched(edit, apart):
    live = compile_flow(FLOWS["routing"])
    draft = compile_flow(_edit(FLOWS["routing"], edit))
    got = divergence(live, draft)
    assert (None if got is None else set(got)) == apart


def test_a_paused_run_goes_on_as_if_it_had_never_stopped():
    flow = compile_flow(FLOWS["routing"])
    order = next(o for o in SAMPLES if o["channel"] != "b2b")
    whole = start_run(flow, order, run_id="R1", now=NOW, ref=REF)
    first = start_run(flow, order, run_id="R1", now=NOW, ref=REF, pause_before=frozenset({"route"}))
    assert is_paused(first.snapshot)
    assert first.snapshot.path[-1] != "route" and "route" in whole.snapshot.path
    rest = run_paused(flow, first.snapshot, now=NOW, ref=REF)
    assert first.audit + rest.audit == whole.audit
    assert first.effects + rest.effects == whole.effects
    assert rest.snapshot._replace(revision=1) == whole.snapshot


def test_only_a_paused_run_of_the_same_flow_goes_on():
    flow = compile_flow(FLOWS["routing"])
    done = start_run(flow, SAMPLES[0], run_id="R1", now=NOW, ref=REF)
    with pytest.raises(FlowStateError, match="not a paused run"):
        run_paused(flow, done.snapshot, now=NOW, ref=REF)
    other = compile_flow(FLOWS["waits"])
    paused = start_run(
        flow, SAMPLES[0], run_id="R1", now=NOW, ref=REF, pause_before=frozenset({"channel"})
    )
    with pytest.raises(FlowStateError, match="not a paused run"):
        run_paused(other, paused.snapshot, now=NOW, ref=REF)


@pytest.mark.parametrize(
    ("amount", "changed", "approvals"), [(5000, False, 0), (12000, True, 1), (30000, False, 1)]
)
def test_an_order_on_the_same_side_of_a_changed_threshold_is_walked_once(
    amount, changed, approvals, monkeypatch
):
    runs = {"route": 0, "approval": 0}

    def counted(handler, kind):
        original = handler.run

        def run(self, prep, rt):
            runs[kind] += 1
            return original(self, prep, rt)

        monkeypatch.setattr(handler, "run", run)

    counted(RouteHandler, "route")
    counted(ApprovalHandler, "approval")
    live = compile_flow(FLOWS["routing"], version="7")
    draft = compile_flow(_edit(FLOWS["routing"], "threshold"), version="draft")
    order = {**next(o for o in SAMPLES if o["channel"] == "taobao"), "amount": amount}
    one, two, alike = simulate_pair(live, draft, order, now=NOW, ref=REF)
    assert alike is not changed
    assert ("approve" in one.result.snapshot.path) is (amount >= 20000)
    assert ("approve" in two.result.snapshot.path) is (amount >= 8000)
    assert (one.result.snapshot.path != two.result.snapshot.path) is changed
    # Routing lies before the change: walked once. The approval after it is walked once
    # too when both versions reach it alike (30,000), or by the draft alone (12,000).
    assert runs == {"route": 1, "approval": approvals}
    assert two.result.snapshot.flow_version == "draft"
