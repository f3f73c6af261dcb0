"""Orders through the API: create, idempotency (also under concurrent duplicates), the error
shape with JSON paths in both languages, limits, listing, filters, cursors and search."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import simplejson
from sqlalchemy import func, select

from app import order_fields as schema
from app.db import get_db, get_session, in_transaction
from app.models import Order, Run

from ..flows_fixtures import load_reference, order_doc, publish, routing_doc, routing_ref
from .conftest import Api, at_once


def _post(api: Api, doc: dict, **headers: str):
    body = simplejson.dumps(doc, use_decimal=True)
    return api.post("/orders", data=body, content_type="application/json", headers=headers)


def _count(app) -> int:
    with get_db(app).session() as db:
        return db.scalar(select(func.count(Order.id)))


def test_create_returns_201_with_tracking_and_exact_amount(api, app):
    response = _post(api, order_doc("A1", "1234.56"))
    assert response.status_code == 201
    body = response.json
    assert body["external_id"] == "A1" and body["status"] == "created"
    assert body["tracking_url"] == f"/track/{body['tracking_id']}"
    assert len(body["tracking_id"]) >= 16
    assert b'"amount":1234.56' in response.data  # exact decimal, not a float or a string
    assert response.headers["Location"] == f"/api/v1/orders/{body['id']}"


def test_same_external_id_or_idempotency_key_returns_the_stored_order(api, app):
    first = _post(api, order_doc("A2"), **{"Idempotency-Key": "req-1"})
    again = _post(api, order_doc("A2"))
    by_key = _post(api, order_doc("A2"), **{"Idempotency-Key": "req-1"})
    reused = _post(api, order_doc("A2-other"), **{"Idempotency-Key": "req-1"})
    assert first.status_code == 201
    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    assert again.json["duplicate_of"] == "external_id"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert by_key.status_code == 200 and by_key.json["id"] == first.json["id"]
    assert by_key.json["duplicate_of"] == "idempotency_key"
    assert reused.status_code == 409
    assert reused.json["error"]["code"] == "idempotency_key_reused"
    assert _count(app) == 1


def test_concurrent_duplicates_store_one_order(app, make_key):
    # A fresh key: the racing requests are also its first use (recorded once, best effort).
    key = make_key(scopes=("orders:write", "orders:read"))
    body = simplejson.dumps(order_doc("RACE-1"), use_decimal=True)

    def post(_: int) -> int:
        return (
            app.test_client()
            .post(
                "/api/v1/orders",
                data=body,
                content_type="application/json",
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "race"},
            )
            .status_code
        )

    statuses = list(at_once(6, post).values())
    assert sorted(statuses) == [200] * 5 + [201]
    assert _count(app) == 1


@pytest.mark.parametrize("with_invalid", [False, True])
def test_concurrent_requests_through_the_api_each_get_their_own_order(
    app, make_key, first_intake_slowed, with_invalid
):
    """Real transactions: single-order posts arriving while another order's transaction runs
    share the next transaction (group commit), and each request is answered with its own
    order, its own duplicate notice or its own error (an invalid order sends its group back
    to one transaction per order)."""
    in_transaction(
        get_db(app), lambda db: (load_reference(db, routing_ref()), publish(db, routing_doc()))
    )
    key = make_key(scopes=("orders:write", "orders:read"))
    n = 12
    docs = [order_doc(f"G{i}") for i in range(n)]
    docs.append(order_doc("G1"))  # the same order twice
    if with_invalid:
        bad = order_doc("G-bad")
        bad["amount"] = "lots"
        docs.append(bad)

    def post(i: int) -> Any:
        return app.test_client().post(
            "/api/v1/orders",
            data=simplejson.dumps(docs[i], use_decimal=True),
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        )

    replies = at_once(len(docs), post)
    for i in range(n):
        assert replies[i].json["external_id"] == f"G{i}", replies[i].json
    twice = sorted(replies[i].status_code for i in (1, n))
    assert twice == [200, 201]
    assert replies[1].json["id"] == replies[n].json["id"]
    assert all(replies[i].status_code == 201 for i in range(n) if i != 1)
    with get_db(app).session() as db:
        assert db.scalar(select(func.count(Order.id))) == n
        assert db.scalar(select(func.count(Run.id))) == n
    grouped = app.extensions["orderflow.group_commit.orders"].groups
    if with_invalid:
        assert replies[n + 1].status_code == 422
        assert [p["path"] for p in replies[n + 1].json["error"]["details"]] == ["/amount"]
    else:
        assert grouped >= 1


@pytest.mark.parametrize("with_reused_key", [False, True])
def test_concurrent_requests_with_idempotency_keys_are_grouped_and_answered_each(
    app, make_key, first_intake_slowed, with_reused_key
):
    """Requests carrying an Idempotency-Key share transactions too: a retried request gets
    the order of its first try (duplicate_of idempotency_key), and a key reused for another
    order gets its own 409 while the others are stored."""
    in_transaction(
        get_db(app), lambda db: (load_reference(db, routing_ref()), publish(db, routing_doc()))
    )
    key = make_key(scopes=("orders:write", "orders:read"))
    n = 10
    posts = [(order_doc(f"K{i}"), f"key-{i}") for i in range(n)]
    posts.append((order_doc("K3"), "key-3"))  # a retry of request 3
    if with_reused_key:
        posts.append((order_doc("K-other"), "key-5"))  # key-5 belongs to K5

    def post(i: int) -> Any:
        doc, idem = posts[i]
        return app.test_client().post(
            "/api/v1/orders",
            data=simplejson.dumps(doc, use_decimal=True),
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idem},
        )

    replies = at_once(len(posts), post)
    # Whichever of two orders sent with the same key is stored first owns it.
    contested = {5, n + 1} if with_reused_key else set()
    for i in set(range(n)) - contested:
        assert replies[i].json.get("external_id") == f"K{i}", (i, replies[i].json)
    assert sorted(replies[i].status_code for i in (3, n)) == [200, 201]
    assert replies[3].json["id"] == replies[n].json["id"]
    retried = replies[3] if replies[3].status_code == 200 else replies[n]
    assert retried.json["duplicate_of"] == "idempotency_key"
    assert all(replies[i].status_code == 201 for i in set(range(n)) - contested - {3})
    owner = {f"K{i}": f"key-{i}" for i in range(n)}
    if with_reused_key:
        won, lost = sorted(contested, key=lambda i: replies[i].status_code)
        assert (replies[won].status_code, replies[lost].status_code) == (201, 409)
        assert replies[lost].json["error"]["code"] == "idempotency_key_reused"
        del owner["K5"]
        owner[posts[won][0]["external_id"]] = "key-5"
    with get_db(app).session() as db:
        stored = dict(db.execute(select(Order.external_id, Order.idempotency_key)).all())
        assert stored == owner
        assert db.scalar(select(func.count(Run.id))) == n
    if not with_reused_key:
        assert app.extensions["orderflow.group_commit.orders"].groups >= 1


@pytest.mark.parametrize(
    ("lang", "message"),
    [("en", "The order has 3 problems."), ("zh", "订单有 3 个问题。")],
)
def test_validation_error_lists_each_problem_with_its_path(api, lang, message):
    doc = order_doc("A3")
    doc["amount"] = "lots"
    doc["lines"][0]["qty"] = "two"
    del doc["currency"]
    response = _post(api, doc, **{"Accept-Language": lang})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid_order"
    assert error["message"] == message
    paths = {p["path"]: p["rule"] for p in error["details"]}
    assert paths == {"/amount": "type", "/currency": "required", "/lines/0/qty": "type"}
    required = next(p for p in error["details"] if p["rule"] == "required")
    assert required["message"] == (
        "「币种」必填，例如 `CNY`。" if lang == "zh" else "“Currency” is required, e.g. `CNY`."
    )


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 422, "invalid_json"),
        (b"[1, 2]", "application/json", 422, "invalid_body"),
        (b'{"a": 1}', "text/plain", 415, "unsupported_media_type"),
        (b"[" * 40 + b"]" * 40, "application/json", 422, "too_deep"),
        (b'{"x": "' + b"a" * (1024 * 1024 + 10) + b'"}', "application/json", 413,
         "payload_too_large"),
    ],
)  # fmt: skip
def test_malformed_bodies_get_the_error_shape(api, body, content_type, status, code):
    response = api.post("/orders", data=body, content_type=content_type)
    assert response.status_code == status
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]


def test_deep_nesting_inside_strings_is_not_counted(api):
    doc = order_doc("A4", custom={"note": "[" * 100})
    assert _post(api, doc).status_code == 201


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "authentication_failed"),
        ({"Authorization": "Bearer nonsense"}, 401, "invalid_api_key"),
        ({"Authorization": "Bearer of_dead_beef"}, 401, "invalid_api_key"),
    ],
)
def test_missing_or_wrong_keys_are_refused(client, headers, status, code):
    response = client.get("/api/v1/orders", headers=headers)
    assert response.status_code == status
    assert response.json["error"]["code"] == code


def test_scopes_are_enforced(client, make_key):
    reader = Api(client, make_key(scopes=("orders:read",)))
    response = _post(reader, order_doc("A5"))
    assert response.status_code == 403
    assert response.json["error"]["code"] == "missing_scope"
    assert reader.get("/orders").status_code == 200
    assert reader.get("/runs").status_code == 403


def test_list_filters_search_and_cursor_pages(api):
    for i in range(5):
        customer = {"id": f"C-{i % 2}", "name": "n", "tier": "gold"}
        _post(api, order_doc(f"L{i}", customer=customer))
    _post(api, order_doc("JD-1", channel="jd"))
    first = api.get("/orders?limit=2")
    assert first.status_code == 200
    assert [o["external_id"] for o in first.json["items"]] == ["JD-1", "L4"]
    second = api.get(f"/orders?limit=2&cursor={first.json['next_cursor']}")
    assert [o["external_id"] for o in second.json["items"]] == ["L3", "L2"]
    seen = []
    cursor = ""
    while True:
        page = api.get(f"/orders?limit=4&channel=taobao{cursor}").json
        seen += [o["external_id"] for o in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == ["L4", "L3", "L2", "L1", "L0"]
    by_customer = api.get("/orders?customer=C-1").json["items"]
    assert {o["external_id"] for o in by_customer} == {"L1", "L3", "JD-1"}
    tracking = api.get("/orders?q=L2").json["items"][0]["tracking_id"]
    assert [o["external_id"] for o in api.get(f"/orders?q={tracking}").json["items"]] == ["L2"]
    assert api.get("/orders?external_id=L0").json["items"][0]["external_id"] == "L0"
    assert api.get("/orders?created_from=2100-01-01T00:00:00Z").json["items"] == []


@pytest.mark.parametrize(
    ("query", "path"),
    [("limit=0", "?limit"), ("limit=x", "?limit"), ("cursor=%%%", "?cursor"),
     ("created_from=yesterday", "?created_from"),
     # what the document calls invalid is refused, as schemathesis checks: empty or loose
     # numbers and times, a cursor that is no id
     ("limit=", "?limit"), ("limit=%205", "?limit"), ("limit=1_0", "?limit"),
     ("created_to=", "?created_to"), ("cursor=MTI", "?cursor"), ("cursor=12345678901", "?cursor"),
     ("status=" + "s" * 129, "?status")],
)  # fmt: skip
def test_bad_query_parameters_name_the_parameter(api, query, path):
    response = api.get(f"/orders?{query}")
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["path"] == path


def test_cursor_is_the_last_id_and_any_documented_one_is_read(api):
    ids = [_post(api, order_doc(f"C{i}")).json["id"] for i in range(3)]
    first = api.get("/orders?limit=2").json
    assert first["next_cursor"] == str(ids[1])
    assert [o["id"] for o in api.get(f"/orders?cursor={ids[1]}").json["items"]] == [ids[0]]
    # past the largest id (PostgreSQL's integer) it is the first page, not a 500
    assert len(api.get("/orders?cursor=9999999999").json["items"]) == 3
    assert api.get("/flows?archived=yes").status_code == 422


def test_get_order_and_not_found(api):
    created = _post(api, order_doc("G1")).json
    got = api.get(f"/orders/{created['id']}").json
    assert got["data"]["customer"]["name"] == "李娜"
    assert got["milestones"][0] == {"state": "created", "at": "2026-11-20T02:00:00Z"}
    missing = api.get("/orders/999999", headers={"Accept-Language": "zh"})
    assert missing.status_code == 404
    assert missing.json["error"] == {"code": "not_found", "message": "订单 999999 不存在。"}
    assert api.get("/nothing-here").json["error"]["code"] == "not_found"


def test_custom_fields_extend_the_schema(api, app):
    with app.app_context():
        db = get_session()
        schema.add_field(db, None, name="po_number", type="string", label_en="PO number",
                         label_zh="采购单号", required=True)  # fmt: skip
        db.commit()
    published = api.get("/order-schema").json["properties"]["custom"]
    assert published["properties"]["po_number"]["x-label-zh"] == "采购单号"
    missing = _post(api, order_doc("CF1"))
    assert missing.status_code == 422
    assert {p["path"] for p in missing.json["error"]["details"]} == {"/custom"}
    wrong = _post(api, order_doc("CF1", custom={"po_number": 7}))
    assert [p["path"] for p in wrong.json["error"]["details"]] == ["/custom/po_number"]
    assert _post(api, order_doc("CF1", custom={"po_number": "PO-7"})).status_code == 201


def _batch(api: Api, docs: list) -> object:
    body = simplejson.dumps({"orders": docs}, use_decimal=True)
    return api.post("/orders/batch", data=body, content_type="application/json")


def test_batch_stores_every_order_once_and_reports_duplicates(api, app):
    first = _post(api, order_doc("B0"))
    response = _batch(api, [order_doc("B1"), order_doc("B2"), order_doc("B0"), order_doc("B1")])
    assert response.status_code == 201
    items = response.json["items"]
    spec = api.client.get("/api/v1/openapi.json").json
    result = {**spec["components"]["schemas"]["OrderBatchResult"], "components": spec["components"]}
    jsonschema.validate(response.json, result)  # the documented shape
    assert [(i["external_id"], i["created"], i.get("duplicate_of")) for i in items] == [
        ("B1", True, None),
        ("B2", True, None),
        ("B0", False, "external_id"),
        ("B1", False, "external_id"),
    ]
    assert items[2]["id"] == first.json["id"] and items[3]["id"] == items[0]["id"]
    again = _batch(api, [order_doc("B1"), order_doc("B2")])
    assert again.status_code == 200 and not any(i["created"] for i in again.json["items"])
    assert _count(app) == 3


def test_batch_with_one_bad_order_stores_nothing_and_points_at_it(api, app):
    bad = {**order_doc("B4"), "amount": "a lot"}
    response = _batch(api, [order_doc("B3"), bad])
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid_order"
    assert any(d["path"] == "/orders/1/amount" for d in error["details"])
    assert _count(app) == 0
    zh = api.post("/orders/batch", data=simplejson.dumps({"orders": []}),
                  content_type="application/json", headers={"Accept-Language": "zh-CN"})  # fmt: skip
    assert zh.status_code == 422 and zh.json["error"]["code"] == "invalid_batch"
    assert zh.json["error"]["message"] == "一批订单须为 1 到 500 个。"
    not_a_list = _batch(api, {"B5": order_doc("B5")})  # type: ignore[arg-type]
    assert (
        not_a_list.status_code == 422
        and not_a_list.json["error"]["details"][0]["path"] == "/orders"
    )
