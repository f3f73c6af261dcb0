"""The approval's assignee picker: a supervisor finds the finance role by pinyin, sees whom it
reaches today, chooses it, and the flow's config says so."""

from __future__ import annotations

import os
import shutil

import pytest

from app.db import get_db, in_transaction
from app.org.demo import load_demo_org
from tests.app.editor.helpers import review_doc, store

from .conftest import screenshot, wait_until
from .test_editor import _login, _select

SHOTS = os.environ.get("ORDERFLOW_SHOTS")  # also copied there when set


@pytest.mark.parametrize(("locale", "lang"), [("zh-CN", "zh"), ("en-US", "en")])
def test_choose_a_business_role_in_the_picker(app, live_server, page_for, make_user, locale, lang):
    make_user("wang", roles=("supervisor",), display_name="王敏")
    with app.app_context():
        in_transaction(get_db(app), load_demo_org)
    doc = review_doc()
    doc["nodes"][2]["config"]["assignees"] = [{"role": "customer_service"}]
    store(app, doc)
    page = page_for(1440, 900, locale=locale)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server, "wang")
    page.goto(f"{live_server}/flows/large-order-review")
    page.wait_for_selector("#editor .ed-canvas svg")
    _select(page, "finance")
    field = ".node-form [data-assignee]"
    page.wait_for_selector(field)
    wait_until(
        page, f"document.querySelector('{field} .assignee-resolves').textContent.includes('2')"
    )
    search = f"{field} .assignee-search"
    page.fill(search, "caiwu")
    page.wait_for_selector(f"{field} .assignee-matches li[data-key=finance]")
    text = page.inner_text(f"{field} .assignee-matches li[data-key=finance]")
    if lang == "zh":
        assert "财务 · 2 人：" in text and "李娜" in text
    else:
        assert "Finance · 2 people:" in text and "李娜" in text
    shot = screenshot(page, f"editor-assignee-picker-{lang}")
    if SHOTS:
        shutil.copy(shot, os.path.join(SHOTS, shot.name))
    page.click(f"{field} .assignee-matches li[data-key=finance]")
    wait_until(
        page,
        "JSON.stringify(OF.editor.currentDoc().nodes.find(n => n.id === 'finance').config.assignees)"
        " === JSON.stringify([{role: 'finance'}])",
    )
    assert "李娜" in page.inner_text(f"{field} .assignee-resolves")
    page.select_option(f"{field} .assignee-kind", "head")
    page.fill(search, "cangchu")
    page.click(f"{field} .assignee-matches li[data-key=warehousing]")
    wait_until(
        page,
        "JSON.stringify(OF.editor.currentDoc().nodes.find(n => n.id === 'finance').config.assignees)"
        " === JSON.stringify([{department: 'warehousing', head: true}])",
    )
    assert "孙浩" in page.inner_text(f"{field} .assignee-resolves")
    assert errors == []
