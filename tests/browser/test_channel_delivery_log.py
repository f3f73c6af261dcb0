"""The channel delivery log in real Chromium (zh and en): the list of a channel's
deliveries, a delivery's payload beside the order it became with its fallback warnings,
and a held delivery tried with an edited mapping on the mapping page, nothing saved."""

from __future__ import annotations

import json

from app.channels import services as channels
from app.db import get_db, in_transaction

from .conftest import screenshot
from .test_channel_deliveries import DRAFT, SECRET, _deliver, _sign_in
from .test_language_crawl import VISIBLE_TEXT, english_in


def _no_english(page, lang: str) -> None:
    """The Chinese pages carry no English outside codes (as the language crawl checks)."""
    if lang == "zh":
        # The shipped Shopify mapping's warning names the customer id it stores: guest.
        texts = [t.replace("guest", "") for t in page.evaluate(VISIBLE_TEXT)]
        assert english_in(texts) == []


def test_delivery_log_and_delivery_page_in_both_languages(app, live_server, page_for, make_user):
    channel_id = in_transaction(get_db(app), lambda db: channels.create_channel(
        db, None, key="shop", kind="shopify", order_channel="shopify", secret=SECRET).id)  # fmt: skip
    make_user("ops_lead", roles=("admin",))
    client = app.test_client()
    order_id = _deliver(client, DRAFT, "log-1").json["id"]
    assert _deliver(client, DRAFT, "log-1").status_code == 200
    held = _deliver(client, {**DRAFT, "id": 7102, "currency": None}, "log-2").json["results"][0]
    refused = _deliver(client, {**DRAFT, "id": 7103, "total_price": "-1.00"}, "log-3")
    refused = refused.json["results"][0]
    with get_db(app).session() as db:
        from sqlalchemy import select

        from app.models import ChannelDelivery

        first = db.scalars(select(ChannelDelivery).where(ChannelDelivery.status == "created")).one()
    for lang, locale in (("zh", "zh-CN"), ("en", "en-US")):
        page = page_for(width=1280, height=900, locale=locale)
        _sign_in(page, live_server, "ops_lead")
        page.goto(f"{live_server}/admin/outbox/")
        page.click("[data-testid=deliveries-shop]")
        log = page.locator("[data-testid=delivery-log]").inner_text()
        assert ("新订单" if lang == "zh" else "New order") in log
        assert ("重复推送" if lang == "zh" else "redelivery") in log
        assert page.locator("[data-testid=delivery-log] tbody tr").count() == 4
        screenshot(page, f"channel-delivery-log-{lang}")
        _no_english(page, lang)
        page.goto(f"{live_server}/admin/outbox/deliveries/{first.id}")
        assert page.locator("[data-testid=delivery-order]").get_attribute("href") == (
            f"/orders/{order_id}"
        )
        warnings = page.locator("[data-testid=delivery-warnings]").inner_text()
        assert ("按访客处理" if lang == "zh" else "stored as guest") in warnings
        assert f'"id": {DRAFT["id"]}' in page.locator("[data-testid=delivery-payload]").inner_text()
        screenshot(page, f"channel-delivery-page-{lang}")
        _no_english(page, lang)
        page.goto(f"{live_server}/admin/outbox/deliveries/{held['held_delivery']}")
        missing = page.locator("[data-testid=delivery-problems]").inner_text()
        assert missing.startswith(
            "/currency 渠道数据中没有「币种」" if lang == "zh"
            else "/currency “Currency” is not in the channel payload"
        )  # fmt: skip
        screenshot(page, f"channel-delivery-unmapped-{lang}")
        _no_english(page, lang)
        # An order the schema refuses: the problem names the field and the accepted values.
        page.goto(f"{live_server}/admin/outbox/deliveries/{refused['held_delivery']}")
        problems = page.locator("[data-testid=delivery-problems]")
        said = "「金额」不能小于 0。" if lang == "zh" else "“Amount” must be at least 0."
        assert problems.inner_text().strip() == f"/amount {said}"
        screenshot(page, f"channel-delivery-problems-{lang}")
        _no_english(page, lang)
        page.goto(f"{live_server}/admin/outbox/channels/{channel_id}/mapping")
        page.fill("#mapping", json.dumps({"fields": {"currency": {"path": "currency",
                                                                   "default": "USD"}}}))  # fmt: skip
        page.click("[data-testid=try-stored]")
        trial = page.locator(f"[data-testid=trial-{held['held_delivery']}]")
        assert trial.get_attribute("data-ok") == "yes" and "7102" in trial.inner_text()
        screenshot(page, f"channel-mapping-trials-{lang}")
        _no_english(page, lang)
    with get_db(app).session() as db:
        assert channels.get_channel(db, "shop").mapping == {}  # tried, not saved
