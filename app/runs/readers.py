"""People who may read an approval step without deciding it: copied on it (抄送) or mentioned
in a comment. They see it under 抄送我的, are notified once, and open the task page
read-only."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ..db import on_commit
from ..models import ApprovalReader, ApprovalTask, OutboxMessage, User, utcnow

REASON_EVENTS = {"cc": "approval_cc", "mention": "approval_mention"}


def add_readers(
    db: Session,
    *,
    run_id: int,
    node_id: str,
    task_key: str,
    people: Iterable[Mapping[str, str]],
    reason: str,
    added_by: str | None,
    text: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, str]]:
    """Let ``people`` ({"user": ...} or {"role": ...}) read the step of ``task_key`` and tell
    those who could not read it yet. Returns the people newly added. No commit."""
    now = now or utcnow()
    existing = {
        (r.username, r.role)
        for r in db.scalars(
            select(ApprovalReader).where(
                ApprovalReader.run_id == run_id, ApprovalReader.node_id == node_id
            )
        )
    }
    fresh: list[dict[str, str]] = []
    for who in people:
        key = (who.get("user"), who.get("role"))
        if key in existing or key == (None, None):
            continue
        existing.add(key)
        fresh.append(dict(who))
        db.add(
            ApprovalReader(
                run_id=run_id, node_id=node_id, task_key=task_key, username=key[0], role=key[1],
                reason=reason, added_by=added_by, created_at=now,
            )
        )  # fmt: skip
    if fresh:
        message = OutboxMessage(
            run_id=run_id,
            effect_id=f"{reason}:{uuid.uuid4().hex}",
            kind="notify",
            payload={
                "event": REASON_EVENTS[reason],
                "task_ids": [task_key],
                "recipients": fresh,
                "readers": True,
                "by": added_by or "",
                "text": text or "",
            },
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        db.add(message)
        db.flush()

        def wake() -> None:
            from ..runs.tasks import wake_outbox_many

            wake_outbox_many([message.id])

        on_commit(db, wake)
    return fresh


def reads(db: Session, user: User, task: ApprovalTask) -> bool:
    """Whether ``user`` was copied on or mentioned in ``task``'s step."""
    roles = list(user.role_names)
    who = ApprovalReader.username == user.username
    if roles:
        who = or_(who, and_(ApprovalReader.username.is_(None), ApprovalReader.role.in_(roles)))
    found = db.scalars(
        select(ApprovalReader.id).where(
            ApprovalReader.run_id == task.run_id, ApprovalReader.node_id == task.node_id, who
        )
    ).first()
    return found is not None
