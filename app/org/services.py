"""Changing the organisation: departments, business roles and their holders, and each
person's department and manager.

The admin pages, the API, the CLI and the CSV import all call these functions, so every
door refuses the same things with the same words: each error names the department, role or
person, says what is accepted and gives an example, with a "did you mean" when a key is
close to an existing one (by key, by Chinese or English name, or by pinyin). Nothing here
commits: the caller's transaction does, so a refused change leaves nothing behind.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .. import pinyin
from ..errors import ConflictError, NotFoundError, ValidationError
from ..models import (
    BusinessRole,
    Department,
    Flow,
    FlowVersion,
    ReferenceRow,
    ReferenceTable,
    RoleHolder,
    User,
)

log = logging.getLogger(__name__)

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_NAME = 128
MAX_SCOPE = 64
# Reference tables that hold settings rather than things a role could be scoped by.
NOT_SCOPES = frozenset({"calendar_hours", "calendar_days"})


def _actor(actor: User | str | None) -> str:
    if isinstance(actor, User):
        return actor.username
    return actor or "system"


# -- did you mean ---------------------------------------------------------------------


def suggest(word: str, choices: Mapping[str, Iterable[str]]) -> str | None:
    """The key of ``choices`` (key -> names) that ``word`` most likely meant: the same key
    in other case, a key whose Chinese or English name (or its pinyin) is ``word``, else a
    key spelled closely."""
    wanted = (word or "").strip().lower()
    if not wanted:
        return None
    compact = wanted.replace(" ", "")
    for key, names in choices.items():
        if key.lower() == wanted:
            return key
        for name in names:
            if not name:
                continue
            if name.lower() == wanted:
                return key
            if compact.isascii() and compact in (pinyin.full(name), pinyin.initials(name)):
                return key
    close = difflib.get_close_matches(wanted, [k.lower() for k in choices], n=1, cutoff=0.6)
    if close:
        return next(k for k in choices if k.lower() == close[0])
    return None


def _hint(word: str, choices: Mapping[str, Iterable[str]]) -> str:
    best = suggest(word, choices)
    return " " + _("Did you mean %(key)s?", key=best) if best and best != word else ""


# -- keys and names -------------------------------------------------------------------


def check_key(key: str, field: str, example: str) -> str:
    """``key`` if it is a valid department or business role key, else a ValidationError."""
    key = (key or "").strip()
    if not KEY_RE.match(key):
        raise ValidationError(
            _(
                "The key %(key)s is not accepted: use a lowercase letter, then up to 63 "
                "lowercase letters, digits or underscores, for example %(example)s.",
                key=repr(key),
                example=example,
            ),
            fields={field: "pattern"},
        )
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
            + _hint(key, _department_choices(db))
            + " "
            + _("Give the key of an existing department, for example finance."),
            details={field: "unknown"},
        )
    return found


def find_role(db: Session, key: str, field: str = "role") -> BusinessRole:
    found = db.scalars(select(BusinessRole).where(BusinessRole.key == key)).one_or_none()
    if found is None:
        raise NotFoundError(
            _("There is no business role %(key)s.", key=repr(key))
            + _hint(key, _role_choices(db))
            + " "
            + _("Give the key of an existing business role, for example finance."),
            details={field: "unknown"},
        )
    return found


def find_person(db: Session, username: str, field: str = "username") -> User:
    found = db.scalars(select(User).where(User.username == username)).one_or_none()
    if found is None:
        raise NotFoundError(
            _("There is no person with the username %(name)s.", name=repr(username))
            + _hint(username, _user_choices(db))
            + " "
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
        hint = _hint(table, {t: () for t in tables})
        raise ValidationError(
            _(
                "The scope %(table)s is not a reference table.%(hint)s Choose one of: "
                "%(tables)s (for example warehouses), or leave it empty for a role without "
                "scope.",
                table=repr(table),
                hint=hint,
                tables=", ".join(tables) or "—",
            ),
            fields={"scope_table": "unknown"},
        )
    return table


def check_scope(db: Session, role: BusinessRole, scope: str, keys: list[str] | None = None) -> str:
    """The holder scope ``scope`` for ``role``: a key of the role's reference table, or ""
    for a role without scope. ``keys`` are the table's keys when the caller read them."""
    scope = (scope or "").strip()
    if role.scope_table is None:
        if scope:
            raise ValidationError(
                _(
                    "The business role %(role)s has no scope, so it is held without one: "
                    "write %(role)s, not %(role)s@%(scope)s.",
                    role=role.key,
                    scope=scope,
                ),
                fields={"scope": "unscoped"},
            )
        return ""
    keys = scope_keys(db, role.scope_table) if keys is None else keys
    example = keys[0] if keys else "SH-01"
    if not scope:
        raise ValidationError(
            _(
                "The business role %(role)s is held for one key of %(table)s: give it, for "
                "example %(role)s@%(example)s.",
                role=role.key,
                table=role.scope_table,
                example=example,
            ),
            fields={"scope": "required"},
        )
    if scope not in keys:
        raise ValidationError(
            _(
                "%(scope)s is not a key of %(table)s, which scopes the business role "
                "%(role)s.%(hint)s Keys: %(keys)s.",
                scope=repr(scope),
                table=role.scope_table,
                role=role.key,
                hint=_hint(scope, {k: () for k in keys}),
                keys=", ".join(keys[:20]) + (" …" if len(keys) > 20 else "") if keys else "—",
            ),
            fields={"scope": "unknown"},
        )
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
    gone = db.execute(
        delete(RoleHolder).where(
            RoleHolder.role_id == role.id,
            RoleHolder.user_id == person.id,
            RoleHolder.scope == (scope or ""),
        )
    ).rowcount
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
    if manager.id == person.id:
        raise ValidationError(
            _("%(name)s cannot be their own manager; choose another person.", name=person.username),
            fields={"manager": "self"},
        )
    if not manager.is_active:
        raise ValidationError(
            _(
                "%(manager)s is deactivated and cannot manage %(name)s; choose an active person.",
                manager=manager.username,
                name=person.username,
            ),
            fields={"manager": "inactive"},
        )
    chain = dict(db.execute(select(User.id, User.manager_id)).all())
    names = dict(db.execute(select(User.id, User.username)).all())
    path, at = [manager.id], chain.get(manager.id)
    while at is not None and at not in path:
        path.append(at)
        if at == person.id:
            loop = " → ".join(names[i] for i in [person.id, *path])
            raise ValidationError(
                _(
                    "%(manager)s cannot manage %(name)s: the manager chain would go round in "
                    "a circle (%(loop)s). Choose someone who does not report to %(name)s.",
                    manager=manager.username,
                    name=person.username,
                    loop=loop,
                ),
                fields={"manager": "cycle"},
            )
        at = chain.get(at)


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


# -- what flows name ------------------------------------------------------------------


def _assignees(value: Any) -> Iterator[tuple[str, str]]:
    """``(kind, key)`` for each literal user, role and department a flow document names."""
    if isinstance(value, dict):
        for kind in ("user", "role", "department"):
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
    out: dict[str, dict[str, set[str]]] = {"roles": {}, "users": {}, "departments": {}}
    plural = {"role": "roles", "user": "users", "department": "departments"}
    docs = db.execute(
        select(Flow.key, Flow.draft).where(Flow.archived_at.is_(None), Flow.draft.is_not(None))
    ).all()
    docs += db.execute(
        select(Flow.key, FlowVersion.doc)
        .join(Flow, FlowVersion.flow_id == Flow.id)
        .where(FlowVersion.is_live.is_(True), Flow.archived_at.is_(None))
    ).all()
    for flow_key, doc in docs:
        for kind, key in _assignees(doc):
            out[plural[kind]].setdefault(key, set()).add(flow_key)
    return {kind: {k: sorted(v) for k, v in found.items()} for kind, found in out.items()}


def check(db: Session) -> list[dict[str, Any]]:
    """What live flows and drafts name that cannot be resolved: roles that are no business
    role or have no active holder, users and departments that do not exist. Each problem
    is ``{"kind", "key", "flows", "message"}``."""
    used = usage(db)
    problems: list[dict[str, Any]] = []
    roles_known = {r["key"]: r for r in roles(db)}
    users_known = dict(db.execute(select(User.username, User.is_active)).all())
    depts_known = {d["key"] for d in departments(db)}
    role_names = _role_choices(db)
    for key, flows in used["roles"].items():
        role = roles_known.get(key)
        if role is None:
            message = _("%(key)s is not a business role.", key=key) + _hint(key, role_names)
            problems.append({"kind": "role", "key": key, "flows": flows, "message": message})
        elif not any(h["active"] for h in role["holders"]):
            message = _("Nobody active holds the business role %(key)s.", key=key)
            problems.append({"kind": "role", "key": key, "flows": flows, "message": message})
    user_names = _user_choices(db)
    for key, flows in used["users"].items():
        if key not in users_known:
            message = _("There is no person with the username %(name)s.", name=repr(key))
            message += _hint(key, user_names)
        elif not users_known[key]:
            message = _("%(name)s is deactivated.", name=key)
        else:
            continue
        problems.append({"kind": "user", "key": key, "flows": flows, "message": message})
    dept_names = _department_choices(db)
    for key, flows in used["departments"].items():
        if key not in depts_known:
            message = _("There is no department %(key)s.", key=repr(key)) + _hint(key, dept_names)
            problems.append({"kind": "department", "key": key, "flows": flows, "message": message})
    return sorted(problems, key=lambda p: (p["kind"], p["key"]))
