"""One clock: the company's time zone, in which every page, message, export and chart shows time.

The admin sets it with the business calendar's working time (``calendar_hours``, the same
zone the SLAs count working hours in); until then it is the app config ``TIMEZONE``, else
``ORDERFLOW_TIMEZONE``, else Asia/Shanghai. Stored times stay UTC and the API keeps ISO 8601
with offsets: only what people read is turned into the company's local time, here.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app, g, has_app_context, has_request_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import get_session
from .models import ReferenceRow, ReferenceTable
from .rechecked import Rechecked

DEFAULT_ZONE = "Asia/Shanghai"
# The admin's setting lives in the business calendar's working-time row.
SETTINGS_TABLE, SETTINGS_KEY = "calendar_hours", "default"
SHORT = "%Y-%m-%d %H:%M"

# Outside requests, read at most once a second per process: a change saved in another
# process applies there within that second.
_current: Rechecked[ZoneInfo] = Rechecked(1.0)


def default_zone_name() -> str:
    """The zone before the admin chose one: config ``TIMEZONE``, ``ORDERFLOW_TIMEZONE``, or
    Asia/Shanghai."""
    name = current_app.config.get("TIMEZONE") if has_app_context() else None
    return str(name or os.environ.get("ORDERFLOW_TIMEZONE") or DEFAULT_ZONE)


def _named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def _load(db: Session) -> ZoneInfo:
    data = db.scalar(
        select(ReferenceRow.data)
        .join(ReferenceTable, ReferenceTable.id == ReferenceRow.table_id)
        .where(ReferenceTable.name == SETTINGS_TABLE, ReferenceRow.key == SETTINGS_KEY)
    )
    name = (data or {}).get("timezone") if isinstance(data, dict) else None
    return _named(str(name or default_zone_name()))


def zone(db: Session | None = None) -> ZoneInfo:
    """The company's time zone: read once per request (the same statements every time a page
    is shown), at most once a second per process elsewhere (workers, commands)."""
    if db is None and not has_app_context():
        return _named(default_zone_name())
    if has_request_context():
        found = g.get("company_zone")
        if found is None:
            found = g.company_zone = _load(db or get_session())
        return found
    return _current.get(db or get_session(), _load)


def forget() -> None:
    """Read the zone again on the next use (after the admin changed it)."""
    _current.forget()
    if has_request_context():
        g.pop("company_zone", None)


def local(
    moment: datetime | None, pattern: str = SHORT, *, empty: str = "—", db: Session | None = None
) -> str:
    """``moment`` as the company's wall-clock time (``empty`` when there is none)."""
    if moment is None:
        return empty
    return moment.astimezone(zone(db)).strftime(pattern)


def local_iso(moment: datetime | None) -> str:
    """ISO 8601 in the company's zone with its offset, for exports people open in a sheet."""
    return moment.astimezone(zone()).isoformat(timespec="seconds") if moment else ""


def offset_label(moment: datetime | None = None) -> str:
    """``UTC+08:00``: the offset of the company's zone (now, or at ``moment``)."""
    at = (moment or datetime.now(UTC)).astimezone(zone())
    return "UTC" + at.strftime("%z")[:3] + ":" + at.strftime("%z")[3:]


def utc_offset_minutes(moment: datetime | None = None) -> int:
    """The company zone's offset from UTC in minutes (now, or at ``moment``): 480 in Shanghai."""
    delta = (moment or datetime.now(UTC)).astimezone(zone()).utcoffset()
    return int(delta.total_seconds() // 60) if delta else 0


def _filter(moment: datetime | None, pattern: str = SHORT) -> str:
    return local(moment, pattern)


def _seconds(moment: datetime | None) -> str:
    return local(moment, "%Y-%m-%d %H:%M:%S")


def init_app(app: Flask) -> None:
    """Template filters: ``localtime`` (minutes, or a strftime pattern) and ``localtime_s``."""
    app.jinja_env.filters["localtime"] = _filter
    app.jinja_env.filters["local"] = _filter
    app.jinja_env.filters["localtime_s"] = _seconds
    app.jinja_env.globals["company_zone"] = zone
    app.jinja_env.globals["company_utc_offset_minutes"] = utc_offset_minutes
