"""Approving inside DingTalk against a fake DingTalk on loopback: interactive cards to each
approver of a 会签 task, decisions through encrypted and signed callbacks, refusals, card
updates; and the callback crypto checked against the numbers of DingTalk's official samples."""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.chatapps import dingtalk_callbacks, msgcrypt
from app.chatapps import services as chat
from app.db import in_transaction
from app.models import ApprovalAction, ChatApp, ChatCard, OutboxMessage
from app.runs import outbox

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
from .fake_dingtalk import (
    AES_KEY,
    APP_KEY,
    APP_SECRET,
    TEMPLATE,
    TOKEN,
    FakeDingTalk,
    click,
    encrypted_post,
    success_reply,
)

HOOK = f"/hooks/chat/dingtalk/{APP_KEY}"
SETTINGS = {"robot_code": APP_KEY, "card_template_id": TEMPLATE, "app_secret": APP_SECRET,
            "token": TOKEN, "aes_key": AES_KEY}  # fmt: skip

# DingTalk's official callback crypto samples, github.com/open-dingtalk/DingTalk-Callback-Crypto
# at commit bd49e62ddd052d1d506674ac1e43edaecc915093: (file, token, aes_key, key, timestamp,
# nonce, encrypt, msg_signature, the plain text the sample expects).
VECTORS = [
    ("DingCallbackCrypto3.py", "mryue", "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7",
     "ding6ccabc44d2c8d38b", "1608001896814", "WL4PK6yA",
     "0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NRPvNvmBKyDCYxx"
     "OK+HZeKju4yhELOFchzNukR+t8SB/qk4ROMu3",
     "03044561471240d4a14bb09372dfcfd4fd0e40cb", '{"EventType":"check_url"}'),
    ("dingtalk_callback_crypto.rs", "123456", "4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3ij",
     "suite4xxxxxxxxxxxxxxx", "1445827045067", "nEXhMP4r",
     "1a3NBxmCFwkCJvfoQ7WhJHB+iX3qHPsc9JbaDznE1i03peOk1LaOQoRz3+nlyGNhwmwJ3vDMG+OzrHMeiZI7gTRWVdU"
     "BmfxjZ8Ej23JVYa9VrYeJ5as7XM/ZpulX8NEQis44w53h1qAgnC3PRzM7Zc/D6Ibr0rgUathB6zRHP8PYrfgnNOS9Ph"
     "SBdHlegK+AGGanfwjXuQ9+0pZcy0w9lQ==",
     "5a65ceeef9aab2d149439f82dc191dd6c5cbe2c0",
     '{"EventType":"check_create_suite_url","Random":"LPIdSnlF","TestSuiteKey":"suite4xxxxxxxxxxxxxxx"}'),
    # DingTalkCrypto.go and DingTalkEncryptor.cs decrypt this one and print it (no expected
    # text is written down; it is the "success" the samples encrypt just before).
    ("DingTalkCrypto.go", "tokenxxxx", "o1w0aum42yaptlz8alnhwikjd3jenzt9cb9wmzptgus", "dingxxxxxx",
     "1605695694141", "WelUQl6bCqcBa2fM",
     "X1VSe9cTJUMZu60d3kyLYTrBq5578ZRJtteU94wG0Q4Uk6E/wQYeJRIC0/UFW5Wkya1Ihz9oXAdLlyC9TRaqsQ==",
     "f36f4ba5337d426c7d4bca0dbcb06b3ddc1388fc", "success"),
]  # fmt: skip
# The 16 random bytes each sample's text starts with (its first AES block, decrypted).
RANDOM = {"DingCallbackCrypto3.py": b"l7Y3EcX2CU5w8av3", "dingtalk_callback_crypto.rs":
          b"hU3bEfGZZewzhG5a", "DingTalkCrypto.go": b"WelUQl6bCqcBa2fM"}  # fmt: skip


@pytest.mark.parametrize(
    ("source", "token", "aes_key", "key", "stamp", "nonce", "encrypted", "signature", "plain"),
    VECTORS,
)
def test_the_official_samples_sign_and_decrypt_as_documented(
    source, token, aes_key, key, stamp, nonce, encrypted, signature, plain
):
    assert msgcrypt.signature(token, stamp, nonce, encrypted) == signature
    assert msgcrypt.decrypt(encrypted, aes_key, key) == plain
    with pytest.raises(ValueError, match="not 'ding-other'"):
        msgcrypt.decrypt(encrypted, aes_key, "ding-other")
    # With the sample's own 16 random bytes, encrypting gives its text back byte for byte.
    assert msgcrypt.encrypt(plain, aes_key, key, random16=RANDOM[source]) == encrypted


def test_the_check_url_of_the_official_sample_is_answered_with_encrypted_success(monkeypatch):
    _, token, aes_key, key, stamp, nonce, encrypted, signature, _plain = VECTORS[0]
    row = ChatApp(platform="dingtalk", app_id=key, sealed="", base_url="")
    monkeypatch.setattr(chat, "secrets_of", lambda _row: {"token": token, "aes_key": aes_key})
    args = {"msg_signature": signature, "timestamp": stamp, "nonce": nonce}
    body = json.dumps({"encrypt": encrypted}).encode()
    answer = dingtalk_callbacks.handle(None, row, args, body, now=int(stamp) / 1000 + 60)
    assert answer.status == 200 and set(answer.body) == {
        "msg_signature", "timeStamp", "nonce", "encrypt"}  # fmt: skip
    reply = answer.body
    assert reply["msg_signature"] == msgcrypt.signature(
        token, reply["timeStamp"], reply["nonce"], reply["encrypt"]
    )
    assert msgcrypt.decrypt(reply["encrypt"], aes_key, key) == "success"
    late = dingtalk_callbacks.handle(None, row, args, body, now=int(stamp) / 1000 + 600)
    assert late.status == 401 and "5 minutes" in late.body["error"]


# -- the app against the fake DingTalk --------------------------------------------------------


@pytest.fixture
def fake():
    with FakeDingTalk() as server:
        yield server


@pytest.fixture
def db(app, fake):
    database = db_of(app)
    approver(database, "li", dingtalk_id="LiNa", locale="zh")
    approver(database, "wang", dingtalk_id="WangWei", locale="en")
    approver(database, "zhao", dingtalk_id="ZhaoLei", locale="zh")
    in_transaction(database, lambda s: chat.connect(s, "dingtalk", APP_KEY, SETTINGS, fake.url))
    return database


def countersign(app, db):
    doc = approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="all", checks=CHECKS,
                       sla={"duration": "24h"})  # fmt: skip
    run = start(db, doc)
    deliver_all(app)
    return run, {t.assignee: t.task_key for t in tasks_of(db, run.id)}


def post(client, plain, **kw):
    query, body = encrypted_post(plain, **kw)
    return client.post(f"{HOOK}?{query}", data=body, content_type="application/json")


def track_of(fake, userid):
    return next(s["body"]["outTrackId"] for s in fake.sent if s["to"] == userid)


def approve(client, fake, userid, card_of=None):
    """``userid`` clicks Approve on ``card_of``'s card (their own); the answer's body."""
    answer = post(client, click(track_of(fake, card_of or userid), userid))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.json


def notice(body):
    return body["userPrivateData"]["cardParamMap"]["notice"]


def decisions(db):
    with db.session() as s:
        return list(s.scalars(select(ApprovalAction).where(ApprovalAction.action == "decided")))


def test_each_approver_of_a_countersign_gets_an_interactive_card(app, db, fake):
    _, tasks = countersign(app, db)
    assert fake.problems == []
    by_person = {s["to"]: s for s in fake.sent}
    assert set(by_person) == {"LiNa", "WangWei"}
    sent = by_person["LiNa"]["body"]
    assert (sent["cardTemplateId"], sent["robotCode"], sent["callbackRouteKey"]) == (
        TEMPLATE, APP_KEY, "orderflow-approvals")  # fmt: skip
    zh = by_person["LiNa"]["card"]
    for part in ("PO-1", "李娜", "CNY 25,000.00", "SKU-1 × 1", "财务审批", "订单金额超过 20,000",
                 "✗ 库存充足", "✓ 未超信用额度", "检查：2 项中 1 项未通过", "**客户**", "**截止时间**"):  # fmt: skip
        assert part in zh["title"] + zh["markdown"] + zh["node"], part
    assert "order.amount" not in json.dumps(zh, ensure_ascii=False)
    assert zh["title"] == "待你审批：订单 PO-1" and zh["pending"] == "true"
    assert (zh["approve_text"], zh["reject_text"], zh["details_text"]) == (
        "同意",
        "拒绝",
        "查看详情",
    )
    assert zh["outcome"] == ""
    link = zh["detail_url"]
    assert urlsplit(link).path.startswith("/approvals/link/")
    # a card takes no free text here: Reject opens the task's page, where a reason is asked for
    assert zh["reject_url"] == f"{link}#decision"
    en = by_person["WangWei"]["card"]
    assert en["title"] == "Approval needed: order PO-1"
    assert en["markdown"].startswith("**Customer**: 李娜  \n**Amount**: CNY 25,000.00")
    assert (en["approve_text"], en["reject_text"]) == ("Approve", "Reject")
    with db.session() as s:  # each card's outTrackId is kept; DingTalk needs no update code
        kept = {c.task_key: (c.message_id, c.update_code) for c in s.scalars(select(ChatCard))}
    assert kept == {
        tasks["li"]: (sent["outTrackId"], None),
        tasks["wang"]: (by_person["WangWei"]["body"]["outTrackId"], None),
    }


def test_approve_through_an_encrypted_signed_callback(app, client, db, fake):
    _, tasks = countersign(app, db)
    body = approve(client, fake, "LiNa")
    assert notice(body) == "" and body["cardData"]["cardParamMap"]["outcome"] == "已由 Li 同意。"
    assert body["cardData"]["cardParamMap"]["pending"] == "false"
    (action,) = decisions(db)
    assert (action.actor, action.decision, action.via, action.device) == (
        "li", "approved", "dingtalk", "DingTalk")  # fmt: skip
    deliver_all(app)  # every card of the task follows through the update API
    (update,) = fake.updated
    assert update["to"] == "LiNa" and fake.problems == []
    assert update["body"]["outTrackId"] == track_of(fake, "LiNa")
    card = update["card"]
    assert (card["title"], card["outcome"], card["pending"]) == (
        "已同意：订单 PO-1", "已由 Li 同意。", "false")  # fmt: skip
    with db.session() as s:
        shows = {c.task_key: c.shows for c in s.scalars(select(ChatCard))}
    assert shows[tasks["li"]] == "approved"


def test_reject_on_the_page_the_card_opens_updates_the_card(app, client, db, fake):
    _, tasks = countersign(app, db)
    link = next(s["card"] for s in fake.sent if s["to"] == "WangWei")["reject_url"]
    path = urlsplit(link).path
    page = client.get(path).get_data(as_text=True)
    assert 'id="decision"' in page  # where the Reject button lands, the reason field below
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post(f"{path}/decide",
                data={"csrf_token": token, "decision": "rejected", "comment": "价格不对"})  # fmt: skip
    assert [t.status for t in tasks_of(db, 1) if t.assignee == "wang"] == ["rejected"]
    deliver_all(app)
    by_user = {u["to"]: u["card"] for u in fake.updated}
    assert by_user["WangWei"]["outcome"] == "Rejected by Wang.\n价格不对"
    assert by_user["WangWei"]["title"] == "Rejected: order PO-1"


def test_refused_callbacks_say_why(app, client, db, fake):
    _, tasks = countersign(app, db)
    plain = click(track_of(fake, "LiNa"), "LiNa")
    cases = [
        (encrypted_post(plain, token="guess"), 401, "bad msg_signature"),
        (encrypted_post(plain, at_ms=int(time.time() * 1000) - 600_000), 401,
         "more than 5 minutes away"),
        (encrypted_post(plain, app_key="ding-other"), 400, "not 'ding6ccabc44d2c8d38b'"),
        (encrypted_post(plain, aes_key="B" * 43), 400, "bad padding"),
        ((encrypted_post(plain)[0], b'{"data": 1}'), 400, 'no "encrypt" field'),
        ((encrypted_post(plain)[0], b"<xml/>"), 400, "not JSON"),
    ]  # fmt: skip
    for (query, body), status, reason in cases:
        answer = client.post(f"{HOOK}?{query}", data=body, content_type="application/json")
        assert answer.status_code == status and reason in answer.json["error"], answer.json
    query, body = encrypted_post(plain)
    forged = client.post(f"{HOOK}?msg_signature=签名&{query.split('&', 1)[1]}", data=body)
    assert forged.status_code == 401 and "bad msg_signature" in forged.json["error"]
    assert client.post(f"{HOOK}?{query}", data=body).status_code == 200
    replay = client.post(f"{HOOK}?{query}", data=body)
    assert replay.status_code == 409 and "replayed" in replay.json["error"]
    assert len(decisions(db)) == 1
    unknown = client.post(f"/hooks/chat/dingtalk/ding-nobody?{query}", data=body)
    assert unknown.status_code == 404 and "no connected dingtalk app" in unknown.json["error"]


def test_a_clicker_who_is_not_the_assignee_is_refused_on_the_card(app, client, db, fake):
    _, tasks = countersign(app, db)
    forwarded = approve(client, fake, "ZhaoLei", card_of="LiNa")
    assert notice(forwarded) == "该审批未分配给您。" and "cardData" not in forwarded
    stranger = approve(client, fake, "Stranger", card_of="LiNa")
    assert notice(stranger).startswith("未关联 OrderFlow 用户")
    foreign = post(client, click(track_of(fake, "LiNa"), "LiNa", action="reject")).json
    assert notice(foreign) == "这个按钮不属于 OrderFlow。"
    unknown = post(client, click("of-not-ours", "LiNa")).json  # the card decides the task
    assert notice(unknown) == "这个按钮不属于 OrderFlow。"
    assert [t.status for t in tasks_of(db, 1)] == ["pending", "pending"] and decisions(db) == []


def test_a_double_click_gives_one_decision(app, client, db, fake):
    _, tasks = countersign(app, db)
    assert notice(approve(client, fake, "LiNa")) == ""
    second = approve(client, fake, "LiNa")
    assert notice(second) == "已由 Li 处理：通过。"  # the refusal of the second click says why
    assert second["cardData"]["cardParamMap"]["outcome"] == "已由 Li 同意。"
    assert len(decisions(db)) == 1


def test_a_decision_on_the_web_updates_every_card(app, db, fake):
    from app.approvals import services as approvals

    _, tasks = countersign(app, db)
    as_user(db, "wang", lambda s, u: approvals.decide(s, u, tasks["wang"], "approved", via="web"))
    deliver_all(app)
    (update,) = fake.updated
    assert update["body"]["outTrackId"] == track_of(fake, "WangWei")
    assert update["card"]["outcome"] == "Approved by Wang."


def test_any_mode_withdraws_the_other_card_when_one_approves_in_dingtalk(app, client, db, fake):
    start(db, approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="any"))
    deliver_all(app)
    approve(client, fake, "LiNa")
    deliver_all(app)
    by_user = {u["to"]: u["card"]["outcome"] for u in fake.updated}
    assert by_user == {
        "LiNa": "已由 Li 同意。",
        "WangWei": "Withdrawn: the order no longer needs this approval.",
    }


def test_an_expired_token_is_fetched_again(app, db, fake):
    start(db, approval_doc(assignees=[{"user": "li"}]))
    deliver_all(app)
    assert len(fake.tokens_issued) == 1 and len(fake.sent) == 1
    fake.expire_tokens()  # the next send is answered 401 InvalidAuthentication: a new token
    start(db, approval_doc(assignees=[{"user": "li"}]), external_id="PO-2")
    deliver_all(app)
    assert len(fake.tokens_issued) == 2 and len(fake.sent) == 2
    with db.session() as s:
        (row,) = s.scalars(select(ChatApp))
        assert row.token_sealed and fake.tokens_issued[-1] not in row.token_sealed


def dead_sends(db):
    with db.session() as s:
        sends = s.scalars(select(OutboxMessage).where(OutboxMessage.effect_id.like("chat:%")))
        return [(m.status, m.attempts, m.last_error) for m in sends]


def test_a_person_dingtalk_does_not_know_is_a_dead_letter_not_a_retry(app, db, fake):
    approver(db, "qian", dingtalk_id="QianNobody")
    start(db, approval_doc(assignees=[{"user": "qian"}]))
    deliver_all(app)
    ((status, attempts, error),) = dead_sends(db)
    assert (status, attempts) == (outbox.DEAD, 1) and "param.userIdNotExist" in error


def test_a_template_that_is_not_published_is_a_dead_letter_saying_so(app, db, fake):
    in_transaction(db, lambda s: chat.connect(s, "dingtalk", APP_KEY,
                                              {"card_template_id": "draft.schema"}, fake.url))  # fmt: skip
    start(db, approval_doc(assignees=[{"user": "li"}]))
    deliver_all(app)
    ((status, attempts, error),) = dead_sends(db)
    assert (status, attempts) == (outbox.DEAD, 1) and "cardInstance.wrong" in error
    assert "模板是否已发布" in error and fake.sent == []


def test_the_callback_url_check_is_answered_with_encrypted_success(client, db):
    answer = post(client, json.dumps({"EventType": "check_url"}))
    assert answer.status_code == 200 and success_reply(answer.json) == "success"
    query, body = encrypted_post(json.dumps({"EventType": "check_url"}), token="guess")
    assert client.post(f"{HOOK}?{query}", data=body).status_code == 401


def test_the_admin_connects_the_dingtalk_app_and_tests_it(app, client, login, make_user, fake):
    from ..conftest import csrf_token

    make_user("boss", roles=("admin",), email="boss@example.com")
    login("boss")
    token = csrf_token(client, "/admin/chat-apps/")
    form = {"csrf_token": token, "app_id": APP_KEY, "robot_code": APP_KEY,
            "card_template_id": TEMPLATE, "app_secret": "wrong", "token": TOKEN,
            "aes_key": "too-short", "base_url": fake.url}  # fmt: skip
    client.post("/admin/chat-apps/dingtalk", data=form)
    page = client.get("/admin/chat-apps/").get_data(as_text=True)
    assert "aes_key 为 43 位" in page  # refused, saying what is accepted
    client.post("/admin/chat-apps/dingtalk", data=form | {"aes_key": AES_KEY})
    page = client.get("/admin/chat-apps/").get_data(as_text=True)
    assert f"/hooks/chat/dingtalk/{APP_KEY}" in page and TOKEN not in page
    assert f'value="{TEMPLATE}"' in page
    client.post("/admin/chat-apps/dingtalk/test", data={"csrf_token": token})
    assert "invalidClientIdOrSecret" in client.get("/admin/chat-apps/").get_data(as_text=True)
    client.post("/admin/chat-apps/dingtalk", data=form | {"aes_key": "", "app_secret": APP_SECRET})
    client.post("/admin/chat-apps/dingtalk/test", data={"csrf_token": token})
    assert "钉钉为此应用发放了访问令牌" in client.get("/admin/chat-apps/").get_data(as_text=True)
    with app.app_context():
        from app.db import get_session

        (row,) = get_session().scalars(select(ChatApp))
        assert APP_SECRET not in row.sealed and chat.secrets_of(row)["aes_key"] == AES_KEY


def test_a_company_wide_subscription_is_taken_for_the_saved_corp_id(app, client, db, fake):
    countersign(app, db)
    corp = "ding9f50b15bccd16741"
    check = json.dumps({"EventType": "check_url"})
    refused = post(client, check, app_key=corp)
    assert refused.status_code == 400 and "not 'ding6ccabc44d2c8d38b'" in refused.json["error"]
    in_transaction(db, lambda s: chat.connect(s, "dingtalk", APP_KEY, {"corp_id": corp}, fake.url))
    answer = post(client, check, app_key=corp)
    assert answer.status_code == 200
    assert msgcrypt.decrypt(answer.json["encrypt"], AES_KEY, corp) == "success"
    body = post(client, click(track_of(fake, "LiNa"), "LiNa"), app_key=corp).json
    assert body["cardData"]["cardParamMap"]["outcome"] == "已由 Li 同意。"
