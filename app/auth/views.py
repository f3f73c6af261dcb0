"""Login, logout, language switch and the user's own account page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.wrappers import Response as FlaskResponse
from flask_babel import gettext as _
from flask_limiter import RequestLimit
from werkzeug.wrappers import Response

from .. import ratelimit
from ..db import get_session
from ..errors import AppError
from ..security import current_user, login_required, login_user, logout_user, verify_password
from ..users import services
from .forms import AccountForm, LanguageForm, LoginForm, PasswordForm

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only local paths: a login link must not redirect to another site."""
    if not target:
        return url_for("main.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("main.index")
    return target


def _too_many_failures(limit: RequestLimit) -> FlaskResponse:
    """The sign-in form again, saying how long this address waits (429 with Retry-After)."""
    seconds = ratelimit.retry_after(limit)
    error = _(
        "Too many failed sign-ins from your network address (%(address)s). Wait "
        "%(seconds)d seconds and try again; sign-ins from other addresses still work.",
        address=ratelimit.client_address(),
        seconds=seconds,
    )
    page = render_template("auth/login.html", form=LoginForm(), error=error)
    return make_response(page, 429, {"Retry-After": str(seconds)})


@bp.route("/login", methods=["GET", "POST"])
# Failed sign-ins (401) are counted per address across usernames, so that one address cannot
# try a password on many accounts; once over, refused before any password is checked.
@ratelimit.limiter.limit(
    ratelimit.configured("RATELIMIT_LOGIN"),
    methods=["POST"],
    deduct_when=lambda response: response.status_code == 401,
    on_breach=_too_many_failures,
)
def login() -> Response | tuple[str, int]:
    form = LoginForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(
                get_session(),
                form.username.data or "",
                form.password.data or "",
                max_failures=current_app.config["LOGIN_MAX_FAILURES"],
                lock_seconds=current_app.config["LOGIN_LOCK_SECONDS"],
            )
        except AppError as err:
            status, error = 401, str(err.message)
        else:
            lang = session.get("lang")
            login_user(user)
            if lang and not user.locale:
                session["lang"] = lang
            return redirect(_safe_next(request.args.get("next")))
    if form.errors:
        status = 422
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
def logout() -> Response:
    user = current_user()
    if user is not None:
        # Server-side: a copy of the cookie (another tab, device or a thief) ends too.
        services.end_sessions(get_session(), user, user)
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language() -> Response:
    form = LanguageForm()
    if form.validate_on_submit():
        session["lang"] = form.lang.data
        user = current_user()
        if user is not None and user.locale:
            services.set_locale(get_session(), user, form.lang.data)
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> str | Response | tuple[str, int]:
    user = current_user()
    if user is None:  # login_required guarantees a user; keep the type checker honest
        return redirect(url_for("auth.login"))
    lang_form = AccountForm(prefix="lang", locale=user.locale or "")
    pw_form = PasswordForm(prefix="pw")
    db = get_session()
    if "lang-locale" in request.form:
        if lang_form.validate_on_submit():
            services.set_locale(db, user, lang_form.locale.data or None)
            flash(_("Your language setting is saved."), "success")
            return redirect(url_for("auth.account"))
    elif "pw-new" in request.form and pw_form.validate_on_submit():
        if not verify_password(user.password_hash, pw_form.current.data or ""):
            pw_form.current.errors = [_("The current password is wrong.")]
        else:
            try:
                services.set_password(db, user, user, pw_form.new.data or "")
            except AppError as err:
                pw_form.new.errors = [str(err.message)]
            else:
                login_user(user)
                flash(_("Your password is changed."), "success")
                return redirect(url_for("auth.account"))
    status = 422 if (lang_form.errors or pw_form.errors) else 200
    return render_template("auth/account.html", lang_form=lang_form, pw_form=pw_form), status
