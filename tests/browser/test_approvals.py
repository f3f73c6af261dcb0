"""Approving from a phone (375×812) in real Chromium: the link from the email, the checks,
one tap, the run going on; bulk approval from the inbox."""

from __future__ import annotations

from app.db import get_db

from ..app.approvals.helpers import (
    CHECKS,
    approval_doc,
    approver,
    channel,
    deliver_all,
    run_of,
    start,
    tasks_of,
)
from ..app.notifications.servers import SmtpSink
from .conftest import screenshot

PHONE = {"width": 375, "height": 812}
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


def _overflow(page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


def test_open_the_email_link_see_the_checks_and_approve_in_one_tap(app, live_server, page_for):
    db = get_db(app)
    app.config["BASE_URL"] = live_server
    approver(db, "li", locale="zh")
    with SmtpSink() as smtp:
        channel(db, "email", **smtp.config())
        run = start(db, approval_doc(checks=CHECKS, sla={"duration": "24h"}))
        deliver_all(app)
        smtp.wait(1)
        (link,) = smtp.links()
    page = page_for(**PHONE, locale="zh-CN", user_agent=IPHONE)
    page.goto(link)
    checks = page.locator("[data-testid=checks] li")
    assert checks.count() == 2
    assert "未超信用额度" in page.locator("[data-check=credit_ok]").inner_text()
    assert page.locator("[data-check=stock_ok]").get_attribute("class") == "fail"
    assert "订单金额超过 20,000" in page.inner_text(".ap-reason")
    assert _overflow(page) <= 0
    screenshot(page, "approvals-detail-375")
    page.click("[data-testid=approve]")
    page.wait_for_selector("[data-testid=outcome]")
    assert "已同意" in page.inner_text("[data-testid=task-status]")
    assert "accepted" in page.inner_text("[data-testid=run-state]")
    screenshot(page, "approvals-approved-375")
    assert run_of(db, run.id).outcome == "accepted"


def test_reject_needs_a_comment_on_the_phone(app, live_server, page_for):
    db = get_db(app)
    app.config["BASE_URL"] = live_server
    approver(db, "li", locale="zh")
    with SmtpSink() as smtp:
        channel(db, "email", **smtp.config())
        run = start(db, approval_doc())
        deliver_all(app)
        smtp.wait(1)
        (link,) = smtp.links()
    page = page_for(**PHONE, locale="zh-CN", user_agent=IPHONE)
    page.goto(link)
    page.click("[data-testid=reject]")
    assert "驳回时请填写原因" in page.inner_text(".ap-hint")
    assert run_of(db, run.id).status == "waiting"
    page.fill("#comment", "账期不符")
    page.click("[data-testid=reject]")
    page.wait_for_selector("[data-testid=outcome]")
    assert run_of(db, run.id).outcome == "refused"


def test_bulk_approval_from_the_inbox_on_a_phone(app, live_server, page_for):
    db = get_db(app)
    approver(db, "li", locale="zh")
    runs = [start(db, approval_doc(checks=CHECKS), external_id=f"PO-{i}") for i in range(1, 4)]
    page = page_for(**PHONE, locale="zh-CN", user_agent=IPHONE)
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "li")
    page.fill("input[name=password]", "correct-horse")
    page.click("button[type=submit].btn")
    page.wait_for_url(f"{live_server}/")
    assert page.inner_text("[data-testid=pending-approvals]") == "3"
    page.goto(f"{live_server}/approvals/")
    assert page.locator(".ap-card").count() == 3
    assert _overflow(page) <= 0
    page.check("[data-select-all]")
    page.uncheck(f".ap-pick input[value='{tasks_of(db, runs[2].id)[0].task_key}']")
    screenshot(page, "approvals-inbox-bulk-375")
    page.click("[data-testid=bulk-approve]")
    page.wait_for_selector(".flash.success")
    assert "2" in page.inner_text(".flash.success")
    assert [run_of(db, r.id).status for r in runs] == ["completed", "completed", "waiting"]
    assert page.locator(".ap-card").count() == 1
    screenshot(page, "approvals-inbox-after-375")


def _sign_in(page, live_server, name):
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", "correct-horse")
    page.click("button[type=submit].btn")
    page.wait_for_url(f"{live_server}/")


def test_send_back_for_information_and_resubmit_on_a_phone(app, live_server, page_for):
    db = get_db(app)
    for name in ("li", "wang", "sun"):
        approver(db, name, locale="zh")
    run = start(db, approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="all"))
    li = next(t for t in tasks_of(db, run.id) if t.assignee == "li")
    page = page_for(**PHONE, locale="zh-CN", user_agent=IPHONE)
    _sign_in(page, live_server, "li")
    page.goto(f"{live_server}/approvals/{li.task_key}")
    page.click("[data-testid=send-back] summary")
    page.select_option("#back_user", "sun")
    page.fill("#bcomment", "请补充运费发票")
    assert _overflow(page) <= 0
    screenshot(page, "approvals-send-back-375")
    page.click("[data-testid=send-back-submit]")
    page.wait_for_selector("[data-testid=outcome]")
    assert "已退回" in page.inner_text("[data-testid=task-status]")
    assert "退回给 Sun" in page.inner_text("[data-testid=trail]")  # the display name
    (ask,) = [t for t in tasks_of(db, run.id) if t.status == "pending"]
    assert ask.assignee == "sun"

    other = page_for(**PHONE, locale="zh-CN", user_agent=IPHONE)
    _sign_in(other, live_server, "sun")
    other.goto(f"{live_server}/approvals/{ask.task_key}")
    assert "需补充信息" in other.inner_text("[data-testid=task-note]")
    assert "请补充运费发票" in other.inner_text("[data-testid=task-note]")
    assert other.locator("[data-testid=approve]").count() == 0
    assert _overflow(other) <= 0
    screenshot(other, "approvals-info-request-375")
    other.fill("#rcomment", "发票已上传")
    other.click("[data-testid=resubmit]")
    other.wait_for_selector("[data-testid=outcome]")
    fresh = [t for t in tasks_of(db, run.id) if t.status == "pending"]
    assert sorted(t.assignee for t in fresh) == ["li", "wang"]
    assert run_of(db, run.id).status == "waiting"
