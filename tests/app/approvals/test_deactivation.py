"""Deactivating a person hands on their open approvals: to their delegate, else their manager,
else the node's fallback person, each with a ``reassigned`` audit entry; with no one left the
task stays and the admins are alerted. Role tasks whose last active holder leaves go the same
way. Through the service, the admin page and the CLI."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.approvals import handover, services
from app.db import in_transaction
from app.models import Alert, ApprovalAction, OutboxMessage
from app.users import services as users

from ..org_fixtures import hold, manager
from .helpers import approval_doc, approver, as_user, db_of, run_of, start, tasks_of


@pytest.fixture
def db(app):
    database = db_of(app)
    for name in ("li", "wang", "zhao", "boss"):
        approver(database, name)
    approver(database, "root", roles=("admin",))
    return database


def _deactivate(database, name):
    return as_user(
        database, "root", lambda s, u: handover.set_active(s, u, users.get_user(s, name), False)
    )


def _actions(database, task_key):
    with database.session() as s:
        return list(s.scalars(select(ApprovalAction).where(ApprovalAction.task_key == task_key)))


def _set(database, name, **fields):
    def work(s):  # type: ignore[no-untyped-def]
        user = users.get_user(s, name)
        for field, value in fields.items():
            setattr(user, field, value)

    in_transaction(database, work)


@pytest.mark.parametrize(
    ("setup", "expected", "reason"),
    [
        ({"delegate": "wang", "manager": "boss", "fallback": "zhao"}, "wang", "delegate"),
        ({"manager": "boss", "fallback": "zhao"}, "boss", "manager"),
        ({"fallback": "zhao"}, "zhao", "fallback"),
    ],
)
def test_an_open_task_goes_to_the_delegate_else_the_manager_else_the_fallback(
    db, setup, expected, reason
):
    if "delegate" in setup:
        _set(db, "li", away_delegate=setup["delegate"])
    if "manager" in setup:
        in_transaction(db, lambda s: manager(s, "li", setup["manager"]))
    run = start(db, approval_doc(fallback=setup["fallback"]))
    (task,) = tasks_of(db, run.id)
    assert task.assignee == "li"
    (handed,) = _deactivate(db, "li")
    assert (handed.to, handed.reason) == (expected, reason)
    old, new = tasks_of(db, run.id)
    assert (old.status, new.status, new.assignee) == ("delegated", "pending", expected)
    assert new.why["en"] == "Reassigned from Li, deactivated"
    (action,) = _actions(db, task.task_key)
    assert (action.action, action.actor, action.on_behalf_of, action.to_user) == (
        "reassigned", "root", "li", expected,
    )  # fmt: skip
    # The new person decides; the run goes on.
    as_user(db, expected, lambda s, u: services.decide(s, u, new.task_key, "approved"))
    assert run_of(db, run.id).outcome == "accepted"


def test_with_no_one_to_take_it_the_task_stays_and_the_admins_are_alerted(db):
    run = start(db, approval_doc())
    (task,) = tasks_of(db, run.id)
    (handed,) = _deactivate(db, "li")
    assert (handed.to, handed.reason) == (None, "nobody")
    (still,) = tasks_of(db, run.id)
    assert (still.status, still.assignee) == ("pending", "li")
    assert _actions(db, task.task_key) == []
    with db.session() as s:
        (alert,) = s.scalars(select(Alert))
        assert alert.severity == "critical" and alert.data["code"] == "no_approver"
        assert "Li 已停用，没有代理人、上级或后备处理人接手" in alert.title
        (notice,) = s.scalars(select(OutboxMessage).where(OutboxMessage.effect_id.like("no_approver:%")))  # fmt: skip
        assert notice.payload["recipients"] == [{"access_role": "admin"}]
    # An admin transfers it from the inbox's everyone view.
    new = as_user(db, "root", lambda s, u: services.delegate(s, u, task.task_key, "wang"))
    as_user(db, "wang", lambda s, u: services.decide(s, u, new.task_key, "approved"))
    assert run_of(db, run.id).outcome == "accepted"


def test_a_role_task_moves_only_when_its_last_active_holder_leaves(db):
    def org(s):  # type: ignore[no-untyped-def]
        hold(s, "li", "finance")
        hold(s, "wang", "finance")
        manager(s, "wang", "boss")

    in_transaction(db, org)
    run = start(db, approval_doc(assignees=[{"role": "finance"}]))
    (task,) = tasks_of(db, run.id)
    assert _deactivate(db, "li") == []  # wang still holds finance
    assert [t.status for t in tasks_of(db, run.id)] == ["pending"]
    (handed,) = _deactivate(db, "wang")
    assert (handed.to, handed.reason) == ("boss", "manager")
    old, new = tasks_of(db, run.id)
    assert (old.status, new.assignee) == ("delegated", "boss")
    (action,) = _actions(db, task.task_key)
    assert (action.action, action.on_behalf_of, action.to_user) == ("reassigned", "wang", "boss")


def test_the_admin_page_says_where_the_tasks_went(app, db, client, login):
    in_transaction(db, lambda s: manager(s, "li", "boss"))
    run = start(db, approval_doc())
    login("root")
    from ..conftest import csrf_token

    token = csrf_token(client, "/admin/users")
    with db.session() as s:
        li_id = users.get_user(s, "li").id
    page = client.post(
        f"/admin/users/{li_id}/active",
        data={"csrf_token": token, "active": "0"},
        headers={"Accept-Language": "en"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "1 open approvals of li were handed on: boss." in page
    assert tasks_of(db, run.id)[-1].assignee == "boss"


def test_the_cli_deactivates_and_lists_the_handovers(app, app_config, db):
    from click.testing import CliRunner

    from app.cli import cli

    _set(db, "li", away_delegate="wang")
    run = start(db, approval_doc())
    (task,) = tasks_of(db, run.id)
    env = {"ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "DATABASE_URL": app_config["DATABASE_URL"], "SECRET_KEY": "test"}  # fmt: skip
    result = CliRunner().invoke(cli, ["user", "deactivate", "li"], env=env)
    assert result.exit_code == 0, result.output
    assert "li: deactivated / 已停用" in result.output
    assert f"{task.task_key} -> wang (delegate)" in result.output
    assert tasks_of(db, run.id)[-1].assignee == "wang"


def test_an_admin_transfers_a_stuck_task_from_its_page(app, db, client, login):
    run = start(db, approval_doc())
    (task,) = tasks_of(db, run.id)
    _deactivate(db, "li")
    login("root")
    page = client.get(f"/approvals/{task.task_key}", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-testid="admin-transfer"' in html
    assert 'data-testid="approve"' not in html  # an admin approves only their own tasks
    from ..conftest import csrf_token

    token = csrf_token(client, f"/approvals/{task.task_key}")
    client.post(
        f"/approvals/{task.task_key}/delegate",
        data={"csrf_token": token, "to_user": "wang", "comment": "李娜已离职"},
    )
    old, new = tasks_of(db, run.id)
    assert (old.status, new.assignee) == ("delegated", "wang")
    (action,) = _actions(db, task.task_key)
    assert (action.action, action.actor, action.to_user) == ("delegated", "root", "wang")
