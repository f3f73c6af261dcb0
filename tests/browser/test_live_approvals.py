"""The approver's live pages in real Chromium: the inbox, the task page and the nav badges
follow changes made elsewhere within 2 s without a reload; one tap approves from the list,
the reject sheet asks for a reason; thumb-sized targets and the decision on the first screen
of a phone."""

from __future__ import annotations

import time

from app.db import get_db, in_transaction
from app.models import Notification
from app.users import services as users

from ..app.approvals.helpers import CHECKS, approval_doc, approver, run_of, start, tasks_of
from .conftest import screenshot, wait_until

PHONE = {"width": 375, "height": 667}
DESK = {"width": 1280, "height": 800}
LIVE = 2.0  # seconds: a change shows within this, without a reload


def _sign_in(page, live_server: str, name: str) -> None:
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", "correct-horse")
    page.click("button[type=submit].btn")
    page.wait_for_url(f"{live_server}/")


def _within(page, expression: str, since: float) -> float:
    """Wait for ``expression``; how long after ``since`` it held (fails past LIVE)."""
    wait_until(page, expression, timeout=LIVE * 1000 + 500)
    took = time.monotonic() - since
    assert took < LIVE, f"{expression} took {took:.2f} s"
    return took


def _cards(page) -> int:
    return page.locator(".ap-card").count()


def _badge(page) -> str:
    found = page.locator("[data-testid=pending-approvals]")
    return found.inner_text() if found.count() else ""


def _notify(db, name: str, title: str) -> None:
    def work(unit):  # type: ignore[no-untyped-def]
        who = users.get_user(unit, name)
        unit.add(Notification(user_id=who.id, source_key=f"test:{title}", event="approval_needed",
                              title=title, body=""))  # fmt: skip

    in_transaction(db, work)


def test_inbox_task_page_and_badges_follow_changes_made_elsewhere(app, live_server, page_for):
    db = get_db(app)
    approver(db, "li", locale="zh")
    approver(db, "wang", locale="en")
    doc = approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="any", checks=CHECKS)
    li = page_for(**DESK, locale="zh-CN")
    _sign_in(li, live_server, "li")
    li.goto(f"{live_server}/approvals/")
    wang = page_for(**PHONE, locale="en-US")
    _sign_in(wang, live_server, "wang")
    wang.goto(f"{live_server}/approvals/")
    assert _cards(li) == 0 and _cards(wang) == 0
    for page in (li, wang):
        page.evaluate("window.__marker = 'same page'")
    # idle: the list and the badges poll and get empty answers
    polls: list[int] = []
    li.on("response", lambda r: polls.append(r.status) if "/approvals/" in r.url else None)
    li.wait_for_timeout(1500)
    assert polls and set(polls) == {204}, polls

    # a new task appears in both inboxes and both badges
    run = start(db, doc, external_id="PO-LIVE-1")
    since = time.monotonic()
    _within(li, "document.querySelectorAll('.ap-card').length === 1", since)
    _within(wang, "document.querySelectorAll('.ap-card').length === 1", since)
    _within(
        wang,
        "(document.querySelector('[data-testid=pending-approvals]') || {}).innerText === '1'",
        since,
    )
    assert _badge(li) == "1"
    assert li.evaluate("window.__marker") == "same page"  # not reloaded
    assert "PO-LIVE-1" in li.inner_text(".ap-card")
    assert "检查 1/2" in li.inner_text("[data-testid=card-checks]")

    # wang reads the task; li approves it from the list in one tap
    (task,) = [t for t in tasks_of(db, run.id) if t.assignee == "wang"]
    wang.goto(f"{live_server}/approvals/{task.task_key}")
    assert wang.locator("[data-testid=approve]").count() == 1
    wang.evaluate("window.__marker = 'same page'")
    li.click(".ap-card [data-testid=card-approve]")
    since = time.monotonic()
    li.wait_for_selector(".flash.success")
    assert _cards(li) == 0
    assert run_of(db, run.id).outcome == "accepted"
    # on wang's task page: who decided, and no buttons any more
    _within(wang, "!!document.querySelector('[data-testid=outcome]')", since)
    assert "Li" in wang.inner_text("[data-testid=outcome]") or "li" in wang.inner_text(
        "[data-testid=outcome]"
    )
    assert wang.locator("[data-testid=approve]").count() == 0
    assert wang.locator("[data-testid=reject]").count() == 0
    _within(wang, "!document.querySelector('[data-testid=pending-approvals]')", since)
    assert wang.evaluate("window.__marker") == "same page"
    screenshot(wang, "approvals-live-decided-elsewhere-375-en")

    # a notification lights the bell, with the count in its accessible name
    _notify(db, "li", "新审批")
    since = time.monotonic()
    _within(
        li, "(document.querySelector('[data-testid=unread-count]') || {}).innerText === '1'", since
    )
    assert "1" in li.get_attribute(".bell", "aria-label")
