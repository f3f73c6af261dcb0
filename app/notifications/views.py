"""In-app notifications, and the admin's notification channels and message templates."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..db import get_session
from ..errors import AppError, NotFoundError
from ..models import User
from ..pages import saved
from ..runs.outbox import DeliveryError
from ..security import can, current_user, login_required, permission_required
from ..urls import id_arg, row_id
from . import messages, services
from .kinds import KINDS, PERSON_FIELDS, channel_names, channel_titles

bp = Blueprint("notifications", __name__)
ADMIN = "channels.manage"


def _me() -> User:
    """The signed-in user; the view's decorator has made sure there is one."""
    user = current_user()
    if user is None:
        abort(401)
    return user


@bp.get("/notifications/")
@login_required
def index() -> str:
    user = _me()
    return render_template("notifications/index.html", notes=services.recent(get_session(), user))


@bp.post("/notifications/read")
@login_required
def read() -> Response:
    user = _me()
    db = get_session()
    ids = [int(i) for i in request.form.getlist("id") if i.isdigit()] or None
    services.mark_read(db, user, ids)
    db.commit()
    return redirect(url_for("notifications.index"))


@bp.route("/notifications/contact", methods=["GET", "POST"])
@login_required
def contact() -> str | Response:
    return _contact_page(_me(), url_for("notifications.contact"))


@bp.route("/admin/notifications/people/<id:user_id>", methods=["GET", "POST"])
@permission_required(ADMIN)
def person(user_id: int) -> str | Response:
    target = get_session().get(User, user_id)
    if target is None:
        abort(404)
    return _contact_page(target, url_for("notifications.person", user_id=user_id))


def _contact_page(target: User, here: str) -> str | Response:
    if request.method == "POST":
        return saved(
            lambda db: services.set_contact(db, db.merge(target), request.form),
            _("Contact details saved."),
            here,
        )
    users = services.list_users_for_admin(get_session()) if can(ADMIN) else []
    return render_template(
        "notifications/contact.html", target=target, users=users, fields=PERSON_FIELDS
    )


# -- admin: channels ----------------------------------------------------------------------


@bp.get("/admin/notifications/")
@permission_required(ADMIN)
def channels() -> str:
    db = get_session()
    edit_id = id_arg(request.args, "edit")
    editing = services.get_channel(db, edit_id) if edit_id else None
    kind = request.args.get("kind") or (editing.kind if editing else "")
    return render_template(
        "notifications/channels.html",
        channels=services.list_channels(db),
        editing=editing,
        editing_config=services.public_config(editing) if editing else {},
        kinds=KINDS,
        events=messages.EVENTS,
        kind=kind if kind in KINDS else next(iter(KINDS)),
    )


def _channel_id(raw: str | None) -> int | None:
    """The channel a form edits; None for a new one."""
    if not raw:
        return None
    number = row_id(raw)
    if number is None:
        raise NotFoundError(_("There is no such notification channel."))
    return number


@bp.post("/admin/notifications/channels")
@permission_required(ADMIN)
def save_channel() -> Response:
    form = request.form
    return saved(
        lambda db: services.save_channel(
            db,
            current_user(),
            channel_id=_channel_id(form.get("id")),
            name=form.get("name", ""),
            kind=form.get("kind", ""),
            enabled=form.get("enabled") == "1",
            events=form.getlist("events"),
            settings=form,
        ),
        _("Channel saved."),
        url_for("notifications.channels"),
    )


@bp.post("/admin/notifications/channels/<id:channel_id>/delete")
@permission_required(ADMIN)
def delete_channel(channel_id: int) -> Response:
    return saved(
        lambda db: services.delete_channel(db, channel_id),
        _("Channel removed."),
        url_for("notifications.channels"),
    )


@bp.post("/admin/notifications/channels/<id:channel_id>/test")
@permission_required(ADMIN)
def test_channel(channel_id: int) -> Response:
    db = get_session()
    user = _me()
    try:
        services.send_test(db, services.get_channel(db, channel_id), user)
    except AppError as err:
        flash(str(err.message), "error")
    except DeliveryError as err:
        flash(_("The test message did not go through: %(reason)s", reason=str(err)), "error")
    else:
        flash(_("Test message sent."), "success")
    return redirect(url_for("notifications.channels"))


# -- admin: templates ---------------------------------------------------------------------


@bp.get("/admin/notifications/templates")
@permission_required(ADMIN)
def templates() -> str:
    db = get_session()
    args = request.args
    kind = args.get("kind", "email")
    event = args.get("event", "approval_needed")
    language = args.get("language", "zh")
    subject, body, custom = messages.effective(db, kind, event, language)
    return render_template(
        "notifications/templates.html",
        kinds=channel_names(),
        kind_titles=channel_titles(),
        events=messages.EVENTS,
        template_languages=messages.LANGUAGES,
        kind=kind,
        event=event,
        language=language,
        subject=subject,
        body=body,
        custom=custom,
    )


@bp.post("/admin/notifications/templates")
@permission_required(ADMIN)
def save_template() -> Response:
    form = request.form
    key = (form.get("kind", ""), form.get("event", ""), form.get("language", ""))
    target = url_for("notifications.templates", kind=key[0], event=key[1], language=key[2])
    if form.get("action") == "reset":
        return saved(lambda db: messages.reset(db, *key), _("Back to the default text."), target)
    return saved(
        lambda db: messages.save(
            db, current_user(), *key, form.get("subject", ""), form.get("body", "")
        ),
        _("Template saved."),
        target,
    )
