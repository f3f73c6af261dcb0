"""Who a notification reaches: users by name, members of a role, and for anyone out of
office their delegate instead."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Role, User, user_roles


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


def resolve(
    db: Session, specs: Iterable[Mapping[str, str]], now: datetime, *, routed: bool = True
) -> list[tuple[User, str | None]]:
    """(user to notify, username they act for or None) in order, without duplicates.
    ``routed=False``: the people themselves, even when out of office (a copy, a mention)."""
    out: list[tuple[User, str | None]] = []
    seen: set[int] = set()
    for spec in specs:
        if spec.get("user"):
            users = list(db.scalars(select(User).where(User.username == spec["user"])))
        elif spec.get("role"):
            users = list(
                db.scalars(
                    select(User)
                    .join(user_roles, user_roles.c.user_id == User.id)
                    .join(Role, Role.id == user_roles.c.role_id)
                    .where(Role.name == spec["role"])
                    .order_by(User.username)
                )
            )
        else:
            users = []
        for user in users:
            if not user.is_active:
                continue
            delegate = delegate_of(db, user, now) if routed else None
            target, principal = (delegate, user.username) if delegate else (user, None)
            if target.id not in seen:
                seen.add(target.id)
                out.append((target, principal))
    return out
