"""Order events announced to the rest of OrderFlow.

Every change that other parts may react to (a status that moved the order, fields a flow
set, an alert about the order) is announced here once, in the transaction that made it:
the trigger dispatch starts the flows it matches (:mod:`app.runs.triggers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..models import Order, Run
from ..runs.triggers import OrderEvent, start_runs_for_event


def announce_order_event(
    db: Session,
    kind: str,
    order: Order,
    data: Mapping[str, Any],
    *,
    key: str,
    now: datetime | None = None,
) -> list[Run]:
    """Announce event ``kind`` (``order.status_changed``, ``order.paid``,
    ``order.updated`` ...) about ``order``; ``key`` is the event's identity, the same when
    the same event is delivered again (see :class:`app.runs.triggers.OrderEvent`). Returns
    the runs it started. No commit."""
    return start_runs_for_event(db, OrderEvent(kind, order, key, data), now=now)
