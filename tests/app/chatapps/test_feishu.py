"""Approving inside Feishu against a fake Feishu on loopback: cards to each approver of a
会签 task, decisions through signed and encrypted callbacks, refusals, card updates."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.chatapps import feishu
from app.chatapps import services as chat
from app.db import in_transaction
from app.models import ApprovalAction, ChatApp, ChatCard, ChatReceipt, utcnow

from ..approvals.helpers import (
    CHECKS,
    approval_doc,
    approver,
    as_user,
    db_of,
    deliver_all,
    start,
    tasks_of,
)
from .fake_feishu import (
    APP_ID,
    APP_SECRET,
    ENCRYPT_KEY,
    VERIFICATION_TOKEN,
    FakeFeishu,
    card_action,
    encrypted,
    signed_headers,
)

HOOK = f"/hooks/chat/feishu/{APP_ID}"


@pytest.fixture
def fake():
    with FakeFeishu() as server:
        yield server


@pytest.fixture
def db(app, fake):
    database = db_of(app)
    approver(database, "li", feishu_id="ou_li", locale="zh")
    approver(database, "wang", feishu_id="wang01", locale="en")
    approver(database, "zhao", feishu_id="ou_zhao", locale="zh")
    in_transaction(database, lambda s: chat.connect(s, "feishu", APP_ID, {
        "app_secret": APP_SECRET, "verification_token": VERIFICATION_TOKEN,
        "encrypt_key": ENCRYPT_KEY}, fake.url))  # fmt: skip
    return database


def countersign(app, db):
    doc = approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="all", checks=CHECKS,
                       sla={"duration": "24h"})  # fmt: skip
    run = start(db, doc)
    deliver_all(app)
    return run, {t.assignee: t.task_key for t in tasks_of(db, run.id)}


def post(client, event, **kw):
    body = encrypted(event)
    return client.post(HOOK, data=body, headers=signed_headers(body, **kw))


def card_text(card):
    return json.dumps(card, ensure_ascii=False)


def test_the_documented_decryption_vector():
    # open.feishu.cn's own example: Encrypt Key "test key" and its ciphertext of "hello world"
    assert (
        feishu.decrypt("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=", "test key") == "hello world"
    )


def test_each_approver_of_a_countersign_gets_a_card_with_the_essentials(app, db, fake):
    run, tasks = countersign(app, db)
    assert fake.problems == []
    by_person = {s["receive_id"]: s for s in fake.sent}
    assert set(by_person) == {"ou_li", "wang01"}
    assert by_person["ou_li"]["receive_id_type"] == "open_id"
    assert by_person["wang01"]["receive_id_type"] == "user_id"
    zh = card_text(by_person["ou_li"]["card"])
    for said in ("PO-1", "李娜", "CNY 25,000.00", "SKU-1 × 1", "财务审批", "订单金额超过 20,000",
                 "✗ 库存充足", "✓ 未超信用额度", "同意", "拒绝", "查看详情", "/approvals/link/"):  # fmt: skip
        assert said in zh, said
    assert "order.amount" not in zh
    en = card_text(by_person["wang01"]["card"])
    assert "Approve" in en and "Finance review" in en and "Reject" in en
    form = by_person["ou_li"]["card"]["elements"][-2]
    assert form["tag"] == "form" and form["elements"][0] == {
        **form["elements"][0],
        "name": "reason",
    }
    with db.session() as s:  # each message id is kept per (task, person) to update it later
        kept = {(c.task_key, c.message_id) for c in s.scalars(select(ChatCard))}
    assert kept == {
        (tasks["li"], by_person["ou_li"]["message_id"]),
        (tasks["wang"], by_person["wang01"]["message_id"]),
    }


def test_approve_through_a_signed_encrypted_callback(app, client, db, fake):
    run, tasks = countersign(app, db)
    answer = post(client, card_action(tasks["li"], "approved", "ou_li"))
    assert answer.status_code == 200, answer.json
    assert answer.json["toast"]["type"] == "success"
    assert "已由 Li 同意" in card_text(answer.json["card"]["data"])
    with db.session() as s:
        (action,) = s.scalars(select(ApprovalAction).where(ApprovalAction.action == "decided"))
        assert (action.actor, action.decision, action.via) == ("li", "approved", "feishu")
    deliver_all(app)  # the other cards of the decided task are updated in place
    (patch,) = fake.patched
    assert patch["message_id"] == next(
        s["message_id"] for s in fake.sent if s["receive_id"] == "ou_li"
    )


def test_reject_needs_the_reason_from_the_card_form(app, client, db):
    _, tasks = countersign(app, db)
    answer = post(client, card_action(tasks["wang"], "rejected", "wang01", reason=""))
    assert answer.json["toast"]["type"] == "error"
    assert "comment is required" in answer.json["toast"]["i18n"]["en_us"]
    answer = post(client, card_action(tasks["wang"], "rejected", "wang01", reason="价格不对"))
    assert answer.json["toast"]["type"] == "success"
    assert "Rejected by Wang" in card_text(answer.json["card"]["data"])
    assert [t.status for t in tasks_of(db, 1) if t.assignee == "wang"] == ["rejected"]


def test_refused_callbacks(app, client, db):
    _, tasks = countersign(app, db)
    event = card_action(tasks["li"], "approved", "ou_li")
    body = encrypted(event)
    bad = signed_headers(body, key="not-the-key")
    assert client.post(HOOK, data=body, headers=bad).status_code == 401
    old = signed_headers(body, at=int(time.time()) - 600)
    assert client.post(HOOK, data=body, headers=old).status_code == 401
    wrong_token = card_action(tasks["li"], "approved", "ou_li")
    wrong_token["header"]["token"] = "guess"
    assert post(client, wrong_token).status_code == 401
    assert client.post(HOOK, data=body, headers=signed_headers(body)).status_code == 200
    replay = client.post(HOOK, data=body, headers=signed_headers(body))
    assert replay.status_code == 409 and "replayed" in replay.json["error"]
    with db.session() as s:
        assert (
            len(list(s.scalars(select(ApprovalAction).where(ApprovalAction.action == "decided"))))
            == 1
        )
        # a day later the receipt is gone with the next callback (its timestamp is long refused)
        (receipt,) = s.scalars(select(ChatReceipt))
        old_key, receipt.received_at = receipt.event_key, utcnow() - timedelta(days=2)
        s.commit()
    post(client, card_action(tasks["wang"], "approved", "wang01"))
    with db.session() as s:
        assert old_key not in [r.event_key for r in s.scalars(select(ChatReceipt))]


def test_a_forwarded_card_clicked_by_someone_else_is_refused_on_the_card(app, client, db):
    _, tasks = countersign(app, db)
    answer = post(client, card_action(tasks["li"], "approved", "ou_zhao"))
    assert answer.status_code == 200
    assert answer.json["toast"]["type"] == "error"
    assert answer.json["toast"]["i18n"]["en_us"] == "This approval is not assigned to you."
    stranger = post(client, card_action(tasks["li"], "approved", "ou_nobody"))
    assert "not linked to an OrderFlow user" in stranger.json["toast"]["i18n"]["en_us"]
    assert [t.status for t in tasks_of(db, 1)] == ["pending", "pending"]


def test_a_double_click_gives_one_decision(app, client, db):
    _, tasks = countersign(app, db)
    first = post(client, card_action(tasks["li"], "approved", "ou_li"))
    second = post(client, card_action(tasks["li"], "approved", "ou_li"))
    assert first.json["toast"]["type"] == "success"
    assert second.json["toast"]["type"] == "error" and "card" in second.json
    with db.session() as s:
        assert (
            len(list(s.scalars(select(ApprovalAction).where(ApprovalAction.action == "decided"))))
            == 1
        )


def test_a_decision_on_the_web_updates_every_card(app, db, fake):
    from app.approvals import services as approvals

    _, tasks = countersign(app, db)
    as_user(db, "wang", lambda s, u: approvals.decide(s, u, tasks["wang"], "approved", via="web"))
    deliver_all(app)
    (patch,) = fake.patched
    assert patch["message_id"] == next(
        s["message_id"] for s in fake.sent if s["receive_id"] == "wang01"
    )
    assert "Approved by Wang" in card_text(patch["card"]) and "form" not in card_text(patch["card"])
    with db.session() as s:
        shows = {c.task_key: c.shows for c in s.scalars(select(ChatCard))}
        assert shows[tasks["wang"]] == "approved" and shows[tasks["li"]] == "pending"


def test_an_expired_token_is_fetched_again(app, db, fake):
    start(db, approval_doc(assignees=[{"user": "li"}]))
    deliver_all(app)
    assert len(fake.tokens_issued) == 1 and len(fake.sent) == 1
    fake.expire_tokens()
    start(db, approval_doc(assignees=[{"user": "li"}]), external_id="PO-2")
    deliver_all(app)
    assert len(fake.tokens_issued) == 2 and len(fake.sent) == 2
    with db.session() as s:
        (row,) = s.scalars(select(ChatApp))
        assert row.token_sealed and fake.tokens_issued[-1] not in row.token_sealed  # sealed at rest
        row.token_expires_at = utcnow() + timedelta(minutes=4)  # about to expire: renewed first
        s.commit()
    start(db, approval_doc(assignees=[{"user": "li"}]), external_id="PO-3")
    deliver_all(app)
    assert len(fake.tokens_issued) == 3 and len(fake.sent) == 3


def test_url_verification_answers_the_challenge(client, db):
    event = {
        "challenge": "ajls384kdjx98XX",
        "token": VERIFICATION_TOKEN,
        "type": "url_verification",
    }
    answer = client.post(HOOK, data=encrypted(event), headers={"Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.json == {"challenge": "ajls384kdjx98XX"}
    event["token"] = "wrong"
    assert client.post(HOOK, data=encrypted(event)).status_code == 401


def test_any_mode_withdraws_the_other_card_when_one_approves_in_feishu(app, client, db, fake):
    run = start(db, approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="any"))
    deliver_all(app)
    tasks = {t.assignee: t.task_key for t in tasks_of(db, run.id)}
    assert post(client, card_action(tasks["li"], "approved", "ou_li")).status_code == 200
    deliver_all(app)
    by_message = {p["message_id"]: card_text(p["card"]) for p in fake.patched}
    sent = {s["receive_id"]: s["message_id"] for s in fake.sent}
    assert "已由 Li 同意" in by_message[sent["ou_li"]]
    assert "Withdrawn: the order no longer needs this approval." in by_message[sent["wang01"]]


def test_a_handover_updates_the_card_and_sends_one_to_the_colleague(app, db, fake):
    from app.approvals import services as approvals

    run = start(db, approval_doc(assignees=[{"user": "li"}]))
    deliver_all(app)
    (task,) = tasks_of(db, run.id)
    as_user(db, "li", lambda s, u: approvals.delegate(s, u, task.task_key, "zhao", comment="出差"))
    deliver_all(app)
    (patch,) = fake.patched
    assert "已由 Li 转交，不再需要你审批。" in card_text(patch["card"])
    assert [s["receive_id"] for s in fake.sent] == ["ou_li", "ou_zhao"]


def test_a_card_that_cannot_be_sent_is_retried_through_the_outbox(app, db, fake):
    from app.runs import outbox

    fake.server.shutdown()  # Feishu cannot be reached: each send is a failed, retried attempt
    start(db, approval_doc(assignees=[{"user": "li"}]))
    deliver_all(app)
    with db.session() as s:
        from app.models import OutboxMessage

        (send,) = s.scalars(select(OutboxMessage).where(OutboxMessage.effect_id.like("chat:%")))
        assert send.status == outbox.PENDING and send.attempts == 1 and "Feishu" in send.last_error


def test_the_admin_connects_the_app_and_tests_it(app, client, login, make_user, fake):
    from ..conftest import csrf_token

    make_user("boss", roles=("admin",), email="boss@example.com")
    login("boss")
    token = csrf_token(client, "/admin/chat-apps/")
    form = {"csrf_token": token, "app_id": "cli_other", "app_secret": "s", "verification_token": "v",
            "encrypt_key": "", "base_url": fake.url}  # fmt: skip
    assert client.post("/admin/chat-apps/feishu", data=form).status_code == 302
    page = client.get("/admin/chat-apps/").get_data(as_text=True)
    assert "/hooks/chat/feishu/cli_other" in page and ">s<" not in page
    client.post("/admin/chat-apps/feishu/test", data={"csrf_token": token})
    assert "10014" in client.get("/admin/chat-apps/").get_data(as_text=True)  # wrong secret said
    form |= {"app_id": APP_ID, "app_secret": APP_SECRET, "verification_token": ""}
    client.post("/admin/chat-apps/feishu", data=form)
    client.post("/admin/chat-apps/feishu/test", data={"csrf_token": token})
    assert "飞书为此应用发放了访问令牌" in client.get("/admin/chat-apps/").get_data(as_text=True)
    with app.app_context():
        from app.db import get_session

        (row,) = get_session().scalars(select(ChatApp))
        assert APP_SECRET not in row.sealed and chat.secrets_of(row)["verification_token"] == "v"
