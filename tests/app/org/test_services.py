"""Changing the organisation: what is accepted and each refusal, named in the reader's words."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.errors import ConflictError, NotFoundError, ValidationError
from app.models import Department, RoleHolder, User
from app.org import directory
from app.org import services as org


def test_the_tree_lists_parents_first_with_heads_and_member_counts(en):
    org.update_department(en, None, "finance", {"head": "li.na"})
    tree = org.departments(en)
    assert [(d["key"], d["depth"]) for d in tree] == [("ops", 0), ("finance", 1), ("warehouse", 1)]
    finance = tree[1]
    assert (finance["head"], finance["members"], finance["parent"]) == ("li.na", 1, "ops")


def test_a_department_key_must_follow_the_pattern_with_an_example(en):
    with pytest.raises(ValidationError) as err:
        org.create_department(en, None, key="财务部", name_zh="财务部")
    assert "lowercase letter" in str(err.value.message) and "finance" in str(err.value.message)


def test_a_department_needs_its_chinese_name(en):
    with pytest.raises(ValidationError) as err:
        org.create_department(en, None, key="hr", name_zh=" ")
    assert "Chinese name is required" in str(err.value.message)


def test_a_department_key_is_unique(en):
    with pytest.raises(ConflictError):
        org.create_department(en, None, key="finance", name_zh="财务部")


def test_a_parent_must_exist_and_the_refusal_suggests_the_close_one(en):
    with pytest.raises(ValidationError) as err:
        org.create_department(en, None, key="tax", name_zh="税务", parent="finanse")
    assert "no department 'finanse'" in str(err.value.message)
    assert "Did you mean finance?" in str(err.value.message)


def test_a_parent_is_found_by_its_chinese_name_and_pinyin(en):
    for typed in ("财务部", "caiwubu", "cwb"):
        with pytest.raises(ValidationError) as err:
            org.create_department(en, None, key="tax", name_zh="税务", parent=typed)
        assert "Did you mean finance?" in str(err.value.message), typed


def test_a_department_cannot_sit_under_itself_or_its_children(en):
    with pytest.raises(ValidationError) as err:
        org.update_department(en, None, "ops", {"parent": "finance"})
    assert "cycle" in str(err.value.message) and err.value.fields == {"parent": "cycle"}
    with pytest.raises(ValidationError):
        org.update_department(en, None, "ops", {"parent": "ops"})


def test_a_department_with_members_or_children_is_not_deleted(en):
    with pytest.raises(ConflictError) as err:
        org.delete_department(en, None, "ops")
    message = str(err.value.message)
    assert "1 people (wang.min)" in message and "2 sub-departments (finance, warehouse)" in message
    org.update_person(en, None, "li.na", {"department": None})
    org.delete_department(en, None, "finance")
    assert en.scalars(select(Department.key)).all().count("finance") == 0


def test_a_department_head_must_be_an_active_person(en):
    with pytest.raises(ValidationError) as err:
        org.update_department(en, None, "finance", {"head": "li.nna"})
    assert "Did you mean li.na?" in str(err.value.message)
    en.scalars(select(User).where(User.username == "chen.jing")).one().is_active = False
    with pytest.raises(ValidationError) as err:
        org.update_department(en, None, "finance", {"head": "chen.jing"})
    assert "deactivated" in str(err.value.message)


def test_a_role_key_must_follow_the_pattern(en):
    with pytest.raises(ValidationError) as err:
        org.create_role(en, None, key="Warehouse-Lead", name_zh="仓库主管")
    assert "warehouse_lead" in str(err.value.message)


def test_a_role_scope_must_be_a_reference_table(en):
    with pytest.raises(ValidationError) as err:
        org.create_role(en, None, key="region_lead", name_zh="大区经理", scope_table="warehouse")
    message = str(err.value.message)
    assert "not a reference table" in message and "Did you mean warehouses?" in message


def test_a_holder_scope_must_be_a_key_of_the_table_with_did_you_mean(en):
    with pytest.raises(ValidationError) as err:
        org.add_holder(en, None, "warehouse_lead", "chen.jing", "SH-1")
    message = str(err.value.message)
    assert "'SH-1' is not a key of warehouses" in message and "Did you mean SH-01?" in message
    with pytest.raises(ValidationError) as err:
        org.add_holder(en, None, "warehouse_lead", "chen.jing", "")
    assert "warehouse_lead@BJ-01" in str(err.value.message)
    with pytest.raises(ValidationError) as err:
        org.add_holder(en, None, "finance", "chen.jing", "SH-01")
    assert "has no scope" in str(err.value.message)


def test_holders_are_added_once_and_removed(en):
    org.add_holder(en, None, "warehouse_lead", "chen.jing", "BJ-01")
    org.add_holder(en, None, "warehouse_lead", "chen.jing", "BJ-01")
    assert en.scalar(select(RoleHolder.id).where(RoleHolder.scope == "BJ-01").limit(2)) is not None
    holders = org.role_json(en, org.find_role(en, "warehouse_lead"))["holders"]
    assert [(h["user"], h["scope"]) for h in holders] == [
        ("chen.jing", "BJ-01"),
        ("zhao.lei", "SH-01"),
    ]
    org.remove_holder(en, None, "warehouse_lead", "chen.jing", "BJ-01")
    with pytest.raises(NotFoundError):
        org.remove_holder(en, None, "warehouse_lead", "chen.jing", "BJ-01")


def test_an_unknown_role_is_refused_with_did_you_mean_by_name(en):
    for typed in ("finanse", "财务", "caiwu"):
        with pytest.raises(NotFoundError) as err:
            org.add_holder(en, None, typed, "chen.jing")
        assert "Did you mean finance?" in str(err.value.message), typed


def test_the_scope_of_a_held_role_does_not_change(en):
    with pytest.raises(ConflictError) as err:
        org.update_role(en, None, "warehouse_lead", {"scope_table": None})
    assert "1 holders" in str(err.value.message)
    org.update_role(en, None, "finance", {"name_en": "Finance team"})


def test_managers_are_active_not_oneself_and_make_no_cycle(en):
    with pytest.raises(ValidationError) as err:
        org.update_person(en, None, "wang.min", {"manager": "wang.min"})
    assert "their own manager" in str(err.value.message)
    with pytest.raises(ValidationError) as err:
        org.update_person(en, None, "wang.min", {"manager": "li.na"})
    assert "wang.min → li.na → wang.min" in str(err.value.message)
    en.scalars(select(User).where(User.username == "chen.jing")).one().is_active = False
    with pytest.raises(ValidationError) as err:
        org.update_person(en, None, "li.na", {"manager": "chen.jing"})
    assert "deactivated" in str(err.value.message)
    with pytest.raises(ValidationError) as err:
        org.update_person(en, None, "li.na", {"department": "finanse"})
    assert "Did you mean finance?" in str(err.value.message)


def test_errors_are_in_chinese_for_chinese_readers(world):
    from app.db import get_db

    with world.test_request_context(headers={"Accept-Language": "zh"}):
        with get_db().session() as db, pytest.raises(ValidationError) as err:
            org.add_holder(db, None, "warehouse_lead", "chen.jing", "SH-1")
    assert "不是" in str(err.value.message) and "SH-01" in str(err.value.message)


def test_changes_reach_the_directory_that_runs_read(en):
    org.add_holder(en, None, "warehouse_lead", "chen.jing", "BJ-01")
    snapshot = directory.build(en)
    assert snapshot["roles"]["warehouse_lead"]["holders"] == {
        "BJ-01": ["chen.jing"],
        "SH-01": ["zhao.lei"],
    }
    assert snapshot["users"]["li.na"]["manager"] == "wang.min"
