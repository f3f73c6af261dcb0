"""Delegation of one task, out-of-office delegates for a date range, bulk decisions from the
inbox and racing approvers, with the audit trail of each."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.approvals import queries, services
from app.db import in_transaction
from app.errors import ConflictError, PermissionDeniedError
from app.models import ApprovalAction, Notification, utcnow

from ..conftest import csrf_token
from ..test_concurrency import _race
from .helpers import (
    approval_doc,
    approver,
    as_user,
    db_of,
    deliver_all,
    run_of,
    start,
    tasks_of,
    user,
)


@pytest.fixture
def db(app):
    database = db_of(app)
    for name in ("li", "wang", "zhao"):
        approver(database, name)
    return database


def test_delegating_one_task_hands_it_over_and_the_trail_shows_it(app, db):
    run = start(db, approval_doc())
    (task,) = tasks_of(db, run.id)
    new = as_user(db, "li", lambda s, u: services.delegate(s, u, task.task_key, "wang",
                                                           comment="我在出差", device="Android · Chrome"))  # fmt: skip
    old, fresh = tasks_of(db, run.id)
    assert (old.status, fresh.assignee, fresh.status) == ("delegated", "wang", "pending")
    assert new.task_key == fresh.task_key and fresh.payload["kind"] == "delegated"
    deliver_all(app)
    with pytest.raises(PermissionDeniedError):
        as_user(db, "li", lambda s, u: services.decide(s, u, fresh.task_key, "approved"))
    as_user(db, "wang", lambda s, u: services.decide(s, u, fresh.task_key, "approved"))
    assert run_of(db, run.id).outcome == "accepted"
    with db.session() as s:
        trail = [
            (a.action, a.actor, a.to_user, a.comment)
            for a in s.scalars(select(ApprovalAction).order_by(ApprovalAction.id))
        ]
        assert trail == [("delegated", "li", "wang", "我在出差"), ("decided", "wang", None, None)]
        titles = [
            n.title
            for n in s.scalars(
                select(Notification).where(Notification.user_id == user(db, "wang").id)
            )
        ]
        assert titles == ["【转交审批】Li 将订单 PO-1 转交给您"]


def test_out_of_office_delegate_acts_for_the_absent_approver_within_the_range(app, db):
    now = utcnow()
    as_user(db, "li", lambda s, u: services.set_away(s, u, start=now - timedelta(hours=1),
                                                     end=now + timedelta(days=3), delegate_to="zhao"))  # fmt: skip
    run = start(db, approval_doc())
    (task,) = tasks_of(db, run.id)
    assert task.assignee == "li"  # the task stays li's; zhao acts for li
    deliver_all(app)
    with db.session() as s:
        notes = {n.user_id for n in s.scalars(select(Notification))}
        assert notes == {user(db, "zhao").id}
        zhao = user(db, "zhao")
        (row,) = queries.inbox(s, s.merge(zhao)).rows
        assert row.acting_for == "li"
        routed = s.scalars(select(ApprovalAction).where(ApprovalAction.action == "routed")).one()
        assert (routed.on_behalf_of, routed.to_user) == ("li", "zhao")
    as_user(db, "zhao", lambda s, u: services.decide(s, u, task.task_key, "approved", via="web"))
    with db.session() as s:
        decided = s.scalars(select(ApprovalAction).where(ApprovalAction.action == "decided")).one()
        assert (decided.actor, decided.on_behalf_of) == ("zhao", "li")
        kinds = [a.action for a in s.scalars(select(ApprovalAction).order_by(ApprovalAction.id))]
        assert kinds[0] == "away_set"


def test_out_of_office_outside_its_range_changes_nothing(app, db):
    later = utcnow() + timedelta(days=10)
    as_user(
        db,
        "li",
        lambda s, u: services.set_away(
            s, u, start=later, end=later + timedelta(days=2), delegate_to="zhao"
        ),
    )
    run = start(db, approval_doc())
    (task,) = tasks_of(db, run.id)
    with pytest.raises(PermissionDeniedError):
        as_user(db, "zhao", lambda s, u: services.decide(s, u, task.task_key, "approved"))
    # Inside the range (an injected clock), zhao may act.
    inside = later + timedelta(hours=1)
    with db.session() as s:
        assert services.acting_for(s, s.merge(user(db, "zhao")), s.merge(task), now=inside) == "li"


def test_bulk_approval_from_the_inbox_page(app, db, client, login):
    first = start(db, approval_doc(), external_id="PO-1")
    second = start(db, approval_doc(), external_id="PO-2")
    third = start(db, approval_doc(), external_id="PO-3")
    handed = tasks_of(db, third.id)[0].task_key
    as_user(db, "li", lambda s, u: services.delegate(s, u, handed, "wang"))
    keys = [tasks_of(db, r.id)[0].task_key for r in (first, second)]
    login("li")
    page = client.get("/approvals/").get_data(as_text=True)
    assert "PO-1" in page and "PO-2" in page and "PO-3" not in page
    answer = client.post(
        "/approvals/bulk",
        data={"csrf_token": csrf_token(client, "/approvals/"), "task": keys, "decision": "approved",
              "comment": "批量通过"},
    )  # fmt: skip
    assert answer.status_code == 302
    assert [run_of(db, r.id).outcome for r in (first, second)] == ["accepted", "accepted"]
    assert run_of(db, third.id).status == "waiting"
    with db.session() as s:
        decided = select(ApprovalAction).where(ApprovalAction.action == "decided")
        vias = {(a.via, a.comment) for a in s.scalars(decided)}
        assert vias == {("bulk", "批量通过")}


def test_the_inbox_pages_through_every_waiting_approval(app, db, client, login, monkeypatch):
    for n in range(1, 6):
        start(db, approval_doc(), external_id=f"PO-{n}")
    with db.session() as s:
        li = s.merge(user(db, "li"))
        pages = [queries.inbox(s, li, page=n, page_size=2) for n in (1, 2, 3)]
        assert [(p.total, p.pages, p.page) for p in pages] == [(5, 3, 1), (5, 3, 2), (5, 3, 3)]
        seen = [r.order.external_id for p in pages for r in p.rows]
        assert sorted(seen) == [f"PO-{n}" for n in range(1, 6)]  # each once, none lost
        assert queries.inbox(s, li, page=99, page_size=2).page == 3  # past the end: the last
        found = queries.inbox(s, li, search="PO-4", page_size=2)
        assert (found.total, [r.order.external_id for r in found.rows]) == (1, ["PO-4"])
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    login("li")
    first = client.get("/approvals/?overdue=0&q=PO").get_data(as_text=True)
    assert first.count('class="ap-pick"') == 2
    assert "page=2" in first and "q=PO" in first and 'rel="prev"' not in first
    last = client.get("/approvals/?page=3&q=PO", headers={"Accept-Language": "en"})
    text = last.get_data(as_text=True)
    assert text.count('class="ap-pick"') == 1 and 'rel="next"' not in text
    assert "5 approvals, page 3 of 3" in text
    assert client.get("/approvals/?page=abc").status_code == 200


def test_bulk_decisions_stand_alone_when_one_was_decided_meanwhile(app, db):
    runs = [
        start(db, approval_doc(assignees=[{"role": "approver"}]), external_id=f"PO-{i}")
        for i in range(3)
    ]
    keys = [tasks_of(db, r.id)[0].task_key for r in runs]
    as_user(db, "wang", lambda s, u: services.decide(s, u, keys[1], "rejected", comment="不行"))
    results = as_user(db, "li", lambda s, u: services.decide_many(s, u, keys, "approved"))
    assert [r.ok for r in results] == [True, False, True]
    assert "Wang" in results[1].message
    assert [run_of(db, r.id).outcome for r in runs] == ["accepted", "refused", "accepted"]


def test_two_approvers_at_the_same_moment_one_outcome_and_a_clear_message(app, db):
    run = start(db, approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="any"))
    li, wang = tasks_of(db, run.id)

    def deciding(name, key, verdict, comment):
        return lambda: in_transaction(db, lambda s: services.decide(
            s, services_user(s, name), key, verdict, comment=comment))  # fmt: skip

    results = _race(
        deciding("li", li.task_key, "approved", None),
        deciding("wang", wang.task_key, "rejected", "价格不对"),
    )
    oks = [r for r in results if r[0] == "ok"]
    errors = [r[1] for r in results if r[0] == "error"]
    assert len(oks) == 1 and len(errors) == 1 and isinstance(errors[0], ConflictError)
    winner = "li" if results[0][0] == "ok" else "wang"
    assert f"Already decided by {winner.title()}" in str(errors[0].message)
    assert run_of(db, run.id).outcome == ("accepted" if winner == "li" else "refused")
    with db.session() as s:
        assert len(list(s.scalars(select(ApprovalAction)))) == 1


def services_user(s, name):
    from app.users import services as users

    return users.get_user(s, name)
