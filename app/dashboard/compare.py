"""Before and after a flow was published: the same figures over equal windows either side.

The window is as long as the dashboard's range, but never longer than the time since the
publish (so "after" is never mostly empty); both windows are whole hours.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..metrics.rollups import hour_of
from ..models import Flow, FlowVersion
from .kpis import PANELS
from .ranges import Range

MIN_WINDOW = timedelta(hours=1)
COMPARED = ("orders", "unit_cost", "status_lag", "manual_rate", "on_time", "self_service",
            "approval_turnaround")  # fmt: skip


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
        key: {"before": PANELS[key](db, before).total, "after": PANELS[key](db, after).total}
        for key in COMPARED
    }
    return {
        "version": version.number,
        "published_at": version.published_at,
        "window_hours": int(window.total_seconds() // 3600),
        "before": {"start": before.start, "end": before.end},
        "after": {"start": after.start, "end": after.end},
        "panels": panels,
    }
