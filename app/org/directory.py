"""The organisation as flows see it: ``ref.org``, built once per organisation revision.

Runs resolve assignees against this snapshot (``flow_engine.nodes._people``): who holds a
business role for a scope, the members and head of a department, each person's manager and
whether they are active. One small query per use reads the revision; the snapshot is read
again only after a change, so a run does not query the organisation for every order.
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.orm import Session, aliased

from ..models import BusinessRole, Department, OrgRevision, RoleHolder, User, table_of

ORG_MODELS = (Department, BusinessRole, RoleHolder)
# What of a person the directory holds; a change to anything else (a login, a password)
# leaves the snapshot as it is.
USER_FIELDS = (
    "username", "display_name", "is_active", "email", "phone", "department_id", "manager_id",
)  # fmt: skip
_REVISION = table_of(OrgRevision)


def _changes_org(session: Session) -> bool:
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, (*ORG_MODELS, User)):
            return True
    for obj in session.dirty:
        if isinstance(obj, ORG_MODELS):
            return True
        if isinstance(obj, User):
            state = inspect(obj)
            if any(state.attrs[f].history.has_changes() for f in USER_FIELDS):
                return True
    return False


@event.listens_for(Session, "before_flush")
def _note_org_change(session: Session, _ctx: Any, _instances: Any) -> None:
    if _changes_org(session):
        session.info["org_changed"] = True


@event.listens_for(Session, "after_flush")
def _bump_org_revision(session: Session, _ctx: Any) -> None:
    """Every flush that changes the organisation bumps the revision in the same transaction."""
    if not session.info.pop("org_changed", False):
        return
    conn = session.connection()
    stamp = uuid.uuid4().hex
    done = conn.execute(update(_REVISION).where(_REVISION.c.id == 1).values(stamp=stamp)).rowcount
    if not done:
        conn.execute(insert(_REVISION).values(id=1, stamp=stamp))


REVISION = select(OrgRevision.stamp).where(OrgRevision.id == 1).scalar_subquery()


def revision(db: Session) -> str | None:
    """The organisation's current stamp (None before anything was recorded)."""
    return db.scalar(select(REVISION))


def build(db: Session) -> dict[str, Any]:
    """The whole organisation as plain data (see ``flow_engine.nodes._people``)."""
    manager = aliased(User)
    dept = aliased(Department)
    users: dict[str, dict[str, Any]] = {}
    by_id: dict[int, str] = {}
    rows = db.execute(
        select(
            User.id,
            User.username,
            User.display_name,
            User.is_active,
            User.email,
            User.phone,
            dept.key,
            manager.username,
        )
        .outerjoin(dept, User.department_id == dept.id)
        .outerjoin(manager, User.manager_id == manager.id)
        .order_by(User.username)
    )
    members: dict[str, list[str]] = defaultdict(list)
    for uid, username, name, active, email, phone, dept_key, manager_name in rows:
        by_id[uid] = username
        users[username] = {
            "name": name or username,
            "active": bool(active),
            "department": dept_key,
            "manager": manager_name,
            "email": email,
            "phone": phone,
        }
        if dept_key:
            members[dept_key].append(username)
    parent = aliased(Department)
    departments: dict[str, dict[str, Any]] = {}
    for d, parent_key in db.execute(
        select(Department, parent.key)
        .outerjoin(parent, Department.parent_id == parent.id)
        .order_by(Department.key)
    ):
        departments[d.key] = {
            "zh": d.name_zh,
            "en": d.name_en or d.name_zh,
            "parent": parent_key,
            "head": by_id.get(d.head_id) if d.head_id else None,
            "members": members.get(d.key, []),
        }
    roles: dict[str, dict[str, Any]] = {}
    for r in db.scalars(select(BusinessRole).order_by(BusinessRole.key)):
        roles[r.key] = {
            "zh": r.name_zh,
            "en": r.name_en or r.name_zh,
            "scope": r.scope_table,
            "holders": {},
        }
    holders = db.execute(
        select(BusinessRole.key, RoleHolder.scope, User.username)
        .join(BusinessRole, RoleHolder.role_id == BusinessRole.id)
        .join(User, RoleHolder.user_id == User.id)
        .order_by(BusinessRole.key, RoleHolder.scope, User.username)
    )
    for key, scope, username in holders:
        roles[key]["holders"].setdefault(scope or "", []).append(username)
    return {"users": users, "roles": roles, "departments": departments}


class DirectoryCache:
    """The last built snapshot and the revision it was built at."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revision: str | None = None
        self._data: dict[str, Any] = {"users": {}, "roles": {}, "departments": {}}

    def get(self, db: Session, stamp: str | None = None) -> dict[str, Any]:
        """The snapshot; ``stamp`` is the revision when the caller read it already."""
        current = stamp if stamp is not None else revision(db)
        if current is not None and current == self._revision:
            return self._data
        data = build(db)
        with self._lock:
            self._revision, self._data = current, data
        return data

    def clear(self) -> None:
        with self._lock:
            self._revision = None


directory_cache = DirectoryCache()
