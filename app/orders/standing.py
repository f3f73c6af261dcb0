"""Where orders stand in their flows: the board's flow columns, their counts and pages, and
the runs of one order in business language.

An order is in a column when one of its runs stands there (``runs.stand``, see
app/runs/stand.py); it is done when a run of it completed and none is still open. An order
with an active hold (``holds``, set by flows) is also held, with or without a timer. An order
with runs in two flows can so be in two columns: each says what one of its flows waits for.
Every function costs a fixed number of statements, however many orders it lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from ..i18n import localized
from ..models import ApprovalTask, Flow, FlowVersion, Order, Run, User
from ..runs.stand import APPROVAL, DONE, HELD, OPEN_STATUSES, STANDS
from ..wording import node_name

LABELS = {
    "approval": _l("Waiting for approval"),
    "backordered": _l("Backordered"),
    "event": _l("Waiting for an event"),
    "held": _l("Held"),
    "incident": _l("Incident"),
    "done": _l("Done"),
}
HINTS = {
    "approval": _l("An approval task waits for the people shown, until the time due."),
    "backordered": _l("A reservation found too little stock and holds none."),
    "event": _l("The flow waits for a status from another system."),
    "held": _l("The flow holds the order until a time, or a flow put a named hold on it."),
    "incident": _l("A node failed: retry or cancel the run."),
    "done": _l("Every run finished; the outcome of each is shown."),
}


@dataclass
class RunLine:
    """One run of a listed order, in the words of the board."""

    run_id: int
    flow: str
    stand: str | None
    status: str
    node: str = ""
    outcome: str = ""
    reason: str = ""
    event: str = ""
    assignees: list[str] = field(default_factory=list)
    due: datetime | None = None


def _members(stand: str) -> Any:
    """The condition "the order is in column ``stand``", on ``orders``."""
    in_stand = exists().where(Run.order_id == Order.id, Run.stand == stand)
    if stand == HELD:
        return or_(Order.on_hold.is_(True), in_stand)
    if stand != DONE:
        return in_stand
    still_open = exists().where(Run.order_id == Order.id, Run.status.in_(OPEN_STATUSES))
    return and_(in_stand, ~still_open)


def counts(db: Session) -> dict[str, int]:
    """Orders per column, in one statement."""
    row = db.execute(
        select(
            *(
                select(func.count(Order.id)).where(_members(s)).scalar_subquery().label(s)
                for s in STANDS
            )
        )
    ).one()
    return dict(zip(STANDS, row, strict=True))


def _listing(stand: str) -> Select[Order]:
    return select(Order).where(_members(stand)).order_by(Order.id.desc())


def orders_in(db: Session, stand: str, page: int, size: int) -> list[Order]:
    """Page ``page`` (from 1) of the orders in column ``stand``, newest first."""
    return list(db.scalars(_listing(stand).limit(size).offset((page - 1) * size)))


def _names(version_doc: dict[str, Any], language: str) -> dict[str, str]:
    return {n["id"]: node_name(n, language) for n in version_doc.get("nodes", ())}


# The outcomes an end takes by default from the approval branch it ends, in the reader's words
# (an end with a name is shown by its name; any other outcome code as it is).
OUTCOME_WORDS = {
    "zh": {"approved": "已批准", "rejected": "已驳回", "timeout": "已超时"},
    "en": {"approved": "Approved", "rejected": "Rejected", "timeout": "Timed out"},
}


def _line(run: Run, version: FlowVersion, flow: Flow, language: str) -> RunLine:
    names = _names(version.doc or {}, language)
    line = RunLine(
        run_id=run.id,
        flow=(flow.name_zh if language == "zh" else flow.name_en) or flow.name_en or flow.key,
        stand=run.stand,
        status=run.status,
        node=", ".join(names.get(n, n) for n in run.current_nodes or ()),
    )
    if run.outcome:
        ends = {n["id"]: n for n in (version.doc or {}).get("nodes", ()) if n.get("type") == "end"}
        named = [localized(n.get("name"), language) for n in ends.values()
                 if (n.get("config") or {}).get("outcome") == run.outcome and n.get("name")]  # fmt: skip
        words = OUTCOME_WORDS["zh" if language == "zh" else "en"]
        line.outcome = named[0] if named else words.get(run.outcome, run.outcome)
    if run.incident:
        line.node = names.get(run.incident.get("node_id", ""), line.node)
        key = "message_zh" if language == "zh" else "message"
        line.reason = str(run.incident.get(key) or run.incident.get("message") or "")
    for token in (run.snapshot or {}).get("tokens") or ():
        wait = token.get("wait") or {}
        if wait.get("kind") == "event":
            line.event = str(wait.get("event") or "")
    return line


def runs_of(db: Session, order_ids: list[int], language: str) -> dict[int, list[RunLine]]:
    """The runs of ``order_ids`` (two statements), pending approvers and due times filled in."""
    if not order_ids:
        return {}
    rows = db.execute(
        select(Run, FlowVersion, Flow)
        .join(FlowVersion, FlowVersion.id == Run.flow_version_id)
        .join(Flow, Flow.id == FlowVersion.flow_id)
        .where(Run.order_id.in_(order_ids))
        .order_by(Run.order_id, Run.id)
    ).all()
    lines: dict[int, list[RunLine]] = {}
    by_run: dict[int, RunLine] = {}
    for run, version, flow in rows:
        line = _line(run, version, flow, language)
        lines.setdefault(run.order_id, []).append(line)
        by_run[run.id] = line
    waiting = [i for i, line in by_run.items() if line.stand == APPROVAL]
    if waiting:
        tasks = db.execute(
            select(
                ApprovalTask.run_id, ApprovalTask.assignee, User.display_name, ApprovalTask.due_at
            )
            .outerjoin(User, User.username == ApprovalTask.assignee)
            .where(ApprovalTask.run_id.in_(waiting), ApprovalTask.status == "pending")
            .order_by(ApprovalTask.id)
        )
        for run_id, assignee, display, due in tasks:
            line = by_run[run_id]
            who = display or assignee
            if who and who not in line.assignees:
                line.assignees.append(who)
            if due is not None and (line.due is None or due < line.due):
                line.due = due
    return lines


def in_progress(db: Session, order_id: int) -> bool:
    """Whether a flow still works on the order (any open run): the tracking page says
    "processing" then instead of the order's first state."""
    return bool(
        db.scalar(select(exists().where(Run.order_id == order_id, Run.status.in_(OPEN_STATUSES))))
    )
