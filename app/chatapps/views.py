"""The admin's connected chat apps, and the platforms' card callbacks (no session, no CSRF
token: each callback is checked by its platform's signature and verification token, a
DingTalk one by the key in the URL OrderFlow registered with DingTalk)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Request,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from ..db import get_db, get_session
from ..errors import AppError, NotFoundError
from ..models import ChatApp
from ..pages import saved
from ..runs.outbox import DeliveryError
from ..security import current_user, permission_required
from . import (
    callbacks,
    dingtalk,
    dingtalk_callbacks,
    feishu,
    orgsync,
    orgsync_runs,
    services,
    wecom,
    wecom_callbacks,
)
from .callbacks import Answer
from .hooks import install

bp = Blueprint("chatapps", __name__)
hooks_bp = Blueprint("chat_hooks", __name__)
ADMIN = "channels.manage"

# What the admin page says about each platform: saved, connected, no token.
SAYS = {
    feishu.NAME: (
        _l("Feishu app saved."),
        _l("Connected: Feishu gave an access token for this app."),
        _l("Feishu did not give an access token: %(error)s"),
    ),
    wecom.NAME: (
        _l("WeCom app saved."),
        _l("Connected: WeCom gave an access token for this app."),
        _l("WeCom did not give an access token: %(error)s"),
    ),
    dingtalk.NAME: (
        _l("DingTalk app saved."),
        _l("Connected: DingTalk gave an access token for this app."),
        _l("DingTalk did not give an access token: %(error)s"),
    ),
}
# How each platform's callbacks are read: (POST events, GET URL check or None).
Receiver = Callable[[Session, ChatApp, Request], Answer]
RECEIVERS: dict[str, tuple[Receiver, Callable[[ChatApp, Request], Answer] | None]] = {
    feishu.NAME: (
        lambda db, row, req: callbacks.handle(db, row, req.headers, req.get_data()),
        None,
    ),
    wecom.NAME: (
        lambda db, row, req: wecom_callbacks.handle(db, row, req.args, req.get_data()),
        lambda row, req: wecom_callbacks.verify(row, req.args),
    ),
}


@bp.record_once
def _install(state: Any) -> None:

    install(state.app)


def _callback_url(row: ChatApp | None) -> str:
    if row is None:
        return ""
    if row.platform == dingtalk.NAME:
        key = dingtalk.url_key(services.secrets_of(row))
        return url_for("chat_hooks.dingtalk_card", app_id=row.app_id, key=key, _external=True)
    return url_for("chat_hooks.callback", platform=row.platform, app_id=row.app_id, _external=True)


def _register(platform: str) -> None:
    """Register the DingTalk app's card callback URL with DingTalk, saying how it went."""
    row = services.connected(get_session(), platform)
    if platform != dingtalk.NAME or row is None:
        return
    url = _callback_url(row)
    try:
        services.register_callback(get_db(), row.id, url)
    except DeliveryError as err:
        flash(str(_l("DingTalk did not register the card callback URL: %(error)s", error=str(err))),
              "error")  # fmt: skip
    else:
        flash(str(_l("DingTalk sends the card clicks of route %(key)s to OrderFlow.",
                     key=dingtalk.route_key(services.secrets_of(row)))), "success")  # fmt: skip


@bp.get("/admin/chat-apps/")
@permission_required(ADMIN)
def index() -> str:
    db = get_session()
    rows = {name: services.connected(db, name) for name in services.PLATFORMS}
    shown: dict[str, dict[str, str]] = {}  # the settings that are not secret, to show them
    unregistered = False
    for name, module in services.PLATFORMS.items():
        plain = {setting for setting, secret in module.SETTINGS if not secret}
        row = rows[name]
        saved_values = services.secrets_of(row) if row is not None else {}
        shown[name] = {k: v for k, v in saved_values.items() if k in plain}
        if name == "dingtalk" and row is not None and not saved_values.get("api_secret"):
            unregistered = True  # connected before card callbacks were registered
    return render_template(
        "chatapps/index.html",
        apps=rows,
        shown=shown,
        dingtalk_unregistered=unregistered,
        callbacks={name: _callback_url(row) for name, row in rows.items()},
    )


@bp.post("/admin/chat-apps/<platform>")
@permission_required(ADMIN)
def save(platform: str) -> Response:
    if platform not in SAYS:
        abort(404)
    form = request.form
    db = get_session()
    try:
        services.connect(db, platform, form.get("app_id", ""), form, form.get("base_url", ""))
    except AppError as err:
        db.rollback()
        flash(str(err.message), "error")
    else:
        db.commit()
        flash(str(SAYS[platform][0]), "success")
        _register(platform)  # a changed URL, route key or secret is registered at once
    return redirect(url_for("chatapps.index"))


@bp.post("/admin/chat-apps/<platform>/test")
@permission_required(ADMIN)
def test(platform: str) -> Response:
    row = services.connected(get_session(), platform) if platform in SAYS else None
    if row is None:
        abort(404)
    try:
        services.token(get_db(), row.id, fresh=True)
    except DeliveryError as err:
        flash(str(SAYS[platform][2]) % {"error": str(err)}, "error")
    else:
        flash(str(SAYS[platform][1]), "success")
        _register(platform)
    return redirect(url_for("chatapps.index"))


# -- the organisation synced from an app's address book ----------------------------------


def _sync_app(platform: str) -> ChatApp:
    row = services.connected(get_session(), platform) if platform in orgsync.READERS else None
    if row is None or not row.enabled:
        abort(404)
    return row


def _sync_page(platform: str, **shown: Any) -> str:
    row = _sync_app(platform)
    last = dict(row.org_sync_last or {})
    if last.get("at"):
        last["at"] = datetime.fromisoformat(last["at"])
    return render_template("chatapps/org_sync.html", platform=platform, row=row, last=last,
                           summary=orgsync.summary, **shown)  # fmt: skip


def _refused(platform: str, err: AppError | DeliveryError) -> None:
    flash(orgsync_runs.explained(platform, err), "error")
    details = getattr(err, "details", None)
    for item in details if isinstance(details, list) else []:
        if isinstance(item, dict) and item.get("message"):
            flash(str(item["message"]), "error")


def _before_sync() -> None:
    # The sync reads and writes in units of its own; the reader's language is settled now,
    # as settling it later would read the signed-in user while such a unit holds the lock.
    get_locale()
    get_session().rollback()


@bp.get("/admin/chat-apps/<platform>/org-sync")
@permission_required(ADMIN)
def org_sync(platform: str) -> str:
    return _sync_page(platform)


@bp.post("/admin/chat-apps/<platform>/org-sync/dry-run")
@permission_required(ADMIN)
def org_sync_dry_run(platform: str) -> str | Response:
    _sync_app(platform)
    _before_sync()
    try:
        result, lines, counts = orgsync_runs.run_and_record(platform, write=False)
    except (AppError, DeliveryError) as err:
        _refused(platform, err)
        return redirect(url_for("chatapps.org_sync", platform=platform))
    return _sync_page(platform, result=result, lines=lines, counts=counts)


@bp.post("/admin/chat-apps/<platform>/org-sync/apply")
@permission_required(ADMIN)
def org_sync_apply(platform: str) -> Response:
    _sync_app(platform)
    user = current_user()
    actor = user.username if user is not None else None
    _before_sync()
    try:
        _result, _lines, counts = orgsync_runs.run_and_record(platform, write=True, actor=actor)
    except (AppError, DeliveryError) as err:
        _refused(platform, err)
    else:
        flash(str(_l("Organisation synced: %(summary)s.", summary=orgsync.summary(counts))),
              "success")  # fmt: skip
    return redirect(url_for("chatapps.org_sync", platform=platform))


@bp.post("/admin/chat-apps/<platform>/org-sync/link")
@permission_required(ADMIN)
def org_sync_link(platform: str) -> Response:
    _sync_app(platform)
    form = request.form
    return saved(
        lambda db: orgsync.link(db, platform, form.get("person", ""), form.get("username", "")),
        lambda user: str(
            _l("%(name)s is linked. Run the dry run again to see the changes.", name=user.username)
        ),
        url_for("chatapps.org_sync", platform=platform),
    )


@bp.post("/admin/chat-apps/<platform>/org-sync/schedule")
@permission_required(ADMIN)
def org_sync_schedule(platform: str) -> Response:
    _sync_app(platform)
    on = request.form.get("nightly") == "1"
    return saved(
        lambda db: orgsync_runs.set_nightly(db, platform, on),
        str(_l("The nightly sync is on.") if on else _l("The nightly sync is off.")),
        url_for("chatapps.org_sync", platform=platform),
    )


def _found(platform: str, app_id: str) -> ChatApp | tuple[Response, int]:
    if platform not in RECEIVERS:
        return jsonify({"error": f"no chat platform {platform}"}), 404
    try:
        return services.by_app_id(get_session(), platform, app_id)
    except NotFoundError:
        return jsonify({"error": f"no connected {platform} app {app_id}"}), 404


def _answered(answer: Answer) -> tuple[Response, int]:
    if answer.text is not None and answer.status == 200:
        return Response(answer.text, mimetype="text/plain"), 200
    return jsonify(answer.body), answer.status


@hooks_bp.get("/hooks/chat/<platform>/<app_id>")
def verify(platform: str, app_id: str) -> tuple[Response, int]:
    """The platform's check of the callback URL (WeCom's GET with an ``echostr``)."""
    row = _found(platform, app_id)
    if not isinstance(row, ChatApp):
        return row
    check = RECEIVERS[platform][1]
    if check is None:
        return jsonify({"error": f"{platform} checks its callback URL with a POST"}), 405
    return _answered(check(row, request))


@hooks_bp.post("/hooks/chat/<platform>/<app_id>")
def callback(platform: str, app_id: str) -> tuple[Response, int]:
    row = _found(platform, app_id)
    if not isinstance(row, ChatApp):
        return row
    return _taken(lambda db: RECEIVERS[platform][0](db, row, request))


def _taken(work: Callable[[Session], Answer]) -> tuple[Response, int]:
    """``work``'s answer, committed when it is a 200, else rolled back."""
    db = get_session()
    answer = work(db)
    if answer.status != 200:
        db.rollback()
        return jsonify(answer.body), answer.status
    try:
        db.commit()
    except IntegrityError:  # the same callback arrived twice at once: the other one counts
        db.rollback()
        return jsonify({"error": "this callback was taken already (replayed)"}), 409
    return _answered(answer)


@hooks_bp.post("/hooks/chat/dingtalk/<app_id>/cards/<key>")
def dingtalk_card(app_id: str, key: str) -> tuple[Response, int]:
    """A click on a DingTalk card, at the URL registered for the app's callback route."""
    try:
        row = services.by_app_id(get_session(), dingtalk.NAME, app_id)
    except NotFoundError:
        return jsonify({"error": f"no connected dingtalk app {app_id}"}), 404
    return _taken(lambda db: dingtalk_callbacks.handle(db, row, key, request.get_data()))
