"""Incidents: failures in a node park the run with the reason; Retry resumes at that node."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flow_engine import (
    CANCELLED,
    COMPLETED,
    INCIDENT,
    WAITING,
    CancelRun,
    ExternalEvent,
    Retry,
    compile_flow,
    start_run,
    step,
)
from tests.flow_engine.helpers import NOW, chain, edge, flow_doc, node, run, sample_order

DIVIDE = chain(
    node(
        "per_unit",
        "set",
        fields=[
            {
                "path": "vars.per_unit",
                "expression": "order.amount / sum(l.qty for l in order.lines)",
            }
        ],
    ),
    node("tag", "tag", tags=["priced"]),
)


def test_expression_failure_parks_the_run_with_node_and_reason():
    order = sample_order(lines=[{"sku": "SKU-A", "qty": 0}])
    _, result = run(DIVIDE, order)
    snap = result.snapshot
    assert snap.status == INCIDENT
    assert snap.incident.node_id == "per_unit"
    assert snap.incident.code == "expression_error"
    assert snap.incident.details["dsl"]["code"]
    assert snap.incident.message and snap.incident.message_zh
    assert snap.current_nodes == ("per_unit",)
    assert [a.kind for a in result.audit][-1] == "incident"


def test_retry_with_corrected_order_data_resumes_at_the_failed_node():
    flow, failed = run(DIVIDE, sample_order(lines=[{"sku": "SKU-A", "qty": 0}]))
    fixed = sample_order(lines=[{"sku": "SKU-A", "qty": 4}], amount=100)
    retried = step(
        flow, failed.snapshot, Retry(actor="ops", order=fixed), now=NOW + timedelta(hours=1)
    )
    snap = retried.snapshot
    assert snap.status == COMPLETED and snap.incident is None
    assert snap.vars["per_unit"] == 25
    assert snap.order["tags"] == ["priced"]
    assert snap.path == ("start", "per_unit", "per_unit", "tag", "end")
    assert retried.audit[0].kind == "retried" and retried.audit[0].actor == "ops"


def test_retry_without_the_cause_fixed_goes_back_to_incident():
    flow, failed = run(DIVIDE, sample_order(lines=[{"sku": "SKU-A", "qty": 0}]))
    again = step(flow, failed.snapshot, Retry(), now=NOW)
    assert again.snapshot.status == INCIDENT
    assert again.snapshot.revision == failed.snapshot.revision + 1


def test_retry_when_nothing_failed_is_ignored():
    flow, ok = run(chain(node("w", "timer", duration="1h")))
    result = step(flow, ok.snapshot, Retry(), now=NOW)
    assert result.ignored == "no_incident"


def test_events_arriving_during_an_incident_are_kept_and_replayed_after_retry():
    doc = flow_doc(
        [
            node("start", "start"),
            node("fork", "parallel"),
            node("ship", "wait_event", event="shipped"),
            node("timed", "timer", until="order.custom.deadline"),
            node("join", "join"),
            node("end", "end", outcome="ok"),
        ],
        [
            edge("start", "fork"),
            edge("fork", "ship"),
            edge("fork", "timed"),
            edge("ship", "join", "received"),
            edge("timed", "join"),
            edge("join", "end"),
        ],
    )
    flow, failed = run(doc, sample_order(custom={"deadline": "not a date"}))
    assert failed.snapshot.status == INCIDENT
    assert failed.snapshot.incident.node_id == "timed"
    assert failed.snapshot.incident.code in ("bad_datetime", "expression_error")
    deferred = step(flow, failed.snapshot, ExternalEvent("shipped", {"no": "SF1"}), now=NOW)
    assert deferred.accepted and deferred.snapshot.status == INCIDENT
    assert len(deferred.snapshot.pending_events) == 1
    fixed = sample_order(custom={"deadline": "2024-01-01T00:00:00+00:00"})
    done = step(flow, deferred.snapshot, Retry(order=fixed), now=NOW)
    assert done.snapshot.status == COMPLETED
    assert done.snapshot.pending_events == ()


def test_a_node_crashing_on_malformed_reference_data_is_an_incident_not_an_exception():
    doc = flow_doc(
        [
            node("start", "start"),
            node("r", "route", table="warehouses", constraints=["stock"]),
            node("a", "end", outcome="a"),
            node("b", "end", outcome="b"),
        ],
        [edge("start", "r"), edge("r", "a", "found"), edge("r", "b", "none")],
    )
    _, result = run(doc, ref={"warehouses": ["not-a-row"], "inventory": 7})
    assert result.snapshot.status == INCIDENT
    assert result.snapshot.incident.code == "node_failed"


def test_step_limit_guards_runaway_steps_and_retry_continues():
    doc = chain(*(node(f"t{i}", "tag", tags=[f"t{i}"]) for i in range(6)))
    flow = compile_flow(doc)
    result = start_run(flow, sample_order(), run_id="R1", now=NOW, max_nodes=4)
    assert result.snapshot.status == INCIDENT
    assert result.snapshot.incident.code == "step_limit"
    done = step(flow, result.snapshot, Retry(), now=NOW)
    assert done.snapshot.status == COMPLETED
    assert len(done.snapshot.order["tags"]) == 6


def test_cancel_from_an_incident():
    flow, failed = run(DIVIDE, sample_order(lines=[{"sku": "SKU-A", "qty": 0}]))
    cancelled = step(flow, failed.snapshot, CancelRun(actor="ops", reason="duplicate"), now=NOW)
    assert cancelled.snapshot.status == CANCELLED
    assert cancelled.snapshot.incident is None and cancelled.snapshot.tokens == ()
    assert cancelled.audit[-1].data == {"reason": "duplicate"}


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
ORDER_KEYS = [
    "amount",
    "channel",
    "customer",
    "lines",
    "shipping_address",
    "tags",
    "created_at",
    "custom",
]

ALL_KINDS = flow_doc(
    [
        node("start", "start"),
        node("sw", "switch", cases=[{"branch": "big", "when": "order.amount > 1000"}]),
        node(
            "set",
            "set",
            fields=[{"path": "vars.q", "expression": "sum(l.qty * l.price for l in order.lines)"}],
        ),
        node("tag", "tag", expression="order.channel"),
        node(
            "route",
            "route",
            table="warehouses",
            constraints=["active", "stock", "region", "capability"],
        ),
        node("split", "split"),
        node(
            "ap",
            "approval",
            assignees=[{"expression": "customer.account_manager"}],
            checks=[
                {
                    "name": "c",
                    "expression": "customer.outstanding + order.amount <= customer.credit_limit",
                }
            ],
        ),
        node("timer", "timer", until="order.created_at + 1h"),
        node("end", "end", outcome="x"),
    ],
    [
        edge("start", "sw"),
        edge("sw", "set", "big"),
        edge("sw", "tag", "default"),
        edge("set", "tag"),
        edge("tag", "route"),
        edge("route", "ap", "found"),
        edge("route", "split", "none"),
        edge("split", "ap", "single"),
        edge("split", "ap", "split"),
        edge("split", "timer", "unavailable"),
        edge("ap", "timer", "approved"),
        edge("ap", "end", "rejected"),
        edge("timer", "end"),
    ],
)
ALL_KINDS_FLOW = compile_flow(ALL_KINDS)
REF = {"warehouses": [{"id": "W", "regions": ["*"], "cost": 1}], "inventory": {"W": {"A": 3}}}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(ORDER_KEYS), JSONISH, max_size=8))
def test_garbage_order_data_never_raises_out_of_a_run(order):
    result = start_run(ALL_KINDS_FLOW, order, run_id="R", now=NOW, ref=REF)
    assert result.snapshot.status in (WAITING, COMPLETED, INCIDENT)
    if result.snapshot.status == INCIDENT:
        assert result.snapshot.incident.message
    result.snapshot.to_dict()
