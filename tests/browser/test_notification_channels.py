"""The admin's notification channels page at desktop width in Chinese and English: the list of
channels, and the form of each kind with its settings named in the reader's language; the
contact page and the message templates beside it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from app.db import get_db, in_transaction
from app.notifications import services

from .conftest import screenshot
from .crawl import login
from .test_language_crawl import VISIBLE_TEXT, english_in

# The screenshots are copied here too when set (to compare the page before and after a change).
SHOTS = os.environ.get("ORDERFLOW_SHOTS_DIR")


def _channels(app) -> None:
    def work(db):
        for name, kind, settings in (
            ("运营邮件", "email", {"host": "smtp.example.com", "port": "465", "security": "ssl",
                                 "username": "ops", "password": "pw", "sender": "ops@example.com"}),
            ("财务钉钉群", "dingtalk", {"webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=x",
                                   "secret": "SEC1"}),
            ("仓库企业微信群", "wecom", {"webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"}),
            ("客服飞书群", "feishu", {"webhook_url": "https://open.feishu.cn/open-apis/bot/v2/hook/h"}),
            ("短信网关", "sms", {"webhook_url": "https://sms.example.com/send", "secret": "s"}),
        ):  # fmt: skip
            services.save_channel(
                db, None, channel_id=None, name=name, kind=kind, enabled=kind != "sms",
                events=["approval_needed", "approval_reminder"], settings=settings,
            )  # fmt: skip

    in_transaction(get_db(app), work)


def test_channels_page_in_both_languages(app, live_server, page_for, make_user):
    make_user("boss", roles=("admin",), email="boss@example.com", display_name="王经理")
    make_user("chief", roles=("admin",), email="chief@example.com", display_name="陈总")
    _channels(app)
    for locale, admin, expect in (
        ("zh-CN", "boss", ("财务钉钉群", "邮件（SMTP）", "钉钉群机器人", "邮件服务器", "加签密钥", "企业微信用户 ID")),
        ("en-US", "chief", ("财务钉钉群", "Email (SMTP)", "DingTalk group robot", "Mail server", "Signing secret",
                            "WeCom user id")),
    ):  # fmt: skip
        page = page_for(1280, 800, locale=locale)
        login(page, live_server, admin)
        seen = ""
        for view, path in (
            ("email", "/admin/notifications/?edit=1"),
            ("robot", "/admin/notifications/?edit=2"),
            ("new", "/admin/notifications/?kind=email"),
            ("contact", "/notifications/contact"),
            ("templates", "/admin/notifications/templates?kind=dingtalk"),
        ):
            page.goto(f"{live_server}{path}")
            text = page.inner_text("body")
            seen += text
            if locale == "zh-CN" and view != "templates":  # it lists the template's values
                assert english_in(page.evaluate(VISIBLE_TEXT)) == []
            assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
            shot = screenshot(page, f"notification-channels-{view}-{locale}")
            if SHOTS:
                Path(SHOTS).mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, Path(SHOTS) / shot.name)
        assert [label for label in expect if label not in seen] == []
