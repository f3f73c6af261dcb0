"""Time ranges and buckets of the dashboard, in the business time zone.

A range is a half-open interval of whole UTC hours ``[start, end)``; its buckets are hours
when it spans two days or less, local calendar days otherwise. Presets end with the current
hour; a custom range runs from the start of its first local day to the end of its last.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from ..errors import ValidationError
from ..metrics.rollups import hour_of

HOUR = timedelta(hours=1)
PRESETS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
MAX_SPAN = timedelta(days=400)
CHANNEL_LIMIT = 12


@dataclass(frozen=True)
class Range:
    start: datetime
    end: datetime
    zone: ZoneInfo
    label: str = "custom"
    channels: tuple[str, ...] = ()
    # Panels put tens of thousands of rollup rows (an hour times channels) into buckets; the
    # time-zone arithmetic is done once per distinct moment.
    _buckets: dict[datetime, datetime] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    @property
    def hourly(self) -> bool:
        return self.span <= timedelta(days=2)

    @property
    def hours(self) -> float:
        return self.span.total_seconds() / 3600

    def bucket(self, moment: datetime) -> datetime:
        """The start (UTC) of the bucket ``moment`` falls in."""
        found = self._buckets.get(moment)
        if found is None:
            if self.hourly:
                found = hour_of(moment)
            else:
                local = moment.astimezone(self.zone)
                midnight = datetime(local.year, local.month, local.day, tzinfo=self.zone)
                found = midnight.astimezone(UTC)
            self._buckets[moment] = found
        return found

    def buckets(self) -> list[datetime]:
        out: list[datetime] = []
        moment = self.bucket(self.start)
        while moment < self.end:
            out.append(moment)
            if self.hourly:
                moment += HOUR
            else:
                local = moment.astimezone(self.zone).replace(tzinfo=None) + timedelta(days=1)
                moment = local.replace(tzinfo=self.zone).astimezone(UTC)
        return out

    def local_days(self) -> tuple[str, str]:
        """First and last local day of the range, as ISO dates."""
        first = self.start.astimezone(self.zone).date()
        last = (self.end - timedelta(seconds=1)).astimezone(self.zone).date()
        return first.isoformat(), last.isoformat()

    def shifted(self, start: datetime, end: datetime) -> Range:
        return Range(start, end, self.zone, "custom", self.channels)


def _day(text: str) -> date | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    # The range ends a day after its last day, in the company's zone: keep clear of year 9999.
    return day if date.min.year < day.year < date.max.year else None


def parse(args: Mapping[str, Any], now: datetime, zone: ZoneInfo) -> Range:
    """The range of ``?range=7d`` or ``?from=2026-11-01&to=2026-11-07``, and ``?channel=``
    (repeatable or comma separated)."""
    channels: list[str] = []
    getter = getattr(args, "getlist", None)
    raw_channels = getter("channel") if getter else [args.get("channel") or ""]
    for raw in raw_channels:
        channels += [c.strip()[:32] for c in str(raw or "").split(",") if c.strip()]
    channels = list(dict.fromkeys(channels))[:CHANNEL_LIMIT]
    first, last = args.get("from"), args.get("to")
    if first or last:
        start_day, end_day = _day(str(first or "")), _day(str(last or ""))
        if start_day is None or end_day is None or end_day < start_day:
            raise ValidationError(
                _l("Give the range as two dates, from before to."), fields={"from": "invalid"}
            )
        start = datetime(start_day.year, start_day.month, start_day.day, tzinfo=zone)
        end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=zone) + timedelta(days=1)
        if end - start > MAX_SPAN:
            raise ValidationError(_l("The range is longer than 400 days."), fields={"to": "long"})
        return Range(hour_of(start), hour_of(end), zone, "custom", tuple(channels))
    label = str(args.get("range") or "7d")
    span = PRESETS.get(label)
    if span is None:
        raise ValidationError(
            _l("Choose a range: %(options)s.", options=", ".join(PRESETS)), fields={"range": label}
        )
    end = hour_of(now) + HOUR
    return Range(end - span, end, zone, label, tuple(channels))
