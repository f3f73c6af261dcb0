"""Every page an admin reaches, in Chinese, shows no English outside codes.

The crawl loads the demo (runs, approvals waiting, alerts), turns one webhook into a dead
letter whose awaited call leaves its run in an incident, then visits every page of the nav,
the first row each list links to, and a draft flow in the editor with every node type's
configuration panel opened. Visible text outside ``<code>``, ``<pre>``, inputs and elements
marked ``translate="no"`` must not contain English words, except the allowlisted names.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from app.db import get_db, get_session
from app.flows import services as flows
from app.models import AllowedHost, OutboxMessage
from app.runs import outbox
from app.templates_admin.demo import load_demo
from flow_engine import NODE_HANDLERS

from .conftest import screenshot
from .serving import serving

# Names and codes that stay as they are in Chinese text.
ALLOWED = frozenset(
    """
    OrderFlow API ID SKU URL HTTP HTTPS JSON DSL SLA ERP WMS TMS CRM OMS CSV PDF SMS SMTP
    WeCom DingTalk Feishu Shopify Taobao Douyin Webhook webhook ISO UTC HMAC PO KPI CSRF
    JSONPath POST PUT PATCH GET DELETE OpenAPI Markdown Excel Playwright Huey Redis PostgreSQL
    SQLite Chromium Asia Shanghai GMT CST IP Email email zh en Key
    """.split()
)
# A token is English text when it is a word of letters; codes (with digits, _ - . / @ or
# camelCase) and short upper-case abbreviations are not.
WORD = re.compile(r"(?<![\w.@/-])[A-Za-z][a-z]{2,}(?![\w.@/-])")

VISIBLE_TEXT = """
() => {
  const skip = 'CODE,PRE,KBD,SAMP,SCRIPT,STYLE,TEXTAREA,NOSCRIPT,TEMPLATE,SVG,SELECT';
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.nodeValue.trim();
    if (!text) continue;
    const el = n.parentElement;
    if (!el || el.closest(skip.split(',').map(t => t.toLowerCase()).join(','))) continue;
    if (el.closest('[translate=no],.code,.mono,.dsl-editor,.x6-graph-svg-viewport text')) continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    if (!el.getClientRects().length) continue;
    out.push(text);
  }
  document.querySelectorAll('select option:checked, [placeholder], [title], [aria-label]').forEach((el) => {
    if (el.closest('[translate=no],code,pre')) return;
    for (const a of ['placeholder', 'title', 'aria-label']) if (el.getAttribute(a)) out.push(el.getAttribute(a));
    if (el.tagName === 'OPTION') out.push(el.textContent.trim());
  });
  return out;
}
"""


def english_in(texts: list[str]) -> list[str]:
    """The texts holding English words that are not on the allowlist."""
    found = []
    for text in texts:
        words = [w for w in WORD.findall(text) if w not in ALLOWED]
        if words:
            found.append(text[:160])
    return found


def test_english_words_are_found_in_a_text():
    assert english_in(["等待事件 label_printed", "SKU-1 订单 PO-2024-001", "OrderFlow 中文"]) == []
    assert english_in(["状态 waiting", "Ends the whole run; …", "决策表 gap：x"]) == [
        "状态 waiting",
        "Ends the whole run; …",
        "决策表 gap：x",
    ]


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "correct-horse")
    page.click("button[type=submit].btn")
    page.wait_for_url(f"{base}/")


def _dead_letter(app) -> None:
    """Take the demo receiver off the allowlist and deliver: the webhooks die, refused."""
    database = get_db(app)
    with database.session() as db:
        for host in db.scalars(select(AllowedHost)):
            outbox.remove_allowed_host(db, host.id)
        db.commit()
        pending = list(db.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == "webhook")))
    for message_id in pending:
        outbox.deliver(database, message_id)


def _draft_with_every_node(app) -> str:
    nodes = [
        {"id": f"n_{t}", "type": t, "config": {}, "position": {"x": 40 + 60 * i, "y": 80}}
        for i, t in enumerate(NODE_HANDLERS)
    ]
    doc = {
        "format_version": 1,
        "key": "every-node",
        "name": {"zh": "全部节点", "en": "Every node"},
        "trigger": {"event": "order.created"},
        "nodes": nodes,
        "edges": [],
    }
    with app.app_context():
        db = get_session()
        flows.create_flow(db, None, doc)
        db.commit()
    return "every-node"


def _links(page, selector: str) -> list[str]:
    return page.evaluate(
        f"[...document.querySelectorAll({json.dumps(selector)})].map(a => a.getAttribute('href'))"
    )


@pytest.fixture
def app_config(app_config):
    # Only the demo's own allowlist entry lets its webhooks out (and it is taken away).
    return {**app_config, "DEMO_RECEIVER": True, "OUTBOX_ALLOWED_HOSTS": ""}


def test_chinese_pages_show_no_english(app, make_user, page_for):
    make_user("boss", roles=("admin",), display_name="管理员")
    found: dict[str, list[str]] = {}
    with serving(app) as base:
        with app.app_context():
            load_demo(app, receiver_base=base)
        _dead_letter(app)
        key = _draft_with_every_node(app)
        page = page_for(1280, 900, locale="zh-CN")
        _login(page, base, "boss")

        def visit(path: str) -> None:
            if path in found:
                return
            page.goto(base + path)
            page.wait_for_timeout(250)  # htmx fragments loaded on page load
            found[path] = english_in(page.evaluate(VISIBLE_TEXT))

        visit("/")
        nav = [h for h in _links(page, "header nav a[href^='/']") if h != "/"]
        for path in nav:
            visit(path)
        detail_links = {
            "/orders": "main a[href^='/orders/']",
            "/runs": "main a[href^='/runs/']",
            "/approvals": "main a[href^='/approvals/']",
            "/alerts": "main a[href^='/alerts/']",
        }
        for listing, selector in detail_links.items():
            visit(listing)
            page.goto(base + listing)
            for href in _links(page, selector)[:3]:
                visit(href)
        for extra in ("/runs?status=incident", "/admin/outbox/", "/notifications"):
            visit(extra)

        page.goto(f"{base}/flows/{key}")
        page.wait_for_selector("#editor .ed-canvas svg")
        for node_type in NODE_HANDLERS:
            node_id = f"n_{node_type}"
            page.evaluate(f"OF.editor.fg.selectOnly({json.dumps(node_id)})")
            page.wait_for_selector(f'.node-form[data-node-id="{node_id}"]')
            found[f"editor:{node_type}"] = english_in(page.evaluate(VISIBLE_TEXT))
            if node_type == "approval":
                screenshot(page, "crawl-editor-approval-zh")
    offenders = {where: texts for where, texts in found.items() if texts}
    report = "\n".join(f"{where}: {texts}" for where, texts in offenders.items())
    assert offenders == {}, f"English in the Chinese UI ({len(found)} views):\n{report}"
