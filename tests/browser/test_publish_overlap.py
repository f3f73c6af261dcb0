"""The publish dialog tells the supervisor which live flows overlap, in Chinese and English;
the exclusive group is set in the trigger dialog."""

from __future__ import annotations

import pytest

from app.db import get_db
from tests.app.overlap_fixtures import OVER, load_history

from .conftest import screenshot


def _login(page, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "wang")
    page.fill("input[name=password]", "correct-horse")
    page.click("button[type=submit].btn")
    page.wait_for_url(f"{base}/")


@pytest.mark.parametrize(
    ("locale", "sentence"),
    [
        ("zh-CN", f"最近 200 个订单中有 {OVER} 个会同时触发两个流程的审批任务。"),
        ("en-US", f"Both create approval tasks for {OVER} of the last 200 orders."),
    ],
)
def test_publish_dialog_lists_the_overlapping_live_flows(
    app, live_server, page_for, make_user, locale, sentence
):
    make_user("wang", roles=("supervisor",), display_name="王敏")
    load_history(get_db(app))
    page = page_for(1280, 900, locale=locale)
    _login(page, live_server)
    page.goto(f"{live_server}/flows/big-orders")
    page.wait_for_selector("#graph svg")
    page.click("[data-cmd=publish]")
    page.wait_for_selector("#dlg-publish[open] #pub-overlap .overlap-report")
    text = page.inner_text("#pub-overlap")
    assert sentence in text and "finance-review" in text
    page.locator("#pub-overlap").scroll_into_view_if_needed()
    screenshot(page, f"editor-publish-overlap-{locale[:2]}")

    # Putting the draft in an exclusive group goes into the trigger of the saved document.
    page.click("#dlg-publish [value=cancel]")
    page.click("[data-cmd=settings]")
    page.fill("#set-group", "large-orders")
    page.fill("#set-priority", "10")
    screenshot(page, f"editor-exclusive-group-{locale[:2]}")
    page.click("#dlg-settings [value=ok]")
    trigger = page.evaluate("OF.editor.currentDoc().trigger")
    assert (trigger["exclusive_group"], trigger["group_priority"]) == ("large-orders", 10)
