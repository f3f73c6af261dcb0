"""The organisation: departments, business roles and their holders, people's department and
manager (``org:read``, ``org:write``). The same checks and messages as the admin pages
(``app.org.services``)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_babel import lazy_gettext as _l

from ..db import get_session
from ..errors import ValidationError
from ..org import services as org
from ..org.rules import MAX_SCOPE
from ..security import api_key_required
from ._blueprint import bp
from ._http import actor_name, json_body, reply, str_param, transact

TEXT = "text"
OPTIONAL_KEY = "key?"


def _fields(doc: dict[str, Any], allowed: dict[str, str], required: tuple[str, ...] = ()
            ) -> dict[str, Any]:  # fmt: skip
    """The body's fields, each checked for its kind: ``text`` (a string) or ``key?`` (a
    string or null). Unknown and missing fields are refused with their paths."""
    problems = []
    for name in doc:
        if name not in allowed:
            problems.append({"path": f"/{name}", "rule": "additionalProperties",
                             "message": str(_l("%(name)s is not a field of this body; fields: "
                                               "%(fields)s.", name=name,
                                               fields=", ".join(allowed)))})  # fmt: skip
    for name in required:
        if name not in doc:
            problems.append({"path": f"/{name}", "rule": "required",
                             "message": str(_l("%(name)s is required.", name=name))})  # fmt: skip
    for name, kind in allowed.items():
        if name not in doc:
            continue
        value = doc[name]
        ok = isinstance(value, str) or (kind == OPTIONAL_KEY and value is None)
        if not ok:
            wanted = _l("a text or null") if kind == OPTIONAL_KEY else _l("a text")
            problems.append({"path": f"/{name}", "rule": "type",
                             "message": str(_l("%(name)s must be %(kind)s.", name=name,
                                               kind=wanted))})  # fmt: skip
    if problems:
        raise ValidationError(problems[0]["message"], code="invalid_body", details=problems)
    return {name: doc[name] for name in allowed if name in doc}


# -- departments ---------------------------------------------------------------------

DEPARTMENT_FIELDS = {"name_zh": TEXT, "name_en": TEXT, "parent": OPTIONAL_KEY,
                     "head": OPTIONAL_KEY}  # fmt: skip


@bp.get("/org/departments")
@api_key_required("org:read")
def list_departments() -> Response:
    return reply({"items": org.departments(get_session())})


@bp.post("/org/departments")
@api_key_required("org:write")
def create_department() -> Response:
    fields = _fields(json_body(), {"key": TEXT, **DEPARTMENT_FIELDS}, ("key", "name_zh"))
    actor = actor_name()

    def work(db: Any) -> dict[str, Any]:
        return org.department_json(db, org.create_department(db, actor, **fields))

    return reply(transact(work), 201)


@bp.get("/org/departments/<key>")
@api_key_required("org:read")
def get_department(key: str) -> Response:
    db = get_session()
    return reply(org.department_json(db, org.find_department(db, key, "key")))


@bp.patch("/org/departments/<key>")
@api_key_required("org:write")
def update_department(key: str) -> Response:
    fields = _fields(json_body(), DEPARTMENT_FIELDS)
    actor = actor_name()

    def work(db: Any) -> dict[str, Any]:
        return org.department_json(db, org.update_department(db, actor, key, fields))

    return reply(transact(work))


@bp.delete("/org/departments/<key>")
@api_key_required("org:write")
def delete_department(key: str) -> Response:
    actor = actor_name()

    def work(db: Any) -> dict[str, Any]:
        body = org.department_json(db, org.find_department(db, key, "key"))
        org.delete_department(db, actor, key)
        return body

    return reply(transact(work))


# -- business roles ------------------------------------------------------------------

ROLE_FIELDS = {"name_zh": TEXT, "name_en": TEXT, "scope_table": OPTIONAL_KEY}


@bp.get("/org/roles")
@api_key_required("org:read")
def list_roles() -> Response:
    return reply({"items": org.roles(get_session())})


@bp.post("/org/roles")
@api_key_required("org:write")
def create_role() -> Response:
    fields = _fields(json_body(), {"key": TEXT, **ROLE_FIELDS}, ("key", "name_zh"))
    actor = actor_name()

    def work(db: Any) -> dict[str, Any]:
        return org.role_json(db, org.create_role(db, actor, **fields))

    return reply(transact(work), 201)


@bp.get("/org/roles/<key>")
@api_key_required("org:read")
def get_role(key: str) -> Response:
    db = get_session()
    return reply(org.role_json(db, org.find_role(db, key, "key")))


@bp.patch("/org/roles/<key>")
@api_key_required("org:write")
def update_role(key: str) -> Response:
    fields = _fields(json_body(), ROLE_FIELDS)
    actor = actor_name()

    def work(db: Any) -> dict[str, Any]:
        return org.role_json(db, org.update_role(db, actor, key, fields))

    return reply(transact(work))


@bp.delete("/org/roles/<key>")
@api_key_required("org:write")
def delete_role(key: str) -> Response:
    actor = actor_name()

    def work(db: Any) -> dict[str, Any]:
        body = org.role_json(db, org.find_role(db, key, "key"))
        org.delete_role(db, actor, key)
        return body

    return reply(transact(work))


@bp.get("/org/roles/<key>/holders")
@api_key_required("org:read")
def role_holders(key: str) -> Response:
    db = get_session()
    return reply({"items": org.role_json(db, org.find_role(db, key, "key"))["holders"]})


@bp.post("/org/roles/<key>/holders")
@api_key_required("org:write")
def add_holder(key: str) -> Response:
    fields = _fields(json_body(), {"user": TEXT, "scope": TEXT}, ("user",))
    actor = actor_name()

    def work(db: Any) -> dict[str, Any]:
        org.add_holder(db, actor, key, fields["user"], fields.get("scope", ""))
        return {"items": org.role_json(db, org.find_role(db, key, "key"))["holders"]}

    return reply(transact(work), 201)


@bp.delete("/org/roles/<key>/holders/<username>")
@api_key_required("org:write")
def remove_holder(key: str, username: str) -> Response:
    scope = str_param("scope", max_length=MAX_SCOPE) or ""
    actor = actor_name()

    def work(db: Any) -> dict[str, Any]:
        org.remove_holder(db, actor, key, username, scope)
        return {"items": org.role_json(db, org.find_role(db, key, "key"))["holders"]}

    return reply(transact(work))


# -- people ---------------------------------------------------------------------------


@bp.get("/org/people")
@api_key_required("org:read")
def list_people() -> Response:
    people = org.people(get_session())
    department = str_param("department", max_length=64)
    if department:
        people = [p for p in people if p["department"] == department]
    return reply({"items": people})


@bp.get("/org/people/<username>")
@api_key_required("org:read")
def get_person(username: str) -> Response:
    db = get_session()
    return reply(org.person_json(db, org.find_person(db, username)))


@bp.patch("/org/people/<username>")
@api_key_required("org:write")
def update_person(username: str) -> Response:
    fields = _fields(json_body(), {"department": OPTIONAL_KEY, "manager": OPTIONAL_KEY})
    actor = actor_name()

    def work(db: Any) -> dict[str, Any]:
        return org.person_json(db, org.update_person(db, actor, username, fields))

    return reply(transact(work))
