"""No silent misses: a decision table that can miss is refused at publish unless it has a
default row or a connected "no match" exit; a route with no candidate takes its "none" exit."""

from __future__ import annotations

from typing import Any

import pytest

from flow_engine import FlowValidationError, compile_flow, simulate, validate_flow
from tests.flow_engine.helpers import NOW, chain, edge, flow_doc, node, sample_order

GAP_ROWS = [
    {"inputs": ['"浙江"', "< 1000"], "outputs": ['"HZ-01"']},
    {"inputs": ['"浙江"', ">= 5000"], "outputs": ['"HZ-02"']},
    {"inputs": ['"广东"', "-"], "outputs": ['"GZ-01"']},
]


def _table(rows: list[dict[str, Any]], policy: str = "first", **extra: Any) -> dict[str, Any]:
    return {
        "hit_policy": policy,
        "inputs": [
            {"name": "province", "expression": "order.shipping_address.province"},
            {"name": "amount", "expression": "order.amount"},
        ],
        "outputs": [{"name": "warehouse", "type": "string"}],
        "rules": rows,
        **extra,
    }


def _flow(table: dict[str, Any], *, no_match: bool = False) -> dict[str, Any]:
    pick = node("pick", "decision_table", table=table)
    pick["name"] = {"en": "Pick warehouse", "zh": "选择仓库"}
    if not no_match:
        return chain(pick)
    nodes = [node("start", "start"), pick, node("end", "end", outcome="done"),
             node("manual", "end", outcome="manual")]  # fmt: skip
    edges = [edge("start", "pick"), edge("pick", "end"), edge("pick", "manual", "no_match")]
    return flow_doc(nodes, edges)


def test_a_table_that_can_miss_is_a_warning_in_a_draft_and_refused_at_publish() -> None:
    doc = _flow(_table(GAP_ROWS))
    issues = [i for i in validate_flow(doc) if i.code == "table_can_miss"]
    assert [i.severity for i in issues] == ["warning"]  # a draft may be incomplete
    compile_flow(doc)  # simulating a draft still works
    with pytest.raises(FlowValidationError) as err:
        compile_flow(doc, publishing=True)
    (refusal,) = [i for i in err.value.issues if i.severity == "error"]
    assert refusal.code == "table_can_miss" and refusal.node_id == "pick"
    # named by its name, an input in the gap as example, and how to fix it
    assert "'Pick warehouse'" in refusal.message and "pick'" not in refusal.message
    assert '(e.g. province = "浙江", amount = ' in refusal.message
    assert "default row" in refusal.message and '"no match" exit' in refusal.message
    assert "“选择仓库”" in refusal.message_zh and "默认行" in refusal.message_zh
    assert "未命中" in refusal.message_zh and "浙江" in refusal.message_zh


@pytest.mark.parametrize(
    ("table", "no_match"),
    [
        (_table([*GAP_ROWS, {"inputs": ["-", "-"], "outputs": ['"CENTRAL"']}]), False),
        (_table(GAP_ROWS), True),
        (
            _table(GAP_ROWS, outputs=None) | {"outputs": [{"name": "warehouse", "default": '"X"'}]},
            False,
        ),
        (_table(GAP_ROWS, policy="collect"), False),  # an empty collection is an answer
    ],
    ids=["default row", "no_match connected", "output default", "collect"],
)
def test_a_table_that_handles_its_gap_publishes(table: dict[str, Any], no_match: bool) -> None:
    doc = _flow(table, no_match=no_match)
    compile_flow(doc, publishing=True)
    assert "table_can_miss" not in {i.code for i in validate_flow(doc)}


def test_a_table_without_a_name_is_named_by_its_id() -> None:
    doc = _flow(_table(GAP_ROWS))
    del doc["nodes"][1]["name"]
    (issue,) = [i for i in validate_flow(doc) if i.code == "table_can_miss"]
    assert "'pick'" in issue.message and "“pick”" in issue.message_zh


def test_the_no_match_exit_is_taken_by_an_order_in_the_gap() -> None:
    flow = compile_flow(_flow(_table(GAP_ROWS), no_match=True), publishing=True)
    order = sample_order(amount=2000)  # 浙江, between the two 浙江 rows
    report = simulate(flow, order, now=NOW)
    assert report.result.snapshot.outcome == "manual"


# ------------------------------------------------------------------ route with no candidate

REF = {
    "warehouses": [
        {"id": "GZ-01", "regions": ["广东"], "cost": 5},
        {"id": "HZ-01", "regions": ["浙江"], "cost": 9},
        {"id": "OLD-01", "regions": ["*"], "cost": 1, "active": False},
    ],
    "inventory": {"GZ-01": {"SKU-A": 9, "SKU-B": 9}, "HZ-01": {"SKU-A": 1}},
}


def _route_flow(*, none_exit: bool) -> dict[str, Any]:
    route = node("pick", "route", table="warehouses", constraints=["active", "region", "stock"])
    route["name"] = {"en": "Pick warehouse", "zh": "选择仓库"}
    nodes = [node("start", "start"), route, node("shipped", "end", outcome="routed")]
    edges = [edge("start", "pick"), edge("pick", "shipped", "found")]
    if none_exit:
        nodes.append(node("manual", "end", outcome="no_warehouse"))
        edges.append(edge("pick", "manual", "none"))
    return flow_doc(nodes, edges)


def test_a_route_with_its_no_candidate_exit_connected_takes_it() -> None:
    flow = compile_flow(_route_flow(none_exit=True), publishing=True)
    report = simulate(flow, sample_order(), now=NOW, ref=REF)  # 浙江, HZ-01 lacks SKU-A x2
    snap = report.result.snapshot
    assert snap.status == "completed" and snap.outcome == "no_warehouse"
    assert snap.vars["pick"]["chosen"] is None


def test_a_route_without_its_no_candidate_exit_is_a_warning_and_refused_at_publish() -> None:
    doc = _route_flow(none_exit=False)
    (issue,) = [i for i in validate_flow(doc) if i.node_id == "pick"]
    assert (issue.code, issue.severity) == ("route_no_candidate_exit", "warning")
    assert "'Pick warehouse'" in issue.message and '"none" exit (no candidate)' in issue.message
    assert "“选择仓库”" in issue.message_zh and "“无可选”（none）出口" in issue.message_zh
    with pytest.raises(FlowValidationError) as err:
        compile_flow(doc, publishing=True)
    assert [i.code for i in err.value.issues if i.severity == "error"] == [issue.code]


def test_no_candidate_without_the_exit_is_an_incident_naming_the_constraints() -> None:
    flow = compile_flow(_route_flow(none_exit=False))  # a draft, as the simulator runs it
    snap = simulate(flow, sample_order(), now=NOW, ref=REF).result.snapshot
    assert snap.status == "incident" and snap.vars["pick"]["chosen"] is None
    incident = snap.incident
    assert (incident.node_id, incident.code) == ("pick", "no_candidate")
    assert "Route 'Pick warehouse' found no warehouse" in incident.message
    assert "active: OLD-01" in incident.message and "region: GZ-01" in incident.message
    assert "stock: HZ-01" in incident.message
    assert "路由“选择仓库”没有可选的仓库" in incident.message_zh
    assert "启用：OLD-01" in incident.message_zh and "有库存：HZ-01" in incident.message_zh
    assert incident.details["eliminated"] == {
        "active": ["OLD-01"], "region": ["GZ-01"], "stock": ["HZ-01"]
    }  # fmt: skip
    found = simulate(flow, sample_order(shipping_address={"province": "广东"}), now=NOW, ref=REF)
    assert found.result.snapshot.outcome == "routed"


# ------------------------------------------------------------------ a miss at run time

BOOLEAN_TABLE = {
    "hit_policy": "first",
    "inputs": [{"name": "urgent", "expression": "order.urgent"}],
    "outputs": [{"name": "lane", "type": "string"}],
    "rules": [{"inputs": ["true"], "outputs": ['"express"']},
              {"inputs": ["false"], "outputs": ['"standard"']}],
}  # fmt: skip


def test_a_miss_the_analysis_cannot_see_is_an_incident_not_a_null_decision() -> None:
    """`true`/`false` cover a boolean column, so the table publishes; a missing flag is
    neither (null equals only null), and the run stops visibly instead of going on."""
    doc = _flow(BOOLEAN_TABLE)
    flow = compile_flow(doc, publishing=True)
    order = sample_order()
    del order["urgent"]
    snap = simulate(flow, order, now=NOW).result.snapshot
    assert snap.status == "incident"
    incident = snap.incident
    assert (incident.node_id, incident.code) == ("pick", "table_no_match")
    assert "Decision table 'Pick warehouse' matched no row" in incident.message
    assert "order.urgent = null" in incident.message and "default row" in incident.message
    assert "决策表“选择仓库”没有命中任何行" in incident.message_zh
    assert incident.details["inputs"] == {"order.urgent": None}
    assert simulate(flow, sample_order(urgent=False), now=NOW).result.snapshot.outcome == "done"


def test_a_miss_with_a_default_or_a_no_match_exit_goes_on() -> None:
    order = sample_order()
    del order["urgent"]
    with_exit = compile_flow(_flow(BOOLEAN_TABLE, no_match=True))
    assert simulate(with_exit, order, now=NOW).result.snapshot.outcome == "manual"
    outputs = [{"name": "lane", "type": "string", "default": '"standard"'}]
    defaulted = compile_flow(_flow({**BOOLEAN_TABLE, "outputs": outputs}))
    snap = simulate(defaulted, order, now=NOW).result.snapshot
    assert (snap.outcome, snap.vars["pick"]) == ("done", {"lane": "standard"})
    collect = compile_flow(_flow({**BOOLEAN_TABLE, "hit_policy": "collect"}))
    assert simulate(collect, order, now=NOW).result.snapshot.outcome == "done"
