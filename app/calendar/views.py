"""Admin page of the business calendar: working hours, holidays, make-up working days."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from flow_engine import NodeError

from ..db import get_session
from ..errors import AppError
from ..models import utcnow
from ..pages import saved
from ..security import current_user, permission_required
from . import services

bp = Blueprint("calendar", __name__, url_prefix="/admin/calendar")
PERMISSION = "channels.manage"
MAX_TRY_HOURS = 10_000  # more than four years of working time


def _year() -> int:
    try:
        return int(request.values.get("year", ""))
    except ValueError:
        return utcnow().year


@bp.get("/")
@permission_required(PERMISSION)
def index() -> str:
    db = get_session()
    year = _year()
    try_result = None
    start, hours = request.args.get("start"), request.args.get("hours")
    if start and hours:
        try:
            moment = datetime.fromisoformat(start)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=services.calendar(db).zone)
            amount = float(hours)
            if not 0 <= amount <= MAX_TRY_HOURS:  # false for NaN too
                raise ValueError(hours)
            try_result = services.business_due(db, moment, amount)
        except (ValueError, OverflowError, AppError):  # OverflowError: past year 1 or 9999
            flash(
                _("Give a start like 2026-09-30T15:00 and a number of hours from 0 to %(most)d.",
                  most=MAX_TRY_HOURS),
                "error",
            )  # fmt: skip
        except NodeError as err:  # a calendar without working time
            locale = get_locale()
            flash(err.message if locale and locale.language == "en" else err.message_zh, "error")
    return render_template(
        "calendar/index.html",
        settings=services.settings(db),
        days=services.special_days(db, year),
        year=year,
        try_start=start,
        try_hours=hours,
        try_result=try_result,
    )


def _done(work: Callable[[Session], Any], message: str, year: int | None = None) -> Response:
    return saved(
        work,
        lambda result: message.format(result=result),
        url_for("calendar.index", year=year or _year()),
    )


@bp.post("/settings")
@permission_required(PERMISSION)
def save_settings() -> Response:
    form = request.form
    return _done(
        lambda db: services.save_settings(
            db,
            current_user(),
            timezone=form.get("timezone", ""),
            weekdays=form.getlist("weekdays"),
            hours=form.get("hours", "").replace(",", "\n").splitlines(),
        ),
        _("Working time saved."),
    )


@bp.post("/days")
@permission_required(PERMISSION)
def add_day() -> Response:
    form = request.form
    day = form.get("date", "")
    return _done(
        lambda db: services.set_day(
            db, current_user(), day, form.get("type", ""), form.get("name", "")
        ),
        _("Day saved."),
        int(day[:4]) if day[:4].isdigit() else None,
    )


@bp.post("/days/<day>/delete")
@permission_required(PERMISSION)
def remove_day(day: str) -> Response:
    return _done(lambda db: services.remove_day(db, day), _("Day removed."))


@bp.post("/seed")
@permission_required(PERMISSION)
def seed() -> Response:
    year = _year()
    return _done(
        lambda db: services.seed_statutory(db, year),
        _("Statutory holidays loaded: {result} days."),
        year,
    )
