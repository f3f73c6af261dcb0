"""What the pages share: whether a request asks for a fragment only, and the admin pages'
form posts (do the work, commit it or roll it back, say which)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, request
from werkzeug.wrappers import Response

from .db import get_session
from .errors import AppError


def partial() -> bool:
    """Whether htmx asked for the page's fragment only (a boosted navigation wants it whole)."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-Boosted")


def saved(work: Callable[[Any], Any], message: str | Callable[[Any], str], to: str) -> Response:
    """Run ``work(db)``: committed with ``message`` flashed as a success (a callable gets the
    work's result), or rolled back with the error's message. Then back to ``to``."""
    db = get_session()
    try:
        result = work(db)
    except AppError as err:
        db.rollback()
        flash(str(err.message), "error")
    else:
        db.commit()
        flash(message(result) if callable(message) else message, "success")
    return redirect(to)
