"""A notification channel kind is one declaration: a throw-away "duty pager" kind, registered
for one test, is on the admin's channel form with its settings in Chinese and English, has its
settings checked, may be named by a flow's notify node and an alert rule, and a notification
reaches a real HTTP receiver on loopback through the outbox. Removed, it is gone again."""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.alerts.rules import check_rule_fields
from app.db import get_session
from app.errors import ValidationError
from app.i18n import code_label
from app.models import AllowedHost, ApprovalLink, NotificationChannel
from app.notifications import kinds
from app.notifications.kinds import ChannelKind, Setting
from app.notifications.kinds.base import post_json, webhook_url
from app.notifications.services import save_channel
from app.runs.outbox import DeliveryError
from flow_engine import NODE_HANDLERS, validate_flow

from ..approvals.helpers import (
    approval_doc,
    approver,
    channel,
    db_of,
    deliver_all,
    outbox_rows,
    start,
)
from ..conftest import csrf_token
from ..flows_fixtures import flow_doc
from .servers import RobotServer

TOKEN = "pager-token-123"


def send_pager(config: Mapping[str, Any], msg: Mapping[str, Any]) -> dict[str, Any]:
    body = {
        "to": msg["phone"],
        "title": msg["subject"],
        "text": msg["body"],
        "level": config["level"],
    }
    reply = post_json(config["webhook_url"], body, {"Authorization": f"Bearer {config['token']}"})
    if not reply.get("ok"):
        raise DeliveryError(f"the pager refused the message: {reply.get('error')}")
    return {"status": 200, "body": reply}


def _level(text: str) -> Any:
    return (
        None if text in ("1", "2", "3") else {"en": "Level 1, 2 or 3.", "zh": "级别为 1、2 或 3。"}
    )


PAGER = ChannelKind(
    name="pager",
    label={"en": "Duty pager", "zh": "值班寻呼机"},
    title={"en": "pager", "zh": "寻呼"},
    settings=(
        webhook_url("https://pager.example.com/send"),
        Setting(
            "token",
            {"en": "Access token", "zh": "访问令牌"},
            secret=True,
            required=True,
            hint={
                "en": "From the console of the pager service.",
                "zh": "在寻呼服务的控制台中获取。",
            },
        ),
        Setting("level", _l("Port"), example="2", check=_level),
    ),
    send=send_pager,
    address={"phone": "phone"},
    personal=True,
    style="short",
    required_hint={"en": "A pager needs its access token.", "zh": "寻呼机需要访问令牌。"},
)


class PagerServer(RobotServer):
    """The robots' loopback server, taught the pager's format: a bearer token and a phone."""

    def check_pager(self, body, query, headers, raw) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        if not hmac.compare_digest(headers.get("Authorization", ""), f"Bearer {TOKEN}"):
            return self._fail("pager: bad token", {"ok": False, "error": "token"})
        if not str(body.get("to", "")).isdigit() or not body.get("text"):
            return self._fail("pager: bad body", {"ok": False, "error": "body"})
        return {"ok": True}


@pytest.fixture
def pager(app) -> Iterator[ChannelKind]:
    kinds.register_channel_kind(PAGER)
    try:
        yield PAGER
    finally:
        kinds.unregister_channel_kind(PAGER.name)


def _notify_options() -> list[str]:
    return list(NODE_HANDLERS["notify"].config_schema["properties"]["channels"]["items"]["enum"])


def test_a_registered_kind_is_offered_in_both_languages_and_its_settings_are_checked(
    app, client, login, make_user, pager
):
    make_user("boss", roles=("admin",), email="boss@example.com")
    login("boss")
    for language, expected in (
        ("zh", ("值班寻呼机", "Webhook 地址", "访问令牌", "在寻呼服务的控制台中获取。", "端口")),
        ("en", ("Duty pager", "Webhook address", "Access token", "From the console of the pager service.", "Port")),
    ):  # fmt: skip
        page = client.get(
            "/admin/notifications/?kind=pager", headers={"Accept-Language": language}
        ).get_data(as_text=True)
        assert [text for text in expected if text not in page] == []
        assert 'value="pager" selected' in page and 'name="token"' in page
        assert 'placeholder="https://pager.example.com/send"' in page
        assert "personal_links" not in page  # a personal kind: no group-link option
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        db = get_session()
        for settings, fields, message in (
            ({"webhook_url": "https://pager.example.com/send"}, {"token": "required"}, "寻呼机需要访问令牌。"),
            ({"webhook_url": "ftp://pager", "token": TOKEN}, {"webhook_url": "invalid"}, "Webhook"),
            ({"webhook_url": "https://pager.example.com/send", "token": TOKEN, "level": "9"},
             {"level": "invalid"}, "级别为 1、2 或 3。"),
        ):  # fmt: skip
            with pytest.raises(ValidationError) as info:
                save_channel(db, None, channel_id=None, name="寻呼", kind="pager", enabled=True,
                             events=[], settings=settings)  # fmt: skip
            assert info.value.fields == fields
            assert message in str(info.value.message)
    saved = client.post("/admin/notifications/channels", data={
        "csrf_token": csrf_token(client, "/admin/notifications/"), "name": "值班", "kind": "pager",
        "enabled": "1", "webhook_url": "https://pager.example.com/send", "token": TOKEN,
        "level": "2", "events": ["approval_needed"]})  # fmt: skip
    assert saved.status_code == 302
    with app.app_context():
        db = get_session()
        stored = db.scalars(select(NotificationChannel)).one()
        assert (stored.kind, stored.config["token"], stored.config["level"]) == (
            "pager",
            TOKEN,
            "2",
        )
        assert db.scalars(select(AllowedHost.host)).all() == ["pager.example.com"]
    edit = client.get("/admin/notifications/?edit=1").get_data(as_text=True)
    assert TOKEN not in edit and "••••••" in edit


def test_the_engine_the_alert_rules_and_the_pages_name_it_until_it_is_removed(app):
    assert "pager" not in _notify_options()
    kinds.register_channel_kind(PAGER)
    try:
        assert _notify_options() == [
            "inbox",
            "email",
            "wecom",
            "dingtalk",
            "feishu",
            "sms",
            "pager",
        ]
        names = NODE_HANDLERS["notify"].config_schema["properties"]["channels"]["x-enum-zh"]
        assert names["pager"] == "寻呼" and names["wecom"] == "企业微信"
        with app.test_request_context(headers={"Accept-Language": "zh"}):
            assert code_label("pager", "channel") == "寻呼"
        with pytest.raises(ValueError, match="registered already"):
            kinds.register_channel_kind(PAGER)
    finally:
        kinds.unregister_channel_kind("pager")
    assert "pager" not in _notify_options()
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        assert code_label("pager", "channel") == "pager"
    doc = flow_doc(
        "told", [{"id": "start", "type": "start"},
                 {"id": "tell", "type": "notify", "config": {"to": [{"user": "li"}], "channels": ["pager"],
                  "message": {"zh": "x", "en": "x"}}},
                 {"id": "end", "type": "end", "config": {"outcome": "told"}}],
        [("start", "tell"), ("tell", "end")],
    )  # fmt: skip
    (issue,) = validate_flow(doc)
    assert issue.path == "/nodes/1/config/channels/0" and "inbox" in issue.message


def test_a_kind_that_lacks_what_the_pages_need_is_refused():
    nameless = ChannelKind(name="Pager!", label="x", title={"en": "x"}, settings=(), send=send_pager,
                           address={"phone": "fax"})  # fmt: skip
    with pytest.raises(ValueError) as info:
        kinds.register_channel_kind(nameless)
    assert "lowercase name" in str(info.value) and "'zh'" in str(info.value)
    assert "unknown user attributes ['fax']" in str(info.value)
    assert "Pager!" not in kinds.KINDS


def test_a_notification_reaches_the_pager_through_the_outbox(app, pager):
    database = db_of(app)
    approver(database, "li", phone="13800138000", locale="zh")
    with PagerServer() as server:
        url = server.url("pager")
        channel(database, "pager", events=("approval_needed", "flow_message"), webhook_url=url,
                token=TOKEN, level="3")  # fmt: skip
        rule = check_rule_fields(
            {"key": "late", "name_zh": "迟了", "channels": ["inbox", "pager", "fax"]}
        )
        assert rule["channels"] == ["inbox", "pager"]
        start(database, approval_doc())
        told = flow_doc(
            "told", [{"id": "start", "type": "start"},
                     {"id": "tell", "type": "notify", "config": {"to": [{"user": "li"}], "channels": ["pager"],
                      "message": {"zh": "订单 {id} 要跟进", "en": "Order {id} needs a look"},
                      "params": {"id": "order.external_id"}}},
                     {"id": "end", "type": "end", "config": {"outcome": "told"}}],
            [("start", "tell"), ("tell", "end")],
        )  # fmt: skip
        start(database, told, external_id="TB-9")
        deliver_all(app)
        assert server.problems == []
        texts = [r["body"]["text"] for r in server.received]
        approval = next(r for r in server.received if "PO-1" in r["body"]["text"])
        flow_message = next(r for r in server.received if "要跟进" in r["body"]["text"])
    assert approval["body"]["to"] == "13800138000" and approval["body"]["level"] == "3"
    assert "/approvals/link/" in approval["body"]["text"]  # personal: a single-use sign-in link
    assert flow_message["body"]["text"].startswith("订单 TB-9 要跟进")
    assert len(texts) == 3  # the approval flow started for TB-9 too
    assert {m.status for m in outbox_rows(database)} == {"sent"}
    with database.session() as db:
        assert set(db.scalars(select(ApprovalLink.channel))) == {"pager"}
