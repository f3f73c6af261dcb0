"""Approving inside DingTalk against a fake DingTalk on loopback: interactive cards to each
approver of a 会签 task, the card callback route registered with DingTalk, decisions through
card callbacks DingTalk posts over HTTP to the registered URL, refusals, card updates."""

from __future__ import annotations

import json
import threading
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from app.chatapps import dingtalk, dingtalk_callbacks
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
from .fake_dingtalk import APP_KEY, APP_SECRET, CORP_ID, TEMPLATE, FakeDingTalk, callback, post

SETTINGS = {"robot_code": APP_KEY, "card_template_id": TEMPLATE, "app_secret": APP_SECRET}


# -- the app against the fake DingTalk --------------------------------------------------------


@pytest.fixture
def fake():
    with FakeDingTalk() as server:
        yield server


@pytest.fixture
def live(app):
    """OrderFlow served on loopback, where the fake DingTalk posts its card callbacks."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def card_url(database, base):
    """The card callback URL of the connected app on ``base``, with its key."""
    with database.session() as s:
        row = s.scalars(select(ChatApp)).one()
        return (
            f"{base}/hooks/chat/dingtalk/{APP_KEY}/cards/{dingtalk.url_key(chat.secrets_of(row))}"
        )


@pytest.fixture
def db(app, fake, live):
    database = db_of(app)
    approver(database, "li", dingtalk_id="LiNa", locale="zh")
    approver(database, "wang", dingtalk_id="WangWei", locale="en")
    approver(database, "zhao", dingtalk_id="ZhaoLei", locale="zh")
    app_pk = in_transaction(
        database, lambda s: chat.connect(s, "dingtalk", APP_KEY, SETTINGS, fake.url).id
    )
    chat.register_callback(database, app_pk, card_url(database, live))
    return database


def countersign(app, db):
    doc = approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="all", checks=CHECKS,
                       sla={"duration": "24h"})  # fmt: skip
    run = start(db, doc)
    deliver_all(app)
    return run, {t.assignee: t.task_key for t in tasks_of(db, run.id)}


def track_of(fake, userid):
    return next(s["body"]["outTrackId"] for s in fake.sent if s["to"] == userid)


def approve(fake, userid, card_of=None):
    """``userid`` clicks Approve on ``card_of``'s card (their own); the answer's body."""
    status, body = fake.click(track_of(fake, card_of or userid), userid)
    assert status == 200, body
    return body


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


def test_the_card_callback_route_is_registered_with_dingtalk(db, fake, live):
    ((key, registered),) = fake.routes.items()
    assert key == "orderflow-approvals"
    assert registered["callbackUrl"] == card_url(db, live) and registered["forceUpdate"] is True
    with db.session() as s:  # OrderFlow made the apiSecret itself and keeps it sealed
        (row,) = s.scalars(select(ChatApp))
        api_secret = chat.secrets_of(row)["api_secret"]
    assert registered["apiSecret"] == api_secret and len(api_secret) >= 32
    assert api_secret not in row.sealed and dingtalk.url_key(chat.secrets_of(row)) in card_url(
        db, live
    )


def test_approve_through_the_card_callback(app, db, fake):
    _, tasks = countersign(app, db)
    assert fake.sent[0]["body"]["callbackRouteKey"] in fake.routes and fake.problems == []
    body = approve(fake, "LiNa")
    assert notice(body) == "" and body["cardData"]["cardParamMap"]["outcome"] == "已由 Li 同意。"
    assert body["cardData"]["cardParamMap"]["pending"] == "false"
    assert body["cardUpdateOptions"] == {
        "updateCardDataByKey": True,
        "updatePrivateDataByKey": True,
    }
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


def test_refused_callbacks_say_why(app, db, fake, live):
    countersign(app, db)
    url, track = card_url(db, live), track_of(fake, "LiNa")
    good = callback(track, "LiNa")
    base = url.rsplit("/", 1)[0]
    cases = [
        (f"{base}/{'0' * 32}", good, 401, "key in the callback URL does not match"),
        (f"{base}/%E9%92%A5%E5%8C%99", good, 401, "key in the callback URL does not match"),
        (url, b"<xml/>", 400, "not JSON"),
        (url, b'{"type": "actionCallback"}', 400, "no outTrackId"),
        (f"{live}/hooks/chat/dingtalk/ding-nobody/cards/{url.rsplit('/', 1)[1]}", good, 404,
         "no connected dingtalk app"),
    ]  # fmt: skip
    for target, body, status, reason in cases:
        answer = post(target, body)
        assert answer[0] == status and reason in answer[1]["error"], (target, answer)
    assert post(f"{base}/", good)[0] in (404, 405)  # no key: not a callback URL at all
    # the old event-subscription address takes no card callbacks any more
    assert post(f"{live}/hooks/chat/dingtalk/{APP_KEY}", good)[0] == 404
    assert [t.status for t in tasks_of(db, 1)] == ["pending", "pending"] and decisions(db) == []


def test_an_app_saved_without_an_api_secret_takes_no_clicks(monkeypatch):
    import hashlib
    import hmac

    row = ChatApp(platform="dingtalk", app_id=APP_KEY, sealed="", base_url="")
    monkeypatch.setattr(chat, "secrets_of", lambda _row: {"app_secret": APP_SECRET})
    empty = hmac.new(b"", b"orderflow dingtalk card callback", hashlib.sha256).hexdigest()[:32]
    for key in ("", empty):  # not even the key an empty secret would make
        answer = dingtalk_callbacks.handle(None, row, key, callback("of-1", "LiNa"))
        assert answer.status == 401 and "does not match" in answer.body["error"]


def test_a_callback_for_another_company_is_refused_once_the_corp_id_is_saved(app, db, fake):
    countersign(app, db)
    in_transaction(
        db, lambda s: chat.connect(s, "dingtalk", APP_KEY, {"corp_id": CORP_ID}, fake.url)
    )
    other = fake.click(track_of(fake, "LiNa"), "LiNa", corp_id="ding-other-company")
    assert other[0] == 403 and CORP_ID in other[1]["error"] and decisions(db) == []
    assert notice(approve(fake, "LiNa")) == "" and len(decisions(db)) == 1


def test_a_clicker_who_is_not_the_cards_recipient_is_refused_on_the_card(app, db, fake):
    _, tasks = countersign(app, db)
    forwarded = approve(fake, "ZhaoLei", card_of="LiNa")
    assert notice(forwarded) == "该审批未分配给您。" and "cardData" not in forwarded
    colleague = approve(fake, "WangWei", card_of="LiNa")  # an assignee, but not of this card
    assert notice(colleague) == "This approval is not assigned to you."
    stranger = approve(fake, "Stranger", card_of="LiNa")
    assert notice(stranger).startswith("未关联 OrderFlow 用户")
    foreign = fake.click(track_of(fake, "LiNa"), "LiNa", action="reject")[1]
    assert notice(foreign) == "这个按钮不属于 OrderFlow。"
    unknown = fake.click("of-not-ours", "LiNa")[1]  # the card decides the task
    assert notice(unknown) == "这个按钮不属于 OrderFlow。"
    assert [t.status for t in tasks_of(db, 1)] == ["pending", "pending"] and decisions(db) == []


def test_a_role_task_is_decided_only_on_the_card_sent_to_the_clicker(app, db, fake):
    start(db, approval_doc(assignees=[{"role": "approver"}]))  # one task, a card to each member
    deliver_all(app)
    assert {s["to"] for s in fake.sent} == {"LiNa", "WangWei", "ZhaoLei"}
    forwarded = approve(fake, "ZhaoLei", card_of="LiNa")  # Zhao may decide, but not on Li's card
    assert notice(forwarded) == "该审批未分配给您。" and decisions(db) == []
    assert notice(approve(fake, "ZhaoLei")) == "" and len(decisions(db)) == 1


def test_a_double_click_or_a_replay_gives_one_decision(app, db, fake, live):
    _, tasks = countersign(app, db)
    assert notice(approve(fake, "LiNa")) == ""
    second = approve(fake, "LiNa")
    assert notice(second) == "已由 Li 处理：通过。"  # the refusal of the second click says why
    assert second["cardData"]["cardParamMap"]["outcome"] == "已由 Li 同意。"
    # the same request posted again later (DingTalk's body carries no nonce): no new decision
    replay = post(card_url(db, live), callback(track_of(fake, "LiNa"), "LiNa"))
    assert replay[0] == 200 and notice(replay[1]) == "已由 Li 处理：通过。"
    assert len(decisions(db)) == 1


def test_a_decision_on_the_web_updates_every_card(app, db, fake):
    from app.approvals import services as approvals

    _, tasks = countersign(app, db)
    as_user(db, "wang", lambda s, u: approvals.decide(s, u, tasks["wang"], "approved", via="web"))
    deliver_all(app)
    (update,) = fake.updated
    assert update["body"]["outTrackId"] == track_of(fake, "WangWei")
    assert update["card"]["outcome"] == "Approved by Wang."


def test_any_mode_withdraws_the_other_card_when_one_approves_in_dingtalk(app, db, fake):
    start(db, approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="any"))
    deliver_all(app)
    approve(fake, "LiNa")
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


def test_the_admin_connects_the_dingtalk_app_and_it_registers_the_callback_route(
    app, client, login, make_user, fake
):
    from ..conftest import csrf_token

    make_user("boss", roles=("admin",), email="boss@example.com")
    login("boss")
    token = csrf_token(client, "/admin/chat-apps/")
    form = {"csrf_token": token, "app_id": APP_KEY, "robot_code": APP_KEY,
            "card_template_id": "", "app_secret": "wrong", "base_url": fake.url}  # fmt: skip
    client.post("/admin/chat-apps/dingtalk", data=form)
    page = client.get("/admin/chat-apps/").get_data(as_text=True)
    assert "卡片模板" in page and fake.routes == {}  # refused, saying what is needed
    client.post("/admin/chat-apps/dingtalk", data=form | {"card_template_id": TEMPLATE})
    page = client.get("/admin/chat-apps/").get_data(as_text=True)
    assert "钉钉未注册卡片回调地址" in page and "invalidClientIdOrSecret" in page
    assert f"/hooks/chat/dingtalk/{APP_KEY}/cards/" in page and f'value="{TEMPLATE}"' in page
    client.post("/admin/chat-apps/dingtalk", data=form | {"card_template_id": "",
                                                          "app_secret": APP_SECRET})  # fmt: skip
    page = client.get("/admin/chat-apps/").get_data(as_text=True)
    assert "钉钉会把回调路由 orderflow-approvals 的卡片点击发给 OrderFlow" in page
    ((key, registered),) = fake.routes.items()
    assert registered["callbackUrl"] in page and "/cards/" in registered["callbackUrl"]
    with app.app_context():
        from app.db import get_session

        (row,) = get_session().scalars(select(ChatApp))
        saved = chat.secrets_of(row)
        assert APP_SECRET not in row.sealed and saved["api_secret"] == registered["apiSecret"]
        assert registered["apiSecret"] not in page
    fake.routes.clear()
    client.post("/admin/chat-apps/dingtalk/test", data={"csrf_token": token})
    page = client.get("/admin/chat-apps/").get_data(as_text=True)
    assert "钉钉为此应用发放了访问令牌" in page and list(fake.routes) == [key]


def test_an_app_connected_before_callbacks_were_registered_is_flagged_until_saved_again(
    app, client, login, make_user, fake
):
    from app.channels import vault

    from ..conftest import csrf_token

    make_user("boss", roles=("admin",))
    login("boss")

    def connect_as_before(db):
        chat.connect(db, "dingtalk", APP_KEY, {"robot_code": APP_KEY, "card_template_id": TEMPLATE,
                                               "app_secret": APP_SECRET}, fake.url)  # fmt: skip
        (row,) = db.scalars(select(ChatApp))
        old = chat.secrets_of(row)
        del old["api_secret"]  # as an app saved by an earlier OrderFlow
        row.sealed = vault.seal(old)

    in_transaction(db_of(app), connect_as_before)
    warning = "clicks on DingTalk cards are refused until this app is saved again"
    page = client.get("/admin/chat-apps/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert warning in page
    zh = client.get("/admin/chat-apps/", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "审批人在钉钉卡片上的点击都会被拒绝" in zh and 'role="alert"' in zh
    token = csrf_token(client, "/admin/chat-apps/")
    client.post("/admin/chat-apps/dingtalk", data={  # the secrets left empty: the saved ones stay
        "csrf_token": token, "app_id": APP_KEY, "robot_code": APP_KEY,
        "card_template_id": TEMPLATE, "app_secret": "", "base_url": fake.url})  # fmt: skip
    page = client.get("/admin/chat-apps/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert warning not in page and len(fake.routes) == 1
