"""The home page per role: supervisors see their flows, drafts with problems, incidents and
next steps; approvers their waiting approvals; admins dead letters and users. Both languages."""

from __future__ import annotations

import pytest

from app.db import get_db, in_transaction
from app.editor import services as editor
from app.flows import services as flows
from app.models import User


@pytest.fixture
def half_done(app, make_user):
    boss = make_user("sup", roles=("supervisor",))

    def work(db):
        owner = db.get(User, boss.id)
        flows.create_flow(
            db, owner, editor.new_flow_doc("half_done", "半成品流程", "Half-done flow")
        )

    with app.app_context():
        in_transaction(get_db(app), work)


def _home(client, login, username, language):
    login(username)
    page = client.get("/", headers={"Accept-Language": language})
    assert page.status_code == 200
    return page.get_data(as_text=True)


@pytest.mark.parametrize(
    "language, words",
    [
        ("en", ["Your flows", "Half-done flow", "Drafts with problems", "to fix before publishing",
                "Orders stuck in an incident", "No order is stuck.", "Next steps",
                "Build a new flow in the editor", "Open the approval inbox", "drafts"]),
        ("zh", ["我的流程", "半成品流程", "有问题的草稿", "发布前需修复", "卡在异常中的订单",
                "没有卡住的订单", "下一步", "在编辑器中新建流程", "打开审批待办"]),
    ],
)  # fmt: skip
def test_supervisor_home(client, login, half_done, language, words):
    page = _home(client, login, "sup", language)
    for word in words:
        assert word in page, word
    assert 'href="/flows/half_done' in page
    assert 'href="/runs?status=incident"' in page
    assert 'data-home="dead"' not in page and 'data-home="users"' not in page


@pytest.mark.parametrize(
    "language, words",
    [("en", ["Approvals waiting for you", "Nothing waits for you now.", "Open the approval inbox"]),
     ("zh", ["等待我审批", "目前没有等待您处理的审批", "打开审批待办"])],
)  # fmt: skip
def test_approver_home(client, login, make_user, language, words):
    make_user("appr", roles=("approver",))
    page = _home(client, login, "appr", language)
    for word in words:
        assert word in page, word
    for hidden in ('data-home="flows"', 'data-home="incidents"', 'data-home="drafts"'):
        assert hidden not in page


@pytest.mark.parametrize(
    "language, words",
    [("en", ["Messages that could not be delivered", "Users", "Start from an industry template",
             "Connect a shop, ERP or WMS with an API key"]),
     ("zh", ["无法送达的消息", "用户", "从行业模板开始", "用 API 密钥接入店铺、ERP 或 WMS"])],
)  # fmt: skip
def test_admin_home(client, login, make_user, language, words):
    make_user("boss", roles=("admin",))
    page = _home(client, login, "boss", language)
    for word in words:
        assert word in page, word
    assert 'href="/admin/outbox/"' in page


def test_flows_and_runs_answer_without_the_slash(client, login, make_user):
    make_user("sup", roles=("supervisor",))
    login("sup")
    for path in ("/flows/", "/runs/"):
        moved = client.get(path)
        assert moved.status_code in (301, 308) and moved.location.endswith(path.rstrip("/"))
