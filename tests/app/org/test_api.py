"""``/api/v1/org``: departments, business roles and holders, people, with the org scopes."""

from __future__ import annotations

import pytest

from tests.app.api.conftest import Api


@pytest.fixture
def api(world, client, make_key):
    return Api(client, make_key(scopes=("org:read", "org:write"), owner="apiowner"))


def test_departments_crud(api):
    made = api.post("/org/departments", json={"key": "tax", "name_zh": "税务部", "name_en": "Tax",
                                              "parent": "finance"})  # fmt: skip
    assert made.status_code == 201, made.json
    assert made.json == {"key": "tax", "name_zh": "税务部", "name_en": "Tax", "parent": "finance",
                         "head": None, "members": 0, "depth": 2}  # fmt: skip
    assert [d["key"] for d in api.get("/org/departments").json["items"]] == [
        "ops", "finance", "tax", "warehouse"]  # fmt: skip
    changed = api.patch("/org/departments/tax", json={"head": "li.na", "parent": None})
    assert (changed.json["head"], changed.json["parent"]) == ("li.na", None)
    assert api.delete("/org/departments/tax").status_code == 200
    assert api.get("/org/departments/tax").status_code == 404


def test_department_errors_use_the_api_error_format(api):
    answer = api.post(
        "/org/departments", json={"key": "tax", "name_zh": "税务", "parent": "finanse"}
    )
    assert answer.status_code == 422
    error = answer.json["error"]
    assert "Did you mean finance?" in error["message"] and error["details"][0]["path"] == "/parent"
    answer = api.post("/org/departments", json={"key": "tax", "name_zh": "税务", "boss": "x"})
    assert answer.status_code == 422 and answer.json["error"]["details"][0]["path"] == "/boss"
    assert (
        api.post("/org/departments", json={"key": "finance", "name_zh": "财务"}).status_code == 409
    )
    refused = api.delete("/org/departments/ops", headers={"Accept-Language": "zh"})
    assert refused.status_code == 409 and "仍有 1 名成员" in refused.json["error"]["message"]


def test_roles_and_holders(api):
    made = api.post("/org/roles", json={"key": "region_lead", "name_zh": "大区经理",
                                        "scope_table": "warehouses"})  # fmt: skip
    assert made.status_code == 201 and made.json["holders"] == []
    added = api.post(
        "/org/roles/warehouse_lead/holders", json={"user": "chen.jing", "scope": "BJ-01"}
    )
    assert added.status_code == 201
    assert {(h["user"], h["scope"]) for h in added.json["items"]} == {
        ("chen.jing", "BJ-01"), ("zhao.lei", "SH-01")}  # fmt: skip
    bad = api.post("/org/roles/warehouse_lead/holders", json={"user": "chen.jing", "scope": "SH-1"})
    assert bad.status_code == 422 and "Did you mean SH-01?" in bad.json["error"]["message"]
    assert api.post("/org/roles/nope/holders", json={"user": "li.na"}).status_code == 404
    gone = api.delete("/org/roles/warehouse_lead/holders/chen.jing?scope=BJ-01")
    assert [h["user"] for h in gone.json["items"]] == ["zhao.lei"]
    assert api.get("/org/roles/warehouse_lead/holders").json["items"][0]["scope"] == "SH-01"
    assert (
        api.patch("/org/roles/finance", json={"name_en": "Finance team"}).json["name_en"]
        == "Finance team"
    )
    assert api.delete("/org/roles/region_lead").status_code == 200


def test_people(api):
    person = api.get("/org/people/li.na").json
    assert person == {"username": "li.na", "display_name": "Li Na", "active": True,
                      "department": "finance", "manager": "wang.min", "roles": ["finance"]}  # fmt: skip
    cycle = api.patch("/org/people/wang.min", json={"manager": "li.na"})
    assert cycle.status_code == 422 and "circle" in cycle.json["error"]["message"]
    moved = api.patch(
        "/org/people/chen.jing", json={"department": "warehouse", "manager": "zhao.lei"}
    )
    assert (moved.json["department"], moved.json["manager"]) == ("warehouse", "zhao.lei")
    members = api.get("/org/people?department=warehouse").json["items"]
    assert [p["username"] for p in members] == ["chen.jing", "zhao.lei"]


def test_scopes_are_required(world, client, make_key):
    reader = Api(client, make_key(scopes=("org:read",)))
    assert reader.get("/org/roles").status_code == 200
    answer = reader.post("/org/roles", json={"key": "x", "name_zh": "x"})
    assert answer.status_code == 403 and answer.json["error"]["code"] == "missing_scope"
    other = Api(client, make_key(scopes=("orders:read",)))
    assert other.get("/org/departments").status_code == 403
