"""The Feishu approval card as an approver sees it, rendered from the card JSON sent to the
fake Feishu by a small local preview (header, fields, markdown, form, buttons), in Chinese
and English at phone width; the same for WeCom's template card and for DingTalk's interactive
card (the template the docs describe, filled with the variables sent); and the admin's chat-app
page in both languages."""

from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path

from app.chatapps import services as chat
from app.db import get_db, in_transaction

from ..app.approvals.helpers import CHECKS, approval_doc, approver, deliver_all, start
from ..app.chatapps import fake_dingtalk, fake_wecom
from ..app.chatapps.fake_feishu import (
    APP_ID,
    APP_SECRET,
    ENCRYPT_KEY,
    VERIFICATION_TOKEN,
    FakeFeishu,
)
from .conftest import screenshot
from .crawl import login
from .test_language_crawl import VISIBLE_TEXT, english_in

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
COLOURS = {"orange": "#ff8800", "green": "#2ea121", "red": "#f54a45", "grey": "#8f959e"}
STYLE = """body{font:14px/1.5 sans-serif;background:#f2f3f5;margin:0;padding:12px}
.card{background:#fff;border-radius:8px;overflow:hidden;max-width:520px;box-shadow:0 1px 4px #0002}
.head{color:#fff;padding:10px 14px;font-weight:600}.body{padding:10px 14px}
.fields{display:grid;grid-template-columns:1fr 1fr;gap:6px}.md{white-space:pre-wrap;margin:6px 0}
input{width:100%;box-sizing:border-box;padding:6px;border:1px solid #ccc;border-radius:4px;margin:6px 0}
.btn{display:inline-block;padding:5px 14px;border-radius:4px;border:1px solid #ccc;margin:4px 6px 0 0}
.primary{background:#3370ff;color:#fff;border-color:#3370ff}.danger{color:#f54a45;border-color:#f54a45}
hr{border:0;border-top:1px solid #eee}.note{color:#8f959e;font-size:12px}
.src{color:#8f959e;font-size:12px}.title{font-size:17px;font-weight:600;margin:4px 0 0}
.row{display:flex;gap:12px;margin:4px 0}.row .k{color:#8f959e;min-width:64px}
.quote{border-left:3px solid #dde1e6;padding:2px 8px;white-space:pre-wrap;color:#555;margin:8px 0}
.grey{color:#8f959e;background:#f2f3f5}"""
WECOM_STYLES = {1: "primary", 2: "danger", 3: "", 4: ""}


def _md(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))


def _element(el: dict) -> str:
    tag = el["tag"]
    if tag == "div" and "fields" in el:
        return (
            '<div class="fields">'
            + "".join(f'<div class="md">{_md(f["text"]["content"])}</div>' for f in el["fields"])
            + "</div>"
        )
    if tag == "div":
        return f'<div class="md">{_md(el["text"]["content"])}</div>'
    if tag == "hr":
        return "<hr>"
    if tag == "note":
        return (
            '<div class="note">'
            + "".join(html.escape(e["content"]) for e in el["elements"])
            + "</div>"
        )
    if tag in ("form", "column"):
        return "".join(_element(e) for e in el["elements"])
    if tag == "column_set":
        return "<div>" + "".join(_element(c) for c in el["columns"]) + "</div>"
    if tag == "input":
        return f'<input placeholder="{html.escape(el["placeholder"]["content"])}">'
    if tag == "action":
        return "".join(_element(a) for a in el["actions"])
    if tag == "button":
        return f'<span class="btn {el.get("type", "")}">{html.escape(el["text"]["content"])}</span>'
    raise AssertionError(f"the preview does not know the card element {tag!r}")


def preview(card: dict) -> str:
    colour = COLOURS[card["header"]["template"]]
    title = html.escape(card["header"]["title"]["content"])
    body = "".join(_element(e) for e in card["elements"])
    return (f'<!doctype html><meta charset="utf-8"><style>{STYLE}</style><div class="card">'
            f'<div class="head" style="background:{colour}">{title}</div><div class="body">{body}</div></div>')  # fmt: skip


def wecom_preview(card: dict) -> str:
    """A WeCom button-interaction template card as the app shows it."""
    e = html.escape
    rows = "".join(f'<div class="row"><span class="k">{e(h["keyname"])}</span><span>{e(h["value"])}</span></div>'
                   for h in card["horizontal_content_list"])  # fmt: skip
    quote = card["quote_area"]
    buttons = "".join(f'<span class="btn {WECOM_STYLES[b.get("style", 1)]}">{e(b["text"])}</span>'
                      for b in card["button_list"])  # fmt: skip
    if card.get("replace_text"):
        buttons = f'<span class="btn grey">{e(card["replace_text"])}</span>'
    return (f'<!doctype html><meta charset="utf-8"><style>{STYLE}</style><div class="card"><div class="body">'
            f'<div class="src">{e(card["source"]["desc"])}</div><div class="title">{e(card["main_title"]["title"])}</div>'
            f'<div class="note">{e(card["main_title"]["desc"])}</div>{rows}'
            f'<div class="md"><b>{e(quote["title"])}</b></div><div class="quote">{e(quote["quote_text"])}</div>'
            f'<hr><div>{buttons}</div></div></div>')  # fmt: skip


def test_the_wecom_card_each_approver_gets(app, page_for):
    db = get_db(app)
    approver(db, "li", wecom_id="LiNa", locale="zh")
    approver(db, "wang", wecom_id="WangWei", locale="en")
    with fake_wecom.FakeWeCom() as fake:
        settings = {"agent_id": fake_wecom.AGENT_ID, "secret": fake_wecom.SECRET,
                    "token": fake_wecom.TOKEN, "aes_key": fake_wecom.AES_KEY}  # fmt: skip
        in_transaction(
            db, lambda s: chat.connect(s, "wecom", fake_wecom.CORP_ID, settings, fake.url)
        )
        start(db, approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="all",
                               checks=CHECKS, sla={"duration": "24h"}))  # fmt: skip
        deliver_all(app)
    cards = {s["touser"]: s["card"] for s in fake.sent}
    for who, language in (("LiNa", "zh"), ("WangWei", "en")):
        page = page_for(375, 700, locale="zh-CN" if language == "zh" else "en-US")
        page.set_content(wecom_preview(cards[who]))
        text = page.inner_text("body")
        assert ("同意" in text and "拒绝" in text) if language == "zh" else "Approve" in text
        if language == "zh":
            assert english_in([text]) == []
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
        shot = screenshot(page, f"wecom-card-{language}")
        if os.environ.get("ORDERFLOW_DOC_SCREENSHOTS"):  # refresh the pictures in the docs
            shutil.copy(shot, DOCS_IMG / f"wecom-card-{language}.png")


def dingtalk_preview(v: dict) -> str:
    """DingTalk's interactive card as the template in docs/approvals.md lays it out: the title,
    the node, the Markdown body, then the three buttons while pending, else the outcome."""
    e = html.escape
    body = "<br>".join(_md(line.rstrip()) for line in v["markdown"].split("\n"))
    if v["pending"] == "true":
        actions = (f'<span class="btn primary">{e(v["approve_text"])}</span>'
                   f'<span class="btn danger">{e(v["reject_text"])}</span>'
                   f'<span class="btn">{e(v["details_text"])}</span>')  # fmt: skip
    else:
        actions = f'<div class="md grey">{e(v["outcome"])}</div>'
    notice = f'<div class="note">{e(v["notice"])}</div>' if v["notice"] else ""
    return (f'<!doctype html><meta charset="utf-8"><style>{STYLE}</style><div class="card"><div class="body">'
            f'<div class="src">OrderFlow</div><div class="title">{e(v["title"])}</div>'
            f'<div class="note">{e(v["node"])}</div><div class="md">{body}</div><hr>{actions}{notice}'
            '</div></div>')  # fmt: skip


def test_the_dingtalk_card_each_approver_gets(app, page_for):
    db = get_db(app)
    approver(db, "li", dingtalk_id="LiNa", locale="zh")
    approver(db, "wang", dingtalk_id="WangWei", locale="en")
    with fake_dingtalk.FakeDingTalk() as fake:
        settings = {"robot_code": fake_dingtalk.APP_KEY, "card_template_id": fake_dingtalk.TEMPLATE,
                    "app_secret": fake_dingtalk.APP_SECRET}  # fmt: skip
        app_pk = in_transaction(
            db, lambda s: chat.connect(s, "dingtalk", fake_dingtalk.APP_KEY, settings, fake.url).id
        )
        chat.register_callback(db, app_pk, "http://127.0.0.1/hooks/chat/dingtalk/cards")
        start(db, approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="all",
                               checks=CHECKS, sla={"duration": "24h"}))  # fmt: skip
        deliver_all(app)
    assert fake.problems == []
    cards = {s["to"]: s["card"] for s in fake.sent}
    for who, language in (("LiNa", "zh"), ("WangWei", "en")):
        page = page_for(375, 700, locale="zh-CN" if language == "zh" else "en-US")
        page.set_content(dingtalk_preview(cards[who]))
        text = page.inner_text("body")
        assert ("同意" in text and "拒绝" in text) if language == "zh" else "Approve" in text
        if language == "zh":
            assert english_in([text]) == []
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
        shot = screenshot(page, f"dingtalk-card-{language}")
        if os.environ.get("ORDERFLOW_DOC_SCREENSHOTS"):  # refresh the pictures in the docs
            shutil.copy(shot, DOCS_IMG / f"dingtalk-card-{language}.png")


def test_the_card_each_approver_gets_and_the_admin_page(app, live_server, page_for):
    db = get_db(app)
    app.config["BASE_URL"] = live_server
    approver(db, "li", feishu_id="ou_li", locale="zh")
    approver(db, "wang", feishu_id="ou_wang", locale="en")
    approver(db, "boss", roles=("admin",), locale="zh", display_name="王经理")
    approver(db, "chief", roles=("admin",), locale="en")
    with FakeFeishu() as fake:
        settings = {
            "app_secret": APP_SECRET,
            "verification_token": VERIFICATION_TOKEN,
            "encrypt_key": ENCRYPT_KEY,
        }
        in_transaction(db, lambda s: chat.connect(s, "feishu", APP_ID, settings, fake.url))
        start(db, approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="all",
                               checks=CHECKS, sla={"duration": "24h"}))  # fmt: skip
        deliver_all(app)
    cards = {s["receive_id"]: s["card"] for s in fake.sent}
    for who, language in (("ou_li", "zh"), ("ou_wang", "en")):
        page = page_for(375, 700, locale="zh-CN" if language == "zh" else "en-US")
        page.set_content(preview(cards[who]))
        text = page.inner_text("body")
        assert ("同意" in text and "拒绝" in text) if language == "zh" else "Approve" in text
        if language == "zh":
            assert english_in([text]) == []
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
        shot = screenshot(page, f"feishu-card-{language}")
        if os.environ.get("ORDERFLOW_DOC_SCREENSHOTS"):  # refresh the pictures in the docs
            shutil.copy(shot, DOCS_IMG / f"feishu-card-{language}.png")
    for locale, admin in (("zh-CN", "boss"), ("en-US", "chief")):
        page = page_for(1280, 800, locale=locale)
        login(page, live_server, admin)
        page.goto(f"{live_server}/admin/chat-apps/")
        assert f"/hooks/chat/feishu/{APP_ID}" in page.inner_text("body")
        if locale == "zh-CN":  # the language crawl's rule: no English words in the Chinese page
            assert english_in(page.evaluate(VISIBLE_TEXT)) == []
        screenshot(page, f"chat-apps-admin-{locale}")
        page.goto(f"{live_server}/admin/notifications/")  # the way there, from the channels
        if locale == "zh-CN":
            assert english_in(page.evaluate(VISIBLE_TEXT)) == []
        screenshot(page, f"channels-{locale}")
        page.click("a[href='/admin/chat-apps/']")
        page.wait_for_url(f"{live_server}/admin/chat-apps/")
