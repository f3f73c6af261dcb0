"""A finance person on a phone (375×812) in real Chromium: the inbox shows a task assigned to
the business role finance, says it is theirs as 财务, and they open and approve it."""

from __future__ import annotations

import pytest

from app.db import get_db, in_transaction

from ..app.approvals.helpers import approval_doc, approver, run_of, start, tasks_of
from ..app.org_fixtures import hold
from .conftest import screenshot, sign_in
from .test_approvals import IPHONE, PHONE, _overflow

SHOTS = "/work/shots/h1"


@pytest.mark.parametrize(("locale", "why", "approved"), [("zh-CN", "财务", "已同意"), ("en", "Finance", "Approved")])  # fmt: skip
def test_a_finance_person_sees_the_finance_task_and_decides_it(
    app, live_server, page_for, locale, why, approved
):
    db = get_db(app)
    approver(db, "fang", roles=("supervisor",), locale=locale[:2])
    approver(db, "li")  # an approver who does not hold finance sees nothing
    in_transaction(db, lambda s: hold(s, "fang", "finance"))
    run = start(db, approval_doc(assignees=[{"role": "finance"}]), external_id="PO-FIN-1")
    (task,) = tasks_of(db, run.id)
    page = page_for(**PHONE, locale=locale, user_agent=IPHONE)
    sign_in(page, live_server, "fang")
    page.goto(f"{live_server}/approvals/")
    card = page.locator(f".ap-card[data-task='{task.task_key}']")
    assert card.count() == 1
    assert card.locator("[data-testid=why]").inner_text() == why
    assert _overflow(page) <= 0
    lang = locale[:2]
    screenshot(page, f"org-inbox-finance-375-{lang}")
    page.screenshot(path=f"{SHOTS}/inbox-finance-375-{lang}.png", full_page=True)
    card.locator(".ap-card-body").click()
    page.wait_for_selector("[data-testid=approve]")
    page.click("[data-testid=approve]")
    page.wait_for_selector("[data-testid=outcome]")
    assert approved in page.inner_text("[data-testid=task-status]")
    page.screenshot(path=f"{SHOTS}/approved-finance-375-{lang}.png", full_page=True)
    assert run_of(db, run.id).outcome == "accepted"
