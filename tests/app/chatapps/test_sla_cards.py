"""SLA reminders, escalations and automatic decisions on the chat cards, against the fake
Feishu, WeCom and DingTalk on loopback, on an injected clock: a reminder shows the time left
on every card of the task, an escalation sends the target a card saying from whom and marks
the old cards, a click on an escalated card is refused saying so, a timed-out task's cards say
what happened."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from app.chatapps import cards
from app.chatapps import services as chat
from app.db import in_transaction
from app.models import ChatCard, utcnow

from ..approvals.helpers import approval_doc, approver, db_of, deliver_all, start, tasks_of
from . import fake_feishu, fake_wecom
from .fake_dingtalk import APP_KEY, APP_SECRET, TEMPLATE, FakeDingTalk
from .fake_feishu import FakeFeishu, card_action, encrypted, signed_headers
from .fake_wecom import FakeWeCom, click, encrypted_post, passive_reply

SH = ZoneInfo("Asia/Shanghai")
ESCALATING = {"duration": "8h", "reminders": ["2h"], "on_timeout": "escalate",
              "escalate_to": [{"user": "zhao"}], "escalation_duration": "4h"}  # fmt: skip


def text(card):
    return json.dumps(card, ensure_ascii=False)


def run_until(app, moment, rounds=4):
    """Sweep a few times at ``moment``: timers fire, then their messages fan out and go."""
    for i in range(rounds):
        deliver_all(app, moment + timedelta(seconds=i))


@pytest.fixture
def feishu(app):
    with FakeFeishu() as fake:
        database = db_of(app)
        approver(database, "li", feishu_id="ou_li", locale="zh")
        approver(database, "wang", feishu_id="wang01", locale="en")
        approver(database, "zhao", feishu_id="ou_zhao", locale="zh")
        in_transaction(database, lambda s: chat.connect(s, "feishu", fake_feishu.APP_ID, {
            "app_secret": fake_feishu.APP_SECRET,
            "verification_token": fake_feishu.VERIFICATION_TOKEN,
            "encrypt_key": fake_feishu.ENCRYPT_KEY}, fake.url))  # fmt: skip
        yield fake


@pytest.fixture
def wecom(app):
    with FakeWeCom() as fake:
        database = db_of(app)
        approver(database, "li", wecom_id="LiNa", locale="zh")
        approver(database, "wang", wecom_id="WangWei", locale="en")
        approver(database, "zhao", wecom_id="ZhaoLei", locale="zh")
        settings = {"agent_id": fake_wecom.AGENT_ID, "secret": fake_wecom.SECRET,
                    "token": fake_wecom.TOKEN, "aes_key": fake_wecom.AES_KEY}  # fmt: skip
        in_transaction(
            database, lambda s: chat.connect(s, "wecom", fake_wecom.CORP_ID, settings, fake.url)
        )
        yield fake


@pytest.fixture
def dingtalk(app):
    with FakeDingTalk() as fake:
        database = db_of(app)
        approver(database, "li", dingtalk_id="LiNa", locale="zh")
        approver(database, "wang", dingtalk_id="WangWei", locale="en")
        approver(database, "zhao", dingtalk_id="ZhaoLei", locale="zh")
        settings = {"robot_code": APP_KEY, "card_template_id": TEMPLATE, "app_secret": APP_SECRET}
        app_pk = in_transaction(
            database, lambda s: chat.connect(s, "dingtalk", APP_KEY, settings, fake.url).id
        )
        chat.register_callback(database, app_pk, f"http://127.0.0.1/hooks/chat/dingtalk/{APP_KEY}")
        yield fake


def two_approvers(app, sla):
    """An any-one approval of li (zh) and wang (en) started at t0, its cards sent."""
    db = db_of(app)
    t0 = utcnow()
    run = start(db, approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="any",
                                 sla=sla), now=t0)  # fmt: skip
    run_until(app, t0)
    return t0, run, {t.assignee: t.task_key for t in tasks_of(db, run.id)}


def shows(app):
    with db_of(app).session() as s:
        return {c.task_key: c.shows for c in s.scalars(select(ChatCard))}


def feishu_click(client, task_key, decision, open_id):
    body = encrypted(card_action(task_key, decision, open_id))
    hook = f"/hooks/chat/feishu/{fake_feishu.APP_ID}"
    return client.post(hook, data=body, headers=signed_headers(body))


def wecom_click(client, fake, task_key, userid):
    query, body = encrypted_post(click(f"approved:{task_key}", userid, fake.issue_code()))
    answer = client.post(f"/hooks/chat/wecom/{fake_wecom.CORP_ID}?{query}", data=body,
                         content_type="text/xml")  # fmt: skip
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return passive_reply(answer.get_data(as_text=True))


@pytest.mark.parametrize(
    ("seconds", "zh", "en"),
    [
        (3 * 3600, "还剩 3 小时", "3 hours left"),
        (3600, "还剩 1 小时", "1 hour left"),
        (5 * 3600 + 59 * 60 + 59, "还剩 6 小时", "6 hours left"),  # a part of a minute counts
        (2 * 3600 + 30 * 60, "还剩 2 小时 30 分钟", "2 h 30 min left"),
        (61, "还剩 2 分钟", "2 minutes left"),
        (30, "还剩 1 分钟", "1 minute left"),
        (0, "已超过时限。", "The time limit has passed."),
        (-90, "已超过时限。", "The time limit has passed."),
    ],
)
def test_time_left_in_business_words(app, seconds, zh, en):
    with app.app_context():
        for locale, expected in (("zh_Hans_CN", zh), ("en", en)):
            with force_locale(locale):
                assert cards.time_left(seconds) == expected


# -- Feishu ----------------------------------------------------------------------------------


def test_feishu_reminder_updates_every_card_with_the_time_left(app, feishu):
    t0, _run, tasks = two_approvers(app, ESCALATING)
    sent = {s["receive_id"]: s["message_id"] for s in feishu.sent}
    run_until(app, t0 + timedelta(hours=2, seconds=1))
    assert feishu.problems == []
    by_message = {p["message_id"]: p["card"] for p in feishu.patched}
    assert set(by_message) == set(sent.values())  # updated in place, nothing sent anew
    zh, en = by_message[sent["ou_li"]], by_message[sent["wang01"]]
    # Fired 2 h 1 s in, 8 h limit: 5 h 59 min 59 s, said in whole minutes.
    assert zh["header"]["title"]["content"] == "审批提醒：订单 PO-1，还剩 6 小时"
    assert en["header"]["title"]["content"] == "Reminder: order PO-1, 6 hours left"
    assert zh["header"]["template"] == "red"
    due = (t0 + timedelta(hours=8)).astimezone(SH).strftime("%Y-%m-%d %H:%M")
    assert due in text(zh)  # the deadline in the company's time zone
    for card in (zh, en):  # the buttons stay usable
        assert any(e["tag"] == "form" for e in card["elements"])
    assert set(shows(app).values()) == {"reminder"}
    run_until(app, t0 + timedelta(hours=2, seconds=30))
    assert len(feishu.patched) == 2  # once per reminder, however often the sweep runs


def test_feishu_escalation_sends_the_target_a_card_and_marks_the_old_ones(app, client, feishu):
    t0, run, tasks = two_approvers(app, ESCALATING)
    run_until(app, t0 + timedelta(hours=2, seconds=1))
    patched_before = len(feishu.patched)
    run_until(app, t0 + timedelta(hours=8, seconds=1))
    assert feishu.problems == []
    new = [s for s in feishu.sent if s["receive_id"] == "ou_zhao"]
    assert len(new) == 1
    said = text(new[0]["card"])
    assert "已升级给您：Li、Wang 未在时限内处理。" in said and "同意" in said
    sent = {s["receive_id"]: s["message_id"] for s in feishu.sent}
    marked = {p["message_id"]: p["card"] for p in feishu.patched[patched_before:]}
    assert set(marked) == {sent["ou_li"], sent["wang01"]}
    zh, en = marked[sent["ou_li"]], marked[sent["wang01"]]
    assert zh["header"]["title"]["content"] == "已升级：订单 PO-1"
    assert "已升级给 Zhao，不再需要你审批。" in text(zh)
    assert "Escalated to Zhao; it no longer needs you." in text(en)
    for card in (zh, en):  # no buttons left
        assert not any(e["tag"] in ("form", "action") for e in card["elements"])
    assert shows(app)[tasks["li"]] == "escalated"
    # A click on the old card is refused, saying where the approval went.
    answer = feishu_click(client, tasks["li"], "approved", "ou_li")
    assert answer.json["toast"]["type"] == "error"
    assert answer.json["toast"]["i18n"]["zh_cn"] == "已升级给 Zhao，不再需要你审批。"
    assert answer.json["toast"]["i18n"]["en_us"] == "Escalated to Zhao; it no longer needs you."
    assert "已升级给 Zhao" in text(answer.json["card"]["data"])
    statuses = {t.assignee: t.status for t in tasks_of(db_of(app), run.id)}
    assert statuses == {"li": "withdrawn", "wang": "withdrawn", "zhao": "pending"}


def test_feishu_automatic_decision_at_the_deadline_is_said_on_the_card(app, feishu):
    t0, _run, _tasks = two_approvers(app, {"duration": "1h", "on_timeout": "approve"})
    run_until(app, t0 + timedelta(hours=1, seconds=1))
    cards = {p["message_id"]: text(p["card"]) for p in feishu.patched}
    sent = {s["receive_id"]: s["message_id"] for s in feishu.sent}
    assert "已超过时限，已自动同意。" in cards[sent["ou_li"]]
    assert "The time limit passed: approved automatically." in cards[sent["wang01"]]
    assert "form" not in cards[sent["ou_li"]]


def test_feishu_timeout_without_a_decision_is_said_on_the_card(app, feishu):
    t0, _run, _tasks = two_approvers(app, {"duration": "1h"})
    run_until(app, t0 + timedelta(hours=1, seconds=1))
    (en,) = [text(p["card"]) for p in feishu.patched if "Time limit passed" in text(p["card"])]
    assert "The time limit passed without a decision." in en


# -- WeCom -----------------------------------------------------------------------------------


def test_wecom_reminder_sends_the_card_again_with_the_time_left(app, wecom):
    t0, _run, tasks = two_approvers(app, ESCALATING)
    first = {s["touser"]: s for s in wecom.sent}
    run_until(app, t0 + timedelta(hours=2, seconds=1))
    assert wecom.problems == []
    again = {s["touser"]: s["card"] for s in wecom.sent[2:]}
    assert set(again) == {"LiNa", "WangWei"}
    assert again["LiNa"]["main_title"]["title"] == "审批提醒：订单 PO-1，还剩 6 小时"
    assert again["WangWei"]["main_title"]["title"] == "Reminder: order PO-1, 6 hours left"
    due = (t0 + timedelta(hours=8)).astimezone(SH).strftime("%Y-%m-%d %H:%M")
    assert {"keyname": "截止时间", "value": due} in again["LiNa"]["horizontal_content_list"]
    texts = [b["text"] for b in again["LiNa"]["button_list"]]
    assert texts == ["同意", "拒绝", "查看详情"] and "replace_text" not in again["LiNa"]
    # The old card spent its one update code on pointing to the new one.
    old = {u["response_code"]: u["card"] for u in wecom.updated}
    assert set(old) == {first["LiNa"]["response_code"], first["WangWei"]["response_code"]}
    replaced = old[first["LiNa"]["response_code"]]
    assert replaced["replace_text"] == "提醒已作为新卡片发出，请在新卡片上处理。"
    with db_of(app).session() as s:
        kept = {c.task_key: c for c in s.scalars(select(ChatCard))}
        assert kept[tasks["li"]].message_id == again["LiNa"]["task_id"]
        assert kept[tasks["li"]].shows == "reminder" and kept[tasks["li"]].update_code


def test_wecom_escalation_sends_the_target_a_card_and_marks_the_old_ones(app, client, wecom):
    t0, run, tasks = two_approvers(app, ESCALATING)
    run_until(app, t0 + timedelta(hours=2, seconds=1))
    reminded = {s["touser"]: s for s in wecom.sent[2:]}
    updated_before = len(wecom.updated)
    run_until(app, t0 + timedelta(hours=8, seconds=1))
    assert wecom.problems == []
    (new,) = [s["card"] for s in wecom.sent if s["touser"] == "ZhaoLei"]
    assert new["sub_title_text"] == "已升级给您：Li、Wang 未在时限内处理。"
    assert new["button_list"][0]["text"] == "同意"
    # The reminder's cards (with their fresh codes) are the ones marked.
    marked = {u["response_code"]: u["card"] for u in wecom.updated[updated_before:]}
    assert set(marked) == {reminded["LiNa"]["response_code"], reminded["WangWei"]["response_code"]}
    zh = marked[reminded["LiNa"]["response_code"]]
    en = marked[reminded["WangWei"]["response_code"]]
    assert zh["main_title"]["title"] == "已升级：订单 PO-1"
    assert zh["replace_text"] == "已升级给 Zhao，不再需要你审批。"
    assert en["replace_text"] == "Escalated to Zhao; it no longer needs you."
    # A click on the old card is refused, saying where the approval went.
    assert wecom_click(client, wecom, tasks["li"], "LiNa") == "已升级给 Zhao，不再需要你审批。"
    assert wecom_click(client, wecom, tasks["wang"], "WangWei") == (
        "Escalated to Zhao; it no longer needs you."
    )
    statuses = {t.assignee: t.status for t in tasks_of(db_of(app), run.id)}
    assert statuses == {"li": "withdrawn", "wang": "withdrawn", "zhao": "pending"}


def test_wecom_automatic_decision_at_the_deadline_is_said_on_the_card(app, wecom):
    t0, _run, _tasks = two_approvers(app, {"duration": "1h", "on_timeout": "reject"})
    run_until(app, t0 + timedelta(hours=1, seconds=1))
    said = {u["userids"][0]: u["card"] for u in wecom.updated}
    assert said["LiNa"]["replace_text"] == "已超过时限，已自动拒绝。"
    assert said["LiNa"]["main_title"]["title"] == "已超时：订单 PO-1"
    assert said["WangWei"]["replace_text"] == "The time limit passed: rejected automatically."


def test_dingtalk_reminder_updates_every_card_in_place_with_the_time_left(app, dingtalk):
    t0, _run, _tasks = two_approvers(app, ESCALATING)
    sent = {s["to"]: s["body"]["outTrackId"] for s in dingtalk.sent}
    run_until(app, t0 + timedelta(hours=2, seconds=1))
    assert dingtalk.problems == []
    by_track = {u["body"]["outTrackId"]: u["card"] for u in dingtalk.updated}
    assert set(by_track) == set(sent.values())  # updated in place, nothing sent anew
    assert len(dingtalk.sent) == 2
    assert "还剩 6 小时" in text(by_track[sent["LiNa"]])
    assert "6 hours left" in text(by_track[sent["WangWei"]])
    assert set(shows(app).values()) == {"reminder"}
    run_until(app, t0 + timedelta(hours=2, seconds=30))
    assert len(dingtalk.updated) == 2  # once per reminder, however often the sweep runs


def test_dingtalk_escalation_sends_the_target_a_card_and_marks_the_old_ones(app, dingtalk):
    t0, run, tasks = two_approvers(app, ESCALATING)
    sent = {s["to"]: s["body"]["outTrackId"] for s in dingtalk.sent}
    run_until(app, t0 + timedelta(hours=2, seconds=1))
    updated_before = len(dingtalk.updated)
    run_until(app, t0 + timedelta(hours=8, seconds=1))
    assert dingtalk.problems == []
    new = [s for s in dingtalk.sent if s["to"] == "ZhaoLei"]
    assert len(new) == 1 and "已升级给您：Li、Wang 未在时限内处理。" in text(new[0]["card"])
    marked = {u["body"]["outTrackId"]: u["card"] for u in dingtalk.updated[updated_before:]}
    assert set(marked) == {sent["LiNa"], sent["WangWei"]}
    assert "已升级给 Zhao，不再需要你审批。" in text(marked[sent["LiNa"]])
    assert "Escalated to Zhao; it no longer needs you." in text(marked[sent["WangWei"]])
    assert shows(app)[tasks["li"]] == "escalated"
    statuses = {t.assignee: t.status for t in tasks_of(db_of(app), run.id)}
    assert statuses == {"li": "withdrawn", "wang": "withdrawn", "zhao": "pending"}
