"""The organisation synced from a connected chat app: its departments, people and managers
read from the platform's address book, compared with OrderFlow's as a dry run (added, moved,
manager changed, deactivated), then applied through the organisation's CSV import
(``app.org.csvio``) and the deactivation hand-over (``app.approvals.handover``).

A person's manager is their direct leader on the platform, else the leader of their
department (of its parent for the leader themself). Platform people are matched to OrderFlow users by the id saved on the user (``feishu_id``,
``wecom_id``, ``dingtalk_id``), else by mobile number or email address: one match is linked
on apply, several are listed for the admin to pick from and left out until then, none makes
a new person. People whose id is saved and who left the address book are deactivated, their
open tasks handed over. Departments get the key ``<platform>_<id>``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..approvals.handover import set_active
from ..db import get_db
from ..errors import NotFoundError, ValidationError
from ..models import ChatApp, Department, User
from ..org import csvio
from ..users.services import USERNAME_RE
from . import contacts_dingtalk, contacts_feishu, contacts_wecom, services
from .contacts import Directory, Person, Tokens

log = logging.getLogger(__name__)

READERS = {m.NAME: m for m in (contacts_feishu, contacts_wecom, contacts_dingtalk)}
KEY_LENGTH = 64


@dataclass(frozen=True)
class Match:
    """How one platform person maps to OrderFlow: ``linked`` (their id is saved),
    ``matched`` (one user by mobile or email), ``ambiguous`` (several) or ``new``."""

    person: Person
    status: str
    username: str | None = None
    candidates: tuple[str, ...] = ()


@dataclass
class SyncPlan:
    """What a sync would do; :func:`apply` writes it."""

    platform: str
    plan: csvio.Plan
    matches: list[Match] = field(default_factory=list)
    deactivate: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)  # username -> platform id
    contacts: dict[str, dict[str, str]] = field(default_factory=dict)  # new: email, phone
    dept_names: dict[str, str] = field(default_factory=dict)  # key -> name, for the lines
    calls: int = 0

    @property
    def review(self) -> list[Match]:
        return [m for m in self.matches if m.status in ("ambiguous", "new")]

    def counts(self) -> dict[str, int]:
        """The changes by kind: the figures a page shows and the schedule keeps."""
        people = self.plan.people
        added = self.created()
        return {
            "departments_added": len(self.plan.new_departments),
            "departments_changed": len(self.plan.department_changes),
            "added": len(added),
            "moved": sum(1 for u, c in people.items() if "department" in c and u not in added),
            "manager_changed": sum(1 for u, c in people.items() if "manager" in c and u not in added),
            "renamed": sum(1 for u, c in people.items() if "display_name" in c and u not in added),
            "deactivated": len(self.deactivate),
            "linked": sum(1 for m in self.matches if m.status == "matched"),
            "review": sum(1 for m in self.matches if m.status == "ambiguous"),
        }  # fmt: skip

    def created(self) -> set[str]:
        """The usernames of the people this sync adds."""
        return {line["username"] for line in self.plan.lines
                if line["status"] == "created" and line["username"]}  # fmt: skip

    @property
    def changed(self) -> bool:
        return self.plan.changed or bool(self.links) or bool(self.deactivate)


def reader(platform: str) -> Any:
    """The contacts reader of ``platform``; refuses an unknown one."""
    module = READERS.get(platform)
    if module is None:
        raise ValidationError(
            _l(
                "Unknown chat platform %(name)s: use one of %(known)s, e.g. feishu.",
                name=platform,
                known=", ".join(READERS),
            ),
            fields={"platform": "unknown"},
        )
    return module


def connected_app(db: Session, platform: str) -> ChatApp:
    """The connected, enabled app of ``platform``."""
    reader(platform)
    row = services.connected(db, platform)
    if row is None or not row.enabled:
        raise NotFoundError(
            _l(
                "No %(platform)s app is connected: connect one under Chat apps first.",
                platform=platform,
            )
        )
    return row


def read(platform: str) -> Directory:
    """The address book of the connected app of ``platform``, read now. Reads the app in a
    session of its own: saving a new token must not wait for a caller's transaction."""
    module = reader(platform)
    database = get_db()
    with database.session() as db:
        row = connected_app(db, platform)
        app_pk, base_url = row.id, row.base_url
        app_id, settings = row.app_id, services.secrets_of(row)
    base_url = getattr(module, "contacts_base", lambda url: url)(base_url)
    own_token = getattr(module, "fetch_token", None)
    if own_token is None:  # the token the cards are sent with reads the address book too
        tokens = Tokens(lambda fresh: services.token(database, app_pk, fresh=fresh))
    else:  # an address book behind another API than the cards: a token of its own
        secret = settings.get(module.CREDENTIAL, "")
        tokens = Tokens(lambda _fresh: own_token(base_url, app_id, secret)[0])
    return module.read(base_url, tokens)


def dept_key(platform: str, dept_id: str) -> str:
    """The organisation's key of a platform department, e.g. ``wecom_2`` or ``feishu_od_1a``."""
    return f"{platform}_{re.sub(r'[^a-z0-9_]', '_', dept_id.lower())}"[:KEY_LENGTH]


def mobile_of(text: str | None) -> str:
    """A mobile number as digits without the +86 / 0086 country code, spaces or dashes."""
    digits = re.sub(r"\D", "", text or "")
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            return digits[len(prefix) :]
    return digits


def email_of(text: str | None) -> str:
    return (text or "").strip().lower()


def _match(users: list[User], user_field: str, directory: Directory) -> list[Match]:
    by_id = {getattr(u, user_field): u for u in users if getattr(u, user_field)}
    by_contact: dict[str, set[str]] = {}  # "m:<mobile>" / "e:<email>" -> usernames
    for u in users:
        if getattr(u, user_field):
            continue
        for key in (f"m:{mobile_of(u.phone)}", f"e:{email_of(u.email)}"):
            if len(key) > 2:
                by_contact.setdefault(key, set()).add(u.username)
    out: list[Match] = []
    for person in directory.people.values():
        user = by_id.get(person.id)
        if user is not None:
            out.append(Match(person, "linked", user.username))
            continue
        mobile, email = mobile_of(person.mobile), email_of(person.email)
        found = sorted(
            (by_contact.get(f"m:{mobile}", set()) if mobile else set())
            | (by_contact.get(f"e:{email}", set()) if email else set())
        )
        if len(found) == 1:
            out.append(Match(person, "matched", found[0]))
        elif found:
            out.append(Match(person, "ambiguous", None, tuple(found)))
        else:
            out.append(Match(person, "new"))
    claimed: dict[str, int] = {}
    for m in out:
        if m.status == "matched":
            claimed[m.username or ""] = claimed.get(m.username or "", 0) + 1
    # a user matched by two platform people is a choice for the admin, not a guess
    return [Match(m.person, "ambiguous", None, (m.username or "",))
            if m.status == "matched" and claimed[m.username or ""] > 1 else m for m in out]  # fmt: skip


def _new_username(person: Person, platform: str, taken: set[str]) -> str:
    local = email_of(person.email).partition("@")[0]
    for name in (local, person.id, f"{platform}.{person.id}"[:64]):
        if name and USERNAME_RE.match(name) and name not in taken:
            return name
    n = 1
    while f"{platform}.{n}" in taken:
        n += 1
    return f"{platform}.{n}"


def plan(db: Session, platform: str, directory: Directory) -> SyncPlan:
    """Compare ``directory`` with the organisation; changes nothing. Refuses (with each
    problem) what the organisation would not accept, e.g. a manager loop."""
    module = reader(platform)
    if not directory.people:
        raise ValidationError(
            _l(
                "The %(platform)s address book lists nobody: check that the app's contact range "
                "(通讯录权限范围 / 可见范围) covers the company, e.g. the whole organisation.",
                platform=platform,
            ),
            fields={"platform": "empty"},
        )
    user_field = module.USER_FIELD
    users = list(db.scalars(select(User).order_by(User.username)))
    by_name = {u.username: u for u in users}
    depts = {d.key: d for d in db.scalars(select(Department))}
    result = SyncPlan(platform, csvio.Plan(), calls=directory.calls)
    result.matches = _match(users, user_field, directory)

    departments: dict[str, dict[str, Any]] = {}
    for dept in directory.depts.values():
        key = dept_key(platform, dept.id)
        known = depts.get(key)
        result.dept_names[key] = dept.name
        departments[key] = {
            "name_zh": dept.name[:128],
            "name_en": known.name_en if known is not None else "",
            "parent": dept_key(platform, dept.parent) if dept.parent in directory.depts else None,
        }

    taken = set(by_name)
    usernames: dict[str, str] = {}  # platform id -> username
    for m in result.matches:
        if m.status in ("linked", "matched"):
            usernames[m.person.id] = m.username or ""
        elif m.status == "new":
            usernames[m.person.id] = name = _new_username(m.person, platform, taken)
            taken.add(name)
            result.contacts[name] = {"email": m.person.email, "phone": m.person.mobile}
        if m.status in ("matched", "new"):
            result.links[usernames[m.person.id]] = m.person.id

    rows: list[tuple[int, dict[str, str]]] = []
    for m in result.matches:
        if m.person.id not in usernames:
            continue
        username = usernames[m.person.id]
        row = {"username": username, "display_name": m.person.name[:128],
               "department": dept_key(platform, m.person.dept) if m.person.dept else ""}  # fmt: skip
        leader = m.person.leader or directory.heads.get(m.person.dept or "")
        if leader == m.person.id:  # the head of their own department: its parent's head
            parent = directory.depts[m.person.dept or ""].parent if m.person.dept else None
            leader = directory.heads.get(parent or "")
        if leader in usernames:
            row["manager"] = usernames[leader]
        elif not leader:
            row["manager"] = ""
        rows.append((len(rows) + 1, row))
    for user in users:
        gone = getattr(user, user_field) and getattr(user, user_field) not in directory.people
        if gone and user.is_active:
            result.deactivate.append(user.username)
            rows.append((len(rows) + 1, {"username": user.username, "active": "0"}))
    result.plan = csvio.plan_rows(db, rows, departments)
    if result.plan.errors:
        problems = csvio.refusal(result.plan).details
        raise ValidationError(
            _l(
                "The %(platform)s address book was not synced: %(n)d problems, listed below. "
                "Nothing was changed; correct them on the platform, e.g. a manager loop.",
                platform=platform,
                n=len(result.plan.errors),
            ),  # fmt: skip
            code="invalid_address_book",
            details=problems,
        )
    return result


def apply(db: Session, result: SyncPlan, actor: User | None = None) -> dict[str, int]:
    """Write ``result`` and commit, all in one transaction: departments and people through the
    CSV import, then each deactivation with its tasks handed over (a failure anywhere leaves
    the organisation as it was). The figures written, with ``handed_over``."""
    counts = result.counts()
    user_field = READERS[result.platform].USER_FIELD
    for changes in result.plan.people.values():
        changes.pop("active", None)  # deactivation goes through the hand-over below
    csvio.apply(db, result.plan, actor or f"{result.platform} sync")
    users = {u.username: u for u in db.scalars(select(User))}
    for username, person_id in result.links.items():
        user = users[username]
        setattr(user, user_field, person_id)
        contact = result.contacts.get(username)
        if contact:
            user.email = user.email or contact["email"] or None
            user.phone = user.phone or contact["phone"] or None
    db.flush()
    handed = 0
    for username in result.deactivate:
        handed += len(set_active(db, actor, users[username], False))
    db.commit()
    log.info("organisation synced from %s: %s", result.platform, counts)
    return counts | {"handed_over": handed}


def lines(result: SyncPlan) -> list[dict[str, str]]:
    """The dry run in business words, one line per change: (kind, text)."""
    plan_, out = result.plan, []
    for key, desc in plan_.new_departments.items():
        out.append({"kind": "added", "text": _("New department %(name)s (%(key)s)",
                                               name=desc["name_zh"], key=key)})  # fmt: skip
    for key, changes in plan_.department_changes.items():
        if "parent" in changes:
            parent = result.dept_names.get(changes["parent"], changes["parent"]) or "—"
            out.append({"kind": "moved", "text": _("Department %(name)s moves under %(parent)s",
                        name=result.dept_names.get(key, key), parent=parent)})  # fmt: skip
        if "name_zh" in changes:
            out.append({"kind": "renamed", "text": _("Department %(key)s is renamed %(name)s",
                        key=key, name=changes["name_zh"])})  # fmt: skip
    created = result.created()
    for username, changes in plan_.people.items():
        if username in result.deactivate:
            continue
        detail = "; ".join(_change_text(c, result.dept_names.get(v, v) if c == "department"
                                        else v) for c, v in changes.items() if c != "active")  # fmt: skip
        if username in created:
            out.append({"kind": "added", "text": _("New person %(name)s: %(detail)s",
                                                   name=username, detail=detail)})  # fmt: skip
        elif "department" in changes:
            out.append({"kind": "moved", "text": _("%(name)s moves: %(detail)s",
                                                   name=username, detail=detail)})  # fmt: skip
        else:
            out.append({"kind": "changed", "text": _("%(name)s: %(detail)s", name=username,
                                                     detail=detail)})  # fmt: skip
    for username in result.deactivate:
        out.append({"kind": "deactivated", "text": _(
            "%(name)s left the address book: deactivated, open tasks handed over",
            name=username)})  # fmt: skip
    created = result.created()
    for username, person_id in result.links.items():
        if username not in created:
            out.append({"kind": "linked", "text": _(
                "%(name)s is linked to %(id)s (same mobile number or email)",
                name=username, id=person_id)})  # fmt: skip
    return out


def _change_text(column: str, value: Any) -> str:
    label = {"department": _("department"), "manager": _("manager"),
             "display_name": _("name")}.get(column, column)  # fmt: skip
    return f"{label} → {value if value not in (None, '') else '—'}"


def link(db: Session, platform: str, person_id: str, username: str) -> User:
    """Save ``person_id`` as ``username``'s id on ``platform`` (the admin's pick). No commit."""
    user_field = reader(platform).USER_FIELD
    person_id = person_id.strip()
    user = db.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise ValidationError(_l("There is no person with the username %(name)s.", name=username),
                              fields={"username": "unknown"})  # fmt: skip
    if not person_id:
        raise ValidationError(_l("Give the person's id on the platform, e.g. ou_7d8a6e6d."),
                              fields={"person": "required"})  # fmt: skip
    holder = db.scalars(select(User).where(getattr(User, user_field) == person_id)).first()
    if holder is not None and holder.id != user.id:
        raise ValidationError(
            _l(
                "%(id)s is linked to %(other)s already; unlink it there first.",
                id=person_id,
                other=holder.username,
            ),
            fields={"person": "taken"},
        )
    setattr(user, user_field, person_id)
    db.flush()
    return user


def summary(counts: Mapping[str, int]) -> str:
    """The figures of a sync in business words."""
    return _(
        "%(added)d added, %(moved)d moved, %(deactivated)d deactivated, %(manager)d manager "
        "changes, %(depts)d new departments, %(review)d to review",
        added=counts.get("added", 0),
        moved=counts.get("moved", 0),
        deactivated=counts.get("deactivated", 0),
        manager=counts.get("manager_changed", 0),
        depts=counts.get("departments_added", 0),
        review=counts.get("review", 0),
    )
