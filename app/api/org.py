"""The organisation: departments, business roles and their holders, people's department and
manager (``org:read``, ``org:write``). The same checks and messages as the admin pages
(``app.org.services``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response
from flask_babel import lazy_gettext as _l

from ..db import get_session
from ..errors import ValidationError
from ..org import services as org
from ..org.accepted import MAX_SCOPE
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


def _resource(
    plural: str,
    singular: str,
    fields: dict[str, str],
    *,
    listing: Callable[[Any], list[dict[str, Any]]],
    find: Callable[[Any, str, str], Any],
    as_json: Callable[[Any, Any], dict[str, Any]],
    create: Callable[..., Any],
    update: Callable[[Any, str, str, dict[str, Any]], Any],
    delete: Callable[[Any, str, str], None],
) -> None:
    """The five endpoints of a keyed organisation resource (departments, business roles):
    list, create, read, change and delete, named ``list_<plural>``, ``create_<singular>``, ..."""
    path = f"/org/{plural}"

    @api_key_required("org:read")
    def list_all() -> Response:
        return reply({"items": listing(get_session())})

    @api_key_required("org:write")
    def create_one() -> Response:
        body = _fields(json_body(), {"key": TEXT, **fields}, ("key", "name_zh"))
        actor = actor_name()
        return reply(transact(lambda db: as_json(db, create(db, actor, **body))), 201)

    @api_key_required("org:read")
    def get_one(key: str) -> Response:
        db = get_session()
        return reply(as_json(db, find(db, key, "key")))

    @api_key_required("org:write")
    def update_one(key: str) -> Response:
        changes = _fields(json_body(), fields)
        actor = actor_name()
        return reply(transact(lambda db: as_json(db, update(db, actor, key, changes))))

    @api_key_required("org:write")
    def delete_one(key: str) -> Response:
        actor = actor_name()

        def work(db: Any) -> dict[str, Any]:
            body = as_json(db, find(db, key, "key"))
            delete(db, actor, key)
            return body

        return reply(transact(work))

    bp.add_url_rule(path, f"list_{plural}", list_all, methods=["GET"])
    bp.add_url_rule(path, f"create_{singular}", create_one, methods=["POST"])
    bp.add_url_rule(f"{path}/<key>", f"get_{singular}", get_one, methods=["GET"])
    bp.add_url_rule(f"{path}/<key>", f"update_{singular}", update_one, methods=["PATCH"])
    bp.add_url_rule(f"{path}/<key>", f"delete_{singular}", delete_one, methods=["DELETE"])


_resource(
    "departments", "department",
    {"name_zh": TEXT, "name_en": TEXT, "parent": OPTIONAL_KEY, "head": OPTIONAL_KEY},
    listing=org.departments, find=org.find_department, as_json=org.department_json,
    create=org.create_department, update=org.update_department, delete=org.delete_department,
)  # fmt: skip
_resource(
    "roles", "role",
    {"name_zh": TEXT, "name_en": TEXT, "scope_table": OPTIONAL_KEY},
    listing=org.roles, find=org.find_role, as_json=org.role_json,
    create=org.create_role, update=org.update_role, delete=org.delete_role,
)  # fmt: skip


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
