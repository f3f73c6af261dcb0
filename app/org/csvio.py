"""The organisation as one CSV file of people, for import (with a dry run) and export.

One row per person::

    username,display_name,department,department_zh,department_en,parent_department,manager,roles,active
    li.na,李娜,finance,财务部,Finance,,wang.min,finance;warehouse_lead@SH-01,1

- ``department`` is the person's department key (empty: none). A row that also gives
  ``department_zh`` describes that department: it is created when missing, and its names
  and ``parent_department`` (empty: top level) are set; rows that only give the key leave
  the department as it is. Rows describing one department must agree.
- ``manager`` is a username (in the database or in the file; empty: none).
- ``roles`` lists business roles held, ``role`` or ``role@scope`` separated by ``;``; the
  list replaces what the person held (empty: none).
- ``active`` is 1 or 0 (also yes/no, true/false, 是/否; empty: unchanged, new people active).

:func:`plan_rows` takes rows already read (the organisation synced from a chat app), with
the departments described apart; a column missing from such a row (display_name,
department, manager, roles, active) leaves that field as it is.

People not in the database are created with the access role ``approver`` and no usable
password (set one with ``orderflow user set-password``). A file with any problem is refused
as a whole, every problem listed with its row and column; nothing is changed.
``export`` writes a file that imports back as "no changes".
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import pgettext
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..errors import ValidationError
from ..i18n import current_language
from ..models import BusinessRole, Department, ReferenceRow, ReferenceTable, Role, RoleHolder, User
from ..security import hash_password
from ..users.services import USERNAME_RE
from .accepted import KEY_RE, MAX_NAME, hint, key_message, manager_message, scope_message, sep

log = logging.getLogger(__name__)

HEADER = (
    "username", "display_name", "department", "department_zh", "department_en",
    "parent_department", "manager", "roles", "active",
)  # fmt: skip
NEW_PERSON_ROLE = "approver"
MAX_ROWS = 20_000
TRUE = {"1", "true", "yes", "y", "是", "在职"}
FALSE = {"0", "false", "no", "n", "否", "离职", "停用"}


@dataclass
class Plan:
    """What an import would do. ``lines`` say it for people (one per row, with each
    changed field); ``errors`` (row, column, message) refuse the whole file."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"created": 0, "updated": 0,
                                                             "unchanged": 0})  # fmt: skip
    # what apply() writes
    new_departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    department_changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    people: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.new_departments or self.department_changes
                    or self.counts["created"] or self.counts["updated"])  # fmt: skip

    def refuse(self, row: int, column: str, message: str) -> None:
        self.errors.append({"row": row, "column": column, "message": message})


def _label(column: str) -> str:
    return {
        "display_name": _("display name"),
        "department": _("department"),
        "manager": _("manager"),
        "roles": _("business roles"),
        "active": pgettext("person", "active"),
        "name_zh": _("Chinese name"),
        "name_en": _("English name"),
        "parent": _("parent department"),
    }.get(column, column)


def _shown(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return "; ".join(value)
    return str(value)


# -- export ------------------------------------------------------------------------------


def export(db: Session) -> str:
    """Every person as a CSV row (UTF-8 text, the header first)."""
    depts = {d.id: d for d in db.scalars(select(Department))}
    names = dict(db.execute(select(User.id, User.username)).all())
    held: dict[int, list[str]] = {}
    for user_id, key, scope in db.execute(
        select(RoleHolder.user_id, BusinessRole.key, RoleHolder.scope)
        .join(BusinessRole, RoleHolder.role_id == BusinessRole.id)
        .order_by(BusinessRole.key, RoleHolder.scope)
    ):
        held.setdefault(user_id, []).append(f"{key}@{scope}" if scope else key)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for u in db.scalars(select(User).order_by(User.username)):
        dept = depts.get(u.department_id) if u.department_id else None
        parent = depts.get(dept.parent_id) if dept and dept.parent_id else None
        writer.writerow([
            u.username,
            u.display_name or "",
            dept.key if dept else "",
            dept.name_zh if dept else "",
            dept.name_en if dept else "",
            parent.key if parent else "",
            names.get(u.manager_id, "") if u.manager_id else "",
            ";".join(held.get(u.id, [])),
            "1" if u.is_active else "0",
        ])  # fmt: skip
    return out.getvalue()


# -- import ------------------------------------------------------------------------------


def decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValidationError(
            _(
                'The file is not UTF-8 text (byte %(at)d). Save it as "CSV UTF-8" and try again.',
                at=err.start + 1,
            ),
            details=[{"row": 0, "column": "", "message": "utf-8"}],
        ) from None


def plan(db: Session, data: bytes | str) -> Plan:
    """Read the file and compare it with the database; changes nothing."""
    result = Plan()
    reader = csv.reader(io.StringIO(decode(data)))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as err:
        result.refuse(1, "", str(err))
        return result
    missing = [h for h in HEADER if h not in header]
    unknown = [h for h in header if h not in HEADER]
    if missing or unknown or len(set(header)) != len(header):
        result.refuse(
            1,
            ", ".join(missing + unknown),
            _(
                "The header must name these columns (in any order): %(columns)s. Missing: "
                "%(missing)s; not known: %(unknown)s.",
                columns=",".join(HEADER),
                missing=", ".join(missing) or "—",
                unknown=", ".join(unknown) or "—",
            ),
        )
        return result
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            line = reader.line_num
            if len(values) != len(header):
                result.refuse(line, "", _("The row has %(got)d columns; the header has %(want)d.",
                                          got=len(values), want=len(header)))  # fmt: skip
                continue
            rows.append((line, {h: v.strip() for h, v in zip(header, values, strict=True)}))
            if len(rows) > MAX_ROWS:
                result.refuse(line, "", _("A file has at most %(n)d people.", n=MAX_ROWS))
                return result
    except csv.Error as err:
        result.refuse(reader.line_num, "", str(err))
        return result
    _Planner(db, result).run(rows)
    return result


def plan_rows(
    db: Session,
    rows: list[tuple[int, dict[str, str]]],
    departments: dict[str, dict[str, Any]] | None = None,
) -> Plan:
    """Compare rows already read, (row number, column -> text), and departments (key ->
    name_zh, name_en, parent key or None) with the database; changes nothing. A column
    missing from a row leaves that field as it is."""
    result = Plan()
    _Planner(db, result).run(rows, {k: (0, d) for k, d in (departments or {}).items()})
    return result


class _Planner:
    def __init__(self, db: Session, result: Plan) -> None:
        self.db, self.result = db, result
        self.depts = {d.key: d for d in db.scalars(select(Department))}
        self.dept_by_id = {d.id: d.key for d in self.depts.values()}
        self.users = {u.username: u for u in db.scalars(select(User))}
        self.user_by_id = {u.id: u.username for u in self.users.values()}
        self.roles = {r.key: r for r in db.scalars(select(BusinessRole))}
        self.role_names = {k: (r.name_zh, r.name_en) for k, r in self.roles.items()}
        self.held: dict[int, list[str]] = {}
        for user_id, key, scope in db.execute(
            select(RoleHolder.user_id, BusinessRole.key, RoleHolder.scope)
            .join(BusinessRole, RoleHolder.role_id == BusinessRole.id)
            .order_by(BusinessRole.key, RoleHolder.scope)
        ):
            self.held.setdefault(user_id, []).append(f"{key}@{scope}" if scope else key)
        self.scopes: dict[str, list[str]] = {}
        tables = {r.scope_table for r in self.roles.values() if r.scope_table}
        for table, key in db.execute(
            select(ReferenceTable.name, ReferenceRow.key)
            .join(ReferenceRow, ReferenceRow.table_id == ReferenceTable.id)
            .where(ReferenceTable.name.in_(tables))
            .order_by(ReferenceRow.key)
        ):
            self.scopes.setdefault(table, []).append(key)

    def refuse(self, row: int, column: str, message: str) -> None:
        self.result.refuse(row, column, message)

    def run(self, rows: list[tuple[int, dict[str, str]]],
            described: dict[str, tuple[int, dict[str, Any]]] | None = None) -> None:  # fmt: skip
        seen: dict[str, int] = {}
        described = dict(described or {})
        wanted: dict[str, dict[str, Any]] = {}
        for line, row in rows:
            username = row["username"]
            if not USERNAME_RE.match(username):
                self.refuse(line, "username", _(
                    "%(name)s is not a username: use 2 to 64 letters, digits, dots, dashes or "
                    "underscores, for example li.na.", name=repr(username)))  # fmt: skip
                continue
            if username in seen:
                self.refuse(line, "username", _(
                    "%(name)s is on row %(first)d already; give each person one row.",
                    name=username, first=seen[username]))  # fmt: skip
                continue
            seen[username] = line
            wanted[username] = {"row": line, **self._person(line, row)}
            self._department(line, row, described)
        known_depts = set(self.depts) | set(described)
        for want in wanted.values():
            dept = want.get("department")
            if dept and dept not in known_depts:
                self.refuse(want["row"], "department", _(
                    "There is no department %(key)s. Give its Chinese name in department_zh "
                    "to create it, or use an existing key.", key=repr(dept))
                    + hint(dept, {k: (d.name_zh, d.name_en) for k, d in self.depts.items()}))  # fmt: skip
        for key, (line, desc) in described.items():
            parent = desc["parent"]
            if parent and parent not in known_depts:
                close = hint(parent, {k: (d.name_zh, d.name_en) for k, d in self.depts.items()})
                self.refuse(line, "parent_department", _(
                    "There is no department %(key)s to be the parent of %(dept)s.",
                    key=repr(parent), dept=key) + close)  # fmt: skip
        self._check_tree(described)
        self._check_managers(wanted)
        if self.result.errors:
            return
        self._compare_departments(described)
        for username, want in wanted.items():
            self._compare_person(username, want)

    def _person(self, line: int, row: dict[str, str]) -> dict[str, Any]:
        want: dict[str, Any] = {}
        name = row.get("display_name", "")
        if len(name) > MAX_NAME:
            self.refuse(line, "display_name", _("A name has at most %(n)d characters.", n=MAX_NAME))
        if name:
            want["display_name"] = name
        dept = row.get("department", "")
        problem = key_message(dept, "finance") if dept else None
        if problem:
            self.refuse(line, "department", problem)
        if "department" in row:
            want["department"] = dept or None
        if "manager" in row:
            want["manager"] = row["manager"] or None
        active = row.get("active", "").lower()
        if active in TRUE:
            want["active"] = True
        elif active in FALSE:
            want["active"] = False
        elif active:
            self.refuse(line, "active", _(
                "%(value)s is not accepted for active: write 1 (active) or 0 (deactivated).",
                value=repr(row["active"])))  # fmt: skip
        if "roles" in row:
            want["roles"] = self._roles(line, row["roles"])
        return want

    def _roles(self, line: int, text: str) -> list[str]:
        out: list[str] = []
        for item in (p.strip() for p in text.replace("；", ";").split(";")):
            if not item:
                continue
            key, _at, scope = item.partition("@")
            key, scope = key.strip(), scope.strip()
            role = self.roles.get(key)
            if role is None:
                if not KEY_RE.match(key):
                    message = _(
                        "%(role)s is not a business role key: use a lowercase letter, then "
                        "lowercase letters, digits or underscores, as role or role@scope, for "
                        "example finance;warehouse_lead@SH-01.", role=repr(key))  # fmt: skip
                else:
                    message = _("There is no business role %(key)s.", key=repr(key))
                self.refuse(line, "roles", message + hint(key, self.role_names))
                continue
            keys = self.scopes.get(role.scope_table, []) if role.scope_table else []
            problem = scope_message(key, role.scope_table, scope, keys)
            if problem:
                self.refuse(line, "roles", problem)
                continue
            entry = f"{key}@{scope}" if scope else key
            if entry not in out:
                out.append(entry)
        return sorted(out)

    def _department(self, line: int, row: dict[str, str],
                    described: dict[str, tuple[int, dict[str, Any]]]) -> None:  # fmt: skip
        if "department_zh" not in row:  # rows read with their departments apart
            return
        key = row["department"]
        if not key or not KEY_RE.match(key):
            if row["department_zh"] or row["department_en"] or row["parent_department"]:
                if not key:
                    self.refuse(line, "department", _(
                        "department_zh, department_en and parent_department describe the "
                        "row's department: give its key in department too, for example "
                        "finance."))  # fmt: skip
            return
        if not row["department_zh"]:
            if row["department_en"] or row["parent_department"]:
                self.refuse(
                    line,
                    "department_zh",
                    _("The Chinese name is required, for example 财务部 (Finance)."),
                )
            return
        for column in ("department_zh", "department_en"):
            if len(row[column]) > MAX_NAME:
                self.refuse(line, column, _("A name has at most %(n)d characters.", n=MAX_NAME))
        desc = {"name_zh": row["department_zh"], "name_en": row["department_en"],
                "parent": row["parent_department"] or None}  # fmt: skip
        if desc["parent"] == key:
            self.refuse(line, "parent_department", _(
                "%(parent)s cannot be the parent of %(key)s: it is %(key)s itself or one of its "
                "sub-departments, which would make a cycle. Choose a department outside "
                "%(key)s, or none for a top-level department.", parent=key, key=key))  # fmt: skip
        if key in described:
            first, before = described[key]
            for column, name in (("name_zh", "department_zh"), ("name_en", "department_en"),
                                 ("parent", "parent_department")):  # fmt: skip
                if before[column] != desc[column]:
                    self.refuse(line, name, _(
                        "Row %(first)d gives department %(key)s the %(column)s %(before)s, this "
                        "row %(after)s; make them the same.", first=first, key=key,
                        column=name, before=_shown(before[column]), after=_shown(desc[column])))  # fmt: skip
            return
        described[key] = (line, desc)

    def _check_tree(self, described: dict[str, tuple[int, dict[str, Any]]]) -> None:
        parents: dict[str, str | None] = {}
        for key, d in self.depts.items():
            parents[key] = self.dept_by_id.get(d.parent_id) if d.parent_id else None
        for key, (_line, desc) in described.items():
            parents[key] = desc["parent"]
        for key, (line, _desc) in described.items():
            seen, at = [key], parents.get(key)
            while at is not None:
                if at == key:
                    self.refuse(line, "parent_department", _(
                        "The parent departments go round in a circle (%(loop)s); choose a "
                        "parent outside %(key)s.", loop=" → ".join([*seen, key]), key=key))  # fmt: skip
                    break
                if at in seen:
                    break
                seen.append(at)
                at = parents.get(at)

    def _check_managers(self, wanted: dict[str, dict[str, Any]]) -> None:
        managers: dict[str, str | None] = {
            name: self.user_by_id.get(u.manager_id) if u.manager_id else None
            for name, u in self.users.items()
        }
        active = {name: u.is_active for name, u in self.users.items()}
        for name, want in wanted.items():
            managers[name] = want.get("manager", managers.get(name))
            active[name] = want.get("active", active.get(name, True))
        people = {n: (u.display_name,) for n, u in self.users.items()}
        for name, want in wanted.items():
            manager = want.get("manager")
            if not manager:
                continue
            if manager not in active:
                self.refuse(want["row"], "manager", _(
                    "There is no person with the username %(name)s.", name=repr(manager))
                    + hint(manager, people) + sep() + _(
                    "Give the username of a person in the database or in this file."))  # fmt: skip
                continue
            problem = manager_message(name, manager, active[manager], managers)
            if problem:
                self.refuse(want["row"], "manager", problem)

    def _compare_departments(self, described: dict[str, tuple[int, dict[str, Any]]]) -> None:
        for key, (line, desc) in described.items():
            dept = self.depts.get(key)
            if dept is None:
                self.result.new_departments[key] = desc
                self.result.lines.append({"row": line, "username": "", "status": "created",
                                          "changes": [_(
                    "Row %(row)d: new department %(key)s (%(name)s)", row=line, key=key,
                    name=desc["name_zh"])]})  # fmt: skip
                continue
            now = {"name_zh": dept.name_zh, "name_en": dept.name_en,
                   "parent": self.dept_by_id.get(dept.parent_id) if dept.parent_id else None}  # fmt: skip
            changes = {c: desc[c] for c in desc if desc[c] != now[c]}
            if changes:
                self.result.department_changes[key] = changes
                self.result.lines.append({"row": line, "username": "", "status": "updated",
                                          "changes": [_(
                    "Row %(row)d: department %(key)s: %(field)s %(old)s → %(new)s", row=line,
                    key=key, field=_label(c), old=_shown(now[c]), new=_shown(v))
                    for c, v in changes.items()]})  # fmt: skip

    def _dept_name(self, key: str | None) -> str:
        """The department's name in the reader's language."""
        if not key:
            return "—"
        en = current_language() == "en"
        dept = self.depts.get(key)
        if dept is not None:
            return (dept.name_en if en else "") or dept.name_zh or key
        desc = self.result.new_departments.get(key) or {}
        return (desc.get("name_en") if en else "") or desc.get("name_zh") or key

    def _compare_person(self, username: str, want: dict[str, Any]) -> None:
        line = want["row"]
        user = self.users.get(username)
        if user is None:
            now: dict[str, Any] = {"display_name": None, "department": None, "manager": None,
                                   "roles": [], "active": None}  # fmt: skip
            want.setdefault("active", True)
            want.setdefault("display_name", username)
        else:
            now = {
                "display_name": user.display_name or "",
                "department": self.dept_by_id.get(user.department_id)
                if user.department_id
                else None,
                "manager": self.user_by_id.get(user.manager_id) if user.manager_id else None,
                "roles": sorted(self.held.get(user.id, [])),
                "active": user.is_active,
            }
        changes = {c: want[c] for c in now if c in want and want[c] != now[c]}
        texts = []
        for column, value in changes.items():
            old, new = now[column], value
            if column == "department":
                old, new = self._dept_name(old), self._dept_name(new)
            texts.append(_("Row %(row)d %(name)s: %(field)s %(old)s → %(new)s", row=line,
                           name=username, field=_label(column), old=_shown(old),
                           new=_shown(new)))  # fmt: skip
        if user is None:
            status = "created"
            texts.insert(0, _("Row %(row)d %(name)s: new person", row=line, name=username))
        elif changes:
            status = "updated"
        else:
            status = "unchanged"
            texts = [_("Row %(row)d %(name)s: no change", row=line, name=username)]
        self.result.counts[status] += 1
        self.result.lines.append({"row": line, "username": username, "status": status,
                                  "changes": texts})  # fmt: skip
        if status != "unchanged":
            self.result.people[username] = changes


def refusal(result: Plan) -> ValidationError:
    """The error refusing a file with problems: each one with its row and column."""
    return ValidationError(
        _("The file was not imported: %(n)d problems, listed with their rows. Nothing was "
          "changed.", n=len(result.errors)),
        code="invalid_file",
        details=[{"path": f"/rows/{e['row']}/{e['column']}", **e}
                 for e in sorted(result.errors, key=lambda e: e["row"])],
    )  # fmt: skip


def apply(db: Session, result: Plan, actor: User | str | None = None) -> Plan:
    """Write a plan without errors. No commit."""
    if result.errors:
        raise refusal(result)
    depts = {d.key: d for d in db.scalars(select(Department))}
    for key, desc in result.new_departments.items():
        depts[key] = Department(key=key, name_zh=desc["name_zh"], name_en=desc["name_en"])
        db.add(depts[key])
    db.flush()
    for key, desc in result.new_departments.items():
        if desc["parent"]:
            depts[key].parent_id = depts[desc["parent"]].id
    for key, changes in result.department_changes.items():
        dept = depts[key]
        for column, value in changes.items():
            if column == "parent":
                dept.parent_id = depts[value].id if value else None
            else:
                setattr(dept, column, value)
    users = {u.username: u for u in db.scalars(select(User))}
    new_role = db.scalars(select(Role).where(Role.name == NEW_PERSON_ROLE)).one()
    # New people get no usable password: the hash of a random secret nobody keeps. One hash
    # serves them all (hashing is slow on purpose: a thousand would take minutes).
    unusable = hash_password(secrets.token_urlsafe(24))
    for username in result.people:
        if username not in users:
            users[username] = User(username=username, display_name=username,
                                    password_hash=unusable, roles=[new_role])  # fmt: skip
            db.add(users[username])
    db.flush()
    roles = {r.key: r for r in db.scalars(select(BusinessRole))}
    for username, changes in result.people.items():
        user = users[username]
        for column, value in changes.items():
            if column == "display_name":
                user.display_name = value
            elif column == "department":
                user.department_id = depts[value].id if value else None
            elif column == "manager":
                user.manager_id = users[value].id if value else None
            elif column == "active":
                user.is_active = value
                if not value:
                    user.session_version += 1  # signed out, as the users page does
            elif column == "roles":
                db.execute(delete(RoleHolder).where(RoleHolder.user_id == user.id))
                for entry in value:
                    key, _at, scope = entry.partition("@")
                    db.add(RoleHolder(role_id=roles[key].id, user_id=user.id, scope=scope))
    db.flush()
    log.info("organisation imported by %s: %s", actor if isinstance(actor, str) or actor is None
             else actor.username, result.counts)  # fmt: skip
    return result
