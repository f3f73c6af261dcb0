"""The business calendar: working hours, weekends, holidays and make-up working days (调休).

It lives in two reference tables, ``calendar_hours`` (one row, ``default``) and
``calendar_days`` (one row per special date), because flows read reference tables: the
engine counts business-time SLAs from them, so a change here applies to the next timer
without anything else to reload. Statutory holidays are seeded from the ``chinese-calendar``
package and stay editable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from flow_engine import BusinessCalendar, NodeError

from .. import clock
from ..db import on_commit
from ..errors import NotFoundError, ValidationError
from ..models import ReferenceRow, User
from ..reference import services as reference

log = logging.getLogger(__name__)
# Told when the company time zone changes, in the same transaction (the daily figures are
# grouped by local day): registered when the app is built (``app.wiring``).
ZONE_CHANGED: list[Callable[[Session, ZoneInfo], None]] = []

# The working-time row also holds the company's time zone, the one clock of every page.
HOURS_TABLE, DAYS_TABLE = clock.SETTINGS_TABLE, "calendar_days"
DAY_TYPES = ("holiday", "workday")
HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}
DEFAULT_SETTINGS = {
    "id": "default",
    "timezone": clock.DEFAULT_ZONE,
    "weekdays": ["1", "2", "3", "4", "5"],
    "hours": ["09:00-12:00", "13:00-18:00"],
}


def _tables(db: Session) -> tuple[Any, Any]:
    hours = reference.ensure_table(
        db,
        HOURS_TABLE,
        key_field="id",
        columns=[
            {"name": "timezone", "type": "string", "label_zh": "时区"},
            {"name": "weekdays", "type": "list", "label_zh": "工作日（1=周一）"},
            {"name": "hours", "type": "list", "label_zh": "工作时段"},
        ],
        description="Working hours of the business calendar (SLAs in business time).",
    )
    days = reference.ensure_table(
        db,
        DAYS_TABLE,
        key_field="date",
        columns=[
            {
                "name": "type",
                "type": "string",
                "label_zh": "类型（holiday 放假 / workday 调休上班）",
            },
            {"name": "name", "type": "string", "label_zh": "名称"},
            {"name": "source", "type": "string", "label_zh": "来源"},
        ],
        description="Holidays and make-up working days of the business calendar.",
    )
    return hours, days


def _rows(db: Session, table: str) -> list[dict[str, Any]]:
    try:
        found = reference.get_table(db, table)
    except NotFoundError:
        return []
    query = select(ReferenceRow).where(ReferenceRow.table_id == found.id)
    return [r.data for r in db.scalars(query.order_by(ReferenceRow.key))]


def settings(db: Session) -> dict[str, Any]:
    """Time zone, working weekdays and hours (defaults until the admin saves them)."""
    rows = _rows(db, HOURS_TABLE)
    row = next((r for r in rows if r.get("id") == clock.SETTINGS_KEY), None)
    return dict(row) if row else {**DEFAULT_SETTINGS, "timezone": clock.default_zone_name()}


def special_days(db: Session, year: int | None = None) -> list[dict[str, Any]]:
    """Holidays and make-up working days, by date; of one year if given."""
    rows = _rows(db, DAYS_TABLE)
    if year is not None:
        rows = [r for r in rows if str(r.get("date", "")).startswith(f"{year}-")]
    return rows


def calendar(db: Session) -> BusinessCalendar:
    """The calendar as the engine sees it."""
    days = _rows(db, DAYS_TABLE)
    return BusinessCalendar.from_ref({HOURS_TABLE: [settings(db)], DAYS_TABLE: days})


def save_settings(
    db: Session, actor: User | None, *, timezone: str, weekdays: list[str], hours: list[str]
) -> dict[str, Any]:
    """Check and store the working time and the company's time zone. No commit.

    A new zone also moves where days begin: the daily figures are recomputed from the hourly
    ones in the same transaction."""
    before = settings(db).get("timezone")
    row: dict[str, Any] = {
        "id": "default",
        "timezone": timezone.strip(),
        "weekdays": sorted({w.strip() for w in weekdays if w.strip()}),
        "hours": [h.strip() for h in hours if h.strip()],
    }
    try:
        BusinessCalendar.from_ref({HOURS_TABLE: [row]})
    except NodeError as err:
        raise ValidationError(
            _l("The working time is not usable: %(reason)s", reason=_reason(err)),
            fields={"hours": "invalid"},
        ) from err
    table, _ = _tables(db)
    reference.upsert_rows(db, table, [row])
    if row["timezone"] != before:
        for told in ZONE_CHANGED:
            told(db, ZoneInfo(row["timezone"]))
        on_commit(db, clock.forget)
    log.info("business hours set by %s: %s", actor.username if actor else "system", row)
    return row


def _reason(err: NodeError) -> str:
    locale = get_locale()
    return err.message_zh if locale is not None and locale.language == "zh" else err.message


def set_day(db: Session, actor: User | None, day: str, kind: str, name: str = "") -> None:
    """Mark ``day`` as a holiday or a make-up working day. No commit."""
    try:
        parsed = date.fromisoformat(day.strip())
    except ValueError as err:
        raise ValidationError(
            _l("Give the date as 2026-10-01."), fields={"date": "invalid"}
        ) from err
    if kind not in DAY_TYPES:
        raise ValidationError(_l("A day is a holiday or a working day."), fields={"type": kind})
    _, table = _tables(db)
    row = {"date": parsed.isoformat(), "type": kind, "name": name.strip()[:64], "source": "admin"}
    reference.upsert_rows(db, table, [row])
    log.info("calendar day %s set to %s by %s", row["date"], kind, actor.username if actor else "-")


def remove_day(db: Session, day: str) -> None:
    """Make ``day`` an ordinary day again. No commit."""
    _, table = _tables(db)
    row = db.scalars(
        select(ReferenceRow).where(ReferenceRow.table_id == table.id, ReferenceRow.key == day)
    ).one_or_none()
    if row is None:
        raise NotFoundError(_l("%(day)s is not a special day.", day=day))
    db.delete(row)
    table.revision += 1
    db.flush()


def seed_statutory(db: Session, year: int) -> int:
    """Load the statutory holidays and make-up working days of ``year`` from the
    ``chinese-calendar`` package; days the admin edited keep the admin's setting."""
    import chinese_calendar

    rows = []
    for mapping, kind in (
        (chinese_calendar.holidays, "holiday"),
        (chinese_calendar.workdays, "workday"),
    ):
        for day, name in mapping.items():
            if day.year != year or (kind == "holiday" and day.isoweekday() > 5 and not name):
                continue
            label = HOLIDAY_NAMES_ZH.get(str(name), str(name or ""))
            suffix = "调休" if kind == "workday" else ""
            rows.append({"date": day.isoformat(), "type": kind, "name": label + suffix})
    if not rows:
        raise ValidationError(
            _l("No statutory holidays are known for %(year)s yet.", year=year),
            fields={"year": "unknown"},
        )
    _, table = _tables(db)
    edited = {r["date"] for r in special_days(db, year) if r.get("source") == "admin"}
    fresh = [{**r, "source": "chinese-calendar"} for r in rows if r["date"] not in edited]
    reference.upsert_rows(db, table, fresh)
    log.info("calendar: %d statutory days of %d loaded", len(fresh), year)
    return len(fresh)


def business_due(db: Session, start: datetime, hours: float) -> datetime:
    """When ``hours`` of business time after ``start`` end, on the stored calendar."""
    return calendar(db).add(start, timedelta(hours=hours))
