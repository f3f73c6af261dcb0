"""Channel kinds that speak their platform's protocol: each platform's own signature
(accepted, missing, wrong), its delivery id (a redelivery is never a second order or event),
its topics as order events, its expected answer, orders never refused for data the platform
may leave out, and deliveries held for a mapping fix and replayed."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from app.channels import deliveries
from app.channels import services as channels
from app.db import get_db, in_transaction
from app.models import ChannelDelivery, Order, StatusEvent

SECRET = "shpss_0123456789abcdef0123"
URL = "/api/v1/channels/{key}/webhook"

# The shapes of a live store's orders/create webhooks: a product sold without a SKU, and a
# draft order with no customer and no addresses.
SHOPIFY = {
    "id": 5531337261106, "name": "#1042", "created_at": "2026-11-20T10:00:00-05:00",
    "currency": "USD", "total_price": "40.00", "total_discounts": "5.00", "tags": "",
    "customer": {"id": 7118010908722, "first_name": "Ada", "last_name": "Lovelace"},
    "line_items": [
        {"id": 13685, "sku": "MUG-1", "variant_id": 4471, "product_id": 801, "quantity": 1,
         "price": "25.00", "title": "Mug"},
        {"id": 13686, "sku": "", "variant_id": 4472, "product_id": 802, "quantity": 1,
         "price": "20.00", "title": "Handmade card"},
        {"id": 13687, "sku": None, "variant_id": None, "product_id": None, "quantity": 1,
         "price": "0.00", "title": "Free gift wrap"},
    ],
    "shipping_address": {"country_code": "US", "province": "NY", "city": "New York",
                         "address1": "1 Main St", "zip": "10001"},
}  # fmt: skip
DRAFT = {
    "id": 5531337261107, "name": "#D12", "created_at": "2026-11-20T11:00:00Z",
    "currency": "USD", "total_price": "12.00", "customer": None, "billing_address": None,
    "shipping_address": None,
    "line_items": [{"id": 1, "sku": "", "variant_id": 9, "product_id": 3, "quantity": 2,
                    "price": "6.00", "title": "Sticker"}],
}  # fmt: skip


def _b64(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _md5(text: bytes) -> str:
    return hashlib.md5(text).hexdigest()  # noqa: S324 (the platforms' scheme)


@pytest.fixture
def channel(app):
    def make(key: str, kind: str, order_channel: str = "shopify", **settings: Any) -> None:
        def work(db):
            channels.create_channel(
                db, None, key=key, kind=kind, order_channel=order_channel, secret=SECRET,
                settings=settings or None,
            )  # fmt: skip

        in_transaction(get_db(app), work)

    return make


def _shopify(client, payload, *, topic="orders/create", delivery="d-1", sign=True, secret=SECRET):
    body = json.dumps(payload).encode()
    headers = {"X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": delivery,
               "Accept-Language": "en"}  # fmt: skip
    if sign:
        headers["X-Shopify-Hmac-Sha256"] = _b64(secret, body)
    return client.post(URL.format(key="shop"), data=body, headers=headers,
                       content_type="application/json")  # fmt: skip


def _count(app, model, *where) -> int:
    with get_db(app).session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _order(app, external_id: str) -> Order:
    with get_db(app).session() as s:
        return s.scalars(select(Order).where(Order.external_id == external_id)).one()


def test_shopify_signed_its_own_way_is_accepted_once(app, client, channel):
    channel("shop", "shopify")
    first = _shopify(client, SHOPIFY)
    assert first.status_code == 201, first.json
    again = _shopify(client, SHOPIFY, delivery="d-1")  # Shopify retries the same delivery
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert _count(app, Order) == 1


def test_shopify_refuses_a_missing_or_wrong_signature(app, client, channel):
    channel("shop", "shopify")
    missing = _shopify(client, SHOPIFY, sign=False)
    assert missing.status_code == 401 and missing.json["error"]["code"] == "missing_signature"
    assert "X-Shopify-Hmac-Sha256" in missing.json["error"]["message"]
    wrong = _shopify(client, SHOPIFY, secret="another-secret-0123456789")
    assert wrong.status_code == 401 and wrong.json["error"]["code"] == "bad_signature"
    body = json.dumps(SHOPIFY).encode()
    tampered = client.post(
        URL.format(key="shop"), data=body.replace(b"40.00", b"4.00"), content_type="application/json",
        headers={"X-Shopify-Hmac-Sha256": _b64(SECRET, body), "X-Shopify-Topic": "orders/create"},
    )  # fmt: skip
    assert tampered.status_code == 401
    assert _count(app, Order) == 0


def test_products_without_sku_and_orders_without_customer_are_stored_with_warnings(
    app, client, channel, login, make_user
):
    channel("shop", "shopify")
    sold = _shopify(client, SHOPIFY)
    assert sold.status_code == 201, sold.json
    lines = sold.json["data"]["lines"]
    assert [ln["sku"] for ln in lines] == ["MUG-1", "4472", "13687"]  # variant, then line id
    warned = sold.json["data"]["intake_warnings"]
    assert [w["path"] for w in warned] == ["/lines/1/sku", "/lines/2/sku"]
    assert "SKU" in warned[0]["en"] and "SKU" in warned[0]["zh"]
    draft = _shopify(client, DRAFT, delivery="d-2")
    assert draft.status_code == 201, draft.json
    data = draft.json["data"]
    assert data["customer"]["id"] == "guest"
    assert any("guest" in w["en"] for w in data["intake_warnings"])
    make_user("lin", roles=("viewer",))
    login("lin")
    page = client.get(f"/orders/{draft.json['id']}", headers={"Accept-Language": "zh"})
    text = page.get_data(as_text=True)
    assert 'data-testid="intake-warnings"' in text and "按访客处理" in text


def test_shopify_topics_become_status_events_once(app, client, channel):
    channel("shop", "shopify")
    assert _shopify(client, SHOPIFY).status_code == 201
    paid = _shopify(client, SHOPIFY, topic="orders/paid", delivery="d-paid")
    assert paid.status_code == 200 and paid.json["results"][0]["result"] == "status"
    assert _order(app, "5531337261106").status == "paid"
    replayed = _shopify(client, SHOPIFY, topic="orders/paid", delivery="d-paid")
    assert replayed.json["results"][0]["result"] == "duplicate_status"
    assert _count(app, StatusEvent) == 1
    refund = {"id": 99, "order_id": SHOPIFY["id"], "refund_line_items": []}
    refunded = _shopify(client, refund, topic="refunds/create", delivery="d-refund")
    assert refunded.json["results"][0]["result"] == "status"
    assert _order(app, "5531337261106").status == "cancelled"  # refunded before it shipped


def test_a_status_topic_for_an_unknown_order_is_held_and_replayed_later(app, client, channel):
    channel("shop", "shopify")
    early = _shopify(client, SHOPIFY, topic="orders/paid", delivery="d-early")
    assert early.status_code == 202
    held_id = early.json["results"][0]["held_delivery"]
    assert early.json["results"][0]["reason"] == "unknown_order"
    assert _shopify(client, SHOPIFY, delivery="d-create").status_code == 201
    outcome = in_transaction(get_db(app), lambda db: deliveries.replay(db, held_id))
    assert outcome.effect == "status"
    assert _order(app, "5531337261106").status == "paid"
    with get_db(app).session() as s:
        row = s.get(ChannelDelivery, held_id)
        assert (row.status, row.order_id) == ("replayed", outcome.order.id)


def test_an_unmappable_order_is_held_fixed_by_a_mapping_and_replayed(app, client, channel):
    channel("shop", "shopify")
    broken = copy.deepcopy(SHOPIFY)
    del broken["total_price"]
    broken["grand_total"] = "40.00"
    held = _shopify(client, broken)
    assert held.status_code == 202  # received, not refused: the platform would give up
    item = held.json["results"][0]
    assert item["reason"] == "mapping_failed" and item["problems"][0]["path"] == "/amount"
    assert _count(app, Order) == 0
    again = _shopify(client, broken)  # the platform's retry of the same delivery
    assert again.json["results"][0]["held_delivery"] == item["held_delivery"]
    assert _count(app, ChannelDelivery) == 1

    def fix(db):
        channel_row = channels.get_channel(db, "shop")
        channels.set_mapping(db, channel_row, {"fields": {
            "amount": {"path": "grand_total", "type": "decimal", "required": True}}})  # fmt: skip

    in_transaction(get_db(app), fix)
    outcome = in_transaction(get_db(app), lambda db: deliveries.replay(db, item["held_delivery"]))
    assert outcome.effect == "created" and str(outcome.order.amount) == "40.00"
    with pytest.raises(Exception, match="already replayed"):
        in_transaction(get_db(app), lambda db: deliveries.replay(db, item["held_delivery"]))


def _woo(client, payload, *, topic="order.created", delivery="w-1", secret=SECRET):
    body = json.dumps(payload).encode()
    return client.post(
        URL.format(key="woo"), data=body, content_type="application/json",
        headers={"X-WC-Webhook-Signature": _b64(secret, body), "X-WC-Webhook-Topic": topic,
                 "X-WC-Webhook-Delivery-ID": delivery, "Accept-Language": "en"},
    )  # fmt: skip


WOO = {
    "id": 727, "number": "727", "status": "pending", "currency": "EUR", "total": "29.35",
    "date_created_gmt": "2026-11-20T09:00:00", "customer_id": 0,
    "billing": {"first_name": "Jan", "last_name": "Jansen", "email": "jan@example.com",
                "country": "NL", "city": "Utrecht", "address_1": "Oudegracht 1",
                "postcode": "3511"},
    "shipping": {"first_name": "", "last_name": "", "country": "", "city": "",
                 "address_1": "", "postcode": ""},
    "line_items": [{"id": 315, "name": "Woo Single", "product_id": 93, "variation_id": 0,
                    "quantity": 2, "sku": "", "price": 3}],
}  # fmt: skip


def test_woocommerce_ping_signature_topics_and_guest_checkout(app, client, channel):
    channel("woo", "woocommerce")
    ping = client.post(URL.format(key="woo"), data=b"webhook_id=15",
                       content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert ping.status_code == 200
    created = _woo(client, WOO)
    assert created.status_code == 201, created.json
    data = created.json["data"]
    assert data["customer"]["id"] == "jan@example.com"  # guest: their e-mail
    assert data["shipping_address"]["city"] == "Utrecht"  # from the billing address
    assert data["lines"][0]["sku"] == "93"
    paid = _woo(client, {**WOO, "status": "processing"}, topic="order.updated", delivery="w-2")
    assert paid.json["results"][0]["result"] == "status"
    assert _order(app, "727").status == "paid"
    unsigned = client.post(URL.format(key="woo"), data=json.dumps(WOO).encode(),
                           content_type="application/json")  # fmt: skip
    assert (
        unsigned.status_code == 401
        and "X-WC-Webhook-Signature" in unsigned.json["error"]["message"]
    )


YOUZAN_TRADE = {"full_order_info": {
    "order_info": {"tid": "E20261120100001", "created": "2026-11-20 18:00:00"},
    "buyer_info": {"yz_open_id": "yz-77", "fans_nickname": "小李"},
    "pay_info": {"payment": "88.00", "post_fee": "0.00"},
    "address_info": {"delivery_province": "浙江省", "delivery_city": "杭州市",
                     "delivery_district": "西湖区", "delivery_address": "文三路 1 号"},
    "orders": [{"outer_sku_id": "", "sku_id": 36215, "item_id": 2, "title": "茶叶", "num": 2,
                "price": "44.00"}],
}}  # fmt: skip


def _youzan(client, kind: str, trade: dict, *, version: int = 1, client_id="yz-client"):
    body = json.dumps({
        "client_id": client_id, "id": trade["full_order_info"]["order_info"]["tid"],
        "type": kind, "version": version, "kdt_id": 5566,
        "msg": quote(json.dumps(trade, ensure_ascii=False)),
    }).encode()  # fmt: skip
    sign = _md5(client_id.encode() + body + SECRET.encode())
    return client.post(URL.format(key="yz"), data=body, content_type="application/json",
                       headers={"Event-Sign": sign, "Event-Type": kind, "Client-Id": client_id})  # fmt: skip


def test_youzan_push_creates_and_closes_the_trade_and_answers_its_way(app, client, channel):
    channel("yz", "youzan", "wechat", app_key="yz-client")
    created = _youzan(client, "trade_TradeCreate", YOUZAN_TRADE)
    assert created.status_code == 200 and created.json == {"code": 0, "msg": "success"}
    order = _order(app, "E20261120100001")
    assert (str(order.amount), order.data["lines"][0]["sku"]) == ("88.00", "36215")
    _youzan(client, "trade_TradeClose", YOUZAN_TRADE, version=2)
    assert _order(app, "E20261120100001").status == "cancelled"
    forged = _youzan(client, "trade_TradeCreate", YOUZAN_TRADE, client_id="someone-else")
    assert forged.status_code == 401


def _douyin(client, messages: list[dict], *, app_key="7000111", hmac_mode=False):
    body = json.dumps(messages).encode()
    text = app_key.encode() + body + SECRET.encode()
    if hmac_mode:
        sign = hmac.new(SECRET.encode(), text, hashlib.sha256).hexdigest()
        headers = {"event-sign": sign, "app-id": app_key, "sign-method": "hmac-sha256"}
    else:
        headers = {"event-sign": _md5(text), "app-id": app_key}
    return client.post(URL.format(key="dy"), data=body, content_type="application/json",
                       headers=headers)  # fmt: skip


def test_douyin_push_messages_in_one_request(app, client, channel):
    channel("dy", "douyin", "douyin", app_key="7000111")
    full = {"order_id": "4981234567890", "pay_amount": 12850, "create_time": 1763604000,
            "sku_order_list": [{"code": "SKU-3", "item_num": 1, "origin_amount": 12850}]}  # fmt: skip
    answer = _douyin(client, [{"tag": "100", "msg_id": "m-1", "data": json.dumps(full)}])
    assert answer.json == {"code": 0, "msg": "success"}
    assert _order(app, "4981234567890").amount is not None
    both = _douyin(client, [
        {"tag": "101", "msg_id": "m-2", "data": json.dumps({"p_id": 4981234567890})},
        {"tag": "100", "msg_id": "m-3", "data": json.dumps({"p_id": 4981234567999})},
    ], hmac_mode=True)  # fmt: skip
    assert both.status_code == 200
    assert _order(app, "4981234567890").status == "paid"
    # The second message carries only the order id: held for an admin, not lost.
    with get_db(app).session() as s:
        logged = s.scalars(select(ChannelDelivery).order_by(ChannelDelivery.id)).all()
    held = [h for h in logged if h.status == "held"]
    assert [(h.delivery_id, h.reason) for h in held] == [("m-3", "mapping_failed")]
    # The messages that became an order and a status event are in the delivery log.
    assert [(h.delivery_id, h.status) for h in logged if h.status != "held"] == [
        ("m-1", "created"),
        ("m-2", "status"),
    ]
    wrong_app = _douyin(client, [{"tag": "101", "msg_id": "m-4", "data": "{}"}], app_key="9")
    assert wrong_app.status_code == 401


def test_generic_hmac_with_the_senders_own_header_and_timestamp(app, client, channel):
    channel("erp", "hmac", "b2b", header="X-Hub-Signature-256", prefix="sha256=",
            signed="timestamp.body", timestamp_header="X-Timestamp",
            delivery_header="X-Delivery", topic_header="X-Event",
            topics={"order.new": "created", "order.paid": "paid"})  # fmt: skip
    order = {"external_id": "ERP-1", "currency": "CNY", "amount": 100,
             "lines": [{"sku": "A", "qty": 1}]}  # fmt: skip

    def send(event: str, stamp: int, delivery: str):
        body = json.dumps(order).encode()
        mac = hmac.new(SECRET.encode(), str(stamp).encode() + b"." + body, hashlib.sha256)
        return client.post(URL.format(key="erp"), data=body, content_type="application/json",
                           headers={"X-Hub-Signature-256": f"sha256={mac.hexdigest()}",
                                    "X-Timestamp": str(stamp), "X-Delivery": delivery,
                                    "X-Event": event})  # fmt: skip

    now = int(time.time())
    assert send("order.new", now, "e-1").status_code == 201
    assert send("order.paid", now, "e-2").json["results"][0]["result"] == "status"
    stale = send("order.paid", now - 3600, "e-3")
    assert stale.status_code == 401 and stale.json["error"]["code"] == "stale_signature"
    assert _order(app, "ERP-1").status == "paid"


def test_bad_generic_settings_are_refused_with_what_is_accepted(app):
    def work(db):
        channels.create_channel(db, None, key="bad", kind="hmac", order_channel="b2b",
                                settings={"encoding": "base32", "signed": "timestamp.body"})  # fmt: skip

    with pytest.raises(Exception) as err:
        in_transaction(get_db(app), work)
    assert set(err.value.fields) >= {"encoding", "timestamp_header"}


def test_the_own_signature_still_works_for_a_platform_kind(app, client, channel):
    channel("shop", "shopify")
    body = json.dumps(SHOPIFY).encode()
    stamp = int(time.time())
    sent = client.post(URL.format(key="shop"), data=body, content_type="application/json",
                       headers={"X-OrderFlow-Signature": channels.sign(SECRET, stamp, body)})  # fmt: skip
    assert sent.status_code == 201


def test_the_integrations_page_lists_a_held_delivery_and_replays_it(
    app, client, channel, login, make_user
):
    channel("shop", "shopify")
    broken = {**SHOPIFY, "currency": None}
    held = _shopify(client, broken).json["results"][0]["held_delivery"]
    make_user("ops", roles=("admin",))
    login("ops")
    page = client.get("/admin/outbox/", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert f'data-testid="held-{held}"' in page and "映射无法读取" in page
    from tests.app.conftest import csrf_token

    token = csrf_token(client)
    failed = client.post(f"/admin/outbox/deliveries/{held}/replay", data={"csrf_token": token},
                         headers={"Accept-Language": "en"}, follow_redirects=True)  # fmt: skip
    assert "/currency" in failed.get_data(as_text=True)  # still held, and says why

    def fix(db):
        channels.set_mapping(db, channels.get_channel(db, "shop"),
                             {"fields": {"currency": {"const": "USD"}}})  # fmt: skip

    in_transaction(get_db(app), fix)
    done = client.post(f"/admin/outbox/deliveries/{held}/replay", data={"csrf_token": token},
                       headers={"Accept-Language": "en"}, follow_redirects=True)  # fmt: skip
    assert f"Delivery {held} replayed: order 5531337261106" in done.get_data(as_text=True)
    assert f'data-testid="held-{held}"' not in done.get_data(as_text=True)
