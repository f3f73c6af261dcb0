"""The editor's assignee picker (search by pinyin, Chinese and English, with whom each choice
reaches today) and the demo organisation the demo's approvals resolve against."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.bundles.demo import load_demo
from app.db import get_db, get_session, in_transaction
from app.models import ApprovalTask, Flow, FlowVersion
from app.org import checks
from app.org.demo import load_demo_org
from app.org.directory import directory_cache


@pytest.fixture
def demo_org(app: Any) -> None:
    with app.app_context():
        in_transaction(get_db(app), load_demo_org)


def _search(client: Any, lang: str = "zh", **params: str) -> list[dict[str, Any]]:
    res = client.get("/flows/editor/people", query_string=params, headers={"Accept-Language": lang})
    assert res.status_code == 200, res.get_data(as_text=True)
    return res.get_json()["items"]


@pytest.mark.parametrize(
    ("kind", "query", "key"),
    [
        ("role", "caiwu", "finance"),  # full pinyin of 财务
        ("role", "cw", "finance"),  # initials
        ("role", "财务", "finance"),
        ("role", "Finance", "finance"),
        ("role", "cangku", "warehouse_lead"),
        ("user", "lina", "li.na"),  # 李娜 in pinyin
        ("user", "赵磊", "zhao.lei"),
        ("department", "kefu", "customer_service"),
        ("head", "Finance", "finance"),
    ],
)
def test_the_picker_finds_by_pinyin_chinese_and_english(client, login, make_user, demo_org, kind, query, key) -> None:  # fmt: skip
    make_user("ann", roles=("supervisor",))
    login("ann")
    assert key in [m["key"] for m in _search(client, kind=kind, q=query)]


def test_each_choice_says_whom_it_reaches_today(client, login, make_user, demo_org) -> None:
    make_user("ann", roles=("supervisor",))
    login("ann")
    finance = _search(client, kind="role", key="finance")[0]
    assert finance["count"] == 2 and sorted(finance["people"]) == ["李娜", "财务审批 李强"]
    assert finance["summary"] == "财务 · 2 人：财务审批 李强、李娜"
    en = _search(client, "en", kind="role", key="finance")[0]
    assert en["summary"] == "Finance · 2 people: 财务审批 李强, 李娜"
    lead = _search(client, kind="role", key="warehouse_lead")[0]
    assert lead["scoped"] == {"LV-GZ": ["陈静"], "LV-HZ": ["赵磊"]}
    assert lead["summary"] == "仓库主管 · 按范围 2 人：LV-GZ 陈静；LV-HZ 赵磊"
    head = _search(client, kind="head", key="wh_hz")[0]
    assert head["summary"] == "杭州仓负责人 · 1 人：赵磊"
    assert _search(client, kind="department", key="customer_service")[0]["count"] == 2
    refused = client.get("/flows/editor/people?kind=boss")
    assert refused.status_code == 422 and "kind=role" in refused.get_data(as_text=True)


def test_the_picker_needs_a_login(client) -> None:
    assert client.get("/flows/editor/people?kind=role&q=cw").status_code in (302, 401)


def test_the_demo_loads_an_organisation_every_demo_approval_resolves_against(app) -> None:
    with app.app_context():
        in_transaction(get_db(app), load_demo_org)
        lines = load_demo(app)
        assert any("imported" in line for line in lines), lines
        db = get_session()
        org = directory_cache.get(db)
        assert set(org["roles"]["finance"]["holders"][""]) == {"li.na", "approver"}
        assert org["roles"]["warehouse_lead"]["holders"] == {"LV-GZ": ["chen.jing"], "LV-HZ": ["zhao.lei"]}  # fmt: skip
        assert org["users"]["approver"]["manager"] == "li.na"
        assert org["users"]["li.na"]["manager"] == "zhou.jian"
        assert org["departments"]["wh_hz"]["parent"] == "warehousing"
        # Every live and draft flow names only people, roles and departments that exist,
        # and every role it names has someone active to hold it.
        docs = [f.draft for f in db.scalars(select(Flow)) if f.draft]
        docs += list(db.scalars(select(FlowVersion.doc).where(FlowVersion.is_live.is_(True))))
        assert docs
        for doc in docs:
            assert checks.check_flow(doc, org) == [], doc["key"]
            for role in checks.used_keys(doc)["role"]:
                holders = org["roles"][role]["holders"]
                assert any(org["users"][u]["active"] for us in holders.values() for u in us), role
        # The demo's approvals wait for real people, not for nobody.
        tasks = list(db.scalars(select(ApprovalTask)))
        assert tasks, "the demo's samples should leave approvals waiting"
        for task in tasks:
            assert task.role in org["roles"] or task.assignee in org["users"], task
        assert {t.role for t in tasks} >= {"finance"}
        # Loading again changes nothing.
        before = directory_cache.get(db)
        assert in_transaction(get_db(app), load_demo_org) == []
        assert directory_cache.get(get_session()) == before
