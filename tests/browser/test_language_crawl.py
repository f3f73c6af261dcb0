"""Every page an admin reaches, in Chinese, shows no English outside codes.

The crawl loads the demo (runs, approvals waiting, alerts), turns one webhook into a dead
letter whose awaited call leaves its run in an incident, then visits every page of the nav,
the first row each list links to, and a draft flow in the editor with every node type's
configuration panel opened. Visible text outside ``<code>``, ``<pre>``, inputs and elements
marked ``translate="no"`` (identifiers) or ``lang="en"`` (English on purpose) must not contain English words, except the allowlisted names.
"""

from __future__ import annotations

import re

import pytest

from .conftest import screenshot
from .crawl import CRAWL_CONFIG, crawl_site, editor_panels, login, site_paths, visit

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


@pytest.fixture
def app_config(app_config):
    return {**app_config, **CRAWL_CONFIG}


def test_chinese_pages_show_no_english(app, make_user, page_for):
    found: dict[str, list[str]] = {}
    with crawl_site(app, make_user) as site:
        page = page_for(1280, 900, locale="zh-CN")
        login(page, site.base)
        for path in site_paths(page, app, site):
            visit(page, site, path)
            found[path] = english_in(page.evaluate(VISIBLE_TEXT))
        for node_type in editor_panels(page, site):
            found[f"editor:{node_type}"] = english_in(page.evaluate(VISIBLE_TEXT))
            if node_type == "approval":
                screenshot(page, "crawl-editor-approval-zh")
    offenders = {where: texts for where, texts in found.items() if texts}
    report = "\n".join(f"{where}: {texts}" for where, texts in offenders.items())
    assert offenders == {}, f"English in the Chinese UI ({len(found)} views):\n{report}"
