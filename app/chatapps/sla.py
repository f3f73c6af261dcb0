"""What an approval's SLA did to a task, as its chat card says it: the time left when a
reminder fired, who the task escalated to (on the old cards) or from (on the new one), and
what happened when its time limit passed (the approval step's audit says whether the flow
decided by itself)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ApprovalTask, RunEvent, User
from . import cards


def values(
    db: Session, task: ApprovalTask, language: str, reminded_at: datetime | None
) -> dict[str, Any]:
    """What the card of ``task`` says about its SLA in ``language``: the time left as of
    ``reminded_at``, who it escalated to or from, what happened when its time limit passed."""
    with force_locale("zh_Hans_CN" if language == "zh" else "en"):
        if task.status == "pending":
            out: dict[str, Any] = {}
            if reminded_at is not None and task.due_at is not None:
                left = (_aware(task.due_at) - _aware(reminded_at)).total_seconds()
                out["left"] = cards.time_left(left)
            if (task.payload or {}).get("kind") == "escalation":
                before = _step_tasks(db, task, lambda t: t.comment == "escalated")
                out["notice"] = _(
                    "Escalated to you: %(names)s did not decide within the time limit.",
                    names=_names(db, before, language),
                )
            return out
        if task.status != "withdrawn":
            return {}
        if task.comment == "escalated":
            after = _step_tasks(db, task, lambda t: (t.payload or {}).get("kind") == "escalation")
            return {"state": cards.ESCALATED, "escalated_to": _names(db, after, language)}
        passed = db.scalars(
            select(RunEvent.data)
            .where(RunEvent.run_id == task.run_id, RunEvent.node_id == task.node_id,
                   RunEvent.kind == "node_passed", RunEvent.at >= task.created_at)
            .order_by(RunEvent.seq.desc())
        ).first()  # fmt: skip
        if passed and passed.get("auto"):
            return {"state": cards.TIMED_OUT, "auto": str(passed.get("decision") or "")}
        return {}


def _aware(moment: datetime) -> datetime:
    # SQLite gives back naive UTC datetimes.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _step_tasks(
    db: Session, task: ApprovalTask, which: Callable[[ApprovalTask], bool]
) -> list[ApprovalTask]:
    """The other tasks of ``task``'s approval step that ``which`` picks."""
    found = db.scalars(
        select(ApprovalTask)
        .where(ApprovalTask.run_id == task.run_id, ApprovalTask.node_id == task.node_id,
               ApprovalTask.id != task.id)
        .order_by(ApprovalTask.id)
    )  # fmt: skip
    return [t for t in found if which(t)]


def _names(db: Session, tasks: list[ApprovalTask], language: str) -> str:
    """Who ``tasks`` are for, by display name (a role or department by its key)."""
    names: list[str] = []
    for t in tasks:
        name = t.assignee or t.role or t.department or ""
        person = (
            db.scalars(select(User).where(User.username == name)).first() if t.assignee else None
        )
        name = (person.display_name or person.username) if person else name
        if name and name not in names:
            names.append(name)
    return ("、" if language == "zh" else ", ").join(names) or "—"
