"""Where a run stands, in the words of the orders board: waiting for a person, for an event,
held, short of stock, stopped in an incident, or done.

The stand is derived from the stored snapshot (its JSON form) whenever a run's state is
written, and kept in ``runs.stand`` so the board counts and pages orders with plain indexed
queries instead of reading every snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

APPROVAL = "approval"  # an approval node waits for people
BACKORDERED = "backordered"  # the last reservation was short and nothing is held
EVENT = "event"  # a wait-for-event node waits for an external status
HELD = "held"  # parked on a timer
INCIDENT = "incident"  # a node failed; someone has to retry or cancel
DONE = "done"  # reached an end node
# Board order; a run that waits on several things stands at the first of them (a person to
# act beats stock, which beats an event, which beats a timer).
STANDS = (APPROVAL, BACKORDERED, EVENT, HELD, INCIDENT, DONE)
OPEN_STATUSES = ("new", "waiting", "incident")
_WAIT_STANDS = {"approval": APPROVAL, "event": EVENT, "timer": HELD}


def _short(snapshot: Mapping[str, Any]) -> bool:
    # A reserve-inventory node stores {"status": "insufficient", "shortages": ...} under its
    # variable; a later successful reservation would hold stock (and overwrite the variable).
    if snapshot.get("reservations"):
        return False
    return any(
        isinstance(value, Mapping) and value.get("status") == "insufficient"
        for value in (snapshot.get("vars") or {}).values()
    )


def stand_of(status: str, snapshot: Mapping[str, Any]) -> str | None:
    """The board stand of a run in ``status`` with ``snapshot`` (``RunSnapshot.to_dict()``);
    None while it only awaits its own effects, and for cancelled runs."""
    if status == "incident":
        return INCIDENT
    kinds = {(token.get("wait") or {}).get("kind") for token in snapshot.get("tokens") or ()}
    if status == "waiting" and "approval" in kinds:
        return APPROVAL
    if status in ("waiting", "completed") and _short(snapshot):
        return BACKORDERED
    if status == "waiting":
        return next((_WAIT_STANDS[k] for k in ("event", "timer") if k in kinds), None)
    return DONE if status == "completed" else None
