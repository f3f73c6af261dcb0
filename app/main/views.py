"""The home page (what each role should look at first), and the icon browsers ask for at /favicon.ico."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from werkzeug.wrappers import Response

from ..db import get_session
from ..security import current_user, login_required
from .home import home_for

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def index() -> str:
    user = current_user()
    if user is None:  # login_required sent the visitor to sign in first
        abort(401)
    return render_template("main/index.html", user=user, home=home_for(get_session(), user))


@bp.get("/favicon.ico")
def favicon() -> Response:
    # Browsers and bookmark tools ask for this path without reading the page; the icon is
    # the SVG the pages link to (no login: it is asked for before anyone signs in).
    return redirect(url_for("static", filename="favicon.svg"), 301)
