"""Live status in real Chromium: the order page and the orders board show a status event
within about a second, without reloading; the tracking page fits a phone."""

from __future__ import annotations

import time

import simplejson

from app.db import get_session
from app.users import services as users
from tests.app.flows_fixtures import order_doc

from .conftest import screenshot, sign_in, wait_until

PHONE = {"width": 360, "height": 740}


def _key(app) -> str:
    with app.app_context():
        return users.create_api_key(get_session(), None, name="live",
                                    scopes=["orders:read", "orders:write"])[1]  # fmt: skip


def _post(app, key: str, path: str, body: dict) -> dict:
    response = app.test_client().post(
        f"/api/v1{path}",
        data=simplejson.dumps(body, use_decimal=True),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201, response.json
    return response.json


def _overflow(page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


def test_order_page_and_board_update_within_a_second(app, live_server, page_for, make_user):
    make_user("watcher", roles=("viewer",))
    key = _key(app)
    order = _post(app, key, "/orders", order_doc("LIVE-1"))
    page = page_for(**PHONE, locale="en-US")
    sign_in(page, live_server, "watcher")

    page.goto(f"{live_server}/orders/{order['id']}")
    status = page.locator("[data-testid=order-status]")
    assert status.get_attribute("data-state") == "created"
    page.evaluate("window.__marker = 'same page'")
    # While nothing happens, the polls send the version shown and get empty 204s back.
    polls: list[int] = []
    page.on("response", lambda r: polls.append(r.status) if "/orders/" in r.url else None)
    page.wait_for_timeout(1200)
    assert polls and set(polls) == {204}, polls
    _post(app, key, "/status-events", {
        "source": "wms", "event_id": "live-1", "code": "SHIPPED",
        "occurred_at": "2026-11-21T10:00:00Z", "order": {"id": order["id"]}})  # fmt: skip
    sent = time.monotonic()
    page.wait_for_selector("[data-testid=order-status][data-state=shipped]", timeout=3000)
    assert time.monotonic() - sent < 1.0  # polled every 500 ms; idle polls answer 204
    assert page.evaluate("window.__marker") == "same page"  # not reloaded
    assert _overflow(page) <= 0
    screenshot(page, "order-live-360")

    page.goto(f"{live_server}/orders/")
    assert page.inner_text("[data-testid=count-shipped]") == "1"
    _post(app, key, "/status-events", {
        "source": "carrier", "event_id": "live-2", "code": "DELIVERED",
        "occurred_at": "2026-11-22T10:00:00Z", "order": {"id": order["id"]}})  # fmt: skip
    wait_until(
        page,
        "document.querySelector('[data-testid=count-delivered]').innerText === '1'",
        timeout=3000,
    )
    assert page.inner_text("[data-testid=count-shipped]") == "0"


def test_tracking_page_at_phone_width_in_chinese(app, live_server, page_for):
    key = _key(app)
    order = _post(app, key, "/orders", order_doc("LIVE-2"))
    page = page_for(**PHONE, locale="zh-CN")
    page.goto(f"{live_server}{order['tracking_url']}")
    assert page.inner_text("[role=status]") == "已下单"
    assert _overflow(page) <= 0
    screenshot(page, "tracking-360-zh")


def test_integration_pages_fit_a_phone(app, live_server, page_for, make_user):
    make_user("root", roles=("admin",))
    page = page_for(**PHONE, locale="zh-CN")
    sign_in(page, live_server, "root")
    page.goto(f"{live_server}/admin/outbox/")
    page.fill("input[name=key]", "tmall-main")
    page.select_option("select[name=kind]", "taobao")
    page.select_option("select[name=order_channel]", "tmall")
    page.click("text=添加渠道")
    assert len(page.inner_text("[data-testid=channel-secret]")) >= 32
    assert _overflow(page) <= 0
    screenshot(page, "integrations-360-zh")
    page.goto(f"{live_server}/orders/fields")
    assert _overflow(page) <= 0
    page.goto(f"{live_server}/api/v1/docs")
    assert _overflow(page) <= 0
    screenshot(page, "api-reference-360-zh")
