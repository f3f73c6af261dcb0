"""Approval modes through the app: any-one (或签), all (会签), sequential (依次), assignees by
role, user and expression, and the audit trail of each decision."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.approvals import services
from app.db import in_transaction
from app.errors import ConflictError, PermissionDeniedError, ValidationError
from app.models import ApprovalAction
from app.orders import services as orders

from ..flows_fixtures import order_doc, publish
from .helpers import approval_doc, approver, as_user, db_of, run_of, start, tasks_of


def _decide(database, name, task_key, decision, comment=None):
    return as_user(
        database,
        name,
        lambda db, u: services.decide(
            db, u, task_key, decision, comment=comment, via="web", device="iPhone · Safari"
        ),
    )


@pytest.fixture
def db(app):
    database = db_of(app)
    for name in ("li", "wang", "zhao"):
        approver(database, name)
    return database


def test_any_mode_first_decision_wins_and_the_other_sees_who_decided(db):
    run = start(db, approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="any"))
    li, wang = tasks_of(db, run.id)
    assert (li.assignee, wang.assignee) == ("li", "wang")
    _decide(db, "wang", wang.task_key, "approved", "价格合理")
    with pytest.raises(ConflictError) as err:
        _decide(db, "li", li.task_key, "rejected", "太贵")
    assert err.value.code == "already_decided"
    assert "Wang" in str(err.value.message)
    assert run_of(db, run.id).outcome == "accepted"
    assert [t.status for t in tasks_of(db, run.id)] == ["withdrawn", "approved"]
    with db.session() as s:
        (action,) = s.scalars(select(ApprovalAction))
        assert (action.actor, action.decision, action.comment, action.via, action.device) == (
            "wang", "approved", "价格合理", "web", "iPhone · Safari")  # fmt: skip


def test_all_mode_needs_everyone_and_one_rejection_rejects(db):
    doc = approval_doc(assignees=[{"user": "li"}, {"user": "wang"}, {"user": "zhao"}], mode="all")
    run = start(db, doc)
    li, wang, zhao = tasks_of(db, run.id)
    _decide(db, "li", li.task_key, "approved")
    _decide(db, "wang", wang.task_key, "approved")
    assert run_of(db, run.id).status == "waiting"
    _decide(db, "zhao", zhao.task_key, "approved")
    assert run_of(db, run.id).outcome == "accepted"

    second = start(db, doc, external_id="PO-2")
    li, wang, zhao = tasks_of(db, second.id)
    _decide(db, "li", li.task_key, "approved")
    _decide(db, "zhao", zhao.task_key, "rejected", "客户信用有问题")
    assert run_of(db, second.id).outcome == "refused"
    with pytest.raises(ConflictError) as err:
        _decide(db, "wang", wang.task_key, "approved")
    assert "Zhao" in str(err.value.message)


def test_sequential_mode_opens_one_task_after_another(db):
    doc = approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="sequential")
    run = start(db, doc)
    (first,) = tasks_of(db, run.id)
    assert first.assignee == "li"
    with pytest.raises(PermissionDeniedError):
        _decide(db, "wang", first.task_key, "approved")
    _decide(db, "li", first.task_key, "approved")
    first, second = tasks_of(db, run.id)
    assert (second.assignee, second.status) == ("wang", "pending")
    assert run_of(db, run.id).status == "waiting"
    _decide(db, "wang", second.task_key, "approved")
    assert run_of(db, run.id).outcome == "accepted"


def test_assignees_by_role_and_by_expression_on_the_order(app, db):
    approver(db, "chen", roles=("supervisor",))
    doc = approval_doc(
        assignees=[{"role": "supervisor"}, {"expression": "customer.account_manager"}], mode="any"
    )
    in_transaction(db, lambda s: publish(s, doc))
    customer = {"id": "C-9", "name": "华南贸易", "account_manager": "zhao"}
    _, _, (run,) = in_transaction(
        db, lambda s: orders.ingest(s, order_doc("PO-9", "26000.00", customer=customer))
    )
    role_task, person_task = tasks_of(db, run.id)
    assert (role_task.role, role_task.assignee) == ("supervisor", None)
    assert person_task.assignee == "zhao"
    with pytest.raises(PermissionDeniedError):
        _decide(db, "li", role_task.task_key, "approved")
    _decide(db, "chen", role_task.task_key, "approved")
    assert run_of(db, run.id).outcome == "accepted"


def test_a_rejection_needs_a_comment(db):
    run = start(db, approval_doc())
    (task,) = tasks_of(db, run.id)
    with pytest.raises(ValidationError) as err:
        _decide(db, "li", task.task_key, "rejected", "  ")
    assert err.value.fields == {"comment": "required"}
    assert run_of(db, run.id).status == "waiting"


def test_task_payload_carries_the_checks_and_the_due_time(db):
    doc = approval_doc(
        checks=[{"name": "cheap", "label": {"en": "Under 10k", "zh": "一万以下"},
                 "expression": "order.amount < 10000"}],
        sla={"duration": "24h"},
    )  # fmt: skip
    run = start(db, doc)
    (task,) = tasks_of(db, run.id)
    assert task.payload["checks"] == [
        {
            "name": "cheap",
            "label": {"en": "Under 10k", "zh": "一万以下"},
            "rule": "order.amount < 10000",
            "value": False,
            "passed": False,
            "inputs": {"order.amount": Decimal("25000.00")},
        }
    ]
    assert task.due_at is not None and (
        task.due_at - task.created_at
    ).total_seconds() == pytest.approx(86400, abs=5)
