"""Pull connectors on the integrations page in real Chromium, zh and en: a connector that
ran shows its state, cursor and counts; one stopped for an expired session says what to do."""

from __future__ import annotations

from datetime import timedelta

from app.channels import pull
from app.db import get_db
from tests.app.channels.conftest import NOW, jd_order, pull_channel, taobao_trade  # noqa: F401  (fixture)
from tests.app.channels.fake_platforms import Platform, jd_answer, serve, taobao_answer

from .conftest import ARTIFACTS, screenshot
from .test_channel_deliveries import _sign_in


def test_pull_connectors_on_the_integrations_page(
    app,
    live_server,
    page_for,
    make_user,
    pull_channel,  # noqa: F811
):
    make_user("ops", roles=("admin",))
    with (
        serve(Platform("12345678", "tb-secret-0123456789", "6100e23a-s1"), taobao_answer) as tb,
        serve(Platform("JD0AAA11", "jd-secret-0123456789", "jd-token-1"), jd_answer) as jd,
    ):
        tb.orders = [taobao_trade(8000 + i, "WAIT_BUYER_PAY", NOW - timedelta(hours=i + 1))
                     for i in range(3)]  # fmt: skip
        jd.orders = [jd_order(8100, "WAIT_SELLER_STOCK_OUT", NOW - timedelta(hours=1))]
        tb_id = pull_channel("tmall-main", "taobao_pull", tb)
        jd_id = pull_channel("jd-main", "jd_pull", jd, order_channel="jd")
        with app.app_context():
            pull.sync(get_db(app), tb_id, now=NOW, clock=lambda: NOW)
            jd.expire_session = True
            pull.sync(get_db(app), jd_id, now=NOW, clock=lambda: NOW)
    for locale, running, stopped in (("zh-CN", "运行中", "需要新的授权会话"),
                                     ("en-US", "Running", "Needs a new session")):  # fmt: skip
        page = page_for(1280, 900, locale=locale)
        _sign_in(page, live_server)
        page.goto(f"{live_server}/admin/outbox/")
        section = page.locator("[data-testid=pull-connectors]")
        section.scroll_into_view_if_needed()
        assert running in page.inner_text("[data-testid=pull-state-tmall-main]")
        assert stopped in page.inner_text("[data-testid=pull-state-jd-main]")
        assert page.is_visible("[data-testid=pull-error-jd-main]")
        assert page.is_disabled("[data-testid=pull-sync-jd-main]")
        screenshot(page, f"pull-connectors-{locale}")
        section.screenshot(path=str(ARTIFACTS / f"pull-connectors-section-{locale}.png"))
