"""The admin's connected chat apps, and the platforms' card callbacks (no session, no CSRF
token: each callback is checked by its platform's signature and verification token)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from ..db import get_db, get_session
from ..errors import NotFoundError
from ..pages import saved
from ..runs.outbox import DeliveryError
from ..security import permission_required
from . import callbacks, services
from .hooks import install

bp = Blueprint("chatapps", __name__)
hooks_bp = Blueprint("chat_hooks", __name__)
ADMIN = "channels.manage"


@bp.record_once
def _install(state: Any) -> None:

    install(state.app)


@bp.get("/admin/chat-apps/")
@permission_required(ADMIN)
def index() -> str:
    row = services.connected(get_session(), "feishu")
    callback = (
        url_for("chat_hooks.callback", platform="feishu", app_id=row.app_id, _external=True)
        if row
        else ""
    )
    return render_template("chatapps/index.html", app_row=row, callback=callback)


@bp.post("/admin/chat-apps/feishu")
@permission_required(ADMIN)
def save() -> Response:
    form = request.form
    return saved(
        lambda db: services.connect(
            db, "feishu", form.get("app_id", ""), form, form.get("base_url", "")
        ),
        _("Feishu app saved."),
        url_for("chatapps.index"),
    )


@bp.post("/admin/chat-apps/feishu/test")
@permission_required(ADMIN)
def test() -> Response:
    row = services.connected(get_session(), "feishu")
    if row is None:
        abort(404)
    try:
        services.token(get_db(), row.id, fresh=True)
    except DeliveryError as err:
        flash(_("Feishu did not give an access token: %(error)s", error=str(err)), "error")
    else:
        flash(_("Connected: Feishu gave an access token for this app."), "success")
    return redirect(url_for("chatapps.index"))


@hooks_bp.post("/hooks/chat/<platform>/<app_id>")
def callback(platform: str, app_id: str) -> tuple[Response, int]:
    db = get_session()
    try:
        row = services.by_app_id(db, platform, app_id)
    except NotFoundError:
        return jsonify({"error": f"no connected {platform} app {app_id}"}), 404
    answer = callbacks.handle(db, row, request.headers, request.get_data())
    if answer.status != 200:
        db.rollback()
        return jsonify(answer.body), answer.status
    try:
        db.commit()
    except IntegrityError:  # the same event_id arrived twice at once: the other one counts
        db.rollback()
        return jsonify({"error": "this callback was taken already (replayed event_id)"}), 409
    return jsonify(answer.body), 200
