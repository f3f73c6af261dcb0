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


def _language(page, locale: str) -> None:
    """Li reads Chinese; the English round switches with the header's language button."""
    if locale.startswith("en") and page.get_attribute("html", "lang") != "en":
        page.click("button[name=lang][value=en]")
        page.wait_for_selector("html[lang=en]")


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
    assert "Decided by Li: Approved" in wang.inner_text("[data-testid=outcome]")
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


def test_reject_from_an_inbox_card_asks_for_the_reason_in_a_sheet(app, live_server, page_for):
    db = get_db(app)
    approver(db, "li", locale="zh")
    run = start(db, approval_doc(checks=CHECKS), external_id="PO-R1")
    page = page_for(**PHONE, locale="zh-CN")
    _sign_in(page, live_server, "li")
    page.goto(f"{live_server}/approvals/")
    page.click("[data-testid=card-reject]")
    sheet = page.locator("#ap-reject")
    assert sheet.is_visible()
    assert "驳回订单 PO-R1" in page.inner_text("#ap-reject-title")
    box = sheet.bounding_box()
    assert box["y"] + box["height"] >= PHONE["height"] - 1  # a bottom sheet on the phone
    page.click("[data-testid=sheet-reject]")
    assert page.locator("[data-testid=reject-hint]").is_visible()
    assert "请填写驳回原因" in page.inner_text("[data-testid=reject-hint]")
    assert page.evaluate("document.activeElement.id") == "ap-reject-reason"
    assert run_of(db, run.id).status == "waiting"
    screenshot(page, "approvals-reject-sheet-375-zh")
    page.fill("#ap-reject-reason", "账期不符")
    page.click("[data-testid=sheet-reject]")
    page.wait_for_selector(".flash.success")
    assert run_of(db, run.id).outcome == "refused"
    assert _cards(page) == 0


def _small_targets(page, selectors: list[str]) -> list[str]:
    """Selectors with a visible element smaller than 44×44 px."""
    return page.evaluate(
        """(selectors) => selectors.flatMap((s) => [...document.querySelectorAll(s)]
            .filter((e) => e.getClientRects().length)
            .map((e) => [s, e.getBoundingClientRect()])
            .filter(([, r]) => r.width < 44 || r.height < 44)
            .map(([s, r]) => `${s} ${Math.round(r.width)}×${Math.round(r.height)}`))""",
        selectors,
    )


INBOX_TARGETS = [".ap-tabs label", ".ap-check", ".ap-pick", ".ap-quick .btn", ".ap-bulkbar .btn",
                 ".ap-bulkbar input", ".bell", ".ap-filters input[type=search]"]  # fmt: skip
TASK_TARGETS = [".ap-back a", ".bell", "[data-testid=approve]", "[data-testid=reject]",
                ".ap-delegate summary"]  # fmt: skip


def test_phone_inbox_and_task_page_fit_the_thumb(app, live_server, page_for):
    db = get_db(app)
    approver(db, "li", locale="zh")
    doc = approval_doc(checks=CHECKS, sla={"duration": "24h"})
    runs = [start(db, doc, external_id=f"PO-{i}") for i in range(1, 7)]
    for locale in ("zh-CN", "en-US"):
        page = page_for(**PHONE, locale=locale)
        _sign_in(page, live_server, "li")
        _language(page, locale)
        page.goto(f"{live_server}/approvals/")
        lang = locale[:2]
        screenshot(page, f"approvals-inbox-375-{lang}")
        page.check(".ap-card:first-child .ap-pick input")  # the bulk bar shows
        assert page.locator(".ap-bulkbar").is_visible()
        assert _small_targets(page, INBOX_TARGETS) == []
        # the bar never covers a card that has the focus, nor the last one
        for link in page.locator(".ap-card-body").all():
            link.focus()
            covered = page.evaluate(
                """(el) => { const r = el.getBoundingClientRect(), bar = document.querySelector('.ap-bulkbar').getBoundingClientRect();
                   return r.bottom > bar.top && r.top < bar.bottom; }""",
                link.element_handle(),
            )
            assert not covered, link.get_attribute("href")
        screenshot(page, f"approvals-inbox-selected-375-{lang}")
        # the choices show the keyboard focus
        page.focus(".ap-tabs input[value=done]")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowLeft")
        outline = page.evaluate(
            "getComputedStyle(document.activeElement.closest('label')).outlineStyle"
        )
        assert outline not in ("none", ""), outline

        (task,) = tasks_of(db, runs[0].id)
        page.goto(f"{live_server}/approvals/{task.task_key}")
        assert _small_targets(page, TASK_TARGETS) == []
        for button in ("approve", "reject"):  # on the first screen
            box = page.locator(f"[data-testid={button}]").bounding_box()
            assert box["y"] + box["height"] <= PHONE["height"], (button, box)
        page.screenshot(
            path=str(screenshot(page, f"approvals-task-375-{lang}")).replace(
                ".png", "-first-screen.png"
            )
        )
        page = page_for(**DESK, locale=locale)
        _sign_in(page, live_server, "li")
        _language(page, locale)
        page.goto(f"{live_server}/approvals/")
        screenshot(page, f"approvals-inbox-desktop-{lang}")
        page.goto(f"{live_server}/approvals/{task.task_key}")
        screenshot(page, f"approvals-task-desktop-{lang}")
