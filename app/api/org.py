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
from ._http import actor_name, json_body, reply, str_param, transact
from ._schemas import list_of, ref
from .spec import ORG_KEY, USERNAME, api, filter_param, param

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
    schema: str,
    summaries: tuple[str, str, str, str, str],
    listing: Callable[[Any], list[dict[str, Any]]],
    find: Callable[[Any, str, str], Any],
    as_json: Callable[[Any, Any], dict[str, Any]],
    create: Callable[..., Any],
    update: Callable[[Any, str, str, dict[str, Any]], Any],
    delete: Callable[[Any, str, str], None],
) -> None:
    """The five endpoints of a keyed organisation resource (departments, business roles):
    list, create, read, change and delete, named ``list_<plural>``, ``create_<singular>``, ...
    and described with ``summaries`` (in that order) and the ``schema`` component (with its
    ``Input`` and ``Patch`` bodies)."""
    path = f"/org/{plural}"

    def list_all() -> Response:
        return reply({"items": listing(get_session())})

    def create_one() -> Response:
        body = _fields(json_body(), {"key": TEXT, **fields}, ("key", "name_zh"))
        actor = actor_name()
        return reply(transact(lambda db: as_json(db, create(db, actor, **body))), 201)

    def get_one(key: str) -> Response:
        db = get_session()
        return reply(as_json(db, find(db, key, "key")))

    def update_one(key: str) -> Response:
        changes = _fields(json_body(), fields)
        actor = actor_name()
        return reply(transact(lambda db: as_json(db, update(db, actor, key, changes))))

    def delete_one(key: str) -> Response:
        actor = actor_name()

        def work(db: Any) -> dict[str, Any]:
            body = as_json(db, find(db, key, "key"))
            delete(db, actor, key)
            return body

        return reply(transact(work))

    one, listed, item = ref(schema), list_of(ref(schema)), f"{path}/<key>"
    read, write = "org:read", "org:write"
    api.add(
        "get",
        path,
        list_all,
        op_id=f"list_{plural}",
        scope=read,
        summary=summaries[0],
        responses={"200": listed},
    )
    api.add(
        "post",
        path,
        create_one,
        op_id=f"create_{singular}",
        scope=write,
        summary=summaries[1],
        body=ref(f"{schema}Input"),
        responses={"201": one},
    )
    api.add(
        "get",
        item,
        get_one,
        op_id=f"get_{singular}",
        scope=read,
        summary=summaries[2],
        params=[ORG_KEY],
        responses={"200": one},
    )
    api.add(
        "patch",
        item,
        update_one,
        op_id=f"update_{singular}",
        scope=write,
        summary=summaries[3],
        params=[ORG_KEY],
        body=ref(f"{schema}Patch"),
        responses={"200": one},
    )
    api.add("delete", item, delete_one, op_id=f"delete_{singular}", scope=write,
            summary=summaries[4], params=[ORG_KEY], responses={"200": one})  # fmt: skip


_resource(
    "departments", "department",
    {"name_zh": TEXT, "name_en": TEXT, "parent": OPTIONAL_KEY, "head": OPTIONAL_KEY},
    schema="Department",
    summaries=("Departments as a tree, parents first", "Create a department", "A department",
               "Change a department's names, parent or head (null clears)",
               "Delete a department without people, sub-departments or flows naming it"),
    listing=org.departments, find=org.find_department, as_json=org.department_json,
    create=org.create_department, update=org.update_department, delete=org.delete_department,
)  # fmt: skip
_resource(
    "roles", "role",
    {"name_zh": TEXT, "name_en": TEXT, "scope_table": OPTIONAL_KEY},
    schema="BusinessRole",
    summaries=("Business roles with their holders", "Create a business role",
               "A business role",
               "Change a business role's names, or its scope while nobody holds it",
               "Delete a business role no flow assigns (its holders go with it)"),
    listing=org.roles, find=org.find_role, as_json=org.role_json,
    create=org.create_role, update=org.update_role, delete=org.delete_role,
)  # fmt: skip


@api.get(
    "/org/roles/<key>/holders",
    scope="org:read",
    summary="Who holds a business role",
    params=[ORG_KEY],
    responses={"200": list_of(ref("RoleHolder"))},
)  # fmt: skip
def role_holders(key: str) -> Response:
    db = get_session()
    return reply({"items": org.role_json(db, org.find_role(db, key, "key"))["holders"]})


@api.post(
    "/org/roles/<key>/holders",
    scope="org:write",
    summary="Let a person hold the role (for a scope key of its reference table)",
    params=[ORG_KEY],
    body=ref("RoleHolderInput"),
    responses={"201": list_of(ref("RoleHolder"))},
)  # fmt: skip
def add_holder(key: str) -> Response:
    fields = _fields(json_body(), {"user": TEXT, "scope": TEXT}, ("user",))
    actor = actor_name()

    def work(db: Any) -> dict[str, Any]:
        org.add_holder(db, actor, key, fields["user"], fields.get("scope", ""))
        return {"items": org.role_json(db, org.find_role(db, key, "key"))["holders"]}

    return reply(transact(work), 201)


@api.delete(
    "/org/roles/<key>/holders/<username>",
    scope="org:write",
    summary="A person no longer holds the role (for the scope given)",
    params=[ORG_KEY, USERNAME, param("scope", schema={"type": "string", "maxLength": 64})],
    responses={"200": list_of(ref("RoleHolder"))},
)  # fmt: skip
def remove_holder(key: str, username: str) -> Response:
    scope = str_param("scope", max_length=MAX_SCOPE) or ""
    actor = actor_name()

    def work(db: Any) -> dict[str, Any]:
        org.remove_holder(db, actor, key, username, scope)
        return {"items": org.role_json(db, org.find_role(db, key, "key"))["holders"]}

    return reply(transact(work))


# -- people ---------------------------------------------------------------------------


@api.get(
    "/org/people",
    scope="org:read",
    summary="People with their department, manager and business roles",
    params=[filter_param("department", 64, "only the members of this department")],
    responses={"200": list_of(ref("Person"))},
)  # fmt: skip
def list_people() -> Response:
    people = org.people(get_session())
    department = str_param("department", max_length=64)
    if department:
        people = [p for p in people if p["department"] == department]
    return reply({"items": people})


@api.get(
    "/org/people/<username>",
    scope="org:read",
    summary="A person",
    params=[USERNAME],
    responses={"200": ref("Person")},
)  # fmt: skip
def get_person(username: str) -> Response:
    db = get_session()
    return reply(org.person_json(db, org.find_person(db, username)))


@api.patch(
    "/org/people/<username>",
    scope="org:write",
    summary="Change a person's department or manager (null clears)",
    params=[USERNAME],
    body=ref("PersonPatch"),
    responses={"200": ref("Person")},
)  # fmt: skip
def update_person(username: str) -> Response:
    fields = _fields(json_body(), {"department": OPTIONAL_KEY, "manager": OPTIONAL_KEY})
    actor = actor_name()

    def work(db: Any) -> dict[str, Any]:
        return org.person_json(db, org.update_person(db, actor, username, fields))

    return reply(transact(work))
