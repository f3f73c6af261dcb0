"""Telling people about new approval tasks.

The engine's ``create_approval_tasks`` effect becomes task rows in the run's transaction;
a ``before_flush`` hook on the app's sessions adds, in that same transaction, one ``notify``
outbox message per new task, woken once it commits. So a task and the notice about it
exist together or not at all, and the outbox's retries and dead letters apply.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..db import get_db, on_commit
from ..models import ApprovalTask, OutboxMessage, utcnow
from ..runs.tasks import wake_outbox_many

EVENT_OF_KIND = {
    "approval": "approval_needed",
    "escalation": "approval_escalated",
    "delegated": "approval_delegated",
    "added": "approval_needed",
    "info": "approval_info",
}


def _notify_new_tasks(session: Session, _context: Any, _instances: Any) -> None:
    fresh = [o for o in session.new if isinstance(o, ApprovalTask) and o.status == "pending"]
    if not fresh:
        return
    now = utcnow()
    queued = []
    for task in fresh:
        kind = (task.payload or {}).get("kind") or "approval"
        who = {"user": task.assignee} if task.assignee else {"role": task.role}
        message = OutboxMessage(
            run_id=task.run_id,
            effect_id=f"notify:{task.task_key}",
            kind="notify",
            payload={
                "event": EVENT_OF_KIND.get(kind, "approval_needed"),
                "task_ids": [task.task_key],
                "recipients": [who],
            },
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(message)
        queued.append(message)

    def wake() -> None:

        wake_outbox_many([m.id for m in queued])

    on_commit(session, wake)


def install(app: Flask) -> None:
    """Hook the app's sessions (web, workers and commands alike)."""
    sessions = get_db(app).sessionmaker
    if not event.contains(sessions, "before_flush", _notify_new_tasks):
        event.listen(sessions, "before_flush", _notify_new_tasks)
