"""Date, datetime, time-zone and duration functions of the library.

Datetimes are always time-zone aware (naive ones are read as UTC); differences are elapsed
time, computed in UTC, so a day that changes to daylight-saving time has 23 hours.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rule_dsl.runtime import (
    DATE_LIMIT,
    EvalFaultError,
    kind_of,
    num,
    overflow,
    to_date,
    to_datetime,
)

__all__ = ["TIME_FUNCTIONS", "zone"]

_US_PER_HOUR = Decimal(3_600_000_000)


def _need_number(sid: int, name: str, value: Any) -> Any:
    value = num(value)
    if kind_of(value) != "number":
        raise EvalFaultError(sid, "eval_type", op=name, left="number", right=kind_of(value))
    return value


@lru_cache(maxsize=128)
def zone(name: str) -> ZoneInfo:
    """Resolve an IANA time-zone name such as ``Asia/Shanghai``; ValueError if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(name) from None


def _tz(name: Any, sid: int) -> ZoneInfo:
    try:
        return zone(str(name))
    except ValueError:
        raise EvalFaultError(sid, "bad_timezone", name=repr(name)) from None


def _in_zone(sid: int, name: str, moment: datetime, zone_info: Any) -> datetime:
    """``moment.astimezone(zone_info)``; the ends of the calendar overflow in some zones."""
    try:
        return moment.astimezone(zone_info)
    except OverflowError:
        raise overflow(sid, name, DATE_LIMIT) from None


def f_now(sid: int, clock: datetime) -> Any:
    return clock


def f_today(sid: int, clock: datetime, tz: Any = None) -> Any:
    return (_in_zone(sid, "today", clock, _tz(tz, sid)) if tz is not None else clock).date()


def f_date(sid: int, value: Any, tz: Any = None) -> Any:
    if value is None:
        return None
    if tz is not None:
        value = _in_zone(sid, "date", to_datetime(value, sid), _tz(tz, sid))
    return to_date(value, sid)


def f_datetime(sid: int, value: Any, tz: Any = None) -> Any:
    if value is None:
        return None
    if tz is None:
        return to_datetime(value, sid)
    zone_info = _tz(tz, sid)
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise EvalFaultError(sid, "bad_value", expected="datetime", value=repr(value)) from None
        if parsed.tzinfo is None:  # wall-clock time in the named zone
            return parsed.replace(tzinfo=zone_info)
        return _in_zone(sid, "datetime", parsed, zone_info)
    if type(value) is date:
        return datetime(value.year, value.month, value.day, tzinfo=zone_info)
    return _in_zone(sid, "datetime", to_datetime(value, sid), zone_info)


def f_in_timezone(sid: int, value: Any, tz: Any) -> Any:
    if value is None or tz is None:
        return None
    return _in_zone(sid, "in_timezone", to_datetime(value, sid), _tz(tz, sid))


def _delta(sid: int, name: str, start: Any, end: Any) -> Any:
    if start is None or end is None:
        return None
    if type(start) is date and type(end) is date:
        return end - start
    return _in_zone(sid, name, to_datetime(end, sid), UTC) - _in_zone(
        sid, name, to_datetime(start, sid), UTC
    )


def _whole_days(delta: timedelta) -> int:
    days = abs(delta) // timedelta(days=1)
    return days if delta >= timedelta(0) else -days


def _hours(delta: timedelta) -> Decimal:
    return Decimal(delta // timedelta(microseconds=1)) / _US_PER_HOUR


def f_days_between(sid: int, start: Any, end: Any) -> Any:
    delta = _delta(sid, "days_between", start, end)
    return None if delta is None else _whole_days(delta)


def f_hours_between(sid: int, start: Any, end: Any) -> Any:
    delta = _delta(sid, "hours_between", start, end)
    return None if delta is None else _hours(delta)


def f_hours_since(sid: int, clock: datetime, value: Any) -> Any:
    delta = _delta(sid, "hours_since", value, clock)
    return None if delta is None else _hours(delta)


def f_days_since(sid: int, clock: datetime, value: Any) -> Any:
    if type(value) is date:
        return (clock.date() - value).days
    delta = _delta(sid, "days_since", value, clock)
    return None if delta is None else _whole_days(delta)


def _part(attr: str) -> Callable[[int, Any], Any]:
    def part(sid: int, value: Any) -> Any:
        if value is None:
            return None
        moment = to_datetime(value, sid) if attr == "hour" else value
        if type(moment) is str:
            moment = to_datetime(moment, sid)
        if attr == "weekday":
            return moment.isoweekday()
        return getattr(moment, attr)

    return part


def _duration(unit: str) -> Callable[[int, Any], Any]:
    def make(sid: int, value: Any) -> Any:
        if value is None:
            return None
        amount = Decimal(_need_number(sid, unit, value))
        try:
            return timedelta(microseconds=int(amount * _US_PER_UNIT[unit]))
        except (OverflowError, InvalidOperation):
            raise overflow(sid, f"{unit}()") from None

    return make


_US_PER_UNIT = {"minutes": 60_000_000, "hours": 3_600_000_000, "days": 86_400_000_000}


TIME_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "now": f_now,
    "today": f_today,
    "date": f_date,
    "datetime": f_datetime,
    "in_timezone": f_in_timezone,
    "days_between": f_days_between,
    "hours_between": f_hours_between,
    "hours_since": f_hours_since,
    "days_since": f_days_since,
    "year": _part("year"),
    "month": _part("month"),
    "day": _part("day"),
    "hour": _part("hour"),
    "weekday": _part("weekday"),
    "minutes": _duration("minutes"),
    "hours": _duration("hours"),
    "days": _duration("days"),
}
