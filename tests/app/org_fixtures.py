"""Business roles for the tests: the role keys a test flow assigns to become business roles
held by the users holding the access role of that name, as migration 0018 does for an
existing database; and named holders for the organisation tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import BusinessRole, Department, Role, RoleHolder, User

NAMES = {
    "approver": ("审批人", "Approver"),
    "supervisor": ("主管", "Supervisor"),
    "finance": ("财务", "Finance"),
    "warehouse_lead": ("仓库主管", "Warehouse lead"),
}


def role_keys(value: Any) -> Iterator[str]:
    """Every ``{"role": key}`` assignee anywhere in a flow document."""
    if isinstance(value, dict):
        role = value.get("role")
        if isinstance(role, str) and role and len(value) <= 2:
            yield role
        for item in value.values():
            yield from role_keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from role_keys(item)


def business_role(db: Session, key: str, scope_table: str | None = None) -> BusinessRole:
    """The business role ``key``, created (named from ``NAMES``) when missing."""
    role = db.scalars(select(BusinessRole).where(BusinessRole.key == key)).one_or_none()
    if role is None:
        zh, en = NAMES.get(key, (key, key))
        role = BusinessRole(key=key, name_zh=zh, name_en=en, scope_table=scope_table)
        db.add(role)
        db.flush()
    return role


def hold(db: Session, username: str, key: str, scope: str = "") -> None:
    """``username`` holds the business role ``key`` for ``scope`` (created when missing)."""
    role = business_role(db, key, "warehouses" if scope else None)
    user = db.scalars(select(User).where(User.username == username)).one()
    exists = db.scalars(
        select(RoleHolder).where(
            RoleHolder.role_id == role.id, RoleHolder.user_id == user.id, RoleHolder.scope == scope
        )
    ).first()
    if exists is None:
        db.add(RoleHolder(role_id=role.id, user_id=user.id, scope=scope))
        db.flush()


def mirror_access_roles(db: Session, keys: Iterable[str]) -> None:
    """Each key becomes a business role held by every user with the access role of that
    name (what migration 0018 does with the role keys of existing flows)."""
    for key in sorted(set(keys)):
        business_role(db, key)
        holders = db.scalars(select(User.username).join(User.roles).where(Role.name == key))
        for username in list(holders):
            hold(db, username, key)


def user_holds_access_roles(db: Session, user: User) -> None:
    """A new user holds the business roles named like their access roles, when they exist."""
    names = [r.name for r in user.roles]
    found = db.scalars(select(BusinessRole.key).where(BusinessRole.key.in_(names)))
    for key in list(found):
        hold(db, user.username, key)


def department(
    db: Session,
    key: str,
    zh: str,
    en: str = "",
    head: str | None = None,
    members: Iterable[str] = (),
) -> Department:
    dept = db.scalars(select(Department).where(Department.key == key)).one_or_none()
    if dept is None:
        dept = Department(key=key, name_zh=zh, name_en=en or zh)
        db.add(dept)
        db.flush()
    if head:
        dept.head_id = db.scalars(select(User.id).where(User.username == head)).one()
    for name in members:
        db.scalars(select(User).where(User.username == name)).one().department_id = dept.id
    db.flush()
    return dept


def manager(db: Session, username: str, boss: str) -> None:
    """``boss`` is ``username``'s direct manager."""
    user = db.scalars(select(User).where(User.username == username)).one()
    user.manager_id = db.scalars(select(User.id).where(User.username == boss)).one()
    db.flush()


def let_go(db: Session, username: str, key: str, scope: str = "") -> None:
    """``username`` no longer holds the business role ``key`` for ``scope``."""
    user = db.scalars(select(User).where(User.username == username)).one()
    role = db.scalars(select(BusinessRole).where(BusinessRole.key == key)).one()
    for held in db.scalars(
        select(RoleHolder).where(
            RoleHolder.role_id == role.id, RoleHolder.user_id == user.id, RoleHolder.scope == scope
        )
    ):
        db.delete(held)
    db.flush()


def staffed(db: Session, keys: Iterable[str]) -> None:
    """Each key is a business role with at least one active holder: the users holding the
    access role of that name, else a person created to hold it (``<key>.holder``)."""
    from app.users import services as users

    keys = sorted(set(keys))
    mirror_access_roles(db, keys)
    for key in keys:
        role = business_role(db, key)
        if db.scalar(select(RoleHolder.id).where(RoleHolder.role_id == role.id).limit(1)):
            continue
        name = f"{key}.holder"[:64]
        if db.scalars(select(User).where(User.username == name)).first() is None:
            users.create_user(
                db, None, username=name, password="correct-horse", roles=("approver",)
            )
        hold(db, name, key)
