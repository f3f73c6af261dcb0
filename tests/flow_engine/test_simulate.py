"""Simulation performs nothing and answers awaited effects from an in-memory inventory."""

from __future__ import annotations

import pytest

from flow_engine import FlowStateError, InMemoryInventory, simulate
from tests.flow_engine.helpers import NOW, chain, edge, flow_doc, node, sample_order

RESERVE = flow_doc(
    [
        node("start", "start"),
        node("res", "reserve_inventory", warehouse='"W1"'),
        node("hook", "webhook", url="https://erp.example.com", await_response=True, store_as="erp"),
        node("ok", "end", outcome="ok"),
        node("short", "end", outcome="short"),
    ],
    [
        edge("start", "res"),
        edge("res", "hook", "reserved"),
        edge("res", "short", "insufficient"),
        edge("hook", "ok"),
    ],
)


def test_inventory_reserves_all_or_nothing():
    stock = InMemoryInventory({"W1": {"A": 3, "B": 1}})
    assert stock.reserve([{"warehouse": "W1", "sku": "A", "qty": 2}])[0] == "reserved"
    status, data = stock.reserve(
        [{"warehouse": "W1", "sku": "A", "qty": 2}, {"warehouse": "W1", "sku": "B", "qty": 1}]
    )
    assert status == "insufficient"
    assert data["shortages"] == [{"warehouse": "W1", "sku": "A", "requested": 2, "available": 1}]
    assert stock.available("W1", "B") == 1, "nothing was taken by the failed reservation"
    stock.release([{"warehouse": "W1", "sku": "A", "qty": 2}])
    assert stock.available("W1", "A") == 3


def test_simulation_answers_reservations_and_awaited_webhooks():
    ref = {"inventory": {"W1": {"SKU-A": 10, "SKU-B": 10}}}
    report = simulate(
        RESERVE, sample_order(), ref=ref, now=NOW, webhook_responses={"hook": {"erp_no": "SO-1"}}
    )
    data = report.to_dict()
    assert data["outcome"] == "ok"
    assert data["vars"]["erp"] == {"erp_no": "SO-1"}
    short = simulate(RESERVE, sample_order(), ref={"inventory": {"W1": {"SKU-A": 1}}}, now=NOW)
    assert short.to_dict()["outcome"] == "short"


def test_advance_fires_due_timers_in_order_and_moves_the_clock():
    doc = chain(node("t1", "timer", duration="1h"), node("t2", "timer", duration="2h"))
    report = simulate(doc, sample_order(), now=NOW, events=[{"type": "advance", "by": "2h"}])
    data = report.to_dict()
    assert data["status"] == "waiting"
    assert data["pending"][0]["node"] == "t2"
    assert data["pending"][0]["timers"][0]["due"] == "2024-06-03T12:00:00+00:00"
    done = simulate(
        doc,
        sample_order(),
        now=NOW,
        events=[{"type": "advance", "to": "2024-06-04T00:00:00+00:00"}],
    )
    assert done.to_dict()["outcome"] == "done"


def test_timer_by_node_and_ignored_events_are_reported():
    doc = chain(node("t1", "timer", duration="1h"))
    report = simulate(
        doc,
        sample_order(),
        now=NOW,
        events=[{"type": "timer_fired", "node": "t1"}, {"type": "external_event", "name": "x"}],
    )
    data = report.to_dict()
    assert data["outcome"] == "done"
    assert data["ignored_events"][0]["reason"] == "run_finished"


def test_simulation_needs_an_aware_clock():
    with pytest.raises(FlowStateError):
        simulate(chain(), sample_order(), now="2024-06-03T09:00:00")


def test_simulation_performs_nothing_outside_and_reports_effects_only():
    doc = chain(node("n", "notify", to=[{"role": "ops"}], message={"en": "hi", "zh": "你好"}))
    data = simulate(doc, sample_order(), now=NOW).to_dict()
    (effect,) = data["effects"]
    assert effect["kind"] == "notify" and effect["payload"]["recipients"] == [{"role": "ops"}]
