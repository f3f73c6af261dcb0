"""The OpenAPI document describes every API route and the API keeps to it: schemathesis
generates requests from the document and checks every answer against it (no 5xx, status
codes, content types, headers and bodies as documented)."""

from __future__ import annotations

import os
import re

import pytest
import schemathesis
import simplejson
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator
from schemathesis.checks import positive_data_acceptance

from app.api import views  # noqa: F401 (declares the operations)
from app.api.spec import document

from ..flows_fixtures import order_doc


def test_every_api_route_is_documented(app, client):
    doc = client.get("/api/v1/openapi.json").json
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint in (
            "api.openapi", "api.reference_page"):  # fmt: skip
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1") :])
        routes |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == documented
    for ops in doc["paths"].values():
        for op in ops.values():
            assert {"401", "422", "429"} <= set(op["responses"])
            assert op["responses"]["422"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }


def test_reference_page_renders_every_operation(client):
    page = client.get("/api/v1/docs", headers={"Accept-Language": "en"}).get_data(as_text=True)
    doc = client.get("/api/v1/openapi.json").json
    for ops in doc["paths"].values():
        for op in ops.values():
            assert f'id="{op["operationId"]}"' in page
    assert "cdn" not in page.lower()


# More examples for a deeper local run: ORDERFLOW_FUZZ_EXAMPLES=200.
FUZZ_EXAMPLES = int(os.environ.get("ORDERFLOW_FUZZ_EXAMPLES", "12"))
OPERATIONS = [
    f"{method.upper()} {path}" for path, ops in document()["paths"].items() for method in ops
]


@pytest.fixture
def fuzz_key(app, make_key):
    """A key with every scope and an owner, and a few stored orders to find."""
    key = make_key(owner="fuzzer")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    for i in range(3):
        client.post("/api/v1/orders", headers=headers, content_type="application/json",
                    data=simplejson.dumps(order_doc(f"F{i}"), use_decimal=True))  # fmt: skip
    # Schemathesis sends many invalid keys on purpose and expects 401, not 429.
    app.config.update(RATELIMIT_API="", RATELIMIT_API_AUTH="", RATELIMIT_API_AUTH_ADDRESS="")
    return key


@pytest.mark.parametrize("label", OPERATIONS)
def test_api_keeps_to_its_document(app, fuzz_key, label):
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app).find_operation_by_label(
        label
    )
    headers = {"Authorization": f"Bearer {fuzz_key}"}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        # Schema-valid is not always acceptable: the document cannot state every business
        # rule (a connected flow graph, a comment on rejections, a cursor the server made),
        # so such requests get a documented 422 rather than acceptance.
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    check()


def test_accept_language_is_declared_as_the_free_form_header_clients_send(api, client):
    doc = client.get("/api/v1/openapi.json").json
    for ops in doc["paths"].values():
        for op in ops.values():
            (header,) = [p for p in op["parameters"] if p["name"] == "Accept-Language"]
            assert header["schema"] == {"type": "string"}, op["operationId"]
            assert "zh" in header["description"] and "q=" in header["description"]
    cases = [
        ("zh-CN,zh;q=0.9,en;q=0.8", "订单"),
        ("en-GB,en;q=0.9", "order"),
        ("fr-FR", "订单"),  # no supported language: the documented fallback is Chinese
        ("*", "订单"),
        ("", "订单"),
    ]
    for value, word in cases:
        answer = api.post("/orders", json={"channel": "x"}, headers={"Accept-Language": value})
        assert answer.status_code == 422, value
        assert word in answer.json["error"]["message"], (value, answer.json)


@pytest.mark.parametrize(
    ("path", "headers", "allowed"),
    [
        ("/api/v1/orders/1/runs", {"Accept": "application/json"}, {"GET", "HEAD", "OPTIONS"}),
        ("/api/v1/status-events", {"Accept": "application/json"}, {"POST", "OPTIONS"}),
        ("/login", {}, {"GET", "HEAD", "OPTIONS", "POST"}),
    ],
)
def test_405_names_the_allowed_methods(client, path, headers, allowed):
    answer = client.open(path, method="PATCH", headers=headers)
    assert answer.status_code == 405
    assert set(answer.headers["Allow"].replace(" ", "").split(",")) == allowed


def test_links_lead_from_each_created_resource_to_its_reads(client):
    """The stateful phase of the schemathesis run follows these links: each must name an
    operation and parameters that exist, with a value from the answer or the request."""
    doc = client.get("/api/v1/openapi.json").json
    operations = {op["operationId"]: op for ops in doc["paths"].values() for op in ops.values()}
    followed = set()
    for op_id, op in operations.items():
        for response in op["responses"].values():
            for link in response.get("links", {}).values():
                target = operations[link["operationId"]]
                names = {p["name"] for p in target["parameters"]}
                required = {p["name"] for p in target["parameters"] if p["in"] == "path"}
                assert required <= set(link["parameters"]) <= names, (op_id, link)
                for value in link["parameters"].values():
                    assert value.startswith(("$response.body#/", "$request.path.")), value
                followed.add((op_id, link["operationId"]))
    assert {
        ("create_order", "get_order"),
        ("create_order", "order_status_events"),
        ("post_status_event", "get_order"),
        ("create_order", "post_status_event"),
        ("create_flow", "save_draft"),
        ("create_flow", "get_flow"),
        ("create_flow", "publish"),
        ("publish", "version"),
        ("put_table", "get_table"),
        ("put_table", "upsert_rows"),
        ("list_orders", "get_order"),
    } <= followed


def _body_schema(doc: dict, path: str, method: str) -> dict:
    content = doc["paths"][path][method]["requestBody"]["content"]["application/json"]
    return {"components": doc["components"], **content["schema"]}


# (method, document path, URL, body): bodies the server refuses, one rule each; the
# document must call each of them invalid too.
REFUSED_BODIES = [
    ("post", "/status-events", "/status-events", {"location": ""}),
    ("post", "/status-events", "/status-events", {"location": "   "}),
    ("post", "/status-events", "/status-events", {"event_id": " "}),
    ("post", "/status-events", "/status-events", {"data": 0}),
    ("post", "/status-events", "/status-events", {"order": {"id": 0}}),
    ("post", "/status-events", "/status-events", {"order": {"tracking_id": ""}}),
    ("post", "/status-events", "/status-events", {"order": {"channel": "taobao"}}),
    ("post", "/status-events", "/status-events", {"order": {"external_id": "x" * 129, "id": 1}}),
    ("put", "/status-mappings/{source}", "/status-mappings/erp", {"codes": {" ": "paid"}}),
    ("put", "/status-mappings/{source}", "/status-mappings/erp", {"codes": {"A\n": "paid"}}),
    ("put", "/status-mappings/{source}", "/status-mappings/erp", {"codes": {"X" * 65: "paid"}}),
    ("put", "/status-mappings/{source}", "/status-mappings/erp", {"codes": {"OK": "payed"}}),
    ("post", "/approvals/{task_key}/decision", "/approvals/t1/decision", {"decision": "rejected"}),
    ("post", "/approvals/{task_key}/decision", "/approvals/t1/decision",
     {"decision": "rejected", "comment": "  "}),
    ("post", "/approvals/{task_key}/decision", "/approvals/t1/decision",
     {"decision": "approved", "comment": "x" * 2001}),
    ("put", "/reference-tables/{name}", "/reference-tables/carriers", {"rows": None}),
    ("put", "/reference-tables/{name}", "/reference-tables/carriers",
     {"columns": [{"name": "code", "type": "blob"}]}),
    ("post", "/reference-tables/{name}/rows", "/reference-tables/carriers/rows", {}),
    ("post", "/flows", "/flows", {"name": "no key"}),
    ("post", "/flows", "/flows", {"key": "Big"}),
    ("post", "/flows", "/flows", {"key": "import"}),
    ("post", "/flows", "/flows", {"key": "k" * 65}),
]  # fmt: skip
EVENT = {"source": "erp", "event_id": "e1", "code": "PAID", "occurred_at": "2026-11-20T10:00:00Z",
         "order": {"id": 1}}  # fmt: skip


@pytest.mark.parametrize(("method", "path", "url", "body"), REFUSED_BODIES)
def test_the_document_declares_what_the_server_refuses(api, client, method, path, url, body):
    doc = client.get("/api/v1/openapi.json").json
    if path == "/status-events":
        body = {**EVENT, **body}
    if path.startswith("/reference-tables/{name}/"):
        assert api.put("/reference-tables/carriers", json={"key_field": "code"}).status_code == 200
    assert not Draft202012Validator(_body_schema(doc, path, method)).is_valid(body), body
    answer = getattr(api, method)(url, json=body)
    assert answer.status_code == 422, answer.json
