"""Admin → 组织架构 / Organisation: departments, business roles and their holders, people,
and the CSV import with its dry-run preview.

Admins change the organisation (``org.manage``); supervisors, who assign roles in flows, may
look (``org.view``). Every change goes through ``app.org.services`` or ``app.org.csvio``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from .. import pinyin
from ..db import get_session
from ..errors import AppError
from ..models import User
from ..pages import saved
from ..security import current_user, permission_required
from . import csvio
from . import services as org

bp = Blueprint("org", __name__, url_prefix="/admin/org")
VIEW, MANAGE = "org.view", "org.manage"
MAX_UPLOAD = 5 * 1024 * 1024


def _done(work: Callable[[Any], Any], message: str, to: str, **params: Any) -> ResponseReturnValue:
    return saved(work, message, url_for(to, **params))


def _optional(name: str) -> str | None:
    return request.form.get(name, "").strip() or None


def _active_people(db: Any) -> list[User]:
    query = select(User).where(User.is_active.is_(True)).order_by(User.username)
    return list(db.scalars(query))


@bp.get("/")
@permission_required(VIEW)
def index() -> ResponseReturnValue:
    return redirect(url_for("org.departments"))


# -- departments ---------------------------------------------------------------------


@bp.get("/departments")
@permission_required(VIEW)
def departments() -> str:
    db = get_session()
    return render_template(
        "org/departments.html", departments=org.departments(db), people=_active_people(db)
    )


@bp.post("/departments")
@permission_required(MANAGE)
def create_department() -> ResponseReturnValue:
    form, actor = request.form, current_user()
    key = form.get("key", "").strip()
    return _done(
        lambda db: org.create_department(
            db,
            actor,
            key=key,
            name_zh=form.get("name_zh", ""),
            name_en=form.get("name_en", ""),
            parent=_optional("parent"),
            head=_optional("head"),
        ),  # fmt: skip
        _("Department %(key)s created.", key=key),
        "org.departments",
    )


@bp.post("/departments/<key>")
@permission_required(MANAGE)
def update_department(key: str) -> ResponseReturnValue:
    form, actor = request.form, current_user()
    changes = {"name_zh": form.get("name_zh", ""), "name_en": form.get("name_en", ""),
               "parent": _optional("parent"), "head": _optional("head")}  # fmt: skip
    return _done(
        lambda db: org.update_department(db, actor, key, changes),
        _("Department %(key)s saved.", key=key),
        "org.departments",
    )


@bp.post("/departments/<key>/delete")
@permission_required(MANAGE)
def delete_department(key: str) -> ResponseReturnValue:
    actor = current_user()
    return _done(
        lambda db: org.delete_department(db, actor, key),
        _("Department %(key)s deleted.", key=key),
        "org.departments",
    )


# -- business roles ------------------------------------------------------------------


@bp.get("/roles")
@permission_required(VIEW)
def roles() -> str:
    db = get_session()
    found = org.roles(db)
    tables = org.scope_tables(db)
    scopes = {t: org.scope_keys(db, t) for t in {r["scope_table"] for r in found} if t}
    return render_template(
        "org/roles.html", roles=found, tables=tables, scopes=scopes, people=_active_people(db)
    )


@bp.post("/roles")
@permission_required(MANAGE)
def create_role() -> ResponseReturnValue:
    form, actor = request.form, current_user()
    key = form.get("key", "").strip()
    return _done(
        lambda db: org.create_role(
            db,
            actor,
            key=key,
            name_zh=form.get("name_zh", ""),
            name_en=form.get("name_en", ""),
            scope_table=_optional("scope_table"),
        ),  # fmt: skip
        _("Business role %(key)s created.", key=key),
        "org.roles",
    )


@bp.post("/roles/<key>")
@permission_required(MANAGE)
def update_role(key: str) -> ResponseReturnValue:
    form, actor = request.form, current_user()
    changes = {"name_zh": form.get("name_zh", ""), "name_en": form.get("name_en", "")}
    return _done(
        lambda db: org.update_role(db, actor, key, changes),
        _("Business role %(key)s saved.", key=key),
        "org.roles",
    )


@bp.post("/roles/<key>/delete")
@permission_required(MANAGE)
def delete_role(key: str) -> ResponseReturnValue:
    actor = current_user()
    return _done(
        lambda db: org.delete_role(db, actor, key),
        _("Business role %(key)s deleted.", key=key),
        "org.roles",
    )


@bp.post("/roles/<key>/holders")
@permission_required(MANAGE)
def add_holder(key: str) -> ResponseReturnValue:
    form, actor = request.form, current_user()
    user, scope = form.get("user", "").strip(), form.get("scope", "").strip()
    return _done(
        lambda db: org.add_holder(db, actor, key, user, scope),
        _("%(name)s now holds %(role)s.", name=user, role=f"{key}@{scope}" if scope else key),
        "org.roles",
        _anchor=f"role-{key}",
    )


@bp.post("/roles/<key>/holders/remove")
@permission_required(MANAGE)
def remove_holder(key: str) -> ResponseReturnValue:
    form, actor = request.form, current_user()
    user, scope = form.get("user", "").strip(), form.get("scope", "").strip()
    return _done(
        lambda db: org.remove_holder(db, actor, key, user, scope),
        _("%(name)s no longer holds %(role)s.", name=user, role=f"{key}@{scope}" if scope else key),
        "org.roles",
        _anchor=f"role-{key}",
    )


# -- people -----------------------------------------------------------------------------


@bp.get("/people")
@permission_required(VIEW)
def people() -> str:
    db = get_session()
    q = request.args.get("q", "").strip()
    dept = request.args.get("department", "").strip()
    found = org.people(db)
    if q:
        found = [p for p in found if pinyin.matches(q, p["username"], p["display_name"])]
    if dept:
        found = [p for p in found if p["department"] == dept]
    return render_template(
        "org/people.html",
        people=found,
        departments=org.departments(db),
        managers=_active_people(db),
        q=q,
        department=dept,
    )


@bp.post("/people/<username>")
@permission_required(MANAGE)
def update_person(username: str) -> ResponseReturnValue:
    actor = current_user()
    changes = {"department": _optional("department"), "manager": _optional("manager")}
    return _done(
        lambda db: org.update_person(db, actor, username, changes),
        _("%(name)s saved.", name=username),
        "org.people",
        q=request.args.get("q", ""),
        _anchor=f"person-{username}",
    )


# -- CSV -------------------------------------------------------------------------------


@bp.get("/import")
@permission_required(MANAGE)
def import_page() -> str:
    return render_template("org/import.html", plan=None, content="", columns=csvio.HEADER)


@bp.post("/import")
@permission_required(MANAGE)
def import_csv() -> ResponseReturnValue:
    """Without ``apply``: the dry run of the uploaded file. With it: import the previewed
    text (sent back from the preview) when it still has no problems."""
    db = get_session()
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        data: bytes | str = upload.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            flash(_("The file is larger than 5 MB; split it."), "error")
            return redirect(url_for("org.import_page"))
    else:
        data = request.form.get("content", "")
    if not data:
        flash(_("Choose a CSV file of people to import."), "error")
        return redirect(url_for("org.import_page"))
    try:
        content = data if isinstance(data, str) else csvio.decode(data)
        plan = csvio.plan(db, content)
    except AppError as err:
        flash(str(err.message), "error")
        return redirect(url_for("org.import_page"))
    applied = False
    if request.form.get("apply") == "1" and not plan.errors:
        try:
            csvio.apply(db, plan, current_user())
            db.commit()
            applied = True
        except AppError as err:
            db.rollback()
            flash(str(err.message), "error")
    page = render_template("org/import.html", plan=plan, content=content, applied=applied,
                           columns=csvio.HEADER)  # fmt: skip
    return page, 422 if plan.errors else 200


@bp.get("/export")
@permission_required(VIEW)
def export_csv() -> ResponseReturnValue:
    text = csvio.export(get_session())
    return Response(
        "\ufeff" + text,  # Excel reads UTF-8 with the mark; the import skips it
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=organisation.csv"},
    )
