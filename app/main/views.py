"""The home page, and the icon browsers ask for at /favicon.ico."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from werkzeug.wrappers import Response

from ..security import current_user, login_required

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def index() -> str:
    return render_template("main/index.html", user=current_user())


@bp.get("/favicon.ico")
def favicon() -> Response:
    # Browsers and bookmark tools ask for this path without reading the page; the icon is
    # the SVG the pages link to (no login: it is asked for before anyone signs in).
    return redirect(url_for("static", filename="favicon.svg"), 301)
