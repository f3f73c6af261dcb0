"""Who a notification reaches: users by name, the holders of a business role (for a scope),
the members of a department, the order's own contacts; for anyone out of office their
delegate instead. The access roles (admin, supervisor...) are not audiences."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import BusinessRole, Department, Role, RoleHolder, User, user_roles


def is_away(user: User, now: datetime) -> bool:
    """Whether ``user`` is out of office at ``now`` with a delegate set."""
    if not user.away_delegate or user.away_from is None:
        return False
    return user.away_from <= now and (user.away_until is None or now < user.away_until)


def delegate_of(db: Session, user: User, now: datetime) -> User | None:
    """The active delegate acting for ``user`` now, if ``user`` is out of office."""
    if not is_away(user, now):
        return None
    found = db.scalars(select(User).where(User.username == user.away_delegate)).one_or_none()
    return found if found is not None and found.is_active and found.id != user.id else None


@dataclass(frozen=True)
class Contact:
    """The order's own contact (a consignee): reached by email or phone, never an inbox."""

    id: str
    username: str
    display_name: str
    email: str | None = None
    phone: str | None = None
    locale: str = "zh"
    wecom_id: None = None
    dingtalk_id: None = None
    feishu_id: None = None


def _people(db: Session, spec: Mapping[str, object]) -> list[User]:
    """The users one recipient entry names, as the organisation stands now.

    ``{"role": key}`` is a business role; alert rules written before business roles existed
    name access roles (``supervisor``), which still reach the users holding that access role
    when no business role has the key. ``{"access_role": "admin"}`` names an access role.
    """
    if spec.get("user"):
        return list(db.scalars(select(User).where(User.username == spec["user"])))
    access = spec.get("access_role")
    if spec.get("role") and not spec.get("scope"):
        known = db.scalar(select(BusinessRole.id).where(BusinessRole.key == spec["role"]))
        access = access or (spec["role"] if known is None else None)
    if access:
        return list(
            db.scalars(
                select(User)
                .join(user_roles, user_roles.c.user_id == User.id)
                .join(Role, Role.id == user_roles.c.role_id)
                .where(Role.name == access)
                .order_by(User.username)
            )
        )
    if spec.get("role"):
        return list(
            db.scalars(
                select(User)
                .join(RoleHolder, RoleHolder.user_id == User.id)
                .join(BusinessRole, BusinessRole.id == RoleHolder.role_id)
                .where(
                    BusinessRole.key == spec["role"], RoleHolder.scope == (spec.get("scope") or "")
                )
                .order_by(User.username)
            )
        )
    if spec.get("department"):
        return list(
            db.scalars(
                select(User)
                .join(Department, Department.id == User.department_id)
                .where(Department.key == spec["department"])
                .order_by(User.username)
            )
        )
    return []


def resolve(
    db: Session, specs: Iterable[Mapping[str, Any]], now: datetime, *, routed: bool = True
) -> list[tuple[User | Contact, str | None]]:
    """(user or contact to notify, username they act for or None) in order, without
    duplicates. ``routed=False``: the people themselves, even when out of office (a copy, a
    mention)."""
    out: list[tuple[User | Contact, str | None]] = []
    seen: set[int | str] = set()
    for spec in specs:
        if spec.get("contact"):
            key = f"contact:{spec['contact']}"
            if key not in seen and (spec.get("email") or spec.get("phone")):
                seen.add(key)
                name = str(spec.get("name") or spec["contact"])
                out.append(
                    (
                        Contact(key, key, name, spec.get("email"), spec.get("phone")),
                        None,
                    )
                )
            continue
        for user in _people(db, spec):
            if not user.is_active:
                continue
            delegate = delegate_of(db, user, now) if routed else None
            target, principal = (delegate, user.username) if delegate else (user, None)
            if target.id not in seen:
                seen.add(target.id)
                out.append((target, principal))
    return out
