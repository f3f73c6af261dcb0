"""Signed, expiring, single-use sign-in links: the good path and every way a link is refused
(tampered, expired, reused, the wrong user), through the real pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.db import in_transaction
from app.models import ApprovalLink, utcnow
from app.notifications import links

from ..org_fixtures import let_go
from .helpers import CHECKS, approval_doc, approver, db_of, run_of, start, tasks_of


@pytest.fixture
def db(app):
    database = db_of(app)
    approver(database, "li")
    approver(database, "wang")
    return database


def _link(app, db, task_key, username="li"):
    with app.test_request_context(), db.session() as s:
        url = links.issue(s, app, task_key, username, channel="email")
        s.commit()
    return url[url.index("/approvals/link/") :]


def _tap(client, path, decision="approved", **headers):
    """The approver's one tap on the page the link opened."""
    page = client.get(path)
    token = page.get_data(as_text=True).split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return client.post(f"{path}/decide", data={"csrf_token": token, "decision": decision},
                       headers=headers)  # fmt: skip


def test_link_opens_the_approval_and_one_tap_decides_it(app, db, client):
    run = start(db, approval_doc(checks=CHECKS))
    (task,) = tasks_of(db, run.id)
    path = _link(app, db, task.task_key)
    opened = client.get(path)
    assert opened.status_code == 200
    page = opened.get_data(as_text=True)
    assert 'data-check="credit_ok"' in page and "未超信用额度" in page and "库存充足" in page
    assert page.count('class="pass"') == 1 and page.count('class="fail"') == 1
    assert f'action="{path}/decide"' in page
    # Opening signs nobody in: the rest of OrderFlow, and the task page, still ask for a login.
    assert client.get("/approvals/").status_code == 302
    assert client.get(f"/approvals/{task.task_key}").status_code == 302
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile MicroMessenger"
    decided = _tap(client, path, **{"User-Agent": iphone})
    assert decided.status_code == 302 and decided.location.endswith(f"/approvals/{task.task_key}")
    assert run_of(db, run.id).outcome == "accepted"
    # The tap signed in for this task only.
    after = client.get(f"/approvals/{task.task_key}").get_data(as_text=True)
    assert 'data-testid="run-state"' in after and "accepted" in after
    assert client.get("/").status_code == 302
    with db.session() as s:
        from app.models import ApprovalAction

        (action,) = s.query(ApprovalAction).all()
        assert (action.via, action.device) == ("link", "iPhone · WeChat")


def test_link_previews_and_mail_scanners_do_not_use_the_link_up(app, db, client):
    run = start(db, approval_doc())
    (task,) = tasks_of(db, run.id)
    path = _link(app, db, task.task_key)
    for _ in range(3):  # a chat preview, a mail scanner, the approver glancing twice
        assert app.test_client().get(path).status_code == 200
    with db.session() as s:
        assert s.scalars(select(ApprovalLink.used_at)).one() is None
    assert _tap(client, path).status_code == 302
    assert run_of(db, run.id).outcome == "accepted"


def test_a_used_link_does_not_work_again_elsewhere(app, db, client):
    run = start(db, approval_doc())
    (task,) = tasks_of(db, run.id)
    path = _link(app, db, task.task_key)
    assert _tap(client, path, "rejected").status_code == 302  # no comment: refused, link used
    assert run_of(db, run.id).status == "waiting"
    other = app.test_client()
    again = other.get(path)
    assert again.status_code == 401 and 'data-code="link_used"' in again.get_data(as_text=True)
    assert other.get(f"/approvals/{task.task_key}").status_code == 302  # to the login page
    # The device that used it stays signed in for the task and may still decide.
    page = client.get(f"/approvals/{task.task_key}").get_data(as_text=True)
    assert "驳回时必须填写意见。" in page and f"/approvals/{task.task_key}/decide" in page


def test_an_expired_link_is_refused(app, db, client):
    run = start(db, approval_doc())
    (task,) = tasks_of(db, run.id)
    path = _link(app, db, task.task_key)
    with db.session() as s:
        s.execute(update(ApprovalLink).values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    answer = client.get(path)
    assert answer.status_code == 401 and 'data-code="link_expired"' in answer.get_data(as_text=True)


@pytest.mark.parametrize("damage", ["flip", "swap_user"])
def test_a_tampered_link_is_refused(app, db, client, damage):
    run = start(db, approval_doc())
    (task,) = tasks_of(db, run.id)
    path = _link(app, db, task.task_key)
    if damage == "flip":
        token = path.rsplit("/", 1)[1]
        path = path[: -len(token)] + token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    else:  # a validly shaped token signed with another key, naming another user
        from itsdangerous import URLSafeSerializer

        forged = URLSafeSerializer("guessed-key", salt=links.SALT).dumps(
            {"n": "x", "t": task.task_key, "u": "wang"}
        )
        path = f"/approvals/link/{forged}"
    answer = client.get(path)
    assert answer.status_code == 401 and 'data-code="link_invalid"' in answer.get_data(as_text=True)


def test_a_link_is_refused_for_the_wrong_user(app, db, client, login):
    run = start(db, approval_doc(assignees=[{"role": "approver"}]))
    (task,) = tasks_of(db, run.id)
    # Signed in as someone else in this browser.
    path = _link(app, db, task.task_key)
    login("wang")
    answer = client.get(path)
    assert answer.status_code == 401
    assert 'data-code="link_wrong_user"' in answer.get_data(as_text=True)
    # li no longer holds the approver business role after the link went out.
    path = _link(app, db, task.task_key)
    in_transaction(db, lambda s: let_go(s, "li", "approver"))
    answer = app.test_client().get(path)
    assert 'data-code="link_wrong_user"' in answer.get_data(as_text=True)
