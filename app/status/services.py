"""The unified status model: source systems' codes mapped to OrderFlow order states.

Each source system (ERP, WMS, TMS, carrier) reports its own codes; ``mappings.json`` maps
them to the order states (admins replace or add tables: :mod:`.sources`), which progress
one way (``created → paid → approved → picking → packed → shipped → customs_cleared →
delivered → signed``). An event for an earlier state
than the order's is recorded as a late milestone and changes nothing; ``cancelled`` is
accepted until the order ships, ``returned`` once it has shipped; after either, nothing
moves the order. Every event keeps its source time and its receive time (status lag), is
stored once per (source, event id), and an applied event resumes the order's runs waiting
for that state.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flow_engine import ExternalEvent

from ..errors import NotFoundError, ValidationError
from ..models import Order, Run, StatusEvent, utcnow
from ..runs import services as runs
from ..runs import triggers
from ..runs.order_events import announce_order_event
from . import sources as source_tables

log = logging.getLogger(__name__)
APPLIED, LATE, DUPLICATE = "applied", "late", "duplicate"
SHIPPED_RANK = 50


@dataclass(frozen=True)
class StateInfo:
    state: str
    rank: int | None
    en: str
    zh: str


@cache
def _data() -> dict[str, Any]:
    return json.loads((Path(__file__).parent / "mappings.json").read_text(encoding="utf-8"))


@cache
def states() -> dict[str, StateInfo]:
    """Every order state with its rank (``None`` for cancelled and returned) and labels."""
    return {
        s["state"]: StateInfo(s["state"], s["rank"], s["en"], s["zh"]) for s in _data()["states"]
    }


def trigger_events() -> list[str]:
    """Every event a flow can start on: the order events and one per order state."""
    first, rest = triggers.EVENTS[:2], triggers.EVENTS[2:]
    # dict: order.created is both an order event and the first state's
    return list(dict.fromkeys([*first, *(f"order.{s}" for s in states()), *rest]))


def sources(db: Session) -> dict[str, dict[str, str]]:
    """Per source system, its status codes and the order state each maps to (the shipped
    tables with the ones admins saved in their place; see :mod:`.sources`)."""
    return source_tables.effective(db)


def map_code(db: Session, source: str, code: str) -> str:
    """The order state for ``code`` of ``source``; ValidationError for unknown ones."""
    known = sources(db)
    table = known.get(source)
    if table is None:
        raise ValidationError(
            _l("Unknown source system %(source)s.", source=source),
            code="unknown_source",
            details=[{"path": "/source", "message": f"one of {sorted(known)}", "rule": "enum"}],
        )
    state = table.get(code.strip().upper())
    if state is None:
        raise ValidationError(
            _l("%(source)s status code %(code)s is not mapped.", source=source, code=code),
            code="unknown_status_code",
            details=[{"path": "/code", "message": f"one of {sorted(table)}", "rule": "enum"}],
        )
    return state


def moves(current: str, new: str) -> bool:
    """Whether an order in state ``current`` moves to ``new`` (never backwards)."""
    info = states()
    now_rank = info[current].rank if current in info else -1
    if current in ("cancelled", "returned"):
        return False
    if new == "cancelled":
        return now_rank is not None and now_rank < SHIPPED_RANK
    if new == "returned":
        return now_rank is not None and now_rank >= SHIPPED_RANK
    new_rank = info[new].rank
    return new_rank is not None and now_rank is not None and new_rank > now_rank


@dataclass(frozen=True)
class Recorded:
    event: StatusEvent
    order: Order
    effect: str  # applied, late or duplicate
    resumed: int = 0
    started: int = 0  # runs started by the order.status_changed and order.<state> events


def record(
    db: Session,
    order: Order,
    *,
    source: str,
    event_id: str,
    code: str,
    occurred_at: datetime,
    location: str | None = None,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Recorded:
    """Record one status event for ``order`` and apply it. No commit."""
    state = map_code(db, source, code)
    now = now or utcnow()
    seen = _existing(db, source, event_id)
    if seen is not None:
        return Recorded(seen, db.get(Order, seen.order_id) or order, DUPLICATE)
    if db.get_bind().dialect.name == "postgresql":
        # Serialise events of one order: two at once must not both judge from the old state.
        db.refresh(order, with_for_update=True)
    effect = APPLIED if moves(order.status, state) else LATE
    event = StatusEvent(
        order_id=order.id,
        source=source,
        event_id=event_id,
        code=code.strip().upper(),
        state=state,
        effect=effect,
        source_time=occurred_at,
        received_at=now,
        location=location,
        data=data or {},
    )
    try:
        with db.begin_nested():
            db.add(event)
            db.flush()
    except IntegrityError:
        # The same event arrived twice at once: the other copy was stored first.
        seen = _existing(db, source, event_id)
        if seen is None:
            raise
        return Recorded(seen, order, DUPLICATE)
    resumed = started = 0
    if effect == APPLIED:
        before = order.status
        order.status = state
        order.updated_at = now
        resumed = _resume(db, order, state, event, now)
        if state != before:
            started = _announce(db, order, before, event, now)
    db.flush()
    return Recorded(event, order, effect, resumed, started)


@dataclass(frozen=True)
class Incoming:
    """One status event as a request brought it (see :func:`record_many`)."""

    order_ref: dict[str, Any]  # order_id, or tracking_id, or channel + external_id
    source: str
    event_id: str
    code: str
    occurred_at: datetime
    location: str | None = None
    data: dict[str, Any] | None = None


def record_incoming(
    db: Session, item: Incoming, find: Any, *, now: datetime | None = None
) -> Recorded:
    """Find ``item``'s order with ``find(db, **order_ref)`` and record the event. No commit.
    Raises NotFoundError when there is no such order."""
    order = find(db, **item.order_ref)
    if order is None:
        raise NotFoundError(_l("The order of this status event does not exist."))
    return record(
        db, order, source=item.source, event_id=item.event_id, code=item.code,
        occurred_at=item.occurred_at, location=item.location, data=item.data, now=now,
    )  # fmt: skip


def record_many(
    db: Session, items: list[Incoming], find: Any, *, now: datetime | None = None
) -> list[Recorded]:
    """Record several status events in one transaction (the API's group commit), all or
    nothing; answers in the order of ``items``. Events are applied in the order of their
    orders' ids, so that two such transactions lock orders in the same order (PostgreSQL)
    and never wait on each other in a circle; events of one order keep their arrival order.
    """
    now = now or utcnow()
    orders = []
    for item in items:
        order = find(db, **item.order_ref)
        if order is None:
            raise NotFoundError(_l("The order of this status event does not exist."))
        orders.append(order)
    answers: dict[int, Recorded] = {}
    for i in sorted(range(len(items)), key=lambda i: (orders[i].id, i)):
        item = items[i]
        answers[i] = record(
            db, orders[i], source=item.source, event_id=item.event_id, code=item.code,
            occurred_at=item.occurred_at, location=item.location, data=item.data, now=now,
        )  # fmt: skip
    return [answers[i] for i in range(len(items))]


def _existing(db: Session, source: str, event_id: str) -> StatusEvent | None:
    return db.scalars(
        select(StatusEvent).where(StatusEvent.source == source, StatusEvent.event_id == event_id)
    ).first()


def _resume(db: Session, order: Order, state: str, event: StatusEvent, now: datetime) -> int:
    waiting = db.scalars(
        select(Run.id).where(Run.order_id == order.id, Run.status == "waiting")
    ).all()
    payload = {
        "source": event.source,
        "code": event.code,
        "state": state,
        "occurred_at": event.source_time.isoformat(),
        "location": event.location,
        **(event.data or {}),
    }
    accepted = 0
    for run_id in waiting:
        outcome = runs.apply_event(db, run_id, ExternalEvent(state, payload), now=now)
        accepted += int(outcome.accepted)
    return accepted


def _announce(db: Session, order: Order, before: str, event: StatusEvent, now: datetime) -> int:
    """Announce ``order.status_changed`` and ``order.<state>``; runs already waiting were
    resumed first, so a run started here does not also receive this event."""
    data = {
        "from": before,
        "to": event.state,
        "source": event.source,
        "code": event.code,
        "event_id": event.event_id,
        "occurred_at": event.source_time.isoformat(),
        "location": event.location,
    }
    key = f"status:{event.source}:{event.event_id}"
    started = announce_order_event(db, "order.status_changed", order, data, key=key, now=now)
    started += announce_order_event(db, f"order.{event.state}", order, data, key=key, now=now)
    return len(started)


def history(db: Session, order_id: int) -> list[StatusEvent]:
    """Every status event of an order, in the order things happened at the source."""
    return list(
        db.scalars(
            select(StatusEvent)
            .where(StatusEvent.order_id == order_id)
            .order_by(StatusEvent.source_time, StatusEvent.id)
        )
    )


def milestones(order: Order, events: list[StatusEvent]) -> list[dict[str, Any]]:
    """The states an order has reached, in progression order, each with its first time."""
    reached: dict[str, datetime] = {"created": placed_at(order)}
    info = states()
    for event in events:
        terminal = event.state not in info or info[event.state].rank is None
        if terminal and event.effect != APPLIED:
            continue  # a refused cancellation or return is no milestone
        if event.state not in reached or event.source_time < reached[event.state]:
            reached[event.state] = event.source_time
    ordered = sorted(
        reached.items(), key=lambda kv: (info[kv[0]].rank if kv[0] in info and
                                         info[kv[0]].rank is not None else 1000, kv[1])
    )  # fmt: skip
    return [{"state": s, "at": at, "current": s == order.status} for s, at in ordered]


def placed_at(order: Order) -> datetime:
    """When the customer placed the order (its ``created_at``), else when it arrived."""
    raw = (order.data or {}).get("created_at")
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if raw else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        return order.created_at
    return moment.astimezone(UTC)


def lag_seconds(event: StatusEvent) -> float:
    """How long after it happened at the source the event reached OrderFlow."""
    return max(0.0, (event.received_at - event.source_time).total_seconds())
