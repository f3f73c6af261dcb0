"""Admin → 组织架构 in a real browser: add a scoped holder with the pickers, preview a CSV
import, and screenshots of the three pages and the preview in Chinese and English."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from app.db import get_db, in_transaction
from app.org import csvio
from tests.app.org.conftest import PEOPLE, add_people, seed

from .conftest import screenshot

SHOTS = os.environ.get("ORDERFLOW_SHOTS")  # also copy the screenshots there when set
NAMES = {"wang.min": "王敏", "li.na": "李娜", "zhao.lei": "赵磊", "chen.jing": "陈静"}


def _world(app) -> None:
    with app.test_request_context():
        in_transaction(get_db(app), lambda db: add_people(db, {"boss": "admin",
                                                               **dict.fromkeys(PEOPLE, "approver")}))  # fmt: skip
        in_transaction(get_db(app), seed)

        def names(db) -> None:
            from sqlalchemy import select

            from app.models import User

            for user in db.scalars(select(User).where(User.username.in_(NAMES))):
                user.display_name = NAMES[user.username]

        in_transaction(get_db(app), names)


def _shot(page, name: str) -> None:
    path = screenshot(page, name)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SHOTS) / path.name)


def _login(page, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "correct-horse")
    page.click("button[type=submit].btn")


def test_add_a_warehouse_lead_with_the_pickers_and_preview_an_import(app, live_server, page_for,
                                                                     tmp_path):  # fmt: skip
    _world(app)
    for locale, lang in (("zh-CN", "zh"), ("en-US", "en")):
        page = page_for(locale=locale)
        _login(page, live_server)
        for name in ("departments", "roles", "people"):
            page.goto(f"{live_server}/admin/org/{name}")
            assert page.locator(".org-tabs a[aria-current=page]").count() == 1
            _shot(page, f"org-{name}-{lang}")
    page = page_for(locale="zh-CN")
    _login(page, live_server)
    page.goto(f"{live_server}/admin/org/roles")
    form = page.locator("#role-warehouse_lead form.org-row")
    form.locator("input[name=user]").fill("chen.jing")
    form.locator("select[name=scope]").select_option("BJ-01")
    form.locator("button[type=submit]").click()
    assert "chen.jing 现担任 warehouse_lead@BJ-01。" in page.inner_text(".flash")
    assert "陈静 (chen.jing) · BJ-01" in page.inner_text("#role-warehouse_lead .org-holders")
    path = tmp_path / "org.csv"
    path.write_text(",".join(csvio.HEADER) + "\n"
                    "chen.jing,陈静,finance,,,,li.na,finance;warehouse_lead@BJ-01,1\n"
                    "sun.li,孙丽,tax,税务部,Tax,finance,li.na,,1\n", encoding="utf-8")  # fmt: skip
    for locale, lang in (("zh-CN", "zh"), ("en-US", "en")):
        page = page_for(locale=locale)
        _login(page, live_server)
        page.goto(f"{live_server}/admin/org/import")
        page.set_input_files("input[name=file]", str(path))
        page.click("form.org-row button[type=submit]")
        preview = page.inner_text("[data-testid=preview]")
        if lang == "zh":
            assert "第 3 行：新建部门 tax（税务部）" in preview
            assert "第 2 行 chen.jing：部门 — → 财务部" in preview
        _shot(page, f"org-import-preview-{lang}")
    page.click("text=Apply these changes")
    assert "Imported" in page.inner_text("[data-testid=preview]")
    page.goto(f"{live_server}/admin/org/people?q=sunli")
    assert "孙丽" in page.inner_text("[data-testid=people]")
