"""Flows, runs, approvals, reference tables and alerts through the API."""

from __future__ import annotations

import simplejson

from ..flows_fixtures import flow_doc, order_doc
from .conftest import Api


def _approval_flow(key: str = "big-orders") -> dict:
    return flow_doc(
        key,
        [{"id": "start", "type": "start"},
         {"id": "check", "type": "condition", "config": {"expression": "order.amount > 5000"}},
         {"id": "review", "type": "approval",
          "config": {"assignees": [{"user": "apiowner"}], "mode": "any"}},
         {"id": "auto", "type": "end", "config": {"outcome": "auto"}},
         {"id": "yes", "type": "end", "config": {"outcome": "approved"}},
         {"id": "no", "type": "end", "config": {"outcome": "rejected"}}],
        [("start", "check"), ("check", "review", "true"), ("check", "auto", "false"),
         ("review", "yes", "approved"), ("review", "no", "rejected")],
    )  # fmt: skip


def _order(api: Api, external_id: str, amount: str) -> dict:
    body = simplejson.dumps(order_doc(external_id, amount), use_decimal=True)
    return api.post("/orders", data=body, content_type="application/json").json


def test_flow_lifecycle(api):
    doc = _approval_flow()
    created = api.post("/flows", json=doc)
    assert created.status_code == 201 and created.json["draft_revision"] == 1
    assert created.json["issues"] == []
    assert api.post("/flows", json=doc).json["error"]["code"] == "conflict"
    assert [f["key"] for f in api.get("/flows").json["items"]] == ["big-orders"]

    broken = {**doc, "edges": doc["edges"][:-1]}
    check = api.post("/flows/big-orders/validate", json=broken).json
    assert check["valid"] is False and check["issues"][0]["path"]
    assert api.post("/flows/big-orders/validate").json == {"valid": True, "issues": []}

    saved = api.put("/flows/big-orders/draft", json={"base_revision": 1, "draft": doc})
    assert saved.status_code == 200 and saved.json["draft_revision"] == 2
    stale = api.put("/flows/big-orders/draft", json={"base_revision": 1, "draft": doc})
    assert stale.status_code == 409 and stale.json["error"]["code"] == "draft_conflict"
    missing = api.put("/flows/big-orders/draft", json={"draft": doc})
    assert missing.json["error"]["details"][0]["path"] == "/base_revision"

    published = api.post("/flows/big-orders/publish", json={"note": "first"})
    assert published.status_code == 201 and published.json["number"] == 1
    assert published.json["is_live"] is True
    versions = api.get("/flows/big-orders/versions").json["items"]
    assert [v["number"] for v in versions] == [1]
    assert api.get("/flows/big-orders/versions/1").json["doc"]["key"] == "big-orders"
    assert api.get("/flows/big-orders/versions/9").status_code == 404
    exported = api.get("/flows/big-orders/export")
    assert exported.json["key"] == "big-orders" and "attachment" in exported.headers[
        "Content-Disposition"]  # fmt: skip

    imported = api.post("/flows/import?publish=true", json=_approval_flow("copy"))
    assert imported.status_code == 201 and imported.json["published"]["number"] == 1
    assert api.get("/flows/nope").status_code == 404


def test_publishing_a_broken_draft_lists_its_problems(api):
    doc = _approval_flow()
    doc["nodes"][1]["config"]["expression"] = "order.amont > 5000"
    api.post("/flows", json=doc)
    response = api.post("/flows/big-orders/publish", headers={"Accept-Language": "zh"})
    assert response.status_code == 422
    problem = response.json["error"]["details"][0]
    assert problem["path"].startswith("/nodes/1")
    assert any("\u4e00" <= c <= "\u9fff" for c in problem["message"])  # shown in Chinese


def test_runs_timeline_and_approval_decided_through_the_api(api):
    api.post("/flows/import?publish=true", json=_approval_flow())
    small = _order(api, "R-1", "100.00")
    big = _order(api, "R-2", "9000.00")
    runs = api.get("/runs").json["items"]
    by_order = {r["order_id"]: r for r in runs}
    assert by_order[small["id"]]["outcome"] == "auto"
    waiting = by_order[big["id"]]
    assert waiting["status"] == "waiting" and waiting["current_nodes"] == ["review"]
    assert api.get("/runs?status=waiting").json["items"][0]["id"] == waiting["id"]
    assert api.get(f"/runs?order_id={small['id']}").json["items"][0]["order_id"] == small["id"]
    assert api.get(f"/runs/{waiting['id']}").json["id"] == waiting["id"]
    timeline = api.get(f"/runs/{waiting['id']}/timeline").json["items"]
    assert [e["seq"] for e in timeline] == sorted(e["seq"] for e in timeline)
    assert api.get("/runs/99999").status_code == 404

    tasks = api.get("/approvals").json["items"]
    assert [t["run_id"] for t in tasks] == [waiting["id"]]
    key = tasks[0]["task_key"]
    no_comment = api.post(f"/approvals/{key}/decision", json={"decision": "rejected"})
    assert no_comment.status_code == 422
    decided = api.post(f"/approvals/{key}/decision", json={"decision": "approved"})
    assert decided.status_code == 200 and decided.json["status"] == "approved"
    assert decided.json["decided_by"] == "apiowner"
    again = api.post(f"/approvals/{key}/decision", json={"decision": "approved"})
    assert again.status_code == 409
    assert api.get(f"/runs/{waiting['id']}").json["outcome"] == "approved"
    assert api.get("/approvals").json["items"] == []


def test_approvals_need_a_key_with_an_owner(client, make_key):
    ownerless = Api(client, make_key(scopes=("approvals:write",)))
    response = ownerless.get("/approvals")
    assert response.status_code == 403 and response.json["error"]["code"] == "no_key_owner"


def test_reference_tables_crud_and_csv(api, client, make_key):
    table = {"key_field": "code", "columns": [{"name": "code"}, {"name": "cost", "type": "number"}],
             "rows": [{"code": "WH-1", "cost": 3}, {"code": "WH-2", "cost": 5}]}  # fmt: skip
    put = api.put("/reference-tables/warehouses", json=table)
    assert put.status_code == 200 and len(put.json["rows"]) == 2
    upsert = api.post(
        "/reference-tables/warehouses/rows", json={"rows": [{"code": "WH-3", "cost": "7"}]}
    )
    assert upsert.json["upserted"] == 1
    rows = api.get("/reference-tables/warehouses").json["rows"]
    assert {r["code"]: r["cost"] for r in rows} == {"WH-1": 3, "WH-2": 5, "WH-3": 7}
    assert api.delete("/reference-tables/warehouses/rows/WH-2").json["deleted"] == "WH-2"
    assert api.delete("/reference-tables/warehouses/rows/WH-2").status_code == 404
    csv = b"code,cost\nSH,1.5\nGZ,2\n"
    loaded = api.post("/reference-tables/warehouses/csv", data=csv, content_type="text/csv")
    assert loaded.status_code == 200 and loaded.json["rows"] == 2
    rows = api.get("/reference-tables/warehouses").json["rows"]
    assert sorted(r["code"] for r in rows) == ["GZ", "SH"]
    bad = api.post("/reference-tables/warehouses/csv", data=b"name\nx\n", content_type="text/csv")
    assert bad.status_code == 422
    assert [t["name"] for t in api.get("/reference-tables").json["items"]] == ["warehouses"]
    reader = Api(client, make_key(scopes=("flows:read",)))
    assert reader.delete("/reference-tables/warehouses/rows/SH").status_code == 403


def test_alerts_list_and_get(api):
    doc = flow_doc(
        "alarm",
        [{"id": "start", "type": "start"},
         {"id": "warn", "type": "alert", "config": {
             "severity": "warning", "code": "big_order",
             "message": {"en": "Big order", "zh": "大订单"}}},
         {"id": "done", "type": "end", "config": {"outcome": "ok"}}],
        [("start", "warn"), ("warn", "done")],
    )  # fmt: skip
    published = api.post("/flows/import?publish=true", json=doc)
    assert published.status_code == 201, published.json
    _order(api, "AL-1", "10.00")
    alerts = api.get("/alerts?severity=warning").json["items"]
    assert len(alerts) == 1 and alerts[0]["title"] == "大订单"
    assert alerts[0]["order_id"] == api.get("/orders?q=AL-1").json["items"][0]["id"]
    assert api.get(f"/alerts/{alerts[0]['id']}").json["status"] == "open"
    assert api.get("/alerts/4242").status_code == 404
