"""Approving inside WeCom against a fake WeCom on loopback: template cards to each approver
of a 会签 task, decisions through encrypted and signed callbacks, refusals, card updates; and
the callback crypto checked against the numbers of WeCom's official sample."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import select

from app.chatapps import msgcrypt, wecom_callbacks
from app.chatapps import services as chat
from app.db import in_transaction
from app.models import ApprovalAction, ChatApp, ChatCard

from ..approvals.helpers import (
    CHECKS,
    approval_doc,
    approver,
    as_user,
    db_of,
    deliver_all,
    outbox_rows,
    start,
    tasks_of,
)
from .fake_wecom import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    SECRET,
    TOKEN,
    FakeWeCom,
    click,
    encrypted_post,
    passive_reply,
)

HOOK = f"/hooks/chat/wecom/{CORP_ID}"
SETTINGS = {"agent_id": AGENT_ID, "secret": SECRET, "token": TOKEN, "aes_key": AES_KEY}

# WeCom's official callback sample (github.com/sbzhu/weworkapi_python, callback/Sample.py and
# callback_json_python3/Sample.py, before the values were blanked in 2025): Token, key, corp id.
SAMPLE = ("hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
          "ww1436e0e65a779aee")  # fmt: skip
SAMPLE_ECHOSTR = (
    "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
)
SAMPLE_XML = (
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGz"
    "BhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3J"
    "WcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQH"
    "E7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYu"
    "PDGOCI8jmnKiypE+"
)
SAMPLE_JSON = (
    "cjhLUX7UU4yCSelv1vz7T0zT8huF51bAMVWriNvO1FMegHrQZNrtvRxbwf0fUPsFvwqR0U0fgiJNEA5Y30F2MoI2S7vv"
    "3EjVQ68C0cjw9frBoUE2Hj0BvFp9h3u6Vbsg4lc1C8AtHdaN8orKuNKkLRLuYEL52R1J3v8olJGZRLnRdVKIivixmX/e"
    "QpzgeExtp20jI1HxRP1AAZ6xZoILdqDPO549LO4WeG+685JRUTdiwcY5fjZlqeMxuT4PpMn1X9OWsS7NRj06Wa5E3Tvg"
    "4twjWp39KPfOdRte6P1T4JU="
)


@pytest.mark.parametrize(
    ("timestamp", "nonce", "encrypted", "msg_signature"),
    [
        ("1476416373", "47744683", SAMPLE_ECHOSTR, "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb"),
        ("1476422779", "1597212914", SAMPLE_XML, "0c3914025cb4b4d68103f6bfc8db550f79dcf48e"),
        ("1409659813", "1372623149", SAMPLE_JSON, "e3647471e395139e2308c1fa963f2d648a00b90e"),
    ],
)
def test_the_signatures_of_the_official_sample(timestamp, nonce, encrypted, msg_signature):
    assert msgcrypt.signature(SAMPLE[0], timestamp, nonce, encrypted) == msg_signature


def test_the_official_sample_decrypts_to_its_messages():
    _, key, corp = SAMPLE
    # The sample's reply message (its EncryptMsg example) is what these two texts hold.
    assert msgcrypt.decrypt(SAMPLE_XML, key, corp) == (
        "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
        "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
        "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
    )
    assert '"Content": "hello", "MsgId": 4561255354251345929' in msgcrypt.decrypt(
        SAMPLE_JSON, key, corp
    )
    # The sample states no plain echostr; it decrypts (padding, length, corp id all hold).
    assert msgcrypt.decrypt(SAMPLE_ECHOSTR, key, corp).isdigit()


def test_the_url_check_of_the_official_sample_is_answered(monkeypatch):
    row = ChatApp(platform="wecom", app_id=SAMPLE[2], sealed="", base_url="")
    args = {"msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
            "timestamp": "1476416373", "nonce": "47744683", "echostr": SAMPLE_ECHOSTR}  # fmt: skip
    monkeypatch.setattr(chat, "secrets_of", lambda _row: {"token": SAMPLE[0], "aes_key": SAMPLE[1]})
    answer = wecom_callbacks.verify(row, args, now=1476416373 + 60)
    late = wecom_callbacks.verify(row, args, now=1476416373 + 600)
    assert answer.status == 200 and answer.text == msgcrypt.decrypt(SAMPLE_ECHOSTR, *SAMPLE[1:])
    assert late.status == 401 and "5 minutes" in late.body["error"]


def test_encrypt_round_trip_is_the_documented_layout():
    text = msgcrypt.encrypt("审批 ok", AES_KEY, CORP_ID, random16=b"0123456789abcdef")
    assert msgcrypt.encrypt("审批 ok", AES_KEY, CORP_ID, random16=b"0123456789abcdef") == text
    assert len(msgcrypt.decrypt(text, AES_KEY, CORP_ID)) == 5
    # 16 random + 4 length + 9 bytes of UTF-8 + 18 of corp id = 47, padded to 64 (32-byte blocks)
    assert len(base64.b64decode(text)) == 64


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda: msgcrypt.decrypt(msgcrypt.encrypt("x", AES_KEY, "ww-other"), AES_KEY, CORP_ID),
         "for receive id 'ww-other', not 'ww1436e0e65a779aee'"),
        (lambda: msgcrypt.decrypt(msgcrypt.encrypt("x", AES_KEY, CORP_ID), "A" * 43, CORP_ID),
         "bad padding"),
        (lambda: msgcrypt.decrypt("not base64!", AES_KEY, CORP_ID), "not Base64"),
        (lambda: msgcrypt.decrypt("QUJD", AES_KEY, CORP_ID), "not whole AES blocks"),
        (lambda: msgcrypt.key_of("short"), "43 characters (it has 5)"),
        (lambda: msgcrypt.encrypt("x", AES_KEY, CORP_ID, random16=b"1"), "16 bytes"),
    ],
)  # fmt: skip
def test_crypto_refusals_say_why(call, reason):
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        call()


# -- the app against the fake WeCom -----------------------------------------------------------


@pytest.fixture
def fake():
    with FakeWeCom() as server:
        yield server


@pytest.fixture
def db(app, fake):
    database = db_of(app)
    approver(database, "li", wecom_id="LiNa", locale="zh")
    approver(database, "wang", wecom_id="WangWei", locale="en")
    approver(database, "zhao", wecom_id="ZhaoLei", locale="zh")
    in_transaction(database, lambda s: chat.connect(s, "wecom", CORP_ID, SETTINGS, fake.url))
    return database


def countersign(app, db):
    doc = approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="all", checks=CHECKS,
                       sla={"duration": "24h"})  # fmt: skip
    run = start(db, doc)
    deliver_all(app)
    unsent = [(m.payload.get("op"), m.status, m.attempts, m.last_error)
              for m in outbox_rows(db, "chat") if m.status != "sent"]  # fmt: skip
    assert unsent == [], unsent  # a card that did not go out says why
    return run, {t.assignee: t.task_key for t in tasks_of(db, run.id)}


def post(client, plain, **kw):
    query, body = encrypted_post(plain, **kw)
    return client.post(f"{HOOK}?{query}", data=body, content_type="text/xml")


def approve(client, fake, task_key, userid):
    """``userid`` clicks Approve on the card of ``task_key``; the reply's button text."""
    answer = post(client, click(f"approved:{task_key}", userid, fake.issue_code()))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return passive_reply(answer.get_data(as_text=True))


def text(card):
    return json.dumps(card, ensure_ascii=False)


def decisions(db):
    with db.session() as s:
        return list(s.scalars(select(ApprovalAction).where(ApprovalAction.action == "decided")))


def test_each_approver_of_a_countersign_gets_a_template_card(app, db, fake):
    _, tasks = countersign(app, db)
    assert fake.problems == []
    by_person = {s["touser"]: s["card"] for s in fake.sent}
    assert set(by_person) == {"LiNa", "WangWei"}
    zh = by_person["LiNa"]
    said = text(zh)
    for part in ("PO-1", "李娜", "CNY 25,000.00", "SKU-1 × 1", "财务审批", "订单金额超过 20,000",
                 "✗ 库存充足", "✓ 未超信用额度", "检查：2 项中 1 项未通过"):  # fmt: skip
        assert part in said, part
    assert "order.amount" not in said
    assert zh["main_title"]["title"] == "待你审批：订单 PO-1"
    assert [h["keyname"] for h in zh["horizontal_content_list"]] == [
        "客户",
        "金额",
        "商品行",
        "截止时间",
    ]
    approve_button, reject_button, details = zh["button_list"]
    assert approve_button == {"text": "同意", "style": 1, "key": f"approved:{tasks['li']}"}
    link = details["url"]
    assert details["text"] == "查看详情" and urlsplit(link).path.startswith("/approvals/link/")
    # a card takes no free text: Reject opens the task's page, where a rejection needs a reason
    assert reject_button["text"] == "拒绝" and reject_button["url"] == f"{link}#decision"
    en = by_person["WangWei"]
    assert en["main_title"]["title"] == "Approval needed: order PO-1"
    assert [b["text"] for b in en["button_list"]] == ["Approve", "Reject", "View details"]
    with db.session() as s:  # each card's task_id and first update code are kept
        kept = {c.task_key: (c.message_id, c.update_code) for c in s.scalars(select(ChatCard))}
    code = {s["touser"]: s["response_code"] for s in fake.sent}
    assert kept == {
        tasks["li"]: (zh["task_id"], code["LiNa"]),
        tasks["wang"]: (en["task_id"], code["WangWei"]),
    }


def test_approve_through_an_encrypted_signed_callback(app, client, db, fake):
    _, tasks = countersign(app, db)
    assert approve(client, fake, tasks["li"], "LiNa") == "已由 Li 同意。"
    (action,) = decisions(db)
    assert (action.actor, action.decision, action.via, action.device) == (
        "li", "approved", "wecom", "WeCom")  # fmt: skip
    deliver_all(app)  # the card is updated with the code the click brought
    (update,) = fake.updated
    assert update["userids"] == ["LiNa"] and fake.problems == []
    card = update["card"]
    assert card["main_title"]["title"] == "已同意：订单 PO-1"
    assert card["replace_text"] == "已由 Li 同意。"
    assert [b["text"] for b in card["button_list"]] == ["同意"]  # shown as the grey button
    li_card = next(s["card"] for s in fake.sent if s["touser"] == "LiNa")
    assert card["task_id"] == li_card["task_id"]
    with db.session() as s:
        shows = {c.task_key: (c.shows, c.update_code) for c in s.scalars(select(ChatCard))}
    assert shows[tasks["li"]] == ("approved", None)  # the click's code is spent


def test_reject_on_the_page_the_card_opens_updates_the_card(app, client, db, fake):
    _, tasks = countersign(app, db)
    link = next(s["card"] for s in fake.sent if s["touser"] == "WangWei")["button_list"][1]["url"]
    path = urlsplit(link).path
    page = client.get(path).get_data(as_text=True)
    assert 'id="decision"' in page  # where the Reject button lands, the reason field below
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post(f"{path}/decide",
                data={"csrf_token": token, "decision": "rejected", "comment": "价格不对"})  # fmt: skip
    assert [t.status for t in tasks_of(db, 1) if t.assignee == "wang"] == ["rejected"]
    deliver_all(app)
    by_user = {u["userids"][0]: u["card"] for u in fake.updated}
    assert by_user["WangWei"]["replace_text"] == "Rejected by Wang."
    assert by_user["WangWei"]["main_title"]["title"] == "Rejected: order PO-1"


def test_refused_callbacks_say_why(app, client, db, fake):
    _, tasks = countersign(app, db)
    plain = click(f"approved:{tasks['li']}", "LiNa", fake.issue_code())
    cases = [
        (encrypted_post(plain, token="guess"), 401, "bad msg_signature"),
        (encrypted_post(plain, at=int(time.time()) - 600), 401, "more than 5 minutes away"),
        (encrypted_post(plain, corp_id="ww-other"), 400, "not 'ww1436e0e65a779aee'"),
        (encrypted_post(plain, aes_key="B" * 43), 400, "bad padding"),
        ((encrypted_post(plain)[0], b"<xml></xml>"), 400, "no <Encrypt> element"),
    ]
    for (query, body), status, reason in cases:
        answer = client.post(f"{HOOK}?{query}", data=body, content_type="text/xml")
        assert answer.status_code == status and reason in answer.json["error"], answer.json
    query, body = encrypted_post(plain)
    assert client.post(f"{HOOK}?{query}", data=body).status_code == 200
    replay = client.post(f"{HOOK}?{query}", data=body)
    assert replay.status_code == 409 and "replayed" in replay.json["error"]
    assert len(decisions(db)) == 1
    unknown = client.post(f"/hooks/chat/wecom/ww-nobody?{query}", data=body)
    assert unknown.status_code == 404 and "no connected wecom app" in unknown.json["error"]


def test_a_clicker_who_is_not_the_assignee_is_refused_on_the_card(app, client, db, fake):
    _, tasks = countersign(app, db)
    assert approve(client, fake, tasks["li"], "ZhaoLei") == "该审批未分配给您。"
    assert approve(client, fake, tasks["li"], "Stranger").startswith("未关联 OrderFlow 用户")
    foreign = post(client, click(f"rejected:{tasks['li']}", "LiNa", fake.issue_code()))
    assert passive_reply(foreign.get_data(as_text=True)) == "这个按钮不属于 OrderFlow。"
    assert [t.status for t in tasks_of(db, 1)] == ["pending", "pending"] and decisions(db) == []


def test_a_double_click_gives_one_decision(app, client, db, fake):
    _, tasks = countersign(app, db)
    assert approve(client, fake, tasks["li"], "LiNa") == "已由 Li 同意。"
    second = approve(client, fake, tasks["li"], "LiNa")
    assert second == "已由 Li 处理：通过。"  # the refusal of the second click says why
    assert len(decisions(db)) == 1


def test_a_decision_on_the_web_updates_every_card(app, db, fake):
    from app.approvals import services as approvals

    _, tasks = countersign(app, db)
    as_user(db, "wang", lambda s, u: approvals.decide(s, u, tasks["wang"], "approved", via="web"))
    deliver_all(app)
    (update,) = fake.updated
    sent = next(s for s in fake.sent if s["touser"] == "WangWei")
    assert update["response_code"] == sent["response_code"]  # the code the send gave
    assert update["card"]["replace_text"] == "Approved by Wang."
    assert update["card"]["task_id"] == sent["card"]["task_id"]


def test_any_mode_withdraws_the_other_card_when_one_approves_in_wecom(app, client, db, fake):
    run = start(db, approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="any"))
    deliver_all(app)
    tasks = {t.assignee: t.task_key for t in tasks_of(db, run.id)}
    approve(client, fake, tasks["li"], "LiNa")
    deliver_all(app)
    by_user = {u["userids"][0]: u["card"]["replace_text"] for u in fake.updated}
    assert by_user == {
        "LiNa": "已由 Li 同意。",
        "WangWei": "Withdrawn: the order no longer needs this approval.",
    }


def test_an_expired_token_is_fetched_again(app, db, fake):
    start(db, approval_doc(assignees=[{"user": "li"}]))
    deliver_all(app)
    assert len(fake.tokens_issued) == 1 and len(fake.sent) == 1
    fake.expire_tokens()  # the next send is answered 42001: a new token, then the send again
    start(db, approval_doc(assignees=[{"user": "li"}]), external_id="PO-2")
    deliver_all(app)
    assert len(fake.tokens_issued) == 2 and len(fake.sent) == 2
    with db.session() as s:
        (row,) = s.scalars(select(ChatApp))
        assert row.token_sealed and fake.tokens_issued[-1] not in row.token_sealed


def test_a_person_wecom_does_not_know_is_a_dead_letter_not_a_retry(app, db, fake):
    from app.models import OutboxMessage
    from app.runs import outbox

    approver(db, "qian", wecom_id="QianNobody")
    start(db, approval_doc(assignees=[{"user": "qian"}]))
    deliver_all(app)
    with db.session() as s:
        (send,) = s.scalars(select(OutboxMessage).where(OutboxMessage.effect_id.like("chat:%")))
        assert send.status == outbox.DEAD and "QianNobody" in send.last_error


def test_the_receive_url_check_echoes_the_decrypted_echostr(client, db):
    stamp, nonce = str(int(time.time())), "123456"
    echostr = msgcrypt.encrypt("5927782489442352469", AES_KEY, CORP_ID)
    args = {"msg_signature": msgcrypt.signature(TOKEN, stamp, nonce, echostr),
            "timestamp": stamp, "nonce": nonce, "echostr": echostr}  # fmt: skip
    answer = client.get(f"{HOOK}?{urlencode(args)}")
    assert answer.status_code == 200 and answer.get_data(as_text=True) == "5927782489442352469"
    args["msg_signature"] = "0" * 40
    assert client.get(f"{HOOK}?{urlencode(args)}").status_code == 401


def test_the_admin_connects_the_wecom_app_and_tests_it(app, client, login, make_user, fake):
    from ..conftest import csrf_token

    make_user("boss", roles=("admin",), email="boss@example.com")
    login("boss")
    token = csrf_token(client, "/admin/chat-apps/")
    form = {"csrf_token": token, "app_id": CORP_ID, "agent_id": "1000002", "secret": "wrong",
            "token": TOKEN, "aes_key": "too-short", "base_url": fake.url}  # fmt: skip
    client.post("/admin/chat-apps/wecom", data=form)
    page = client.get("/admin/chat-apps/").get_data(as_text=True)
    assert "EncodingAESKey 为 43 位" in page  # refused, saying what is accepted
    client.post("/admin/chat-apps/wecom", data=form | {"aes_key": AES_KEY})
    page = client.get("/admin/chat-apps/").get_data(as_text=True)
    assert (
        f"/hooks/chat/wecom/{CORP_ID}" in page and TOKEN not in page and 'value="1000002"' in page
    )
    client.post("/admin/chat-apps/wecom/test", data={"csrf_token": token})
    assert "40001" in client.get("/admin/chat-apps/").get_data(as_text=True)  # wrong secret said
    client.post("/admin/chat-apps/wecom", data=form | {"aes_key": "", "secret": SECRET})
    client.post("/admin/chat-apps/wecom/test", data={"csrf_token": token})
    assert "企业微信为此应用发放了访问令牌" in client.get("/admin/chat-apps/").get_data(
        as_text=True
    )
    with app.app_context():
        from app.db import get_session

        (row,) = get_session().scalars(select(ChatApp))
        assert SECRET not in row.sealed and chat.secrets_of(row)["aes_key"] == AES_KEY
