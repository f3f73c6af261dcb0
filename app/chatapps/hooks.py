"""Cards follow their tasks: a new pending task queues its cards, a task leaving ``pending``
(decided here or elsewhere, handed over, withdrawn, escalated, timed out) queues the update of
every card sent for it, in the same transaction as the change, and an SLA reminder queues the
update that shows the time left."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from ..db import get_db
from ..models import ApprovalTask, ChatApp, ChatCard, OutboxMessage
from . import services


def _left_pending(task: ApprovalTask) -> bool:
    history = inspect(task).attrs.status.history
    return bool(history.deleted) and "pending" in history.deleted and task.status != "pending"


def _follow_tasks(session: Session, _context: Any, _instances: Any) -> None:
    fresh = [o for o in session.new if isinstance(o, ApprovalTask) and o.status == "pending"]
    changed = [o for o in session.dirty if isinstance(o, ApprovalTask) and _left_pending(o)]
    if not fresh and not changed:
        return
    with session.no_autoflush:
        if fresh and session.scalars(select(ChatApp.id).where(ChatApp.enabled.is_(True))).first():
            for task in fresh:
                services.queue(session, "cards", f"chat-cards:{task.task_key}", task=task.task_key)
        if changed:
            refresh(session, [t.task_key for t in changed])


def refresh(session: Session, task_keys: Iterable[str]) -> None:
    """Queue the update of every card of these tasks (the ones that have cards). No commit."""
    keys = list(task_keys)
    with session.no_autoflush:
        carded = set(session.scalars(select(ChatCard.task_key).where(ChatCard.task_key.in_(keys))))
    for key in keys:
        if key in carded:
            services.queue(session, "refresh", f"chat-refresh:{key}:{uuid.uuid4().hex}", task=key)


def remind(session: Session, task_keys: Iterable[str], at: datetime) -> None:
    """Queue the update of every card of these tasks to show the time left as of ``at``, when
    an SLA reminder fired (once per task and moment, however often it is asked). No commit."""
    keys = list(task_keys)
    with session.no_autoflush:
        carded = set(
            session.scalars(
                select(ChatCard.task_key).where(
                    ChatCard.task_key.in_(keys), ChatCard.shows.in_(("pending", "reminder"))
                )
            )
        )
        wanted = {f"chat-remind:{key}:{at.isoformat()}": key for key in keys if key in carded}
        done = set(
            session.scalars(
                select(OutboxMessage.effect_id).where(OutboxMessage.effect_id.in_(wanted))
            )
        )
    for effect_id, key in wanted.items():
        if effect_id not in done:
            services.queue(session, "refresh", effect_id, task=key, remind=at.isoformat())


def install(app: Flask) -> None:
    """Hook the app's sessions (web, workers and commands alike)."""
    sessions = get_db(app).sessionmaker
    if not event.contains(sessions, "before_flush", _follow_tasks):
        event.listen(sessions, "before_flush", _follow_tasks)
