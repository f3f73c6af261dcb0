"""Before and after a flow was published: the same figures over equal windows either side.

The window is as long as the dashboard's range, but never longer than the time since the
publish (so "after" is never mostly empty); both windows are whole hours. The panels
compared, the field of each and which way is better come from their :class:`PanelSpec`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..metrics.rollups import hour_of
from ..models import Flow, FlowVersion
from .panels import PANELS, PanelSpec
from .ranges import Range

MIN_WINDOW = timedelta(hours=1)
SIGN = {"up": 1, "down": -1, "none": 0}


def publishes(db: Session, start: datetime, end: datetime, limit: int = 50) -> list[dict[str, Any]]:
    """Flow versions published in ``[start, end)``, newest first (markers on the charts)."""
    rows = db.execute(
        select(Flow.key, Flow.name_zh, Flow.name_en, FlowVersion.number, FlowVersion.published_at, FlowVersion.id)
        .join(Flow, Flow.id == FlowVersion.flow_id)
        .where(FlowVersion.published_at >= start, FlowVersion.published_at < end)
        .order_by(FlowVersion.published_at.desc())
        .limit(limit)
    )  # fmt: skip
    return [
        {"flow": key, "name_zh": zh, "name_en": en, "version": number, "id": ident,
         "published_at": moment.isoformat().replace("+00:00", "Z")}
        for key, zh, en, number, moment, ident in rows
    ]  # fmt: skip


def before_after(db: Session, r: Range, version: FlowVersion, now: datetime) -> dict[str, Any]:
    """Each compared panel's totals in the windows before and after ``version`` went live."""
    pivot = hour_of(version.published_at)
    window = min(r.span, hour_of(now) + timedelta(hours=1) - pivot)
    if window < MIN_WINDOW:
        return {
            "version": version.number,
            "published_at": version.published_at,
            "panels": {},
            "window_hours": 0,
        }
    before = r.shifted(pivot - window, pivot)
    after = r.shifted(pivot, pivot + window)
    panels = {
        spec.key: {
            "before": spec.compute(db, before).total,
            "after": spec.compute(db, after).total,
        }
        for spec in PANELS.values()
        if spec.compared
    }
    return {
        "version": version.number,
        "published_at": version.published_at,
        "window_hours": int(window.total_seconds() // 3600),
        "before": {"start": before.start, "end": before.end},
        "after": {"start": after.start, "end": after.end},
        "panels": panels,
    }


@dataclass(frozen=True)
class Change:
    """A compared panel's field before and after, and how it changed."""

    before: Any
    after: Any
    percent: float | None  # after against before; None when either is unknown or before is 0
    tone: str  # "ok": the better way, "bad": the worse way, "": neither or no way is better


def change(spec: PanelSpec, pair: Mapping[str, Mapping[str, Any]]) -> Change:
    """How ``spec``'s compared field moved between the totals ``pair["before"]`` and ``["after"]``."""
    field = spec.compared or ""
    b, a = pair["before"].get(field), pair["after"].get(field)
    if b is None or a is None or b == 0:
        return Change(b, a, None, "")
    percent = (a - b) * 100 / b
    sign = SIGN[spec.better]
    tone = "ok" if percent * sign > 0 else ("bad" if sign and percent != 0 else "")
    return Change(b, a, percent, tone)
