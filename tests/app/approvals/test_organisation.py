"""Approvals resolved against the organisation: business roles scoped by the order, the
manager chain, 会签 between two business roles, an access-role supervisor deciding the task
of a business role they hold, the order's consignee told by email, the inbox saying why a
task is the reader's, and a task for nobody becoming a no_approver incident with an alert."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.approvals import handover, queries, services
from app.db import in_transaction
from app.errors import PermissionDeniedError
from app.flows import services as flows
from app.models import Alert, OutboxMessage
from app.orders import services as orders
from app.users import services as users

from ..flows_fixtures import flow_doc, load_reference, order_doc, publish
from ..notifications.servers import SmtpSink
from ..org_fixtures import business_role, department, hold, manager
from .helpers import (
    approval_doc,
    approver,
    as_user,
    channel,
    db_of,
    deliver_all,
    run_of,
    tasks_of,
)

SCOPED = {"role": "warehouse_lead", "scope": "vars.route.chosen"}
WAREHOUSES = {
    "warehouses": [
        {"id": "SH-01", "regions": ["上海"], "cost": 5, "active": True},
        {"id": "BJ-01", "regions": ["北京"], "cost": 5, "active": True},
        {"id": "GZ-09", "regions": ["广东"], "cost": 5, "active": True},
    ]
}
PROVINCE = {"SH-01": "上海", "BJ-01": "北京", "GZ-09": "广东"}


def routed_doc(key: str, **config) -> dict:
    """start → route (the warehouse serving the order's province) → approval(config)."""
    doc = approval_doc(key, **config)
    doc["nodes"].insert(1, {"id": "route", "type": "route", "name": {"en": "Pick warehouse", "zh": "选择仓库"},
                            "config": {"table": "warehouses", "constraints": ["active", "region"]}})  # fmt: skip
    doc["edges"] = [e for e in doc["edges"] if e["from"] != "start"]
    doc["edges"] += [{"id": "r1", "from": "start", "to": "route"},
                     {"id": "r2", "from": "route", "to": "review", "branch": "found"},
                     {"id": "r3", "from": "route", "to": "no", "branch": "none"}]  # fmt: skip
    return doc


def _decide(database, name, task_key, decision, comment=None):
    return as_user(
        database, name, lambda db, u: services.decide(db, u, task_key, decision, comment=comment)
    )


def _ingest(database, doc, external_id, amount="25000.00", warehouse=None, **extra):
    if warehouse:
        extra["shipping_address"] = {"province": PROVINCE[warehouse], "city": PROVINCE[warehouse]}

    def setup(db):  # type: ignore[no-untyped-def]
        from app.models import Flow

        if db.scalars(select(Flow).where(Flow.key == doc["key"])).first() is None:
            publish(db, doc)

    in_transaction(database, setup)
    _, _, runs = in_transaction(
        database, lambda db: orders.ingest(db, order_doc(external_id, amount, **extra))
    )
    return runs[0]


def _inbox(database, name, language="zh"):
    return as_user(database, name, lambda db, u: queries.inbox(db, u, language=language).rows)


@pytest.fixture
def db(app):
    database = db_of(app)
    for name in ("fin", "lead_sh", "lead_bj", "li"):
        approver(database, name)

    def org(s):  # type: ignore[no-untyped-def]
        hold(s, "fin", "finance")
        hold(s, "lead_sh", "warehouse_lead", "SH-01")
        hold(s, "lead_bj", "warehouse_lead", "BJ-01")

    in_transaction(database, org)
    in_transaction(database, lambda s: load_reference(s, WAREHOUSES))
    return database


def test_a_scoped_role_reaches_the_lead_of_the_order_s_warehouse(db):
    doc = routed_doc("by-warehouse", assignees=[SCOPED])
    sh = _ingest(db, doc, "PO-SH", warehouse="SH-01")
    bj = _ingest(db, doc, "PO-BJ", warehouse="BJ-01")
    (sh_task,) = tasks_of(db, sh.id)
    (bj_task,) = tasks_of(db, bj.id)
    assert (sh_task.role, sh_task.scope, sh_task.assignee) == ("warehouse_lead", "SH-01", None)
    assert sh_task.why == {"zh": "仓库主管 · SH-01", "en": "Warehouse lead · SH-01"}
    # Each lead sees and decides only their warehouse's order, and the inbox says why.
    (row,) = _inbox(db, "lead_sh")
    assert row.task.task_key == sh_task.task_key and row.why == "仓库主管 · SH-01"
    assert [r.task.task_key for r in _inbox(db, "lead_bj", "en")] == [bj_task.task_key]
    assert _inbox(db, "lead_bj", "en")[0].why == "Warehouse lead · BJ-01"
    assert _inbox(db, "li") == [] and _inbox(db, "fin") == []
    with pytest.raises(PermissionDeniedError):
        _decide(db, "lead_bj", sh_task.task_key, "approved")
    _decide(db, "lead_sh", sh_task.task_key, "approved")
    _decide(db, "lead_bj", bj_task.task_key, "rejected", "库位已满")
    assert run_of(db, sh.id).outcome == "accepted"
    assert run_of(db, bj.id).outcome == "refused"


@pytest.mark.parametrize(("levels", "who"), [(1, "boss1"), (2, "boss2")])
def test_the_manager_chain_of_the_customer_s_account_manager(db, levels, who):
    for name in ("am", "boss1", "boss2"):
        approver(db, name)

    def chain(s):  # type: ignore[no-untyped-def]
        manager(s, "am", "boss1")
        manager(s, "boss1", "boss2")

    in_transaction(db, chain)
    doc = approval_doc(
        "chain", assignees=[{"manager_of": "customer.account_manager", "levels": levels}]
    )
    customer = {"id": "C-9", "name": "华南贸易", "account_manager": "am"}
    run = _ingest(db, doc, "PO-9", customer=customer)
    (task,) = tasks_of(db, run.id)
    assert task.assignee == who
    assert task.why["zh"] == ("「Am」的上级" if levels == 1 else "「Am」的第 2 级上级")
    (row,) = _inbox(db, who)
    assert row.why == task.why["zh"]
    other = "boss2" if who == "boss1" else "boss1"
    with pytest.raises(PermissionDeniedError):
        _decide(db, other, task.task_key, "approved")
    _decide(db, who, task.task_key, "approved")
    assert run_of(db, run.id).outcome == "accepted"


def test_all_mode_between_finance_and_the_warehouse_lead_one_rejecting(db):
    doc = routed_doc("countersign", assignees=[{"role": "finance"}, SCOPED], mode="all")
    run = _ingest(db, doc, "PO-ALL", warehouse="SH-01")
    finance, lead = tasks_of(db, run.id)
    assert (finance.role, lead.role, lead.scope) == ("finance", "warehouse_lead", "SH-01")
    with pytest.raises(PermissionDeniedError):
        _decide(db, "fin", lead.task_key, "approved")
    _decide(db, "fin", finance.task_key, "approved")
    assert run_of(db, run.id).status == "waiting"
    _decide(db, "lead_sh", lead.task_key, "rejected", "仓库没有库存")
    assert run_of(db, run.id).outcome == "refused"


def test_an_access_role_supervisor_holding_a_business_role_decides_its_task(app, db, client, login):
    approver(db, "sup", roles=("supervisor",))
    in_transaction(db, lambda s: hold(s, "sup", "finance"))
    doc = approval_doc("finance-review", assignees=[{"role": "finance"}])
    run = _ingest(db, doc, "PO-SUP")
    (task,) = tasks_of(db, run.id)
    login("sup")
    inbox = client.get("/approvals/", headers={"Accept-Language": "zh"})
    assert inbox.status_code == 200
    page = inbox.get_data(as_text=True)
    assert "PO-SUP" in page and ">财务<" in page
    from ..conftest import csrf_token

    token = csrf_token(client, f"/approvals/{task.task_key}")
    answer = client.post(
        f"/approvals/{task.task_key}/decide",
        data={"csrf_token": token, "decision": "approved"},
    )
    assert answer.status_code in (200, 302, 303)
    assert run_of(db, run.id).outcome == "accepted"


def test_an_admin_sees_every_task_but_decides_only_their_own(db):
    approver(db, "root", roles=("admin",))
    doc = approval_doc("finance-review", assignees=[{"role": "finance"}])
    run = _ingest(db, doc, "PO-ADM")
    (task,) = tasks_of(db, run.id)
    assert _inbox(db, "root") == []
    everyone = as_user(db, "root", lambda s, u: queries.inbox(s, u, everyone=True).rows)
    assert [r.task.task_key for r in everyone] == [task.task_key]
    with pytest.raises(PermissionDeniedError):
        _decide(db, "root", task.task_key, "approved")
    # An admin hands a task on (转交): the way out for a task whose people are gone.
    new = as_user(db, "root", lambda s, u: services.delegate(s, u, task.task_key, "li"))
    _decide(db, "li", new.task_key, "approved")
    assert run_of(db, run.id).outcome == "accepted"


def test_a_delegate_sees_the_absent_holder_s_task_and_why(db):
    from datetime import timedelta

    from app.models import utcnow

    now = utcnow()
    as_user(
        db,
        "fin",
        lambda s, u: services.set_away(
            s, u, start=now - timedelta(hours=1), end=now + timedelta(days=1), delegate_to="li"
        ),
    )
    doc = approval_doc("finance-review", assignees=[{"role": "finance"}])
    run = _ingest(db, doc, "PO-AWAY")
    (task,) = tasks_of(db, run.id)
    (row,) = _inbox(db, "li")
    assert row.acting_for == "fin" and row.for_name == "Fin"
    _decide(db, "li", task.task_key, "approved")
    assert run_of(db, run.id).outcome == "accepted"


def test_notify_reaches_the_consignee_by_email(app, db):
    doc = flow_doc(
        "tell-consignee",
        [{"id": "start", "type": "start"},
         {"id": "tell", "type": "notify",
          "config": {"to": [{"contact": "consignee"}], "channels": ["email"],
                     "message": {"zh": "您的订单 {id} 已发货", "en": "Your order {id} shipped"},
                     "params": {"id": "order.external_id"}}},
         {"id": "end", "type": "end", "config": {"outcome": "told"}}],
        [("start", "tell"), ("tell", "end")],
    )  # fmt: skip
    consignee = {"name": "王芳", "email": "wang.fang@example.net", "phone": "13900001111"}
    with SmtpSink() as smtp:
        channel(db, "email", events=("flow_message",), **smtp.config())
        run = _ingest(db, doc, "TB-88", consignee=consignee)
        deliver_all(app)
        (mail,) = smtp.wait(1)
    assert run_of(db, run.id).outcome == "told"
    assert mail["To"].endswith("<wang.fang@example.net>")
    assert "您的订单 TB-88 已发货" in SmtpSink.body(mail)


# -- a task for nobody ------------------------------------------------------------------------


def _nobody_case(database, case):
    """Set up the organisation for ``case``; returns the assignee entry."""
    if case == "role_without_holder":
        in_transaction(database, lambda s: business_role(s, "customer_service"))
        return {"role": "customer_service"}
    if case == "everyone_deactivated":
        for name in ("fin",):
            as_user(database, "root", lambda s, u, n=name: handover.set_active(s, u, users.get_user(s, n), False))  # fmt: skip
        return {"role": "finance"}
    return SCOPED  # scope_without_holder: the order's warehouse GZ-09 has no lead


@pytest.mark.parametrize("case", ["role_without_holder", "everyone_deactivated", "scope_without_holder"])  # fmt: skip
@pytest.mark.parametrize("fallback", [None, "li"])
def test_a_task_for_nobody(app, db, client, login, case, fallback):
    approver(db, "root", roles=("admin",))
    entry = _nobody_case(db, case)
    config = {"assignees": [entry], **({"fallback": fallback} if fallback else {})}
    doc = routed_doc(f"nobody-{case.replace('_', '-')}", **config)
    # Published as is: the test fixture's publish would give the role a holder.
    in_transaction(db, lambda s: flows.import_flow(s, None, doc, publish_now=True))
    run = _ingest(db, doc, "PO-NONE", warehouse="GZ-09")
    if fallback:
        (task,) = tasks_of(db, run.id)
        assert task.assignee == "li" and task.why["zh"].startswith("后备处理人")
        (row,) = _inbox(db, "li")
        assert row.why.startswith("后备处理人")
        return
    found = run_of(db, run.id)
    assert found.status == "incident" and tasks_of(db, run.id) == []
    assert found.incident["code"] == "no_approver"
    reason_zh = {
        "role_without_holder": "业务角色「customer_service」没有在职的担任人",
        "everyone_deactivated": "业务角色「财务」没有在职的担任人",
        "scope_without_holder": "业务角色「仓库主管」（GZ-09）没有在职的担任人",
    }[case]
    assert reason_zh in found.incident["message_zh"]
    with db.session() as s:
        (alert,) = s.scalars(select(Alert).where(Alert.run_id == run.id))
        assert alert.severity == "critical" and reason_zh in alert.title
        notices = [
            m for m in s.scalars(select(OutboxMessage).where(OutboxMessage.run_id == run.id))
            if m.kind == "notify"
        ]  # fmt: skip
        assert [m.payload["recipients"] for m in notices] == [[{"access_role": "admin"}]]
    deliver_all(app)
    login("root")
    listing = client.get("/runs?status=incident", headers={"Accept-Language": "zh"})
    assert reason_zh in listing.get_data(as_text=True)
    detail = client.get(f"/runs/{run.id}", headers={"Accept-Language": "en"})
    assert "nobody can take this task" in detail.get_data(as_text=True)
    from app.models import Notification

    with db.session() as s:
        (note,) = s.scalars(select(Notification))
        assert "PO-NONE" in note.body and reason_zh in note.body


def test_a_department_task_reaches_its_members_and_its_head_task_the_head(db):
    in_transaction(
        db, lambda s: department(s, "ops", "运营部", "Operations", head="li", members=["fin", "li"])
    )
    doc = approval_doc("ops", assignees=[{"department": "ops"}])
    doc["trigger"]["filter"] = 'order.external_id == "PO-OPS"'
    run = _ingest(db, doc, "PO-OPS")
    (task,) = tasks_of(db, run.id)
    assert (task.department, task.role, task.assignee) == ("ops", None, None)
    assert [r.why for r in _inbox(db, "fin")] == ["运营部成员"]
    assert [r.why for r in _inbox(db, "li", "en")] == ["Member of Operations"]
    assert _inbox(db, "lead_sh") == []
    with pytest.raises(PermissionDeniedError):
        _decide(db, "lead_sh", task.task_key, "approved")
    _decide(db, "fin", task.task_key, "approved")
    assert run_of(db, run.id).outcome == "accepted"
    head = approval_doc("ops-head", assignees=[{"department": "ops", "head": True}])
    head["trigger"]["filter"] = 'order.external_id == "PO-HEAD"'
    (head_task,) = tasks_of(db, _ingest(db, head, "PO-HEAD").id)
    assert head_task.assignee == "li" and head_task.why["zh"] == "运营部负责人"
