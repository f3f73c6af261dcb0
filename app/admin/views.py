"""Administration pages: users and roles, API keys."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from ..approvals import handover
from ..db import get_session
from ..errors import AppError, NotFoundError
from ..models import User
from ..security import current_user, permission_required
from ..users import services
from .forms import ApiKeyForm, RolesForm, UserForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users", methods=["GET", "POST"])
@permission_required("users.manage")
def users() -> str | Response | tuple[str, int]:
    db = get_session()
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                db,
                current_user(),
                username=form.username.data or "",
                password=form.password.data or "",
                roles=form.roles.data or [],
                display_name=form.display_name.data or "",
                email=form.email.data,
                locale=form.locale.data or None,
            )
        except AppError as err:
            db.rollback()
            form.username.errors = [*form.username.errors, str(err.message)]
        else:
            flash(_("User %(name)s created.", name=user.username), "success")
            return redirect(url_for("admin.users"))
    status = 422 if form.errors else 200
    return render_template(
        "admin/users.html",
        users=services.list_users(db),
        form=form,
        roles_form=RolesForm(),
    ), status


def _user_or_404(user_id: int) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        raise NotFoundError(_("There is no such user."))
    return user


@bp.post("/users/<id:user_id>/roles")
@permission_required("users.manage")
def set_roles(user_id: int) -> Response:
    db = get_session()
    user = _user_or_404(user_id)
    form = RolesForm()
    if not form.validate_on_submit():
        flash(_("Choose at least one role."), "error")
        return redirect(url_for("admin.users"))
    services.set_roles(db, current_user(), user, form.roles.data or [])
    flash(_("Roles of %(name)s saved.", name=user.username), "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<id:user_id>/active")
@permission_required("users.manage")
def set_active(user_id: int) -> Response:
    user = _user_or_404(user_id)
    active = request.form.get("active") == "1"
    if FlaskForm().validate_on_submit():
        try:
            db = get_session()
            handed = handover.set_active(db, current_user(), user, active)
            db.commit()
        except AppError as err:
            flash(str(err.message), "error")
        else:
            if active:
                flash(_("%(name)s can sign in again.", name=user.username), "success")
            else:
                flash(_("%(name)s is deactivated and signed out.", name=user.username), "success")
            moved = [h for h in handed if h.to]
            if moved:
                flash(
                    _("%(n)d open approvals of %(name)s were handed on: %(who)s.",
                      n=len(moved), name=user.username,
                      who=", ".join(sorted({str(h.to) for h in moved}))),
                    "success",
                )  # fmt: skip
            if len(moved) < len(handed):
                flash(
                    _("%(n)d open approvals of %(name)s have no one to take them: they have no "
                      "delegate, manager or fallback person. The admins were alerted; transfer "
                      "them from the approvals inbox (show everyone).",
                      n=len(handed) - len(moved), name=user.username),
                    "error",
                )  # fmt: skip
    return redirect(url_for("admin.users"))


@bp.post("/users/<id:user_id>/sign-out")
@permission_required("users.manage")
def sign_out_everywhere(user_id: int) -> Response:
    user = _user_or_404(user_id)
    if FlaskForm().validate_on_submit():
        services.end_sessions(get_session(), current_user(), user)
        flash(_("%(name)s is signed out on every device.", name=user.username), "success")
    return redirect(url_for("admin.users"))


@bp.route("/api-keys", methods=["GET", "POST"])
@permission_required("api_keys.manage")
def api_keys() -> str | tuple[str, int]:
    db = get_session()
    form = ApiKeyForm()
    created = None
    if form.validate_on_submit():
        try:
            key, plaintext = services.create_api_key(
                db, current_user(), name=form.name.data or "", scopes=form.scopes.data or []
            )
        except AppError as err:
            db.rollback()
            form.name.errors = [*form.name.errors, str(err.message)]
        else:
            created = {"key": key, "plaintext": plaintext}
            form = ApiKeyForm(formdata=None)
    status = 422 if form.errors else 200
    return render_template(
        "admin/api_keys.html",
        keys=services.list_api_keys(db),
        form=form,
        created=created,
        revoke_form=FlaskForm(),
    ), status


@bp.post("/api-keys/<id:key_id>/revoke")
@permission_required("api_keys.manage")
def revoke_api_key(key_id: int) -> Response:
    form = FlaskForm()
    if form.validate_on_submit():
        key = services.revoke_api_key(get_session(), current_user(), key_id)
        flash(_("API key %(name)s revoked.", name=key.name), "success")
    return redirect(url_for("admin.api_keys"))
