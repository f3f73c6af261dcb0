"""The orders board in real Chromium at desktop width: an order waiting for approval moves to
done, with its outcome, within a second of the decision, without reloading (zh and en)."""

from __future__ import annotations

from sqlalchemy import select

from app.approvals import services as approvals
from app.db import get_db
from app.models import ApprovalTask
from tests.app.approvals.helpers import approver, as_user
from tests.app.board_flows import AMOUNTS, ingest, publish_all

from .conftest import screenshot, wait_until

DESKTOP = {"width": 1440, "height": 900}
DONE = "document.querySelector('[data-testid=count-flow-done]').innerText === '2'"


def _sign_in(page, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "watcher")
    page.fill("input[name=password]", "correct-horse")
    page.click("button[type=submit].btn")
    page.wait_for_url(f"{base}/")


def test_an_approval_moves_the_order_to_done_on_the_board(app, live_server, page_for, make_user):
    db = get_db(app)
    approver(db, "li", display_name="张丽")
    make_user("watcher", roles=("viewer",))
    publish_all(db)
    for stand in AMOUNTS:
        ingest(db, f"PO-{stand}", stand)
    big = ingest(db, "PO-BIG", "approval")
    pages = {}
    for lang, locale in (("zh", "zh-CN"), ("en", "en-US")):
        page = page_for(**DESKTOP, locale=locale)
        _sign_in(page, live_server)
        page.goto(f"{live_server}/orders/")
        assert page.inner_text("[data-testid=count-flow-approval]") == "2"
        assert page.inner_text("[data-testid=count-flow-done]") == "1"
        page.evaluate("window.__marker = 'same page'")
        screenshot(page, f"board-stands-before-{lang}")
        pages[lang] = page
    with db.session() as s:
        task = s.scalars(
            select(ApprovalTask).order_by(ApprovalTask.id.desc()).limit(1)
        ).one()  # PO-BIG's
    as_user(db, "li", lambda s, u: approvals.decide(s, u, task.task_key, "approved"))
    for lang, page in pages.items():
        wait_until(page, DONE, timeout=3000)
        assert page.evaluate("window.__marker") == "same page"  # live, not reloaded
        assert page.inner_text("[data-testid=count-flow-approval]") == "1"
        done = page.inner_text("[data-stand=done]")
        assert "PO-BIG" in done and ("已批准" if lang == "zh" else "Approved") in done
        screenshot(page, f"board-stands-after-{lang}")
    page = pages["zh"]
    page.goto(f"{live_server}/orders/{big}")
    assert "已批准" in page.inner_text("[data-testid=runs] [data-stand=done]")
    screenshot(page, "board-stands-order-zh")
    page = pages["en"]
    page.goto(f"{live_server}/orders/?stand=approval")
    assert "PO-approval" in page.inner_text("[data-testid=stand-list]")
    screenshot(page, "board-stands-approval-list-en")
