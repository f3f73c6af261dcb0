"""Admin → 组织架构: the pages render in Chinese and English, admins change, supervisors look."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from app.db import get_db
from app.models import RoleHolder, User
from app.org import csvio
from tests.app.conftest import csrf_token

PAGES = ("/admin/org/departments", "/admin/org/roles", "/admin/org/people")


@pytest.fixture
def admin(world, client, login):
    login("boss")
    return client


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_three_pages_render_in_both_languages(admin, lang):
    words = {"zh": ("组织架构", "部门", "业务角色", "人员"),
             "en": ("Organisation", "Departments", "Business roles", "People")}[lang]  # fmt: skip
    for path in PAGES:
        page = admin.get(path, headers={"Accept-Language": lang})
        assert page.status_code == 200, path
        text = page.get_data(as_text=True)
        assert all(w in text for w in words), (path, lang)
    tree = admin.get(PAGES[0], headers={"Accept-Language": lang}).get_data(as_text=True)
    assert "财务部" in tree and "Finance" in tree and 'id="dept-finance"' in tree
    roles = admin.get(PAGES[1], headers={"Accept-Language": lang}).get_data(as_text=True)
    assert "zhao.lei" in roles and "SH-01" in roles and '<option value="BJ-01">' in roles


def test_viewers_and_approvers_are_refused_and_supervisors_only_look(world, client, login):
    login("li.na")
    assert client.get(PAGES[0]).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login("sup")
    page = client.get(PAGES[1]).get_data(as_text=True)
    assert "zhao.lei" in page and "Add holder" not in page and "添加担任者" not in page
    answer = client.post("/admin/org/roles/finance/holders",
                         data={"user": "chen.jing", "csrf_token": csrf_token(client, PAGES[1])})  # fmt: skip
    assert answer.status_code == 403


def test_an_admin_adds_a_holder_for_a_scope_and_sees_the_refusal_of_a_bad_one(admin, world):
    token = csrf_token(admin, PAGES[1])
    answer = admin.post("/admin/org/roles/warehouse_lead/holders",
                        data={"user": "chen.jing", "scope": "BJ-01", "csrf_token": token},
                        follow_redirects=True, headers={"Accept-Language": "en"})  # fmt: skip
    assert "chen.jing now holds warehouse_lead@BJ-01." in answer.get_data(as_text=True)
    answer = admin.post("/admin/org/roles/warehouse_lead/holders",
                        data={"user": "chen.jing", "scope": "SH-1", "csrf_token": token},
                        follow_redirects=True, headers={"Accept-Language": "zh"})  # fmt: skip
    assert "SH-1" in answer.get_data(as_text=True) and "您是不是要找 SH-01" in answer.get_data(
        as_text=True
    )
    with world.app_context(), get_db().session() as db:
        assert sorted(db.scalars(select(RoleHolder.scope))) == ["", "BJ-01", "SH-01"]


def test_department_delete_refusal_is_shown(admin):
    token = csrf_token(admin, PAGES[0])
    page = admin.post("/admin/org/departments/ops/delete", data={"csrf_token": token},
                      follow_redirects=True, headers={"Accept-Language": "en"}).get_data(as_text=True)  # fmt: skip
    assert "still has 1 people (wang.min)" in page


def test_people_page_sets_department_and_manager_and_is_linked_from_users(admin, world):
    users = admin.get("/admin/users").get_data(as_text=True)
    assert "/admin/org/people?q=li.na#person-li.na" in users
    token = csrf_token(admin, PAGES[2])
    admin.post("/admin/org/people/chen.jing", data={"department": "finance", "manager": "li.na",
                                                    "csrf_token": token})  # fmt: skip
    with world.app_context(), get_db().session() as db:
        chen = db.scalars(select(User).where(User.username == "chen.jing")).one()
        li = db.scalars(select(User).where(User.username == "li.na")).one()
        assert chen.manager_id == li.id and chen.department_id == li.department_id
    found = admin.get("/admin/org/people?q=chen").get_data(as_text=True)
    assert 'id="person-chen.jing"' in found and 'id="person-li.na"' not in found


def test_the_import_page_previews_then_applies_and_refuses_a_bad_file(admin, world):
    token = csrf_token(admin, "/admin/org/import")
    good = (",".join(csvio.HEADER) + "\nchen.jing,陈静,finance,,,,li.na,finance,1\n").encode()
    preview = admin.post("/admin/org/import", data={"csrf_token": token,
                         "file": (io.BytesIO(good), "org.csv")},
                         content_type="multipart/form-data", headers={"Accept-Language": "zh"})  # fmt: skip
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "第 2 行 chen.jing：部门 — → 财务部" in text and "应用这些变更" in text
    with world.app_context(), get_db().session() as db:
        assert (
            db.scalars(select(User.department_id).where(User.username == "chen.jing")).one() is None
        )
    done = admin.post("/admin/org/import", data={"csrf_token": token, "apply": "1",
                                                 "content": good.decode()})  # fmt: skip
    assert done.status_code == 200
    with world.app_context(), get_db().session() as db:
        assert db.scalars(select(User.department_id).where(User.username == "chen.jing")).one()
    bad = (",".join(csvio.HEADER) + "\nchen.jing,陈静,finance,,,,nobody,finanse,1\n").encode()
    refused = admin.post("/admin/org/import", data={"csrf_token": token,
                         "file": (io.BytesIO(bad), "org.csv")},
                         content_type="multipart/form-data", headers={"Accept-Language": "en"})  # fmt: skip
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert (
        "Did you mean finance?" in text and "nobody" in text and "Apply these changes" not in text
    )


def test_export_downloads_a_csv_that_imports_as_no_change(admin, world):
    answer = admin.get("/admin/org/export")
    assert answer.mimetype == "text/csv"
    with world.test_request_context(), get_db().session() as db:
        plan = csvio.plan(db, answer.get_data())
    assert not plan.errors and not plan.changed
