"""An organisation to change: two warehouses, finance and warehouse departments, people."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.db import get_db, in_transaction
from app.models import Role, User
from app.org import services as org
from app.reference import services as reference
from app.security import hash_password
from tests.app.api.conftest import make_key  # noqa: F401 (a fixture of the API tests)

PEOPLE = ("wang.min", "li.na", "zhao.lei", "chen.jing")


def seed(db: Any) -> None:
    table = reference.ensure_table(db, "warehouses", key_field="code",
                                   columns=[{"name": "code"}, {"name": "name"}])  # fmt: skip
    reference.upsert_rows(db, table, [{"code": "SH-01", "name": "上海一仓"},
                                      {"code": "BJ-01", "name": "北京一仓"}])  # fmt: skip
    org.create_department(db, None, key="ops", name_zh="运营中心", name_en="Operations")
    org.create_department(db, None, key="finance", name_zh="财务部", name_en="Finance",
                          parent="ops")  # fmt: skip
    org.create_department(db, None, key="warehouse", name_zh="仓储部", name_en="Warehousing",
                          parent="ops")  # fmt: skip
    org.create_role(db, None, key="finance", name_zh="财务", name_en="Finance")
    org.create_role(db, None, key="warehouse_lead", name_zh="仓库主管", name_en="Warehouse lead",
                    scope_table="warehouses")  # fmt: skip
    org.update_person(db, None, "li.na", {"department": "finance", "manager": "wang.min"})
    org.update_person(db, None, "zhao.lei", {"department": "warehouse", "manager": "wang.min"})
    org.update_person(db, None, "wang.min", {"department": "ops"})
    org.add_holder(db, None, "finance", "li.na")
    org.add_holder(db, None, "warehouse_lead", "zhao.lei", "SH-01")


@functools.cache
def password_hash() -> str:
    """One hash of ``correct-horse`` for every test's people (hashing is slow on purpose)."""
    return hash_password("correct-horse")


def add_people(db: Any, roles: dict[str, str]) -> None:
    """Users by username -> access role, each with the password ``correct-horse``."""
    found = {r.name: r for r in db.scalars(select(Role))}
    for name, role in roles.items():
        db.add(User(username=name, display_name=name.replace(".", " ").title(),
                    password_hash=password_hash(), roles=[found[role]]))  # fmt: skip
    db.flush()


@pytest.fixture
def world(app: Flask) -> Flask:
    with app.test_request_context(headers={"Accept-Language": "en"}):
        in_transaction(
            get_db(),
            lambda db: add_people(
                db, {"boss": "admin", "sup": "supervisor", **dict.fromkeys(PEOPLE, "approver")}
            ),
        )
        in_transaction(get_db(), seed)
    return app


@pytest.fixture
def en(world: Flask):
    """A request context in English, with a session (changes are rolled back unless committed)."""
    with world.test_request_context(headers={"Accept-Language": "en"}):
        with get_db().session(writes=True) as db:
            yield db
            db.rollback()
