"""The task page names approvers by their display name (the username added when two people
share one), read for the whole page in one query."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from app.approvals import services
from app.approvals.queries import people_names
from app.db import in_transaction
from app.users import services as users

from ..org_fixtures import user_holds_access_roles
from .helpers import approval_doc, as_user, db_of, start, tasks_of

PEOPLE = {"li": "李娜", "zhang1": "张伟", "zhang2": "张伟", "bare": ""}


@pytest.fixture
def db(app):
    database = db_of(app)

    def work(s):  # type: ignore[no-untyped-def]
        for name, shown in PEOPLE.items():
            user = users.create_user(
                s, None, username=name, password="correct-horse", roles=("approver",),
                email=f"{name}@example.com", display_name=shown,
            )  # fmt: skip
            user_holds_access_roles(s, user)

    in_transaction(database, work)
    return database


def test_display_names_in_one_query(db, app):
    statements = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if "users" in statement:
            statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        with db.session() as s:
            names = people_names(s, ["li", "zhang1", "zhang2", "bare", "gone", None, "li"])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert names == {
        "li": "李娜",
        "zhang1": "张伟 (zhang1)",
        "zhang2": "张伟 (zhang2)",
        "bare": "bare",
    }
    assert len(statements) == 1


def _decide_all(db, run_id):
    for t in tasks_of(db, run_id):
        as_user(
            db, t.assignee,
            lambda s, u, key=t.task_key: services.decide(s, u, key, "approved", via="web"),
        )  # fmt: skip


@pytest.mark.parametrize(
    ("language", "decided", "step"),
    [
        ("zh-CN", "李娜 已处理：", "<span>张伟 (zhang1)</span>"),
        ("en-US", "Decided by 李娜: ", "<span>张伟 (zhang1)</span>"),
    ],
)
def test_task_page_names_the_approvers(db, client, login, language, decided, step):
    run = start(db, approval_doc(assignees=[{"user": n} for n in PEOPLE], mode="all"))
    _decide_all(db, run.id)
    li = next(t for t in tasks_of(db, run.id) if t.assignee == "li")
    login("li", **{"Accept-Language": language})
    page = client.get(f"/approvals/{li.task_key}", headers={"Accept-Language": language})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert decided in html
    assert step in html and "张伟 (zhang2)" in html
    steps = html[html.index('class="ap-steps"') : html.index("</ol>", html.index("ap-steps"))]
    assert "<span>李娜</span>" in steps and "<span>bare</span>" in steps
    assert "<span>li</span>" not in steps
    trail = html[html.index('data-testid="trail"') :]
    assert "<strong>李娜</strong>" in trail and "<strong>li</strong>" not in trail
    history = html[html.index('data-testid="history"') : html.index('data-testid="trail"')]
    assert "(李娜)" in history and "(li)" not in history
    approved = "已同意" if language.startswith("zh") else "Approved"
    assert f"· {approved}" in history and "· approved" not in history


def test_a_late_decision_names_the_winner_by_display_name(db, app):
    run = start(db, approval_doc(assignees=[{"user": "li"}, {"user": "zhang1"}], mode="any"))
    tasks = {t.assignee: t.task_key for t in tasks_of(db, run.id)}
    as_user(db, "li", lambda s, u: services.decide(s, u, tasks["li"], "approved", via="web"))
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        with pytest.raises(Exception) as refused:
            as_user(
                db, "zhang1",
                lambda s, u: services.decide(s, u, tasks["zhang1"], "approved", via="web"),
            )  # fmt: skip
        assert "李娜" in str(refused.value) and "li " not in str(refused.value)
