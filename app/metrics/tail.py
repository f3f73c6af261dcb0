"""Reading an append-only table exactly once, in id order, across transactions.

Ids come from a sequence, but transactions commit in any order: when the refresher reads up
to id 120, the row with id 110 may belong to a transaction still open. So besides the
position, a cursor remembers the ids it skipped below it (as ranges) and picks them up when
they appear; a gap that stays empty for :data:`GAP_TTL` was a rolled-back insert and is
forgotten. The cursor row is locked for the whole pass and saved in the same transaction
as everything derived from the rows, so each row is processed once.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import MetricCursor

GAP_TTL = timedelta(minutes=15)
MAX_RANGES = 2000


@dataclass
class Slice:
    """The ids of one pass: new ones above the position and late ones from old gaps."""

    cursor: MetricCursor
    ids: list[int] = field(default_factory=list)
    late: list[int] = field(default_factory=list)
    top: int = 0

    @property
    def all_ids(self) -> list[int]:
        return sorted(set(self.ids) | set(self.late))


def lock(db: Session, name: str, now: datetime, *, wait: bool = False) -> MetricCursor | None:
    """The cursor ``name``, locked for this transaction; None if another pass holds it
    (or, with ``wait``, once the other pass has finished)."""
    dialect = db.get_bind().dialect.name
    # On SQLite the first statement must write: a transaction that read first cannot take
    # the write lock once another writer has committed (SQLite gives up at once, without
    # waiting), and under a busy ingest that happens on every attempt.
    if dialect == "sqlite" or db.get(MetricCursor, name) is None:
        module = postgresql if dialect == "postgresql" else sqlite
        db.execute(
            module.insert(MetricCursor)
            .values(name=name, position=0, gaps={}, updated_at=now)
            .on_conflict_do_nothing()
        )
    if dialect == "sqlite":
        # Holding the write lock, the pass never loses its work to a writer that committed
        # after it started reading.
        db.execute(update(MetricCursor).where(MetricCursor.name == name).values(updated_at=now))
        db.expire_all()
        return db.get(MetricCursor, name)
    return db.scalars(
        select(MetricCursor)
        .where(MetricCursor.name == name)
        .with_for_update(skip_locked=not wait)
        .execution_options(populate_existing=True)
    ).one_or_none()


def cursor(db: Session, name: str, now: datetime) -> MetricCursor:
    """The cursor ``name`` (created at 0 if new), for a pass that holds the refresh lock."""
    found = db.get(MetricCursor, name)
    if found is None:
        found = MetricCursor(name=name, position=0, gaps={}, updated_at=now)
        db.add(found)
        db.flush()
    return found


def read(db: Session, cursor: MetricCursor, column: Any, limit: int) -> Slice:
    """Up to ``limit`` new ids after the cursor, plus ids that filled earlier gaps."""
    ids = list(
        db.scalars(select(column).where(column > cursor.position).order_by(column).limit(limit))
    )
    ranges = _ranges(cursor)
    late: list[int] = []
    if ranges:
        conditions: list[ColumnElement[bool]] = [column.between(a, b) for a, b, _ in ranges]
        late = list(db.scalars(select(column).where(or_(*conditions)).limit(limit)))
    return Slice(cursor, ids, late, ids[-1] if ids else cursor.position)


def advance(cursor: MetricCursor, batch: Slice, now: datetime) -> None:
    """Move the cursor past ``batch``: new gaps remembered, filled or expired ones dropped."""
    late = sorted(batch.late)
    kept: list[list[Any]] = []
    for low, high, since in _ranges(cursor):
        if now - datetime.fromisoformat(since) > GAP_TTL:
            continue
        kept.extend(_split(low, high, since, late))
    start = cursor.position + 1
    for ident in batch.ids:  # ascending: whatever lies between consecutive ids is a gap
        if ident > start:
            kept.append([start, ident - 1, now.isoformat()])
        start = ident + 1
    cursor.position = max(cursor.position, batch.top)
    cursor.gaps = {"ranges": kept[-MAX_RANGES:]} if kept else {}
    cursor.updated_at = now


def _ranges(cursor: MetricCursor) -> list[tuple[int, int, str]]:
    return [(int(a), int(b), str(s)) for a, b, s in (cursor.gaps or {}).get("ranges", [])]


def _split(low: int, high: int, since: str, late: list[int]) -> list[list[Any]]:
    """The parts of ``[low, high]`` not in ``late`` (sorted)."""
    inside = late[bisect_left(late, low) : bisect_right(late, high)]
    out: list[list[Any]] = []
    start = low
    for ident in inside:
        if ident > start:
            out.append([start, ident - 1, since])
        start = ident + 1
    if start <= high:
        out.append([start, high, since])
    return out
