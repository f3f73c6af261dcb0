"""The task page in business words, in real Chromium: field labels and formatted values, the
node's name, the branch in words; the rule as written one click away for supervisors only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.db import get_db

from ..app.approvals.helpers import approver, start, tasks_of
from ..app.flows_fixtures import flow_doc
from .conftest import screenshot

# Extra copies of the screenshots for a reviewer, when asked for.
SHOTS = Path(os.environ["ORDERFLOW_SHOTS"]) if os.environ.get("ORDERFLOW_SHOTS") else None
CHECKS = [
    {"name": "credit_ok", "label": {"en": "Within credit limit", "zh": "未超信用额度"},
     "expression": "order.amount <= 50000"},
    {"name": "gold", "label": {"en": "Gold customer", "zh": "金牌客户"},
     "expression": 'customer.tier in ["gold", "platinum"] and order.amount < 20000'},
]  # fmt: skip


def _doc() -> dict:
    return flow_doc(
        "large-orders",
        [{"id": "start", "type": "start"},
         {"id": "condition_1", "type": "condition", "name": {"zh": "金额判断", "en": "Amount check"},
          "config": {"expression": "order.amount > 5000"}},
         {"id": "review", "type": "approval", "name": {"en": "Finance review", "zh": "财务审批"},
          "config": {"assignees": [{"user": "li"}], "checks": CHECKS,
                     "reason": {"en": "Large order", "zh": "大额订单"}}},
         {"id": "ok", "type": "end", "config": {"outcome": "accepted"}},
         {"id": "no", "type": "end", "config": {"outcome": "refused"}}],
        [("start", "condition_1"), ("condition_1", "review", "true"), ("condition_1", "ok", "false"),
         ("review", "ok", "approved"), ("review", "no", "rejected"), ("review", "no", "timeout")],
    )  # fmt: skip


def _keep(page, name: str) -> None:
    screenshot(page, f"approval-wording-{name}")
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _login(page, base: str, name: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", "correct-horse")
    page.click("button[type=submit].btn")
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.mark.parametrize(
    ("locale", "sent_by", "check", "hidden"),
    [
        ("zh-CN", "由「金额判断」转到这里：订单金额 ¥8,600.00 > ¥5,000.00 ✓ → 是",
         "订单金额 ¥8,600.00 ≤ ¥50,000.00 ✓", "condition_1"),
        ("en", "Sent here by Amount check: Order amount ¥8,600.00 > ¥5,000.00 ✓ → Yes",
         "Order amount ¥8,600.00 ≤ ¥50,000.00 ✓", "condition_1"),
    ],
)  # fmt: skip
def test_the_approver_reads_the_reason_in_business_words(
    app, live_server, page_for, locale, sent_by, check, hidden
):
    db = get_db(app)
    approver(db, "li", locale=locale[:2])
    approver(db, "zhao", roles=("admin",), locale=locale[:2])
    run = start(db, _doc(), amount="8600.00")
    (task,) = tasks_of(db, run.id)
    lang = locale[:2]
    for width, height, tag in ((375, 812, "375"), (1280, 900, "desktop")):
        page = page_for(width=width, height=height, locale=locale)
        _login(page, live_server, "li")
        page.goto(f"{live_server}/approvals/{task.task_key}")
        shown = page.inner_text("[data-testid=sent-by]").replace("\xa0", " ").strip()
        assert shown == sent_by  # the mark stays with its clause (no-break space)
        assert check in page.inner_text("[data-check=credit_ok]").replace("\xa0", " ")
        text = page.inner_text("main")
        assert hidden not in text and "order.amount" not in text and "customer.tier" not in text
        assert page.locator("[data-testid=raw-trace]").count() == 0
        _keep(page, f"task-{lang}-{tag}")
    page = page_for(width=375, height=812, locale=locale)
    _login(page, live_server, "zhao")
    page.goto(f"{live_server}/approvals/{task.task_key}")
    raw = page.locator("[data-testid=raw-trace]")
    assert not raw.locator("code").first.is_visible()  # closed until asked for
    raw.locator("summary").click()
    assert "order.amount > 5000" in raw.inner_text() and "condition_1" in raw.inner_text()
    _keep(page, f"task-{lang}-375-supervisor")
