"""What live flows and drafts name in the organisation, and what of it cannot take a task
(``orderflow org check``; deleting a department or role a flow names is refused)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import BusinessRole, Department, Flow, FlowVersion, RoleHolder, User
from .accepted import hint

PLURAL = {"role": "roles", "user": "users", "department": "departments"}


def _assignees(value: Any) -> Iterator[tuple[str, str]]:
    """``(kind, key)`` for each literal user, role and department a flow document names."""
    if isinstance(value, dict):
        for kind in PLURAL:
            key = value.get(kind)
            if isinstance(key, str) and key and set(value) <= {kind, "scope", "head", "why"}:
                yield kind, key
        fallback = value.get("fallback")
        if isinstance(fallback, str) and fallback:
            yield "user", fallback
        for item in value.values():
            yield from _assignees(item)
    elif isinstance(value, list):
        for item in value:
            yield from _assignees(item)


def usage(db: Session) -> dict[str, dict[str, list[str]]]:
    """Which live flows and drafts name each role, user and department:
    ``{"roles": {key: [flow, ...]}, "users": {...}, "departments": {...}}``."""
    out: dict[str, dict[str, set[str]]] = {kinds: {} for kinds in PLURAL.values()}
    docs = list(
        db.execute(
            select(Flow.key, Flow.draft).where(Flow.archived_at.is_(None), Flow.draft.is_not(None))
        )
    )
    docs += db.execute(
        select(Flow.key, FlowVersion.doc)
        .join(Flow, FlowVersion.flow_id == Flow.id)
        .where(FlowVersion.is_live.is_(True), Flow.archived_at.is_(None))
    ).all()
    for flow_key, doc in docs:
        for kind, key in _assignees(doc):
            out[PLURAL[kind]].setdefault(key, set()).add(flow_key)
    return {kind: {k: sorted(v) for k, v in found.items()} for kind, found in out.items()}


def check(db: Session) -> list[dict[str, Any]]:
    """What live flows and drafts name that cannot be resolved: roles that are no business
    role or have no active holder, users that do not exist or are deactivated, departments
    that do not exist. Each problem is ``{"kind", "key", "flows", "message"}``."""
    used = usage(db)
    problems: list[dict[str, Any]] = []
    role_names = {k: (zh, en) for k, zh, en in
                  db.execute(select(BusinessRole.key, BusinessRole.name_zh, BusinessRole.name_en))}  # fmt: skip
    held = set(db.scalars(
        select(BusinessRole.key).join(RoleHolder, RoleHolder.role_id == BusinessRole.id)
        .join(User, RoleHolder.user_id == User.id).where(User.is_active.is_(True))
    ))  # fmt: skip
    people = {name: (active, shown or "") for name, active, shown in
              db.execute(select(User.username, User.is_active, User.display_name))}  # fmt: skip
    depts = {k: (zh, en) for k, zh, en in
             db.execute(select(Department.key, Department.name_zh, Department.name_en))}  # fmt: skip

    def report(kind: str, key: str, message: str) -> None:
        problems.append({"kind": kind, "key": key, "flows": used[PLURAL[kind]][key],
                         "message": message})  # fmt: skip

    for key in used["roles"]:
        if key not in role_names:
            report(
                "role", key, _("%(key)s is not a business role.", key=key) + hint(key, role_names)
            )
        elif key not in held:
            report("role", key, _("Nobody active holds the business role %(key)s.", key=key))
    for key in used["users"]:
        if key not in people:
            names = {n: (shown,) for n, (_a, shown) in people.items()}
            report("user", key, _("There is no person with the username %(name)s.", name=repr(key))
                   + hint(key, names))  # fmt: skip
        elif not people[key][0]:
            report("user", key, _("%(name)s is deactivated.", name=key))
    for key in used["departments"]:
        if key not in depts:
            report("department", key, _("There is no department %(key)s.", key=repr(key))
                   + hint(key, depts))  # fmt: skip
    return sorted(problems, key=lambda p: (p["kind"], p["key"]))
