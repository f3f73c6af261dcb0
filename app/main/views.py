"""The home page."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..security import current_user, login_required

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def index() -> str:
    return render_template("main/index.html", user=current_user())
