"""Business time: working hours on working days, with holidays and make-up working days.

An approval SLA with ``business_hours`` counts only working time: "24h" started on the eve
of a week-long holiday ends three working days later, not in the middle of the holiday.
The calendar is plain data, so runs stay deterministic: either a :class:`BusinessCalendar`
given to ``start_run`` / ``step`` / ``simulate`` (``calendar=``), or two reference tables the
app keeps in ``ref``::

    ref["calendar_hours"] = [{"id": "default", "timezone": "Asia/Shanghai",
                              "weekdays": [1, 2, 3, 4, 5], "hours": ["09:00-12:00", "13:00-18:00"]}]
    ref["calendar_days"] = [{"date": "2026-10-01", "type": "holiday", "name": "国庆节"},
                            {"date": "2026-10-10", "type": "workday", "name": "国庆节调休"}]

Without either, Monday to Friday 09:00-18:00 in Asia/Shanghai applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flow_engine.errors import NodeError

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_HOURS = ("09:00-18:00",)
DEFAULT_WEEKDAYS = (1, 2, 3, 4, 5)
# A calendar with no working time within this many days is broken, not merely busy.
MAX_DAYS = 3660


def _bad(detail: str) -> NodeError:
    return NodeError(
        "bad_calendar",
        f"the business calendar is not usable: {detail}",
        f"工作日历无法使用：{detail}",
    )


def _minutes(text: str) -> int:
    try:
        hours, minutes = str(text).strip().split(":")
        value = int(hours) * 60 + int(minutes)
    except ValueError:
        raise _bad(f"{text!r} is not a time like 09:00") from None
    if not 0 <= value <= 24 * 60 or not 0 <= int(minutes) < 60:
        raise _bad(f"{text!r} is not a time of day")
    return value


def parse_hours(spans: Iterable[str]) -> tuple[tuple[int, int], ...]:
    """``["09:00-12:00", "13:00-18:00"]`` as sorted minute ranges; overlaps are refused."""
    out = []
    for span in spans:
        start, sep, end = str(span).partition("-")
        if not sep:
            raise _bad(f"{span!r} is not a range like 09:00-18:00")
        first, last = _minutes(start), _minutes(end)
        if last <= first:
            raise _bad(f"{span!r} ends before it starts")
        out.append((first, last))
    out.sort()
    for (_, prev_end), (next_start, _) in zip(out, out[1:], strict=False):
        if next_start < prev_end:
            raise _bad("working hours overlap")
    return tuple(out)


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _bad(f"unknown time zone {name!r}") from None


def _date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _bad(f"{value!r} is not a date like 2026-10-01") from None


class BusinessCalendar:
    """Working hours on working days in one time zone.

    A day works when its weekday is a working weekday and it is not a holiday, or when it
    is a make-up working day (调休) whatever its weekday.
    """

    def __init__(
        self,
        *,
        timezone: str = DEFAULT_TIMEZONE,
        weekdays: Iterable[int] = DEFAULT_WEEKDAYS,
        hours: Iterable[str] = DEFAULT_HOURS,
        holidays: Iterable[date | str] = (),
        workdays: Iterable[date | str] = (),
    ) -> None:
        self.timezone = timezone
        self.zone = _zone(timezone)
        self.weekdays = frozenset(int(d) for d in weekdays)
        if not self.weekdays <= set(range(1, 8)):
            raise _bad("weekdays are numbered 1 (Monday) to 7 (Sunday)")
        self.hours = parse_hours(hours)
        self.holidays = frozenset(_date(d) for d in holidays)
        self.workdays = frozenset(_date(d) for d in workdays)
        if not self.hours or not (self.weekdays or self.workdays):
            raise _bad("there is no working time at all")

    @classmethod
    def from_ref(cls, ref: Mapping[str, Any]) -> BusinessCalendar:
        """The calendar kept in the reference tables ``calendar_hours`` and ``calendar_days``."""
        rows = [r for r in ref.get("calendar_hours") or () if isinstance(r, Mapping)]
        main = next((r for r in rows if r.get("id") == "default"), rows[0] if rows else {})
        # Reference rows are plain JSON; _date refuses a value that is not a date.
        holidays: list[Any] = []
        workdays: list[Any] = []
        for row in ref.get("calendar_days") or ():
            if not isinstance(row, Mapping):
                continue
            kind = row.get("type")
            if kind == "holiday":
                holidays.append(row.get("date"))
            elif kind == "workday":
                workdays.append(row.get("date"))
        return cls(
            timezone=str(main.get("timezone") or DEFAULT_TIMEZONE),
            weekdays=_listed(main.get("weekdays"), DEFAULT_WEEKDAYS),
            hours=_listed(main.get("hours"), DEFAULT_HOURS),
            holidays=holidays,
            workdays=workdays,
        )

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` has working hours."""
        if day in self.workdays:
            return True
        return day.isoweekday() in self.weekdays and day not in self.holidays

    def _spans(self, day: date) -> Iterable[tuple[datetime, datetime]]:
        midnight = datetime.combine(day, time(), tzinfo=self.zone)
        for first, last in self.hours:
            start = (midnight + timedelta(minutes=first)).astimezone(UTC)
            yield start, (midnight + timedelta(minutes=last)).astimezone(UTC)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of working time after ``start`` (same time zone as it)."""
        if duration <= timedelta(0):
            return start
        cursor = start.astimezone(UTC)
        remaining = duration
        day = start.astimezone(self.zone).date()
        for _ in range(MAX_DAYS):
            if self.is_working_day(day):
                for span_start, span_end in self._spans(day):
                    begin = max(span_start, cursor)
                    if begin >= span_end:
                        continue
                    available = span_end - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(start.tzinfo)
                    remaining -= available
            day += timedelta(days=1)
        raise _bad(f"no working time within {MAX_DAYS} days")


def _listed(value: Any, default: Iterable[Any]) -> Iterable[Any]:
    if value is None or value == "" or value == []:
        return default
    if isinstance(value, str):
        return [v.strip() for v in value.replace(",", "|").split("|") if v.strip()]
    return value if isinstance(value, list | tuple) else default
