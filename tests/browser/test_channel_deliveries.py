"""Platform channels in real Chromium: a Shopify order without SKU and customer shows its
fallback warnings on the order page, and a delivery the mapping cannot read waits on the
integrations page until the admin fixes the mapping and replays it (zh and en)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from app.channels import services as channels
from app.db import get_db, in_transaction

from .conftest import screenshot

SECRET = "shpss_browser_0123456789abcd"
DRAFT = {
    "id": 7001, "name": "#D7", "created_at": "2026-11-20T11:00:00Z", "currency": "USD",
    "total_price": "12.00", "customer": None, "shipping_address": None,
    "line_items": [{"id": 1, "sku": "", "variant_id": 9, "product_id": 3, "quantity": 2,
                    "price": "6.00", "title": "Sticker"}],
}  # fmt: skip


def _deliver(client, payload: dict, delivery: str):
    body = json.dumps(payload).encode()
    mac = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return client.post("/api/v1/channels/shop/webhook", data=body, content_type="application/json",
                       headers={"X-Shopify-Hmac-Sha256": mac, "X-Shopify-Topic": "orders/create",
                                "X-Shopify-Webhook-Id": delivery})  # fmt: skip


def _sign_in(page, base: str, username: str = "ops") -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "correct-horse")
    page.click("button[type=submit].btn")
    page.wait_for_url(f"{base}/")


def test_warnings_and_a_held_delivery_replayed(app, live_server, page_for, make_user):
    in_transaction(get_db(app), lambda db: channels.create_channel(
        db, None, key="shop", kind="shopify", order_channel="shopify", secret=SECRET))  # fmt: skip
    make_user("ops", roles=("admin",))
    client = app.test_client()
    order_id = _deliver(client, DRAFT, "b-1").json["id"]
    held = _deliver(client, {**DRAFT, "id": 7002, "currency": None}, "b-2").json["results"][0]
    for lang, locale in (("zh", "zh-CN"), ("en", "en-US")):
        page = page_for(width=1280, height=900, locale=locale)
        _sign_in(page, live_server)
        page.goto(f"{live_server}/orders/{order_id}")
        warning = page.locator("[data-testid=intake-warnings]")
        expected = "按访客处理" if lang == "zh" else "stored as guest"
        assert expected in warning.inner_text()
        screenshot(page, f"channel-order-warnings-{lang}")
        page.goto(f"{live_server}/admin/outbox/")
        row = page.locator(f"[data-testid=held-{held['held_delivery']}]")
        assert (
            "映射无法读取" if lang == "zh" else "The mapping cannot read it"
        ) in row.inner_text()
        assert "/currency" in row.inner_text()
        screenshot(page, f"channel-held-{lang}")
    in_transaction(get_db(app), lambda db: channels.set_mapping(
        db, channels.get_channel(db, "shop"), {"fields": {"currency": {"const": "USD"}}}))  # fmt: skip
    page.click(f"[data-testid=held-{held['held_delivery']}] button:has-text('Replay')")
    assert "replayed: order 7002" in page.locator(".flash.success").inner_text()
    assert page.locator(f"[data-testid=held-{held['held_delivery']}]").count() == 0
