"""JSON bodies with lone surrogates (``"\\ud800"``) are refused as invalid JSON with the path
of the bad string, on every endpoint that reads JSON, and nothing is stored."""

from __future__ import annotations

import json
import time

import pytest
import simplejson
from sqlalchemy import func, select

from app.channels import services as channels
from app.db import get_db, get_session, in_transaction
from app.models import Flow, Order, ReferenceRow
from tests.app.editor.helpers import Json, review_doc, store
from tests.app.flows_fixtures import order_doc

from .conftest import Api

LONE = "\ud800"
PAIR = "\U0001f600"  # 😀: sent as the valid pair \ud83d\ude00


def _body(doc) -> bytes:
    # ensure_ascii writes every non-ASCII character as \uXXXX: a lone surrogate as \ud800.
    return simplejson.dumps(doc, ensure_ascii=True, use_decimal=True).encode()


def _order(name: str) -> dict:
    return order_doc("SUR-1", "100.00", customer={"id": "C-1", "name": name})


def _table(code: str) -> dict:
    return {"key_field": "code", "columns": [{"name": "code"}], "rows": [{"code": code}]}


def _counts(app) -> tuple[int, ...]:
    with app.app_context():
        db = get_session()
        return tuple(
            db.scalar(select(func.count()).select_from(m)) for m in (Order, Flow, ReferenceRow)
        )


def _send_webhook(app, client, payload: bytes):
    def work(db):
        return channels.create_channel(
            db, None, key="shop", kind="shopify", order_channel="shopify"
        ).secret

    secret = in_transaction(get_db(app), work)
    stamp = int(time.time())
    return client.post(
        "/api/v1/channels/shop/webhook",
        data=payload,
        content_type="application/json",
        headers={
            "X-OrderFlow-Signature": channels.sign(secret, stamp, payload),
            "Accept-Language": "en",
        },
    )


SHOPIFY = {
    "id": 820982911946154508, "name": "#1001", "created_at": "2026-11-20T10:00:00-05:00",
    "currency": "USD", "total_price": "199.00",
    "customer": {"id": 115310627314723954, "first_name": "Ada", "last_name": "Lovelace"},
    "line_items": [{"sku": "SKU-1", "quantity": 2, "price": "99.50", "title": "Mug"}],
    "shipping_address": {"country_code": "US", "province": "NY", "city": "New York"},
}  # fmt: skip


def _api_order(app, client, api, text):
    return api.post("/orders", data=_body(_order(text)), content_type="application/json")


def _api_flow(app, client, api, text):
    doc = review_doc("sur-flow")
    doc["name"] = text
    return api.post("/flows", data=_body(doc), content_type="application/json")


def _api_table(app, client, api, text):
    return api.put(
        "/reference-tables/carriers", data=_body(_table(text)), content_type="application/json"
    )


def _api_rows(app, client, api, text):
    body = _body({"rows": [{"code": "C1", text: "x"}]})
    return api.post("/reference-tables/carriers/rows", data=body, content_type="application/json")


def _webhook(app, client, api, text):
    return _send_webhook(app, client, _body({**SHOPIFY, "name": text}))


SENDERS = [
    # (what is sent, JSON pointer of the bad text)
    (_api_order, "/customer/name"),
    (_api_flow, "/name"),
    (_api_table, "/rows/0/code"),
    (_api_rows, "/rows/0/Ada \\ud800 Lovelace"),  # in a key, not only in a value
    (_webhook, "/name"),
]


def test_a_lone_surrogate_in_an_api_body_is_refused_with_its_path(app, client, api, subtests):
    api.put("/reference-tables/carriers", data=_body(_table("C0")), content_type="application/json")
    before = _counts(app)
    for send, path in SENDERS:
        with subtests.test(send.__name__):
            response = send(app, client, api, f"Ada {LONE} Lovelace")
            assert response.status_code == 422, response.get_data(as_text=True)
            error = response.json["error"]
            assert error["code"] == "invalid_json"
            assert "surrogate" in error["message"] and "\\ud800" in error["message"]
            assert error["details"][0]["path"] == path
            assert _counts(app) == before


def test_the_refusal_is_in_chinese_too(app, client, make_key):
    api = Api(client, make_key(owner="apiowner"), lang="zh")
    response = _api_order(app, client, api, LONE)
    assert response.status_code == 422
    assert "代理项" in response.json["error"]["message"]


def test_a_valid_surrogate_pair_is_an_ordinary_character(app, client, api):
    response = _api_order(app, client, api, f"Ada {PAIR}")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["data"]["customer"]["name"] == f"Ada {PAIR}"


@pytest.fixture
def editor(app, client, login, make_user):
    make_user("wang", roles=("supervisor",))
    login("wang")
    return Json(client)


def _raw(editor, method: str, path: str, doc) -> object:
    return getattr(editor.client, method)(
        path, data=_body(doc), content_type="application/json", headers=editor._headers()
    )


def test_the_editor_refuses_a_lone_surrogate_in_a_draft_and_in_a_simulated_order(app, editor):
    store(app, review_doc())
    doc = review_doc()
    doc["name"] = LONE
    saved = _raw(editor, "put", "/flows/large-order-review/draft", {"doc": doc, "base_revision": 1})
    assert saved.status_code == 422 and saved.get_json()["error"]["code"] == "invalid_json"
    assert saved.get_json()["error"]["details"][0]["path"] == "/doc/name"
    with app.app_context():
        assert get_session().scalars(select(Flow)).one().draft_revision == 1
    order = json.loads(_body(_order(LONE)))
    simulated = _raw(
        editor, "post", "/flows/large-order-review/simulate", {"doc": review_doc(), "order": order}
    )
    assert simulated.status_code == 422 and simulated.get_json()["error"]["code"] == "invalid_json"
    # The order pasted as text in the simulator's box is JSON inside JSON: checked the same way.
    pasted = {"doc": review_doc(), "order": json.dumps(order)}
    simulated = _raw(editor, "post", "/flows/large-order-review/simulate", pasted)
    assert simulated.status_code == 422 and simulated.get_json()["error"]["code"] == "invalid_json"


def test_the_node_form_refuses_a_lone_surrogate(editor):
    node = {"id": "a1", "type": "approval", "name": LONE, "config": {"reason": {"zh": LONE}}}
    response = editor.client.post(
        "/flows/editor/node-form",
        data={"node": json.dumps(node)},
        headers={"X-CSRFToken": editor.token, "HX-Request": "true", "Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert "lone surrogate \\ud800" in response.get_data(as_text=True)


def test_a_channel_mapping_with_a_lone_surrogate_is_not_saved(app, client, login, make_user):
    from tests.app.conftest import csrf_token

    def work(db):
        return channels.create_channel(db, None, key="tb", kind="taobao", order_channel="taobao").id

    channel_id = in_transaction(get_db(app), work)
    make_user("boss", roles=("admin",))
    login("boss")
    page = f"/admin/outbox/channels/{channel_id}/mapping"
    mine = {"fields": {"urgent": {"const": LONE}}}
    response = client.post(
        page,
        data={
            "csrf_token": csrf_token(client, page),
            "action": "save",
            "mapping": json.dumps(mine),
        },
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert "/mapping/fields/urgent/const" in response.get_data(as_text=True)
    with get_db(app).session() as db:
        assert channels.get_channel(db, "tb").mapping == {}


def test_order_ingest_from_a_file_refuses_a_lone_surrogate(app, app_config, runner, tmp_path):
    from app.cli import cli

    path = tmp_path / "orders.jsonl"
    path.write_bytes(_body(_order("A1")) + b"\n" + _body({**_order(LONE), "external_id": "A2"}))
    env = {"ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "DATABASE_URL": app_config["DATABASE_URL"], "SECRET_KEY": "test"}  # fmt: skip
    result = runner.invoke(cli, ["order", "ingest", str(path)], env=env)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{path} line 2" in result.output and "/customer/name" in result.output
    assert _counts(app)[0] == 0
