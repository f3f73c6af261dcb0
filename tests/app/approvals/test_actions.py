"""加签 (add an approver before or after oneself), 退回 (send back to a person, an earlier
step or an earlier node, and resubmit), 抄送 (copy) and @-mention comments, in the any (或签),
all (会签) and sequential (依次) modes, with their audit trail and their races."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from app.approvals import services
from app.db import in_transaction
from app.errors import ConflictError, PermissionDeniedError, ValidationError
from app.models import ApprovalAction, ApprovalReader, Notification, OutboxMessage, RunEvent

from ..flows_fixtures import flow_doc
from .helpers import approval_doc, approver, as_user, db_of, deliver_all, run_of, start, tasks_of


def _do(database, name, fn, *args, **kw):
    return as_user(database, name, lambda db, u: fn(db, u, *args, **kw))


def _decide(database, name, key, decision="approved", comment=None):
    return _do(database, name, services.decide, key, decision, comment=comment, via="web")


def _pending(database, run_id):
    return [t for t in tasks_of(database, run_id) if t.status == "pending"]


def _actions(database, run_id):
    with database.session() as s:
        return [
            (a.action, a.actor, a.to_user)
            for a in s.scalars(
                select(ApprovalAction)
                .where(ApprovalAction.run_id == run_id)
                .order_by(ApprovalAction.id)
            )
        ]


@pytest.fixture
def db(app):
    database = db_of(app)
    for name in ("li", "wang", "zhao", "sun"):
        approver(database, name)
    return database


def _two(mode):
    return approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode=mode)


# -- 加签 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["any", "all", "sequential"])
def test_added_before_decides_first_then_the_task_comes_back_to_the_adder(db, mode):
    run = start(db, _two(mode))
    li = next(t for t in _pending(db, run.id) if t.assignee == "li")
    added = _do(db, "li", services.add_approver, li.task_key, "zhao", "before", comment="请先看")
    assert (added.assignee, added.status, added.payload["added_by"]) == ("zhao", "pending", "li")
    assert next(t for t in tasks_of(db, run.id) if t.task_key == li.task_key).status == "added"
    with pytest.raises(ConflictError):  # the adder's old task is closed
        _decide(db, "li", li.task_key)
    _decide(db, "zhao", added.task_key)
    assert run_of(db, run.id).status == "waiting"  # zhao's approval alone does not count
    back = [t for t in _pending(db, run.id) if t.assignee == "li"]
    assert len(back) == 1 and back[0].task_key != li.task_key
    _decide(db, "li", back[0].task_key)
    if mode == "any":
        assert run_of(db, run.id).outcome == "accepted"
    else:
        assert run_of(db, run.id).status == "waiting"
        (wang,) = _pending(db, run.id)
        _decide(db, "wang", wang.task_key)
        assert run_of(db, run.id).outcome == "accepted"
    assert ("added_before", "li", "zhao") in _actions(db, run.id)


@pytest.mark.parametrize("mode", ["any", "all", "sequential"])
def test_added_after_must_approve_before_the_adders_approval_counts(db, mode):
    run = start(db, _two(mode))
    li = next(t for t in _pending(db, run.id) if t.assignee == "li")
    assert _do(db, "li", services.add_approver, li.task_key, "zhao", "after") is None
    _decide(db, "li", li.task_key)
    assert run_of(db, run.id).status == "waiting"  # li approved; zhao still has to
    zhao = next(t for t in _pending(db, run.id) if t.assignee == "zhao")
    assert zhao.payload["position"] == "after"
    if mode == "sequential":  # wang, the next step, waits until zhao approved
        assert [t.assignee for t in _pending(db, run.id)] == ["zhao"]
    _decide(db, "zhao", zhao.task_key)
    if mode == "any":
        assert run_of(db, run.id).outcome == "accepted"
    else:
        (wang,) = _pending(db, run.id)
        _decide(db, "wang", wang.task_key)
        assert run_of(db, run.id).outcome == "accepted"
    assert ("added_after", "li", "zhao") in _actions(db, run.id)


@pytest.mark.parametrize("mode", ["any", "all", "sequential"])
def test_a_rejection_by_the_added_approver_rejects_the_step(db, mode):
    run = start(db, _two(mode))
    li = next(t for t in _pending(db, run.id) if t.assignee == "li")
    _do(db, "li", services.add_approver, li.task_key, "zhao", "after")
    _decide(db, "li", li.task_key)
    zhao = next(t for t in _pending(db, run.id) if t.assignee == "zhao")
    _decide(db, "zhao", zhao.task_key, "rejected", "库存不足")
    assert run_of(db, run.id).outcome == "refused"


def test_adding_an_unknown_or_inactive_user_is_refused_by_name(db, app):
    run = start(db, _two("any"))
    li = next(t for t in _pending(db, run.id) if t.assignee == "li")
    with pytest.raises(ValidationError) as err:
        _do(db, "li", services.add_approver, li.task_key, "nobody", "before")
    assert "nobody" in str(err.value.message) and err.value.fields == {"user": "unknown"}
    in_transaction(db, lambda s: setattr(services._active_user(s, "sun", "u"), "is_active", False))
    with pytest.raises(ValidationError):
        _do(db, "li", services.add_approver, li.task_key, "sun", "after")
    with pytest.raises(ValidationError):
        _do(db, "li", services.add_approver, li.task_key, "li", "after")
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        from flask import session

        session["lang"] = "zh"
        assert "没有名为 nobody 的有效用户" in str(err.value.message)
    assert run_of(db, run.id).status == "waiting"


# -- 退回 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["any", "all", "sequential"])
def test_sent_back_to_a_person_who_resubmits_reopens_the_step_fresh(db, mode):
    run = start(db, _two(mode))
    li = next(t for t in _pending(db, run.id) if t.assignee == "li")
    was_open = {t.assignee for t in _pending(db, run.id)}
    ask = _do(db, "li", services.send_back, li.task_key, comment="请补充合同", to_user="sun")
    assert (ask.assignee, ask.payload["kind"], ask.payload["comment"]) == (
        "sun",
        "info",
        "请补充合同",
    )
    assert [t.task_key for t in _pending(db, run.id)] == [ask.task_key]  # only sun now
    with pytest.raises(ValidationError):  # a request for information is not decided
        _decide(db, "sun", ask.task_key)
    fresh = _do(db, "sun", services.resubmit, ask.task_key, comment="合同已上传")
    assert {t.assignee for t in fresh} == was_open
    assert all(t.payload.get("comment") == "合同已上传" for t in fresh)
    for t in fresh if mode == "all" else fresh[:1]:
        _decide(db, t.assignee, t.task_key)
    if mode == "sequential":
        (wang,) = _pending(db, run.id)
        _decide(db, "wang", wang.task_key)
    assert run_of(db, run.id).outcome == "accepted"
    kinds = [a[0] for a in _actions(db, run.id)]
    assert kinds[:2] == ["sent_back", "resubmitted"]
    statuses = [t.status for t in tasks_of(db, run.id)]
    assert "sent_back" in statuses and "resubmitted" in statuses


def test_sent_back_to_an_earlier_sequential_step(db):
    doc = approval_doc(assignees=[{"user": "li"}, {"user": "wang"}, {"user": "zhao"}],
                       mode="sequential")  # fmt: skip
    run = start(db, doc)
    (li,) = _pending(db, run.id)
    _decide(db, "li", li.task_key)
    (wang,) = _pending(db, run.id)
    _decide(db, "wang", wang.task_key)
    (zhao,) = _pending(db, run.id)
    targets = as_user(
        db, "zhao", lambda s, u: services.send_back_targets(s, services.get_task(s, zhao.task_key))
    )
    assert [k for k, _ in targets["steps"]] == [li.task_key, wang.task_key]
    again = _do(
        db, "zhao", services.send_back, zhao.task_key, comment="价格要重核", to_step=li.task_key
    )
    assert (again.assignee, again.payload["requested_by"]) == ("li", "zhao")
    for name in ("li", "wang", "zhao"):  # the steps follow again, one after another
        (t,) = _pending(db, run.id)
        assert t.assignee == name
        _decide(db, name, t.task_key)
    assert run_of(db, run.id).outcome == "accepted"


def test_sent_back_to_a_step_that_is_not_earlier_is_refused(db):
    run = start(db, _two("all"))
    li, wang = _pending(db, run.id)
    with pytest.raises(ValidationError) as err:
        _do(db, "li", services.send_back, li.task_key, comment="x", to_step=wang.task_key)
    assert err.value.fields == {"to": "invalid"}
    with pytest.raises(ValidationError) as err:
        _do(db, "li", services.send_back, li.task_key, comment=" ", to_user="sun")
    assert err.value.fields == {"comment": "required"}
    assert run_of(db, run.id).status == "waiting"


def test_sent_back_to_an_earlier_approval_node(db):
    doc = flow_doc(
        "two-steps",
        [{"id": "start", "type": "start"},
         {"id": "first", "type": "approval", "config": {"assignees": [{"user": "li"}]}},
         {"id": "second", "type": "approval", "config": {"assignees": [{"user": "wang"}, {"user": "zhao"}], "mode": "all"}},
         {"id": "ok", "type": "end", "config": {"outcome": "accepted"}},
         {"id": "no", "type": "end", "config": {"outcome": "refused"}}],
        [("start", "first"), ("first", "second", "approved"), ("first", "no", "rejected"),
         ("second", "ok", "approved"), ("second", "no", "rejected")],
    )  # fmt: skip
    run = start(db, doc)
    (li,) = _pending(db, run.id)
    _decide(db, "li", li.task_key)
    wang, zhao = _pending(db, run.id)
    _do(db, "wang", services.send_back, wang.task_key, comment="第一步漏了运费", to_node="first")
    (again,) = _pending(db, run.id)
    assert (again.assignee, again.node_id) == ("li", "first")
    with pytest.raises(ConflictError) as err:  # zhao's task went with the step
        _decide(db, "zhao", zhao.task_key)
    assert "Wang" in str(err.value.message)
    _decide(db, "li", again.task_key)
    for t in _pending(db, run.id):
        _decide(db, t.assignee, t.task_key)
    assert run_of(db, run.id).outcome == "accepted"
    with db.session() as s:  # the history keeps both rounds
        passed = s.scalars(
            select(RunEvent.branch).where(
                RunEvent.run_id == run.id,
                RunEvent.node_id == "second",
                RunEvent.kind == "node_passed",
            )
        ).all()
    assert list(passed) == ["sent_back", "approved"]


def _race(*jobs):
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def runner(i, job):
        barrier.wait()
        try:
            results[i] = ("ok", job())
        except Exception as err:  # the test looks at which error each side got
            results[i] = ("error", err)

    threads = [threading.Thread(target=runner, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.parametrize("mode", ["any", "all", "sequential"])
def test_send_back_racing_a_decision_on_the_same_task_has_one_winner(db, mode):
    for round_ in range(3):
        run = start(db, _two(mode), external_id=f"PO-{mode}-{round_}")
        li = next(t for t in _pending(db, run.id) if t.assignee == "li")
        key = li.task_key
        results = _race(
            lambda key=key: _decide(db, "li", key, "approved"),
            lambda key=key: _do(db, "li", services.send_back, key, comment="缺发票", to_user="sun"),
        )
        oks = [r for r in results if r[0] == "ok"]
        errors = [r[1] for r in results if r[0] == "error"]
        assert len(oks) == 1 and len(errors) == 1, results
        assert isinstance(errors[0], ConflictError) and errors[0].code == "already_decided"
        final = next(t for t in tasks_of(db, run.id) if t.task_key == li.task_key)
        if results[0][0] == "ok":
            assert final.status == "approved" and "decided" in str(errors[0].message)
        else:
            assert final.status == "sent_back" and "sent back" in str(errors[0].message)
        assert len([a for a in _actions(db, run.id) if a[0] in ("decided", "sent_back")]) == 1


# -- 抄送 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["any", "all", "sequential"])
def test_cc_from_the_node_and_ad_hoc_read_but_may_not_decide(db, app, mode):
    doc = _two(mode)
    doc["nodes"][1]["config"]["cc"] = [{"user": "sun"}]
    run = start(db, doc)
    li = next(t for t in _pending(db, run.id) if t.assignee == "li")
    assert _do(db, "li", services.copy_to, li.task_key, ["zhao"], comment="供参考") == ["zhao"]
    with db.session() as s:
        readers = sorted(
            (r.username, r.reason, r.added_by) for r in s.scalars(select(ApprovalReader))
        )
        assert readers == [("sun", "cc", None), ("zhao", "cc", "li")]
        for name in ("sun", "zhao"):
            u = services._active_user(s, name, "u")
            assert services.may_read(s, u, services.get_task(s, li.task_key))
            assert not services.may_decide(s, u, services.get_task(s, li.task_key))
    with pytest.raises(PermissionDeniedError):
        _decide(db, "zhao", li.task_key)
    deliver_all(app)
    with db.session() as s:
        told = {(n.user_id, n.event) for n in s.scalars(select(Notification))}
        events = {e for _, e in told}
        assert "approval_cc" in events
        sent = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "notify")).all()
        assert any(m.payload.get("event") == "approval_cc" for m in sent)
    assert ("cc", "li", "zhao") in _actions(db, run.id)


# -- comments ------------------------------------------------------------------------------


def test_comments_mention_people_who_are_told_and_may_read(db, app):
    run = start(db, _two("any"))
    li = next(t for t in _pending(db, run.id) if t.assignee == "li")
    done = _do(db, "li", services.add_comment, li.task_key, "@sun 请看看 @Zhao 的意见，@ghost")
    assert sorted(done.mentioned) == ["sun", "zhao"] and done.unknown == ["ghost"]
    with db.session() as s:
        sun = services._active_user(s, "sun", "u")
        assert services.may_read(s, sun, services.get_task(s, li.task_key))
    # sun may now comment too; someone not involved may not
    _do(db, "sun", services.add_comment, li.task_key, "没问题")
    approver(db, "qian")
    with pytest.raises(PermissionDeniedError):
        _do(db, "qian", services.add_comment, li.task_key, "我也来")
    with pytest.raises(ValidationError):
        _do(db, "li", services.add_comment, li.task_key, "   ")
    deliver_all(app)
    with db.session() as s:
        assert {n.event for n in s.scalars(select(Notification))} >= {"approval_mention"}
    assert [a for a in _actions(db, run.id) if a[0] == "commented"] == [
        ("commented", "li", "sun,zhao"), ("commented", "sun", None)]  # fmt: skip


# -- the task page -------------------------------------------------------------------------


def _post(client, path, **data):
    from ..conftest import csrf_token

    token = csrf_token(client, path.rsplit("/", 1)[0])
    return client.post(path, data={"csrf_token": token, **data})


def test_task_page_actions_and_a_read_only_copy(db, app, client, login):
    run = start(db, _two("all"))
    li = next(t for t in _pending(db, run.id) if t.assignee == "li")
    path = f"/approvals/{li.task_key}"
    login("li", **{"Accept-Language": "en"})
    page = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
    for testid in ("add-approver", "send-back", "cc", "comment-submit"):
        assert f'data-testid="{testid}"' in page
    assert _post(client, f"{path}/add", user="zhao", position="after").status_code == 302
    assert _post(client, f"{path}/cc", users=["sun"], comment="FYI").status_code == 302
    assert _post(client, f"{path}/comments", comment="@sun see the freight").status_code == 302
    page = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "added Zhao after them" in page and "copied it to Sun" in page
    assert "@sun see the freight" in page
    client.post("/logout", data={"csrf_token": csrf_token_of(client)})
    login("sun")
    page = client.get(path).get_data(as_text=True)
    assert 'data-testid="read-only"' in page and 'data-testid="approve"' not in page
    assert _post(client, f"{path}/decide", decision="approved").status_code == 403
    assert next(t for t in tasks_of(db, run.id) if t.task_key == li.task_key).status == "pending"
    inbox = client.get("/approvals/?show=cc").get_data(as_text=True)
    assert f'data-task="{li.task_key}"' in inbox and "抄送我的" in inbox
    assert _post(client, f"{path}/comments", comment="收到").status_code == 302


def csrf_token_of(client):
    from ..conftest import csrf_token

    return csrf_token(client, "/approvals/")


def test_resubmit_from_the_page_of_the_information_request(db, client, login):
    run = start(db, _two("any"))
    li = next(t for t in _pending(db, run.id) if t.assignee == "li")
    path = f"/approvals/{li.task_key}"
    login("li")
    resp = _post(client, f"{path}/send-back", to="user:", to_user="sun", comment="")
    assert resp.status_code == 302
    page = client.get(path).get_data(as_text=True)
    assert "退回时必须说明缺少什么" in page  # the refusal, in the reader's language
    _post(client, f"{path}/send-back", to="user:", to_user="sun", comment="请补充发票")
    (ask,) = _pending(db, run.id)
    client.post("/logout", data={"csrf_token": csrf_token_of(client)})
    login("sun")
    page = client.get(f"/approvals/{ask.task_key}").get_data(as_text=True)
    assert "需补充信息" in page and "请补充发票" in page and 'data-testid="resubmit"' in page
    assert 'data-testid="approve"' not in page
    _post(client, f"/approvals/{ask.task_key}/resubmit", comment="发票已补")
    assert {t.assignee for t in _pending(db, run.id)} == {"li", "wang"}


# -- the API -------------------------------------------------------------------------------


def _key(db, owner):
    from app.users import services as users

    def work(s):
        user = services._active_user(s, owner, "u")
        return users.create_api_key(s, user, name=f"{owner}-key", scopes=["approvals:write"])[1]

    return in_transaction(db, work)


def test_api_add_send_back_resubmit_cc_and_comment(db, client):
    run = start(db, _two("sequential"))
    (li,) = _pending(db, run.id)
    auth = {"Authorization": f"Bearer {_key(db, 'li')}", "Accept-Language": "en"}
    base = f"/api/v1/approvals/{li.task_key}"
    resp = client.post(f"{base}/add-approver", json={"user": "nobody", "position": "after"},
                       headers=auth)  # fmt: skip
    assert resp.status_code == 422 and "nobody" in resp.json["error"]["message"]
    resp = client.post(f"{base}/add-approver", json={"user": "zhao", "position": "after"},
                       headers=auth)  # fmt: skip
    assert resp.status_code == 200 and resp.json["status"] == "pending"
    resp = client.post(f"{base}/cc", json={"users": ["sun"], "comment": "FYI"}, headers=auth)
    assert resp.status_code == 200
    resp = client.post(f"{base}/comments", json={"comment": "@sun @ghost 看看"}, headers=auth)
    assert resp.status_code == 201 and resp.json == {"mentioned": ["sun"], "unknown": ["ghost"]}
    sun = {"Authorization": f"Bearer {_key(db, 'sun')}"}
    copied = client.get("/api/v1/approvals?box=cc", headers=sun).json["items"]
    assert [t["task_key"] for t in copied] == [li.task_key]
    for box in ("", "all"):  # the document's enum: pending or cc
        refused = client.get(f"/api/v1/approvals?box={box}", headers=sun)
        assert refused.status_code == 422 and refused.json["error"]["code"] == "invalid_parameter"
    assert (
        client.post(f"{base}/decision", json={"decision": "approved"}, headers=sun).status_code
        == 403
    )
    resp = client.post(
        f"{base}/send-back", json={"to_user": "sun", "comment": "缺发票"}, headers=auth
    )
    assert resp.status_code == 200 and resp.json["status"] == "sent_back"
    again = client.post(f"{base}/send-back", json={"to_user": "sun", "comment": "x"}, headers=auth)
    assert again.status_code == 409 and again.json["error"]["code"] == "already_decided"
    assert "sent back by Li" in again.json["error"]["message"]
    (ask,) = _pending(db, run.id)
    resp = client.post(f"/api/v1/approvals/{ask.task_key}/resubmit", json={"comment": "补了"},
                       headers=sun)  # fmt: skip
    assert resp.status_code == 200
    assert [t["assignee"] for t in resp.json["items"]] == ["li"]
    # the added-after approver survived the round trip
    _decide(db, "li", resp.json["items"][0]["task_key"])
    assert [t.assignee for t in _pending(db, run.id)] == ["zhao"]
