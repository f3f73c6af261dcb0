"""Channel webhooks: each shipped mapping, HMAC verification (bad signature, stale
timestamp, replay), mapping errors with paths, and cross-channel dedup of B2B orders."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from app.channels import services as channels
from app.db import get_db, in_transaction

from .conftest import at_once

SHOPIFY = {
    "id": 820982911946154508, "name": "#1001", "created_at": "2026-11-20T10:00:00-05:00",
    "currency": "USD", "total_price": "199.00", "tags": "vip, gift",
    "customer": {"id": 115310627314723954, "first_name": "Ada", "last_name": "Lovelace"},
    "line_items": [{"sku": "SKU-1", "quantity": 2, "price": "99.50", "title": "Mug"}],
    "shipping_address": {"country_code": "US", "province": "NY", "city": "New York",
                         "address1": "1 Main St", "zip": "10001"},
}  # fmt: skip
TAOBAO = {"trade": {
    "tid": "3388123456789", "status": "WAIT_SELLER_SEND_GOODS", "payment": "128.00",
    "created": "2026-11-20 10:00:00", "buyer_nick": "tb_lina", "buyer_open_uid": "AAH-9",
    "receiver_state": "浙江省", "receiver_city": "杭州市", "receiver_district": "西湖区",
    "receiver_address": "文三路 1 号", "receiver_zip": "310000",
    "orders": {"order": [{"outer_sku_id": "SKU-2", "num": 2, "price": "64.00",
                          "title": "茶杯"}]},
}}  # fmt: skip
DOUYIN = {
    "order_id": "4981234567890", "order_status": 2, "create_time": 1763604000,
    "pay_amount": 12850, "doudian_open_id": "dy-77",
    "post_addr": {"province": {"name": "广东省"}, "city": {"name": "广州市"},
                  "town": {"name": "天河区"}, "detail": "体育西路 2 号"},
    "sku_order_list": [{"code": "SKU-3", "item_num": 1, "origin_amount": 12850,
                        "product_name": "耳机"}],
}  # fmt: skip
PO = {
    "po_number": "PO-2026-0042", "buyer": {"id": "C-ACME", "name": "ACME 制造"},
    "order_date": "2026-11-20", "currency": "CNY", "total": 56000.00,
    "requested_delivery_date": "2026-12-01", "payment_terms": "net30",
    "ship_to": {"country": "CN", "province": "江苏", "city": "苏州", "address": "工业园 8 号"},
    "items": [{"part_number": "SKU-9", "quantity": 100, "unit_price": 560.0}],
}  # fmt: skip


@pytest.fixture
def make_channel(app):
    def make(key: str, kind: str, order_channel: str) -> str:
        def work(db):
            return channels.create_channel(
                db, None, key=key, kind=kind, order_channel=order_channel
            ).secret

        return in_transaction(get_db(app), work)

    return make


def _send(client, key: str, secret: str, payload, *, timestamp: int | None = None,
          signature: str | None = None):  # fmt: skip
    body = json.dumps(payload, ensure_ascii=False).encode()
    stamp = int(time.time()) if timestamp is None else timestamp
    header = signature or channels.sign(secret, stamp, body)
    return client.post(
        f"/api/v1/channels/{key}/webhook",
        data=body,
        content_type="application/json",
        headers={"X-OrderFlow-Signature": header, "Accept-Language": "en"},
    )


@pytest.mark.parametrize(
    ("kind", "order_channel", "payload", "expected"),
    [
        ("shopify", "shopify", SHOPIFY, {
            "external_id": "820982911946154508", "currency": "USD", "amount": 199.00,
            "created_at": "2026-11-20T10:00:00-05:00", "tags": ["vip", "gift"],
            "customer": {"id": "115310627314723954", "name": "Ada Lovelace"},
            "lines": [{"sku": "SKU-1", "name": "Mug", "qty": 2, "price": 99.50}]}),
        ("taobao", "tmall", TAOBAO, {
            "external_id": "3388123456789", "currency": "CNY", "amount": 128.00,
            "created_at": "2026-11-20T10:00:00+08:00",
            "customer": {"id": "AAH-9", "name": "tb_lina"},
            "lines": [{"sku": "SKU-2", "name": "茶杯", "qty": 2, "price": 64.00}]}),
        ("douyin", "douyin", DOUYIN, {
            "external_id": "4981234567890", "currency": "CNY", "amount": 128.50,
            "created_at": "2025-11-20T10:00:00+08:00", "customer": {"id": "dy-77"},
            "lines": [{"sku": "SKU-3", "name": "耳机", "qty": 1, "price": 128.50}]}),
        ("b2b_po", "b2b", PO, {
            "external_id": "PO-2026-0042", "currency": "CNY", "amount": 56000.00,
            "created_at": "2026-11-20T00:00:00+08:00",
            "promised_at": "2026-12-01T00:00:00+08:00",
            "customer": {"id": "C-ACME", "name": "ACME 制造", "payment_terms": "net30"},
            "lines": [{"sku": "SKU-9", "qty": 100, "price": 560.0}]}),
    ],
)  # fmt: skip
def test_each_channel_mapping_yields_the_canonical_order(
    client, api, make_channel, kind, order_channel, payload, expected
):
    secret = make_channel(f"{kind}-main", kind, order_channel)
    response = _send(client, f"{kind}-main", secret, payload)
    assert response.status_code == 201, response.json
    data = api.get(f"/orders/{response.json['id']}").json["data"]
    assert data["channel"] == order_channel
    for field, value in expected.items():
        assert data[field] == value, field


def test_taobao_address_lands_in_the_shipping_address(client, api, make_channel):
    secret = make_channel("tb", "taobao", "taobao")
    order_id = _send(client, "tb", secret, TAOBAO).json["id"]
    address = api.get(f"/orders/{order_id}").json["data"]["shipping_address"]
    assert address == {"country": "CN", "province": "浙江省", "city": "杭州市",
                       "district": "西湖区", "street": "文三路 1 号", "postcode": "310000"}  # fmt: skip


def test_a_bad_signature_is_refused(client, make_channel):
    secret = make_channel("shop", "shopify", "shopify")
    wrong = _send(client, "shop", "another-secret-0123456789", SHOPIFY)
    assert wrong.status_code == 401 and wrong.json["error"]["code"] == "bad_signature"
    missing = _send(client, "shop", secret, SHOPIFY, signature="sha256=abc")
    assert missing.json["error"]["code"] == "missing_signature"
    body = json.dumps(SHOPIFY).encode()
    stamp = int(time.time())
    tampered = client.post(
        "/api/v1/channels/shop/webhook",
        data=body.replace(b"199.00", b"1.00"),
        content_type="application/json",
        headers={"X-OrderFlow-Signature": channels.sign(secret, stamp, body)},
    )
    assert tampered.status_code == 401 and tampered.json["error"]["code"] == "bad_signature"


def test_a_stale_timestamp_is_refused(client, make_channel):
    secret = make_channel("shop", "shopify", "shopify")
    stale = _send(client, "shop", secret, SHOPIFY, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 401 and stale.json["error"]["code"] == "stale_signature"
    future = _send(client, "shop", secret, SHOPIFY, timestamp=int(time.time()) + 3600)
    assert future.json["error"]["code"] == "stale_signature"


def test_a_replayed_delivery_is_refused(client, make_channel):
    secret = make_channel("shop", "shopify", "shopify")
    stamp = int(time.time())
    assert _send(client, "shop", secret, SHOPIFY, timestamp=stamp).status_code == 201
    replay = _send(client, "shop", secret, SHOPIFY, timestamp=stamp)
    assert replay.status_code == 401 and replay.json["error"]["code"] == "replayed_signature"
    # A fresh, properly signed redelivery of the same order is idempotent instead.
    redelivered = _send(client, "shop", secret, SHOPIFY, timestamp=stamp + 1)
    assert redelivered.status_code == 200 and redelivered.json["duplicate_of"] == "external_id"


@pytest.mark.parametrize("with_refused", [False, True])
def test_deliveries_arriving_together_share_a_transaction_and_keep_their_answers(
    app, make_channel, first_intake_slowed, with_refused
):
    """Deliveries arriving while another delivery's transaction runs are stored together
    (group commit); each is answered with its own order, and a replayed or badly signed
    one is refused on its own while the others are stored."""
    from sqlalchemy import func, select

    from app.models import Order

    secret = make_channel("shop", "shopify", "shopify")
    stamp = int(time.time())
    n = 8
    sends = [({**SHOPIFY, "id": 7000 + i}, stamp, None) for i in range(n)]
    if with_refused:
        sends.append(({**SHOPIFY, "id": 7001}, stamp, None))  # a replay of delivery 1
        sends.append(({**SHOPIFY, "id": 7999}, stamp, "t=1,v1=" + "0" * 64))

    def send(i: int) -> Any:
        payload, at, signature = sends[i]
        return _send(app.test_client(), "shop", secret, payload, timestamp=at, signature=signature)

    replies = at_once(len(sends), send)
    answers = {i: (r.status_code, r.json) for i, r in replies.items()}
    stored = [i for i in range(n) if answers[i][0] == 201]
    for i in stored:
        assert answers[i][1]["external_id"] == str(7000 + i)
    with get_db(app).session() as db:
        assert db.scalar(select(func.count(Order.id))) == n
    groups = app.extensions["orderflow.group_commit.channel_deliveries"].groups
    if with_refused:
        # Delivery 1 and its replay: whichever came first is stored, the other refused.
        pair = sorted((answers[i][0], (answers[i][1].get("error") or {}).get("code"))
                      for i in (1, n))  # fmt: skip
        assert pair == [(201, None), (401, "replayed_signature")]
        assert answers[n + 1][0] == 401 and answers[n + 1][1]["error"]["code"] == "bad_signature"
        assert len(stored) == n - (answers[1][0] != 201)
    else:
        assert stored == list(range(n))
        assert groups >= 1


def test_unmappable_payload_lists_the_problems(client, make_channel):
    secret = make_channel("dy", "douyin", "douyin")
    payload = {**DOUYIN, "pay_amount": "lots", "sku_order_list": [{"item_num": 1}]}
    del payload["order_id"]
    response = _send(client, "dy", secret, payload)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "mapping_failed"
    paths = {p["path"] for p in response.json["error"]["details"]}
    assert paths == {"/external_id", "/amount", "/lines/0/sku"}


def test_unknown_channel_is_not_found(client):
    response = _send(client, "nope", "x" * 20, SHOPIFY)
    assert response.status_code == 404


def test_the_same_purchase_order_from_two_channels_is_one_order(client, api, make_channel):
    portal = make_channel("b2b-portal", "b2b_po", "b2b")
    crm = make_channel("crm", "b2b_po", "crm")
    first = _send(client, "b2b-portal", portal, PO)
    second = _send(client, "crm", crm, PO)
    assert first.status_code == 201
    assert second.status_code == 200 and second.json["id"] == first.json["id"]
    assert second.json["duplicate_of"] == "dedup_key"
    other_buyer = {**PO, "buyer": {"id": "C-OTHER", "name": "Other"}}
    assert _send(client, "crm", crm, other_buyer).status_code == 201
    assert len(api.get("/orders").json["items"]) == 2


def test_a_group_holding_the_same_purchase_order_twice_stores_one_order(app, make_channel):
    """The group path (``receive_many`` with the mappings' keys) dedups as deliveries one by
    one do: the same buyer order from two channels in one transaction is one order."""
    from app.channels import mapping as mappings
    from app.orders import intake

    def mapped(kind: str, order_channel: str, payload: dict) -> tuple[dict, str | None]:
        rules = mappings.effective(kind, None)
        order = mappings.to_order(rules, payload, channel=order_channel)
        return order, mappings.dedup_key(rules, order)

    (a, key_a), (b, key_b) = mapped("b2b_po", "b2b", PO), mapped("b2b_po", "crm", PO)
    assert key_a and key_a == key_b
    got = in_transaction(
        get_db(app), lambda db: intake.receive_many(db, [a, b], dedup_keys=[key_a, key_b])
    )
    assert [(r.created, r.matched) for r in got] == [(True, None), (False, "dedup_key")]
    assert got[0].order.id == got[1].order.id


def test_an_admin_edits_a_channels_mapping_tries_it_and_the_webhook_uses_it(
    app, client, api, make_channel, login, make_user
):
    from ..conftest import csrf_token

    secret = make_channel("tb2", "taobao", "taobao")
    make_user("boss", roles=("admin",))
    login("boss")
    with get_db(app).session() as db:
        channel_id = channels.get_channel(db, "tb2").id
    page = f"/admin/outbox/channels/{channel_id}/mapping"
    assert client.get("/admin/outbox/").get_data(as_text=True).count(f'href="{page}"') == 1
    token = csrf_token(client, page)
    # This shop keeps its own order number in the seller memo and marks every order urgent.
    mine = {"fields": {"custom.shop_ref": {"path": "trade.seller_memo", "required": True},
                       "urgent": {"const": True}}}  # fmt: skip
    payload = {"trade": {**TAOBAO["trade"], "seller_memo": "SHOP-77"}}
    tried = client.post(page, data={"csrf_token": token, "action": "try",
                                    "mapping": json.dumps(mine), "payload": json.dumps(payload)})  # fmt: skip
    assert tried.status_code == 200
    result = tried.get_data(as_text=True).split('data-testid="mapping-result"', 1)[1]
    assert "SHOP-77" in result and "3388123456789" in result
    missing = client.post(page, data={"csrf_token": token, "action": "try",
                                      "mapping": json.dumps(mine), "payload": json.dumps(TAOBAO)})  # fmt: skip
    assert missing.status_code == 422
    assert "/custom/shop_ref" in missing.get_data(as_text=True)
    broken = {"fields": {"customer id": {"path": ""}, "amount": {"path": "a", "const": 1}}}
    refused = client.post(page, data={"csrf_token": token, "action": "save",
                                      "mapping": json.dumps(broken)})  # fmt: skip
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "/fields/customer id" in text and "/fields/amount" in text
    with get_db(app).session() as db:
        assert channels.get_channel(db, "tb2").mapping == {}  # nothing half-saved
    saved = client.post(page, data={"csrf_token": token, "action": "save",
                                    "mapping": json.dumps(mine)})  # fmt: skip
    assert saved.status_code == 302
    stored = _send(client, "tb2", secret, payload)
    assert stored.status_code == 201
    order = api.get(f"/orders/{stored.json['id']}").json["data"]
    assert order["custom"]["shop_ref"] == "SHOP-77" and order["urgent"] is True


def test_a_payload_the_mapping_cannot_read_names_the_order_field_and_an_accepted_value():
    """Each mapping problem says which order field, where it was looked for or what was sent,
    and a value that would do, in both languages."""
    from app.channels import mapping as mappings

    rules = {"fields": {
        "currency": {"first": ["currency", "presentment_currency"], "required": True},
        "amount": {"path": "total", "type": "decimal"},
        "lines": {"each": "items", "fields": {"qty": {"path": "n", "type": "int"}}},
        "tags": {"each": "labels", "fields": {}},
        "holds": {"each": "stops", "fields": {}},
    }}  # fmt: skip
    payload = {"total": "lots", "items": [{"n": "two"}], "labels": "gift", "stops": 1}
    with pytest.raises(Exception) as refused:
        mappings.to_order(rules, payload, channel="shopify")
    said = {p["path"]: (p["message"], p["message_zh"]) for p in refused.value.details}
    assert said == {
        "/currency": (
            "“Currency” is not in the channel payload (looked in `currency` / "
            "`presentment_currency`); map it from another payload field or give it a default "
            'in the mapping, e.g. `"CNY"`.',
            "渠道数据中没有「币种」（查找了 `currency` / `presentment_currency`）：请在字段映射中"
            '改从其他字段读取，或给出默认值，例如 `"CNY"`。',
        ),
        "/amount": (
            "“Amount”: the channel sent `lots`, which cannot be read as a number (e.g. `12.50`).",
            "「金额」：渠道发来的 `lots` 无法读作数字（例如 `12.50`）。",
        ),
        "/lines/0/qty": (
            "“Lines #1 › Quantity”: the channel sent `two`, which cannot be read as a whole "
            "number (e.g. `3`).",
            "「订单行第 1 项 › 数量」：渠道发来的 `two` 无法读作整数（例如 `3`）。",
        ),
        "/tags": (
            '“Tags”: `labels` in the channel payload is not a list, e.g. `["gift"]`.',
            '「标签」：渠道数据中的 `labels` 不是列表，例如 `["gift"]`。',
        ),
        "/holds": (
            '“Holds”: `stops` in the channel payload is not a list, e.g. `["payment"]`.',
            '「暂扣」：渠道数据中的 `stops` 不是列表，例如 `["payment"]`。',
        ),
    }
