"""Changing the organisation: departments, business roles and their holders, and each
person's department and manager.

The admin pages, the API, the CLI and the CSV import all call these functions, so every
door refuses the same things with the same words: each error names the department, role or
person, says what is accepted and gives an example, with a "did you mean" when a key is
close to an existing one (by key, by Chinese or English name, or by pinyin). Nothing here
commits: the caller's transaction does, so a refused change leaves nothing behind.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..db import rows_matched
from ..errors import ConflictError, NotFoundError, ValidationError
from ..models import (
    BusinessRole,
    Department,
    ReferenceRow,
    ReferenceTable,
    RoleHolder,
    User,
)
from .accepted import (
    MAX_NAME,
    hint,
    key_message,
    manager_message,
    scope_message,
    sep,
)
from .usage import usage

log = logging.getLogger(__name__)

# Reference tables that hold settings rather than things a role could be scoped by.
NOT_SCOPES = frozenset({"calendar_hours", "calendar_days"})


def _actor(actor: User | str | None) -> str:
    if isinstance(actor, User):
        return actor.username
    return actor or "system"


# -- keys and names -------------------------------------------------------------------


def check_key(key: str, field: str, example: str) -> str:
    """``key`` if it is a valid department or business role key, else a ValidationError."""
    key = (key or "").strip()
    message = key_message(key, example)
    if message:
        raise ValidationError(message, fields={field: "pattern"})
    return key


def _name(value: Any, field: str, *, required: bool) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise ValidationError(
            _("The Chinese name is required, for example 财务部 (Finance)."),
            fields={field: "required"},
        )
    if len(text) > MAX_NAME:
        raise ValidationError(
            _("A name has at most %(n)d characters.", n=MAX_NAME), fields={field: "maxLength"}
        )
    return text


# -- lookups ----------------------------------------------------------------------------


def _department_choices(db: Session) -> dict[str, tuple[str, str]]:
    rows = db.execute(select(Department.key, Department.name_zh, Department.name_en))
    return {key: (zh, en) for key, zh, en in rows}


def _role_choices(db: Session) -> dict[str, tuple[str, str]]:
    rows = db.execute(select(BusinessRole.key, BusinessRole.name_zh, BusinessRole.name_en))
    return {key: (zh, en) for key, zh, en in rows}


def _user_choices(db: Session) -> dict[str, tuple[str]]:
    return {
        name: (shown or "",) for name, shown in db.execute(select(User.username, User.display_name))
    }


def find_department(db: Session, key: str, field: str = "department") -> Department:
    found = db.scalars(select(Department).where(Department.key == key)).one_or_none()
    if found is None:
        raise NotFoundError(
            _("There is no department %(key)s.", key=repr(key))
            + hint(key, _department_choices(db))
            + sep()
            + _("Give the key of an existing department, for example finance."),
            details={field: "unknown"},
        )
    return found


def find_role(db: Session, key: str, field: str = "role") -> BusinessRole:
    found = db.scalars(select(BusinessRole).where(BusinessRole.key == key)).one_or_none()
    if found is None:
        raise NotFoundError(
            _("There is no business role %(key)s.", key=repr(key))
            + hint(key, _role_choices(db))
            + sep()
            + _("Give the key of an existing business role, for example finance."),
            details={field: "unknown"},
        )
    return found


def find_person(db: Session, username: str, field: str = "username") -> User:
    found = db.scalars(select(User).where(User.username == username)).one_or_none()
    if found is None:
        raise NotFoundError(
            _("There is no person with the username %(name)s.", name=repr(username))
            + hint(username, _user_choices(db))
            + sep()
            + _("Give an existing username, for example li.na."),
            details={field: "unknown"},
        )
    return found


def referenced(find: Any, db: Session, key: str, field: str) -> Any:
    """``find(db, key, field)`` for a key named in a request's fields: a missing one is an
    invalid field (422), not a missing page."""
    try:
        return find(db, key, field)
    except NotFoundError as err:
        raise ValidationError(err.message, fields={field: "unknown"}) from None


def scope_tables(db: Session) -> list[str]:
    """Reference tables a business role may be scoped by (warehouses, regions, channels...)."""
    names = db.scalars(select(ReferenceTable.name).order_by(ReferenceTable.name))
    return [n for n in names if n not in NOT_SCOPES]


def scope_keys(db: Session, table: str) -> list[str]:
    """The row keys of reference table ``table``: the scopes its roles may be held for."""
    query = (
        select(ReferenceRow.key)
        .join(ReferenceTable, ReferenceRow.table_id == ReferenceTable.id)
        .where(ReferenceTable.name == table)
        .order_by(ReferenceRow.key)
    )
    return list(db.scalars(query))


def _check_scope_table(db: Session, table: str | None) -> str | None:
    table = (table or "").strip() or None
    if table is None:
        return None
    tables = scope_tables(db)
    if table not in tables:
        close = hint(table, {t: () for t in tables})
        raise ValidationError(
            _(
                "The scope %(table)s is not a reference table.%(hint)s Choose one of: "
                "%(tables)s (for example warehouses), or leave it empty for a role without "
                "scope.",
                table=repr(table),
                hint=close,
                tables=", ".join(tables) or "—",
            ),
            fields={"scope_table": "unknown"},
        )
    return table


def check_scope(db: Session, role: BusinessRole, scope: str) -> str:
    """The holder scope ``scope`` for ``role``: a key of the role's reference table, or ""
    for a role without scope."""
    scope = (scope or "").strip()
    keys = scope_keys(db, role.scope_table) if role.scope_table else []
    message = scope_message(role.key, role.scope_table, scope, keys)
    if message:
        raise ValidationError(message, fields={"scope": "invalid"})
    return scope


# -- departments ---------------------------------------------------------------------


def departments(db: Session) -> list[dict[str, Any]]:
    """Every department as a tree, parents before children, with depth and member count."""
    counts = dict(
        db.execute(
            select(User.department_id, func.count())
            .where(User.department_id.is_not(None))
            .group_by(User.department_id)
        ).all()
    )
    heads = dict(db.execute(select(User.id, User.username)).all())
    rows = list(db.scalars(select(Department).order_by(Department.key)))
    by_id = {d.id: d for d in rows}
    children: dict[int | None, list[Department]] = {}
    for d in rows:
        parent = d.parent_id if d.parent_id in by_id else None
        children.setdefault(parent, []).append(d)
    out: list[dict[str, Any]] = []

    def walk(parent: int | None, depth: int) -> None:
        for d in children.get(parent, []):
            out.append({
                "key": d.key,
                "name_zh": d.name_zh,
                "name_en": d.name_en,
                "parent": by_id[d.parent_id].key if d.parent_id in by_id else None,
                "head": heads.get(d.head_id) if d.head_id else None,
                "members": counts.get(d.id, 0),
                "depth": depth,
            })  # fmt: skip
            walk(d.id, depth + 1)

    walk(None, 0)
    return out


def department_json(db: Session, dept: Department) -> dict[str, Any]:
    return next(d for d in departments(db) if d["key"] == dept.key)


def _check_parent(db: Session, dept: Department | None, parent_key: str | None) -> int | None:
    if not parent_key:
        return None
    parent = referenced(find_department, db, parent_key, "parent")
    if dept is None:
        return parent.id
    parents = dict(db.execute(select(Department.id, Department.parent_id)).all())
    seen, at = set(), parent.id
    while at is not None and at not in seen:
        if at == dept.id:
            raise ValidationError(
                _(
                    "%(parent)s cannot be the parent of %(key)s: it is %(key)s itself or "
                    "one of its sub-departments, which would make a cycle. Choose a "
                    "department outside %(key)s, or none for a top-level department.",
                    parent=parent.key,
                    key=dept.key,
                ),
                fields={"parent": "cycle"},
            )
        seen.add(at)
        at = parents.get(at)
    return parent.id


def _check_head(db: Session, username: str | None) -> int | None:
    if not username:
        return None
    head = referenced(find_person, db, username, "head")
    if not head.is_active:
        raise ValidationError(
            _(
                "%(name)s is deactivated and cannot head a department; choose an active person.",
                name=head.username,
            ),
            fields={"head": "inactive"},
        )
    return head.id


def create_department(
    db: Session,
    actor: User | str | None,
    *,
    key: str,
    name_zh: str,
    name_en: str = "",
    parent: str | None = None,
    head: str | None = None,
) -> Department:
    key = check_key(key, "key", "finance")
    if db.scalars(select(Department.id).where(Department.key == key)).first() is not None:
        raise ConflictError(
            _("The department %(key)s exists already; change it instead.", key=key),
            details={"key": "taken"},
        )
    dept = Department(
        key=key,
        name_zh=_name(name_zh, "name_zh", required=True),
        name_en=_name(name_en, "name_en", required=False),
        parent_id=_check_parent(db, None, parent),
        head_id=_check_head(db, head),
    )
    db.add(dept)
    db.flush()
    log.info("department %s created by %s", key, _actor(actor))
    return dept


def update_department(
    db: Session, actor: User | str | None, key: str, changes: Mapping[str, Any]
) -> Department:
    """Change the fields in ``changes`` (name_zh, name_en, parent, head; None clears
    parent and head)."""
    dept = find_department(db, key, "key")
    if "name_zh" in changes:
        dept.name_zh = _name(changes["name_zh"], "name_zh", required=True)
    if "name_en" in changes:
        dept.name_en = _name(changes["name_en"], "name_en", required=False)
    if "parent" in changes:
        dept.parent_id = _check_parent(db, dept, changes["parent"])
    if "head" in changes:
        dept.head_id = _check_head(db, changes["head"])
    db.flush()
    log.info("department %s changed by %s: %s", key, _actor(actor), sorted(changes))
    return dept


def delete_department(db: Session, actor: User | str | None, key: str) -> None:
    dept = find_department(db, key, "key")
    members = list(
        db.scalars(
            select(User.username).where(User.department_id == dept.id).order_by(User.username)
        )
    )
    children = list(
        db.scalars(
            select(Department.key).where(Department.parent_id == dept.id).order_by(Department.key)
        )
    )
    if members or children:
        raise ConflictError(
            _(
                "The department %(key)s still has %(members)d people (%(names)s) and "
                "%(children)d sub-departments (%(subs)s). Move them to another department "
                "first, then delete it.",
                key=key,
                members=len(members),
                names=", ".join(members[:5]) + (" …" if len(members) > 5 else "") or "—",
                children=len(children),
                subs=", ".join(children[:5]) or "—",
            ),
            details={"key": "in_use"},
        )
    used = usage(db)["departments"].get(key)
    if used:
        raise ConflictError(
            _(
                "The department %(key)s is named by the flows %(flows)s; change them first.",
                key=key,
                flows=", ".join(used),
            ),
            details={"key": "used_by_flows"},
        )
    db.delete(dept)
    db.flush()
    log.info("department %s deleted by %s", key, _actor(actor))


# -- business roles ------------------------------------------------------------------


def roles(db: Session) -> list[dict[str, Any]]:
    """Every business role with its holders (``{"user", "name", "scope", "active"}``)."""
    holders: dict[int, list[dict[str, Any]]] = {}
    rows = db.execute(
        select(
            RoleHolder.role_id, RoleHolder.scope, User.username, User.display_name, User.is_active
        )
        .join(User, RoleHolder.user_id == User.id)
        .order_by(RoleHolder.scope, User.username)
    )
    for role_id, scope, username, shown, active in rows:
        holders.setdefault(role_id, []).append(
            {"user": username, "name": shown or username, "scope": scope or "", "active": active}
        )
    return [
        {
            "key": r.key,
            "name_zh": r.name_zh,
            "name_en": r.name_en,
            "scope_table": r.scope_table,
            "holders": holders.get(r.id, []),
        }
        for r in db.scalars(select(BusinessRole).order_by(BusinessRole.key))
    ]


def role_json(db: Session, role: BusinessRole) -> dict[str, Any]:
    return next(r for r in roles(db) if r["key"] == role.key)


def create_role(
    db: Session,
    actor: User | str | None,
    *,
    key: str,
    name_zh: str,
    name_en: str = "",
    scope_table: str | None = None,
) -> BusinessRole:
    key = check_key(key, "key", "warehouse_lead")
    if db.scalars(select(BusinessRole.id).where(BusinessRole.key == key)).first() is not None:
        raise ConflictError(
            _("The business role %(key)s exists already; change it instead.", key=key),
            details={"key": "taken"},
        )
    role = BusinessRole(
        key=key,
        name_zh=_name(name_zh, "name_zh", required=True),
        name_en=_name(name_en, "name_en", required=False),
        scope_table=_check_scope_table(db, scope_table),
    )
    db.add(role)
    db.flush()
    log.info("business role %s created by %s", key, _actor(actor))
    return role


def update_role(
    db: Session, actor: User | str | None, key: str, changes: Mapping[str, Any]
) -> BusinessRole:
    """Change name_zh, name_en or scope_table (the scope only while nobody holds the role)."""
    role = find_role(db, key, "key")
    if "name_zh" in changes:
        role.name_zh = _name(changes["name_zh"], "name_zh", required=True)
    if "name_en" in changes:
        role.name_en = _name(changes["name_en"], "name_en", required=False)
    if "scope_table" in changes:
        table = _check_scope_table(db, changes["scope_table"])
        if table != role.scope_table:
            held = db.scalar(select(func.count()).where(RoleHolder.role_id == role.id))
            if held:
                raise ConflictError(
                    _(
                        "The business role %(key)s has %(n)d holders for its present scope; "
                        "remove them before changing the scope.",
                        key=key,
                        n=held,
                    ),
                    details={"scope_table": "held"},
                )
            role.scope_table = table
    db.flush()
    log.info("business role %s changed by %s: %s", key, _actor(actor), sorted(changes))
    return role


def delete_role(db: Session, actor: User | str | None, key: str) -> None:
    role = find_role(db, key, "key")
    used = usage(db)["roles"].get(key)
    if used:
        raise ConflictError(
            _(
                "The business role %(key)s is assigned in the flows %(flows)s; change them "
                "first, or keep the role.",
                key=key,
                flows=", ".join(used),
            ),
            details={"key": "used_by_flows"},
        )
    db.execute(delete(RoleHolder).where(RoleHolder.role_id == role.id))
    db.delete(role)
    db.flush()
    log.info("business role %s deleted by %s", key, _actor(actor))


def add_holder(
    db: Session, actor: User | str | None, role_key: str, username: str, scope: str = ""
) -> RoleHolder:
    role = find_role(db, role_key, "role")
    person = referenced(find_person, db, username, "user")
    scope = check_scope(db, role, scope)
    found = db.scalars(
        select(RoleHolder).where(
            RoleHolder.role_id == role.id,
            RoleHolder.user_id == person.id,
            RoleHolder.scope == scope,
        )
    ).one_or_none()
    if found is not None:
        return found
    holder = RoleHolder(role_id=role.id, user_id=person.id, scope=scope)
    db.add(holder)
    db.flush()
    log.info("%s holds %s%s, added by %s", username, role_key, f"@{scope}" if scope else "",
             _actor(actor))  # fmt: skip
    return holder


def remove_holder(
    db: Session, actor: User | str | None, role_key: str, username: str, scope: str = ""
) -> None:
    role = find_role(db, role_key, "role")
    person = find_person(db, username, "user")
    gone = rows_matched(
        db,
        delete(RoleHolder).where(
            RoleHolder.role_id == role.id,
            RoleHolder.user_id == person.id,
            RoleHolder.scope == (scope or ""),
        ),
    )
    if not gone:
        where = f"@{scope}" if scope else ""
        raise NotFoundError(
            _("%(name)s does not hold %(role)s.", name=username, role=f"{role_key}{where}"),
            details={"user": "not_holder"},
        )
    log.info("%s no longer holds %s, removed by %s", username, role_key, _actor(actor))


# -- people -----------------------------------------------------------------------------


def people(db: Session) -> list[dict[str, Any]]:
    """Every person with department, manager and business roles (``role`` or ``role@scope``)."""
    names = dict(db.execute(select(User.id, User.username)).all())
    depts = dict(db.execute(select(Department.id, Department.key)).all())
    held: dict[int, list[str]] = {}
    for user_id, key, scope in db.execute(
        select(RoleHolder.user_id, BusinessRole.key, RoleHolder.scope)
        .join(BusinessRole, RoleHolder.role_id == BusinessRole.id)
        .order_by(BusinessRole.key, RoleHolder.scope)
    ):
        held.setdefault(user_id, []).append(f"{key}@{scope}" if scope else key)
    return [
        {
            "username": u.username,
            "display_name": u.display_name or "",
            "active": u.is_active,
            "department": depts.get(u.department_id) if u.department_id else None,
            "manager": names.get(u.manager_id) if u.manager_id else None,
            "roles": held.get(u.id, []),
        }
        for u in db.scalars(select(User).order_by(User.username))
    ]


def person_json(db: Session, person: User) -> dict[str, Any]:
    return next(p for p in people(db) if p["username"] == person.username)


def check_manager(db: Session, person: User, manager: User) -> None:
    """Refuse ``manager`` for ``person``: themself, deactivated, or a manager cycle."""
    names: dict[int | None, str] = dict(db.execute(select(User.id, User.username)).all())
    chain = {names[uid]: names.get(boss) for uid, boss in
             db.execute(select(User.id, User.manager_id))}  # fmt: skip
    message = manager_message(person.username, manager.username, manager.is_active, chain)
    if message:
        raise ValidationError(message, fields={"manager": "invalid"})


def update_person(
    db: Session, actor: User | str | None, username: str, changes: Mapping[str, Any]
) -> User:
    """Change a person's ``department`` and ``manager`` (a key or username; None clears)."""
    person = find_person(db, username)
    if "department" in changes:
        key = changes["department"]
        person.department_id = (
            referenced(find_department, db, key, "department").id if key else None
        )
    if "manager" in changes:
        name = changes["manager"]
        if name:
            manager = referenced(find_person, db, name, "manager")
            check_manager(db, person, manager)
            person.manager_id = manager.id
        else:
            person.manager_id = None
    db.flush()
    log.info("%s changed by %s: %s", username, _actor(actor), sorted(changes))
    return person
