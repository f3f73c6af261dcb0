"""Every notification channel against a real server on loopback: SMTP (aiosmtpd), the WeCom,
DingTalk and Feishu group robots (format and signature checked) and an SMS gateway; in-app
notifications; retries and dead letters through the outbox."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.errors import ValidationError
from app.models import ApprovalLink, Notification
from app.notifications import messages
from app.notifications import services as notes
from app.runs import outbox

from ..approvals.helpers import (
    CHECKS,
    approval_doc,
    approver,
    channel,
    db_of,
    deliver_all,
    outbox_rows,
    start,
    user,
)
from .servers import RobotServer, SmtpSink


def by_kind_text(robots: RobotServer, kind: str) -> str:
    return json.dumps([r["body"] for r in robots.received if r["kind"] == kind], ensure_ascii=False)


SECRETS = {"dingtalk": "SEC-ding-123", "feishu": "feishu-secret", "sms": "sms-secret"}


@pytest.fixture
def db(app):
    database = db_of(app)
    approver(database, "li", phone="13800138000", wecom_id="LiQiang", dingtalk_id="ding-li",
             feishu_id="ou_li", locale="zh")  # fmt: skip
    return database


def test_approval_needed_reaches_every_channel_in_its_format(app, db):
    with SmtpSink() as smtp, RobotServer(SECRETS) as robots:
        channel(db, "email", **smtp.config())
        channel(db, "wecom", webhook_url=robots.url("wecom"))
        channel(db, "dingtalk", webhook_url=robots.url("dingtalk"), secret=SECRETS["dingtalk"])
        channel(db, "feishu", webhook_url=robots.url("feishu"), secret=SECRETS["feishu"])
        channel(db, "sms", webhook_url=robots.url("sms"), secret=SECRETS["sms"])
        run = start(db, approval_doc(sla={"duration": "24h"}, checks=CHECKS))
        deliver_all(app)
        (mail,) = smtp.wait(1)
        assert robots.problems == []
        kinds = sorted(r["kind"] for r in robots.received)
        assert kinds == ["dingtalk", "feishu", "sms", "wecom"]
    assert mail["To"].endswith("<li@example.com>") and "PO-1" in mail["Subject"]
    text = SmtpSink.body(mail)
    assert "订单金额超过 20,000" in text and "CNY 25,000.00" in text
    # the checks in business words, no DSL paths
    assert "✓ 未超信用额度：订单金额 ¥25,000.00 ≤ ¥50,000.00" in text
    assert "✗ 库存充足：订单金额 ¥25,000.00 < ¥20,000.00" in text and "order.amount" not in text
    assert "- ✗ 库存充足" in by_kind_text(robots, "wecom")
    (link,) = smtp.links()
    assert "/approvals/link/" in link
    by_kind = {r["kind"]: r["body"] for r in robots.received}
    assert "<@LiQiang>" in by_kind["wecom"]["markdown"]["content"]
    assert by_kind["dingtalk"]["at"]["atMobiles"] == ["13800138000"]
    feishu_lines = by_kind["feishu"]["content"]["post"]["zh_cn"]["content"]
    assert {"tag": "at", "user_id": "ou_li"} in feishu_lines[-1]
    assert by_kind["sms"]["to"] == "13800138000" and "/approvals/link/" in by_kind["sms"]["text"]
    # Group robots carry the plain approval address (sign-in needed), not a personal link.
    assert "/approvals/link/" not in json.dumps(by_kind["dingtalk"], ensure_ascii=False)
    with db.session() as s:
        (note,) = s.scalars(select(Notification))
        assert note.task_key.startswith(f"{run.id}:") and "PO-1" in note.title
        assert notes.unread_count(s, user(db, "li")) == 1
        assert s.scalar(select(ApprovalLink.channel).where(ApprovalLink.channel == "sms")) == "sms"
    assert {m.status for m in outbox_rows(db)} == {"sent"}


def test_a_wrong_robot_signature_is_refused_retried_and_finally_dead(app, db):
    with RobotServer(SECRETS) as robots:
        channel(db, "dingtalk", webhook_url=robots.url("dingtalk"), secret="not-the-secret")
        start(db, approval_doc())
        swept = deliver_all(app)
        assert robots.problems == ["dingtalk: bad sign"], (
            swept,
            [
                (m.id, m.status, m.attempts, m.next_attempt_at, m.last_error)
                for m in outbox_rows(db)
            ],
        )
    parent, part = outbox_rows(db)
    assert parent.status == "sent"
    assert part.status == "pending" and "310000" in part.last_error and part.attempts == 1
    with db.session() as s:
        s.get(type(part), part.id).attempts = outbox.MAX_ATTEMPTS - 1
        s.commit()
    with app.app_context():
        assert outbox.deliver(db, part.id, now=part.next_attempt_at) == "dead"


def test_email_server_down_means_retry_with_backoff_not_loss(app, db):
    from .servers import free_port

    channel(db, "email", host="127.0.0.1", port=str(free_port()))
    start(db, approval_doc())
    deliver_all(app)
    parent, part = outbox_rows(db)
    assert (parent.status, part.status) == ("sent", "pending")
    assert "cannot send the email" in part.last_error
    with SmtpSink() as smtp, db.session() as s:
        row = s.get(type(part), part.id)
        row.payload = {**row.payload}
        s.execute(
            __import__("sqlalchemy").update(type(part)).values(next_attempt_at=part.created_at)
        )
        from app.models import NotificationChannel

        ch = s.scalars(select(NotificationChannel)).one()
        ch.config = {**ch.config, "port": str(smtp.port)}
        s.commit()
        deliver_all(app)
        assert len(smtp.wait(1)) == 1
    assert outbox_rows(db)[1].status == "sent"


def test_a_delivered_notification_is_not_sent_twice_when_fanned_out_again(app, db):
    with SmtpSink() as smtp:
        channel(db, "email", **smtp.config())
        start(db, approval_doc())
        deliver_all(app)
        smtp.wait(1)
        parent = outbox_rows(db)[0]
        from app.notifications.delivery import fan_out

        with app.app_context(), db.session() as s:
            again = fan_out(s, app, s.get(type(parent), parent.id))
            s.commit()
        assert again == []
        assert len(smtp.messages) == 1
    with db.session() as s:
        assert len(list(s.scalars(select(Notification)))) == 1


def test_admin_templates_change_the_message_and_bad_templates_are_refused(app, db):
    with app.test_request_context():
        with db.session() as s:
            messages.save(s, None, "email", "approval_needed", "zh", "审批：{{ order_id }}",
                          "请审批 {{ order_id }}，金额 {{ amount }}。{{ link }}")  # fmt: skip
            s.commit()
            with pytest.raises(ValidationError) as err:
                messages.save(s, None, "email", "approval_needed", "zh", "x", "{{ order_id ")
            assert err.value.fields == {"body": "invalid"}
    with SmtpSink() as smtp:
        channel(db, "email", **smtp.config())
        start(db, approval_doc())
        deliver_all(app)
        (mail,) = smtp.wait(1)
    assert mail["Subject"] == "审批：PO-1"
    assert SmtpSink.body(mail).startswith("请审批 PO-1，金额 25,000.00。http")


def test_flow_notify_node_reaches_the_named_channels_and_the_inbox(app, db):
    from ..flows_fixtures import flow_doc

    doc = flow_doc(
        "stuck-alert",
        [{"id": "start", "type": "start"},
         {"id": "tell", "type": "notify", "config": {"to": [{"user": "li"}], "channels": ["inbox", "email"],
          "message": {"zh": "订单 {id} 需要跟进", "en": "Order {id} needs a look"},
          "params": {"id": "order.external_id"}}},
         {"id": "end", "type": "end", "config": {"outcome": "told"}}],
        [("start", "tell"), ("tell", "end")],
    )  # fmt: skip
    with SmtpSink() as smtp:
        channel(db, "email", events=("flow_message",), **smtp.config())
        start(db, doc, external_id="TB-77")
        deliver_all(app)
        (mail,) = smtp.wait(1)
    assert "订单 TB-77 需要跟进" in SmtpSink.body(mail)
    with db.session() as s:
        (note,) = s.scalars(select(Notification))
        assert note.body.startswith("订单 TB-77 需要跟进") and note.task_key is None


def test_inbox_page_and_header_count(app, db, client, login):
    start(db, approval_doc())
    deliver_all(app)
    login("li")
    page = client.get("/").get_data(as_text=True)
    assert 'data-testid="unread-count">1<' in page
    # The bell's accessible name carries the count: "通知，1 条未读" / "Notifications, 1 unread".
    bell = page[page.index('class="bell"') : page.index("</a>", page.index('class="bell"'))]
    assert '<span class="count" aria-hidden="true"' in bell
    assert ('aria-label="通知，1 条未读"' in bell) or (
        'aria-label="Notifications, 1 unread"' in bell
    )
    listing = client.get("/notifications/").get_data(as_text=True)
    assert "PO-1" in listing
    from ..conftest import csrf_token

    client.post("/notifications/read", data={"csrf_token": csrf_token(client, "/notifications/")})
    assert 'data-testid="unread-count"' not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("browser_language", "shown", "other"),
    [("en-US,en;q=0.9", "Approval needed: order PO-1", "【待审批】订单 PO-1"),
     ("zh-CN,zh;q=0.9", "【待审批】订单 PO-1", "Approval needed: order PO-1")],
)  # fmt: skip
def test_the_inbox_speaks_the_language_of_the_pages(
    app, db, client, login, browser_language, shown, other
):
    """A user with no language setting reads the pages in the browser's language; the
    notifications there are in the same language, not in the one chosen for email."""
    approver(db, "ann")  # no locale set: email and chat go out in Chinese
    start(db, approval_doc(assignees=[{"user": "ann"}]))
    deliver_all(app)
    login("ann", **{"Accept-Language": browser_language})
    listing = client.get("/notifications/", headers={"Accept-Language": browser_language}).get_data(
        as_text=True
    )
    assert shown in listing
    assert other not in listing
    with db.session() as s:
        note = s.scalars(select(Notification)).one()
    assert note.title == "【待审批】订单 PO-1"  # the email and chat language
    assert note.in_language("en")[0] == "Approval needed: order PO-1"
