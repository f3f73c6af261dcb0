"""Status mappings page: each source system's codes and the order state each means, edited
as ``CODE = state`` lines; source systems added, shipped tables restored."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..db import get_session
from ..errors import AppError
from ..security import current_user, permission_required
from ..status import services as status
from ..status import sources

bp = Blueprint("status_admin", __name__, url_prefix="/admin/status-mappings")


def _page(failed: dict[str, Any] | None = None) -> tuple[str, int]:
    """The page; ``failed`` is the form that was refused: its source, text and errors."""
    db = get_session()
    views = sources.overview(db)
    texts = {v.source: sources.as_lines(v.codes) for v in views}
    # A refused form shows its errors and text where it was typed: in its source's panel,
    # or, for a source that does not exist yet, in the form that adds one.
    existing = failed if failed and failed["source"] in texts else None
    if existing:
        texts[existing["source"]] = existing["text"]
    page = render_template(
        "admin/status_mappings.html",
        views=views,
        texts=texts,
        states=status.states(),
        failed=existing,
        failed_new=failed if failed and not existing else None,
    )
    return page, 422 if failed else 200


@bp.get("/")
@permission_required("channels.manage")
def index() -> tuple[str, int]:
    return _page()


def _save(source: str, text: str) -> tuple[str, int] | Response:
    db = get_session()
    user = current_user()
    try:
        sources.save(db, user.username if user else None, source, sources.parse_lines(text))
    except AppError as err:
        db.rollback()
        return _page({"source": source, "text": text, "message": str(err.message),
                      "problems": list(err.details or [])})  # fmt: skip
    db.commit()
    flash(_("Status mapping of %(source)s saved.", source=source), "success")
    return redirect(url_for("status_admin.index") + f"#source-{source}")


@bp.post("/<source>")
@permission_required("channels.manage")
def save(source: str) -> tuple[str, int] | Response:
    return _save(source, request.form.get("codes", ""))


@bp.post("/")
@permission_required("channels.manage")
def add() -> tuple[str, int] | Response:
    """A new source system, with its first codes."""
    source = request.form.get("source", "").strip()
    if sources.view(get_session(), source) is not None:
        return _page({"source": source, "text": request.form.get("codes", ""),
                      "message": _("%(source)s exists already: edit its codes below.",
                                   source=source), "problems": []})  # fmt: skip
    return _save(source, request.form.get("codes", ""))


@bp.post("/<source>/reset")
@permission_required("channels.manage")
def reset(source: str) -> Response:
    db = get_session()
    try:
        sources.reset(db, source)
    except AppError as err:
        db.rollback()
        flash(str(err.message), "error")
    else:
        db.commit()
        if source in sources.shipped():
            flash(_("%(source)s uses the shipped codes again.", source=source), "success")
        else:
            flash(_("%(source)s removed.", source=source), "success")
    return redirect(url_for("status_admin.index"))
