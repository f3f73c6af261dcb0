"""No silent misses through the API: a decision table that can miss and a route without its
"none" exit are saved as drafts with a warning and refused at publish (API, import with
publish, template import); an order with no route candidate takes the explicit exit."""

from __future__ import annotations

import simplejson

from app.db import get_db, in_transaction

from ..flows_fixtures import flow_doc, load_reference, order_doc

GAP_TABLE = {
    "hit_policy": "first",
    "inputs": [{"name": "province", "expression": "order.shipping_address.province"}],
    "outputs": [{"name": "warehouse", "type": "string"}],
    "rules": [{"inputs": ['"广东"'], "outputs": ['"GZ-01"']},
              {"inputs": ['"浙江"'], "outputs": ['"HZ-01"']}],
}  # fmt: skip


def _table_flow(key: str, rules: list | None = None) -> dict:
    table = {**GAP_TABLE, "rules": rules or GAP_TABLE["rules"]}
    return flow_doc(
        key,
        [{"id": "start", "type": "start"},
         {"id": "pick", "type": "decision_table", "name": {"en": "Pick warehouse", "zh": "选择仓库"},
          "config": {"table": table}},
         {"id": "done", "type": "end", "config": {"outcome": "routed"}}],
        [("start", "pick"), ("pick", "done")],
    )  # fmt: skip


def test_a_table_that_can_miss_is_saved_as_a_draft_and_refused_at_publish(api):
    created = api.post("/flows", json=_table_flow("routing"))
    assert created.status_code == 201
    (issue,) = created.json["issues"]
    assert (issue["code"], issue["severity"]) == ("table_can_miss", "warning")

    refused = api.post("/flows/routing/publish")
    assert refused.status_code == 422
    (problem,) = refused.json["error"]["details"]
    assert problem["code"] == "table_can_miss" and problem["node_id"] == "pick"
    assert "Decision table 'Pick warehouse' can miss" in problem["message"]
    assert "(e.g. province = " in problem["message"] and "default row" in problem["message"]
    zh = api.post("/flows/routing/publish", headers={"Accept-Language": "zh"}).json
    assert "决策表“选择仓库”存在未命中的情况" in zh["error"]["details"][0]["message"]
    assert api.get("/flows/routing").json["published_version"] is None

    imported = api.post("/flows/import?publish=true", json=_table_flow("copy"))
    assert imported.status_code == 422
    assert imported.json["error"]["details"][0]["code"] == "table_can_miss"
    assert api.get("/flows/copy").status_code == 404  # nothing of the refused import is kept

    default_row = {"inputs": ["-"], "outputs": ['"CENTRAL"']}
    fixed = _table_flow("routing", [*GAP_TABLE["rules"], default_row])
    saved = api.put("/flows/routing/draft", json={"base_revision": 1, "draft": fixed})
    assert saved.status_code == 200 and saved.json["issues"] == []
    assert api.post("/flows/routing/publish").status_code == 201


ROUTE_REF = {
    "warehouses": [
        {"id": "GZ-01", "regions": ["广东"], "cost": 5, "active": True},
        {"id": "OLD-01", "regions": ["*"], "cost": 1, "active": False},
    ]
}


def _route_flow(key: str, *, none_exit: bool) -> dict:
    nodes = [{"id": "start", "type": "start"},
             {"id": "pick", "type": "route", "name": {"en": "Pick warehouse", "zh": "选择仓库"},
              "config": {"table": "warehouses", "constraints": ["active", "region"]}},
             {"id": "done", "type": "end", "config": {"outcome": "routed"}}]  # fmt: skip
    edges = [("start", "pick"), ("pick", "done", "found")]
    if none_exit:
        nodes.append({"id": "manual", "type": "end", "config": {"outcome": "no_warehouse"}})
        edges.append(("pick", "manual", "none"))
    return flow_doc(key, nodes, edges)


def test_a_route_with_no_candidate_takes_its_none_exit_and_the_run_shows_why(app, api):
    missing = api.post("/flows", json=_route_flow("route-draft", none_exit=False))
    assert [i["code"] for i in missing.json["issues"]] == ["route_no_candidate_exit"]
    assert api.post("/flows/route-draft/publish").status_code == 422

    with app.app_context():
        in_transaction(get_db(app), lambda db: load_reference(db, ROUTE_REF))
    live = api.post("/flows/import?publish=true", json=_route_flow("route", none_exit=True))
    assert live.status_code == 201
    body = simplejson.dumps(
        order_doc("NC-1", shipping_address={"province": "西藏", "city": "拉萨"}), use_decimal=True
    )
    order = api.post("/orders", data=body, content_type="application/json").json
    (listed,) = api.get(f"/runs?order_id={order['id']}").json["items"]
    run = api.get(f"/runs/{listed['id']}").json
    assert (run["status"], run["outcome"], run["incident"]) == ("completed", "no_warehouse", None)
    assert run["vars"]["pick"]["chosen"] is None
    assert run["vars"]["pick"]["rejected"] == {"GZ-01": "does not serve 西藏", "OLD-01": "inactive"}


def test_a_table_miss_at_run_time_is_an_incident_visible_on_the_run(api):
    table = {
        "hit_policy": "first",
        "inputs": [{"name": "urgent", "expression": "order.urgent"}],
        "outputs": [{"name": "lane", "type": "string"}],
        "rules": [{"inputs": ["true"], "outputs": ['"express"']},
                  {"inputs": ["false"], "outputs": ['"standard"']}],
    }  # fmt: skip
    doc = _table_flow("lanes")
    doc["nodes"][1]["config"]["table"] = table
    assert api.post("/flows/import?publish=true", json=doc).status_code == 201
    body = simplejson.dumps(order_doc("NM-1"), use_decimal=True)  # no `urgent` at all
    order = api.post("/orders", data=body, content_type="application/json").json
    (listed,) = api.get(f"/runs?order_id={order['id']}").json["items"]
    run = api.get(f"/runs/{listed['id']}").json
    assert run["status"] == "incident" and run["outcome"] is None
    incident = run["incident"]
    assert (incident["node_id"], incident["code"]) == ("pick", "table_no_match")
    assert (
        "Decision table 'Pick warehouse' matched no row for order.urgent = null"
        in incident["message"]
    )
    assert "决策表“选择仓库”没有命中任何行" in incident["message_zh"]
