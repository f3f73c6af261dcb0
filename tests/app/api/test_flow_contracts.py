"""Flow data keeps its contracts: a localized description stays an object end to end, and a
webhook node cannot take over the headers receivers rely on, nor call an unusable address."""

from __future__ import annotations

import jsonschema

from app.bundles import services as templates
from app.db import get_db, in_transaction
from app.org.demo import load_demo_org

from ..flows_fixtures import flow_doc

DESCRIPTION = {"en": "Large orders go to finance", "zh": "大额订单转财务审核"}


def _flow(key: str = "big-orders", **extra) -> dict:
    nodes = [{"id": "start", "type": "start"},
             {"id": "done", "type": "end", "config": {"outcome": "ok"}}]  # fmt: skip
    return {**flow_doc(key, nodes, [("start", "done")]), **extra}


def test_a_localized_description_is_stored_and_returned_as_the_object(api, client):
    created = api.post("/flows", json=_flow(description=DESCRIPTION))
    assert created.status_code == 201 and created.json["description"] == DESCRIPTION
    (listed,) = api.get("/flows").json["items"]
    assert listed["description"] == DESCRIPTION
    spec = client.get("/api/v1/openapi.json").json
    jsonschema.validate(
        listed["description"], spec["components"]["schemas"]["Flow"]["properties"]["description"]
    )

    plain = _flow(description="Orders over 5000")
    saved = api.put("/flows/big-orders/draft", json={"base_revision": 1, "draft": plain})
    assert saved.json["description"] == "Orders over 5000"
    assert api.get("/flows/big-orders").json["description"] == "Orders over 5000"


def test_the_flow_list_shows_the_description_in_the_readers_language(api, client, login, make_user):
    api.post("/flows", json=_flow(description=DESCRIPTION))
    make_user("sup", roles=("supervisor",))
    login("sup")
    zh = client.get("/flows", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    en = client.get("/flows", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert DESCRIPTION["zh"] in zh and DESCRIPTION["en"] not in zh
    assert DESCRIPTION["en"] in en and "{&#39;en&#39;" not in en + zh


def _webhook_flow(url: str, headers: dict[str, str]) -> dict:
    return flow_doc(
        "notify-erp",
        [{"id": "start", "type": "start"},
         {"id": "call-erp", "type": "webhook", "config": {"url": url, "headers": headers}},
         {"id": "done", "type": "end", "config": {"outcome": "sent"}}],
        [("start", "call-erp"), ("call-erp", "done")],
    )  # fmt: skip


def test_a_webhook_that_replaces_reserved_headers_is_refused(api):
    doc = _webhook_flow("https://erp.example.com/hooks", {"idempotency-KEY": "x", "X-Tenant": "a"})
    created = api.post("/flows", json=doc)
    (issue,) = created.json["issues"]
    assert issue["code"] == "reserved_header" and issue["node_id"] == "call-erp"
    assert "header 'idempotency-KEY' is reserved" in issue["message"]
    refused = api.post("/flows/notify-erp/publish", headers={"Accept-Language": "zh"})
    assert refused.status_code == 422
    assert "请求头“idempotency-KEY”是保留请求头" in str(refused.json)


def test_a_webhook_address_the_sender_cannot_call_is_refused(api):
    created = api.post("/flows", json=_webhook_flow("http://localhost:5108/a b", {}))
    (issue,) = created.json["issues"]
    assert issue["code"] == "invalid_url" and issue["path"] == "/nodes/1/config/url"
    assert "Node 'call-erp': field 'url'" in issue["message"] and "%20" in issue["message"]
    assert api.post("/flows/notify-erp/publish").status_code == 422


def test_an_imported_template_keeps_its_flows_localized_descriptions(app, api):
    bundle = templates.get_builtin("large-order-finance-review")
    in_transaction(get_db(app), load_demo_org)  # the business roles the template assigns to
    in_transaction(get_db(app), lambda db: templates.import_bundle(db, None, bundle))
    (listed,) = api.get("/flows").json["items"]
    (shipped,) = bundle.flows
    assert listed["description"] == shipped["description"]
    assert set(listed["description"]) == {"en", "zh"}
