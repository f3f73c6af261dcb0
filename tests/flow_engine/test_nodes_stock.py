"""Route, split, reserve and release inventory."""

from __future__ import annotations

from flow_engine import COMPLETED, WAITING, CancelRun, EffectResult, step
from tests.flow_engine.helpers import NOW, edge, effects, flow_doc, node, passed, run, sample_order

REF = {
    "warehouses": [
        {"id": "GZ", "regions": ["广东"], "cost": 5, "active": True},
        {"id": "SH", "regions": ["上海", "浙江"], "cost": 9, "active": True},
        {"id": "HZ", "regions": ["浙江"], "cost": 7, "active": True},
        {"id": "OLD", "regions": ["*"], "cost": 1, "active": False},
        {"id": "HUB", "regions": ["*"], "cost": 20, "active": True, "capabilities": ["hazmat"]},
    ],
    "inventory": {
        "GZ": {"SKU-A": 50, "SKU-B": 50},
        "SH": {"SKU-A": 50, "SKU-B": 50},
        "HZ": {"SKU-A": 1, "SKU-B": 50},
        "OLD": {"SKU-A": 99, "SKU-B": 99},
        "HUB": {"SKU-A": 10, "SKU-B": 0},
    },
}


def _route(**config):
    return flow_doc(
        [
            node("start", "start"),
            node("r", "route", table="warehouses", **config),
            node("found", "end", outcome="found"),
            node("none", "end", outcome="none"),
        ],
        [edge("start", "r"), edge("r", "found", "found"), edge("r", "none", "none")],
    )


def test_route_applies_hard_constraints_then_lowest_cost_and_records_why():
    doc = _route(constraints=["active", "stock", "region"], store_as="wh")
    _, result = run(doc, sample_order(), ref=REF)
    choice = result.snapshot.vars["wh"]
    assert choice["chosen"] == "SH"
    assert choice["eligible"] == ["SH"]
    assert choice["rejected"]["HUB"] == "no stock for SKU-B"
    assert choice["rejected"]["GZ"].startswith("does not serve")
    assert choice["rejected"]["HZ"] == "no stock for SKU-A"
    assert choice["rejected"]["OLD"] == "inactive"
    assert choice["reason"] == "lowest cost 9 among 1 eligible of 5"
    assert result.snapshot.outcome == "found"


def test_route_none_branch_when_nothing_qualifies():
    doc = _route(constraints=["active", "stock"])
    order = sample_order(lines=[{"sku": "SKU-A", "qty": 1000}])
    _, result = run(doc, order, ref=REF)
    assert result.snapshot.outcome == "none"
    assert result.snapshot.vars["r"]["chosen"] is None


def test_route_capability_from_line_attributes():
    doc = _route(constraints=["active", "capability"])
    order = sample_order(lines=[{"sku": "SKU-A", "qty": 1, "attributes": {"hazmat": True}}])
    _, result = run(doc, order, ref=REF)
    assert result.snapshot.vars["r"]["chosen"] == "HUB"
    assert result.snapshot.vars["r"]["rejected"]["GZ"] == "lacks hazmat"


def test_route_extra_constraints_and_cost_expressions_see_the_candidate():
    doc = _route(
        constraints=["active"],
        where=['candidate.id != "GZ"'],
        cost="candidate.cost + (if order.shipping_address.province in candidate.regions then 0 else 100)",
    )
    _, result = run(doc, sample_order(), ref=REF)
    choice = result.snapshot.vars["r"]
    assert choice["chosen"] == "HZ"
    assert choice["rejected"]["GZ"].startswith("fails")


def _split():
    return flow_doc(
        [
            node("start", "start"),
            node("s", "split", constraints=["active"]),
            node("one", "end", outcome="single"),
            node("many", "end", outcome="split"),
            node("none", "end", outcome="unavailable"),
        ],
        [
            edge("start", "s"),
            edge("s", "one", "single"),
            edge("s", "many", "split"),
            edge("s", "none", "unavailable"),
        ],
    )


def test_split_single_split_and_unavailable():
    doc = _split()
    _, one = run(doc, sample_order(), ref=REF)
    assert one.snapshot.outcome == "single"
    (single,) = effects(one, "split")
    assert single.payload["split"] is False and len(single.payload["shipments"]) == 1
    big = sample_order(lines=[{"sku": "SKU-A", "qty": 80}, {"sku": "SKU-B", "qty": 10}])
    _, many = run(doc, big, ref=REF)
    assert many.snapshot.outcome == "split"
    shipments = many.snapshot.vars["s"]["shipments"]
    assert sum(ln["qty"] for s in shipments for ln in s["lines"] if ln["sku"] == "SKU-A") == 80
    assert len(shipments) == 2
    (hint,) = effects(many, "split")
    assert hint.payload["shipments"] == shipments and hint.payload["split"] is True
    _, none = run(doc, sample_order(lines=[{"sku": "SKU-A", "qty": 500}]), ref=REF)
    assert none.snapshot.outcome == "unavailable"
    assert none.snapshot.vars["s"]["shortages"] == {"SKU-A": 500 - 111}
    assert not effects(none, "split")  # nothing ships, so nothing is recorded


def _reserve(**config):
    return flow_doc(
        [
            node("start", "start"),
            node("res", "reserve_inventory", **config),
            node("rel", "release_inventory"),
            node("ok", "end", outcome="reserved"),
            node("short", "end", outcome="short"),
        ],
        [
            edge("start", "res"),
            edge("res", "rel", "reserved"),
            edge("rel", "ok"),
            edge("res", "short", "insufficient"),
        ],
    )


def test_reserve_waits_for_the_atomic_result_then_release_gives_it_back():
    flow, started = run(_reserve(warehouse='"SH"'))
    (reserve,) = effects(started, "reserve_inventory")
    assert reserve.awaited
    assert reserve.payload["allocations"] == [
        {"warehouse": "SH", "sku": "SKU-A", "qty": 2},
        {"warehouse": "SH", "sku": "SKU-B", "qty": 1},
    ]
    assert started.snapshot.status == WAITING
    done = step(flow, started.snapshot, EffectResult(reserve.id, "reserved"), now=NOW)
    assert ("res", "reserved") in passed(done)
    (release,) = effects(done, "release_inventory")
    assert release.payload["allocations"] == reserve.payload["allocations"]
    assert done.snapshot.reservations == ()
    assert done.snapshot.status == COMPLETED


def test_reserve_insufficient_branch_keeps_the_shortage_details():
    flow, started = run(_reserve(warehouse='"HZ"', store_as="stock"))
    (reserve,) = effects(started, "reserve_inventory")
    short = {"shortages": [{"warehouse": "HZ", "sku": "SKU-A", "requested": 2, "available": 1}]}
    done = step(flow, started.snapshot, EffectResult(reserve.id, "insufficient", short), now=NOW)
    assert done.snapshot.outcome == "short"
    assert done.snapshot.vars["stock"]["shortages"][0]["available"] == 1


def test_a_second_answer_to_the_same_reservation_changes_nothing():
    flow, started = run(_reserve(warehouse='"SH"'))
    (reserve,) = effects(started, "reserve_inventory")
    first = step(flow, started.snapshot, EffectResult(reserve.id, "reserved"), now=NOW)
    again = step(flow, first.snapshot, EffectResult(reserve.id, "reserved"), now=NOW)
    assert again.ignored == "run_finished"
    assert again.snapshot is first.snapshot and again.effects == ()


def test_reserve_from_a_split_allocation():
    doc = flow_doc(
        [
            node("start", "start"),
            node("s", "split", constraints=["active"]),
            node("res", "reserve_inventory", allocation="vars.s"),
            node("ok", "end", outcome="ok"),
            node("no", "end", outcome="no"),
        ],
        [
            edge("start", "s"),
            edge("s", "res", "split"),
            edge("s", "res", "single"),
            edge("s", "no", "unavailable"),
            edge("res", "ok", "reserved"),
            edge("res", "no", "insufficient"),
        ],
    )
    big = sample_order(lines=[{"sku": "SKU-A", "qty": 80}])
    _, started = run(doc, big, ref=REF)
    (reserve,) = effects(started, "reserve_inventory")
    assert sum(a["qty"] for a in reserve.payload["allocations"]) == 80
    assert {a["warehouse"] for a in reserve.payload["allocations"]} == {"GZ", "SH"}


def test_cancelling_a_run_releases_what_it_holds():
    doc = flow_doc(
        [
            node("start", "start"),
            node("res", "reserve_inventory", warehouse='"SH"'),
            node("wait", "wait_event", event="shipped"),
            node("ok", "end", outcome="ok"),
            node("no", "end", outcome="no"),
        ],
        [
            edge("start", "res"),
            edge("res", "wait", "reserved"),
            edge("res", "no", "insufficient"),
            edge("wait", "ok", "received"),
        ],
    )
    flow, started = run(doc)
    (reserve,) = effects(started, "reserve_inventory")
    held = step(flow, started.snapshot, EffectResult(reserve.id, "reserved"), now=NOW)
    assert held.snapshot.status == WAITING and len(held.snapshot.reservations) == 1
    cancelled = step(
        flow, held.snapshot, CancelRun(actor="cs", reason="customer cancelled"), now=NOW
    )
    assert cancelled.snapshot.status == "cancelled"
    (release,) = effects(cancelled, "release_inventory")
    assert release.payload["allocations"] == reserve.payload["allocations"]
