"""Every page an admin reaches, in Chinese, shows no English outside codes.

The crawl loads the demo (runs, approvals waiting, alerts), turns one webhook into a dead
letter whose awaited call leaves its run in an incident, then visits every page of the nav,
the first row each list links to, and a draft flow in the editor with every node type's
configuration panel opened. Visible text outside ``<code>``, ``<pre>``, inputs and elements
marked ``translate="no"`` (identifiers) or ``lang="en"`` (English on purpose) must not contain English words, except the allowlisted names.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from app.db import get_db, get_session, in_transaction
from app.flows import services as flows
from app.models import AllowedHost, ApprovalTask, OutboxMessage, Run
from app.orders import services as orders
from app.runs import outbox
from app.templates_admin.demo import load_demo
from flow_engine import NODE_HANDLERS
from tests.app.flows_fixtures import flow_doc, order_doc, publish

from .conftest import screenshot
from .serving import serving

# Names and codes that stay as they are in Chinese text: products and standards, the language
# switch's "English", keys, the demo's sales channel codes (data, shown as stored) and the
# pinyin-initials examples of the search fields.
ALLOWED = frozenset(
    """
    OrderFlow API ID SKU URL HTTP HTTPS JSON DSL SLA ERP WMS TMS CRM OMS CSV PDF SMS SMTP
    WeCom DingTalk Feishu Shopify Taobao Douyin Webhook webhook ISO UTC HMAC PO KPI CSRF
    JSONPath POST PUT PATCH GET DELETE OpenAPI Markdown Excel Playwright Huey Redis PostgreSQL
    SQLite Chromium Asia Shanghai GMT CST IP Email email zh en Key English
    Ctrl Shift Alt Enter Esc Delete Tab
    taobao tmall douyin shopify wechat crm jd pdd erp wms tms
    desh ddly
    """.split()
)
# A token is English text when it is a word of letters; codes (with digits, _ - . / @, a
# colon inside as in orders:read, or camelCase) and short upper-case abbreviations are not.
WORD = re.compile(r"(?<![\w.@/-])(?<!\w:)[A-Za-z][a-z]{2,}(?![\w.@/-])(?!:\w)")

VISIBLE_TEXT = """
() => {
  const skip = 'CODE,PRE,KBD,SAMP,SCRIPT,STYLE,TEXTAREA,NOSCRIPT,TEMPLATE,SELECT';
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.nodeValue.trim();
    if (!text) continue;
    const el = n.parentElement;
    if (!el || el.closest(skip.split(',').map(t => t.toLowerCase()).join(','))) continue;
    if (el.closest('[translate=no],[lang^=en],.dsl-editor')) continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    if (!el.getClientRects().length) continue;
    out.push(text);
  }
  document.querySelectorAll('select option:checked, [placeholder], [title], [aria-label]').forEach((el) => {
    if (el.closest('[translate=no],[lang^=en],code,pre')) return;
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


def _incident(app) -> int:
    """A run stopped in an incident: the order's unit count is 0 and the price divides by it."""
    doc = flow_doc(
        "per-unit",
        [{"id": "start", "type": "start", "name": {"zh": "开始", "en": "Start"}},
         {"id": "unit", "type": "set", "name": {"zh": "计算单价", "en": "Unit price"},
          "config": {"fields": [{"path": "vars.unit", "expression": "order.amount / order.custom.units"}]}},
         {"id": "done", "type": "end", "name": {"zh": "完成", "en": "Done"}, "config": {"outcome": "priced"}}],
        [("start", "unit"), ("unit", "done")],
    )  # fmt: skip
    doc["name"] = {"zh": "按件计价", "en": "Per-unit pricing"}
    database = get_db(app)
    in_transaction(database, lambda db: publish(db, doc))
    order = order_doc("U-1", "100.00", custom={"units": 0})
    in_transaction(database, lambda db: orders.ingest(db, order))
    with database.session() as db:
        return db.scalars(select(Run.id).where(Run.status == "incident")).one()


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
        incident_run = _incident(app)
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
        # The first rows each list links to.
        for listing, pattern in (
            ("/orders", r"/orders/\d+"),
            ("/runs", r"/runs/\d+"),
            ("/alerts", r"/alerts/\d+"),
        ):
            page.goto(base + listing)
            for href in [h for h in _links(page, "main a") if re.fullmatch(pattern, h)][:2]:
                visit(href)
        with get_db(app).session() as db:
            tasks = db.scalars(select(ApprovalTask.task_key).order_by(ApprovalTask.id).limit(2))
            for task_key in list(tasks):
                visit(f"/approvals/{task_key}")
        for extra in (f"/runs/{incident_run}", "/admin/outbox/", "/notifications"):
            visit(extra)
        # The crawl saw each kind of page the brief names (so an empty list cannot pass).
        approval_pages = [p for p in found if re.fullmatch(r"/approvals/\d+:\w+", p)]
        alert_pages = [p for p in found if re.fullmatch(r"/alerts/\d+", p)]
        assert approval_pages and alert_pages, "\n".join(sorted(found))
        assert page.goto(f"{base}/admin/outbox/") and page.locator("[data-testid^=dead-]").count()

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
