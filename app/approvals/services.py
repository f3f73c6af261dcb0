"""Deciding and delegating approval tasks. Two approvers deciding at the same moment get
exactly one outcome: the run's optimistic lock lets one transaction win, and the engine tells
the other that the task (or the step) was already decided.

Who may decide a task: the organisation says (``app.models.org``). A task is a person's when
they are its assignee, hold its business role for its scope, or belong to its department;
and, while one of those is out of office, their delegate's (recorded as acting on their
behalf). Access roles do not make anyone an approver: being assigned a task is what allows
deciding it. Admins see every task and may transfer (转交) any pending one to a colleague,
which is how a task whose people left is handed on; they approve or reject only their own. Every decision
and delegation is written to the approval audit trail with the actor, the person acted for,
the way it came in (web, link, bulk, api), the device and the comment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from flow_engine import ApprovalDecided, ApprovalDelegated

from ..errors import AppError, ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from ..models import (
    ApprovalAction,
    ApprovalTask,
    BusinessRole,
    Department,
    Order,
    RoleHolder,
    Run,
    User,
    utcnow,
)
from ..notifications.people import is_away
from ..runs import services as runs
from ..subscriptions import publish

DECISIONS = ("approved", "rejected")
MAX_COMMENT = 2000
MAX_BULK = 100


@dataclass(frozen=True)
class Decision:
    task: ApprovalTask
    accepted: bool


@dataclass(frozen=True)
class BulkResult:
    task_key: str
    ok: bool
    message: str = ""


def get_task(db: Session, task_key: str) -> ApprovalTask:
    task = db.scalars(select(ApprovalTask).where(ApprovalTask.task_key == task_key)).one_or_none()
    if task is None:
        raise NotFoundError(_l("This approval task does not exist."))
    return task


@dataclass(frozen=True)
class Standing:
    """What makes a task a person's: their username, their department's key and the
    business roles they hold, as (role key, scope) pairs with "" for unscoped."""

    username: str
    department: str | None = None
    holds: frozenset[tuple[str, str]] = frozenset()


def standings(db: Session, people: Iterable[User]) -> dict[int, Standing]:
    """Each person's standing, read with two queries whatever the number of people."""
    people = list(people)
    ids = [p.id for p in people]
    if not ids:
        return {}
    holds: dict[int, set[tuple[str, str]]] = {i: set() for i in ids}
    for user_id, key, scope in db.execute(
        select(RoleHolder.user_id, BusinessRole.key, RoleHolder.scope)
        .join(BusinessRole, BusinessRole.id == RoleHolder.role_id)
        .where(RoleHolder.user_id.in_(ids))
    ):
        holds[user_id].add((key, scope or ""))
    dept_ids = {p.department_id for p in people if p.department_id}
    depts = (
        {
            i: k
            for i, k in db.execute(
                select(Department.id, Department.key).where(Department.id.in_(dept_ids))
            )
        }
        if dept_ids
        else {}
    )
    return {
        p.id: Standing(p.username, depts.get(p.department_id), frozenset(holds[p.id]))
        for p in people
    }


def owns(standing: Standing, task: ApprovalTask) -> bool:
    """Whether the task is assigned to the person with ``standing`` (user, role, department)."""
    if task.assignee is not None:
        return task.assignee == standing.username
    if task.role is not None:
        return (task.role, task.scope or "") in standing.holds
    if task.department is not None:
        return task.department == standing.department
    return False


def may_decide(
    db: Session, user: User, task: ApprovalTask, standing: Standing | None = None
) -> bool:
    """Whether ``user`` may decide ``task`` in their own right: it is assigned to them."""
    if not user.is_active:
        return False
    return owns(standing or standings(db, [user])[user.id], task)


def principals(db: Session, user: User, now: datetime) -> list[User]:
    """The users who are out of office now and have ``user`` as their delegate."""
    found = db.scalars(
        select(User).where(User.away_delegate == user.username, User.is_active.is_(True))
    )
    return [p for p in found if p.id != user.id and is_away(p, now)]


def acting_for(
    db: Session,
    user: User,
    task: ApprovalTask,
    *,
    now: datetime | None = None,
    absent: list[User] | None = None,
    known: dict[int, Standing] | None = None,
) -> str | None:
    """The username ``user`` decides ``task`` for (their own, or an absent colleague's),
    or None when they may not decide it. ``absent``: ``principals(...)`` already read;
    ``known``: ``standings(...)`` of the user and ``absent`` already read (the inbox reads
    them once per page)."""
    if not user.is_active:
        return None
    if absent is None:
        absent = principals(db, user, now or utcnow())
    if known is None:
        known = standings(db, [user, *absent])
    if owns(known[user.id], task):
        return user.username
    for principal in absent:
        if owns(known[principal.id], task):
            return principal.username
    return None


def _comment(comment: str | None) -> str | None:
    text = (comment or "").strip() or None
    if text is not None and len(comment or "") > MAX_COMMENT:
        raise ValidationError(
            _l("A comment has at most %(n)d characters.", n=MAX_COMMENT),
            fields={"comment": "too_long"},
        )
    return text


def _open_task(
    db: Session, actor: User, task_key: str, now: datetime, *, admin: bool = False
) -> tuple[ApprovalTask, str]:
    """The pending task and whom ``actor`` acts for; ``admin``: an active admin may act on
    a task that is not theirs (a transfer, never a decision)."""
    task = get_task(db, task_key)
    principal = acting_for(db, actor, task, now=now)
    if principal is None and admin and actor.is_active and "admin" in actor.role_names:
        principal = actor.username
    if principal is None:
        raise PermissionDeniedError(_l("This approval is not assigned to you."))
    if task.status != "pending":
        raise _already(db, task)
    return task, principal


def decide(
    db: Session,
    actor: User,
    task_key: str,
    decision: str,
    *,
    comment: str | None = None,
    now: datetime | None = None,
    via: str = "api",
    device: str | None = None,
) -> Decision:
    """Record ``actor``'s decision on a task and advance the run. No commit."""
    if decision not in DECISIONS:
        raise ValidationError(
            _l("A decision is approved or rejected."), fields={"decision": "invalid"}
        )
    comment = _comment(comment)
    if decision == "rejected" and not comment:
        raise ValidationError(
            _l("Say why you reject: a comment is required."), fields={"comment": "required"}
        )
    now = now or utcnow()
    task, principal = _open_task(db, actor, task_key, now)
    event = ApprovalDecided(task.task_key, actor.username, decision, comment)
    outcome = runs.apply_event(db, task.run_id, event, now=now)
    db.refresh(task)
    if not outcome.accepted:
        raise _already(db, task)
    task.status = decision
    task.decided_by = actor.username
    task.decided_at = now
    task.comment = comment
    db.add(
        ApprovalAction(
            task_key=task.task_key,
            run_id=task.run_id,
            action="decided",
            actor=actor.username,
            on_behalf_of=principal if principal != actor.username else None,
            decision=decision,
            comment=comment,
            via=via,
            device=(device or "")[:255] or None,
            at=now,
        )
    )
    db.flush()
    order = db.get(Order, outcome.run.order_id)
    if order is not None:
        publish(db, "order.decided", order, _decided(task, outcome.run), key=task.task_key, now=now)
    return Decision(task, True)


def _decided(task: ApprovalTask, run: Run) -> dict[str, Any]:
    return {
        "task": task.task_key,
        "node_id": task.node_id,
        "run_id": task.run_id,
        "flow_version_id": run.flow_version_id,
        "decision": task.status,
        "decided_by": task.decided_by,
        "decided_at": task.decided_at.isoformat() if task.decided_at else None,
        "comment": task.comment,
        "run_status": run.status,
    }


def decide_many(
    db: Session,
    actor: User,
    task_keys: Iterable[str],
    decision: str,
    *,
    comment: str | None = None,
    now: datetime | None = None,
    device: str | None = None,
) -> list[BulkResult]:
    """Decide several tasks with one comment; each stands or falls on its own (a savepoint
    each), so one already decided by someone else does not undo the others. No commit."""
    keys = list(dict.fromkeys(k for k in task_keys if k))
    if decision not in DECISIONS:
        raise ValidationError(
            _l("A decision is approved or rejected."), fields={"decision": "invalid"}
        )
    if decision == "rejected" and not _comment(comment):
        raise ValidationError(
            _l("Say why you reject: a comment is required."), fields={"comment": "required"}
        )
    if not keys:
        raise ValidationError(_l("Select at least one approval."), fields={"tasks": "required"})
    if len(keys) > MAX_BULK:
        raise ValidationError(
            _l("At most %(n)d approvals at once.", n=MAX_BULK), fields={"tasks": "too_many"}
        )
    results = []
    for key in keys:
        try:
            with db.begin_nested():
                decide(
                    db, actor, key, decision, comment=comment, now=now, via="bulk", device=device
                )
        except AppError as err:
            results.append(BulkResult(key, False, str(err.message)))
        except (StaleDataError, OperationalError):
            results.append(BulkResult(key, False, str(_l("Someone else changed it; try again."))))
        else:
            results.append(BulkResult(key, True))
    return results


def delegate(
    db: Session,
    actor: User,
    task_key: str,
    to_username: str,
    *,
    comment: str | None = None,
    now: datetime | None = None,
    via: str = "web",
    device: str | None = None,
) -> ApprovalTask:
    """Hand one pending task to a colleague; the run withdraws it and opens one for them.
    Returns the new task. No commit."""
    now = now or utcnow()
    comment = _comment(comment)
    task, principal = _open_task(db, actor, task_key, now, admin=True)
    target = db.scalars(select(User).where(User.username == to_username.strip())).one_or_none()
    if target is None or not target.is_active:
        raise ValidationError(
            _l("There is no active user named %(name)s.", name=to_username),
            fields={"to_user": "unknown"},
        )
    if target.id == actor.id:
        raise ValidationError(_l("Choose someone else."), fields={"to_user": "self"})
    event = ApprovalDelegated(task.task_key, actor.username, target.username, comment)
    outcome = runs.apply_event(db, task.run_id, event, now=now)
    db.refresh(task)
    if not outcome.accepted:
        raise _already(db, task)
    task.status, task.comment = "delegated", comment
    task.decided_by, task.decided_at = actor.username, now
    db.add(
        ApprovalAction(
            task_key=task.task_key,
            run_id=task.run_id,
            action="delegated",
            actor=actor.username,
            on_behalf_of=principal if principal != actor.username else None,
            to_user=target.username,
            comment=comment,
            via=via,
            device=(device or "")[:255] or None,
            at=now,
        )
    )
    db.flush()
    new = db.scalars(
        select(ApprovalTask)
        .where(
            ApprovalTask.run_id == task.run_id,
            ApprovalTask.assignee == target.username,
            ApprovalTask.status == "pending",
        )
        .order_by(ApprovalTask.id.desc())
    ).first()
    if new is None:  # the engine always opens one; a missing row means a damaged database
        raise ConflictError(f"delegation of {task_key} opened no task")
    return new


def set_away(
    db: Session,
    actor: User,
    *,
    start: datetime,
    end: datetime,
    delegate_to: str,
    now: datetime | None = None,
) -> User:
    """Be out of office from ``start`` to ``end`` with ``delegate_to`` acting for you. No commit."""
    target = db.scalars(select(User).where(User.username == delegate_to.strip())).one_or_none()
    if target is None or not target.is_active:
        raise ValidationError(
            _l("There is no active user named %(name)s.", name=delegate_to),
            fields={"delegate": "unknown"},
        )
    if target.id == actor.id:
        raise ValidationError(_l("Choose someone else."), fields={"delegate": "self"})
    if target.away_delegate == actor.username and end > (target.away_from or end):
        raise ValidationError(
            _l("%(name)s is away and hands their approvals to you.", name=target.username),
            fields={"delegate": "loop"},
        )
    if end <= start:
        raise ValidationError(_l("The end must be after the start."), fields={"until": "order"})
    actor.away_from, actor.away_until, actor.away_delegate = start, end, target.username
    period = f"{start.isoformat()} – {end.isoformat()}"
    db.add(
        ApprovalAction(
            action="away_set", actor=actor.username, to_user=target.username, comment=period,
            via="web", at=now or utcnow(),
        )
    )  # fmt: skip
    db.flush()
    return actor


def clear_away(db: Session, actor: User, *, now: datetime | None = None) -> None:
    """Back in the office. No commit."""
    if actor.away_delegate:
        db.add(
            ApprovalAction(
                action="away_cleared", actor=actor.username, to_user=actor.away_delegate,
                via="web", at=now or utcnow(),
            )
        )  # fmt: skip
    actor.away_from = actor.away_until = actor.away_delegate = None
    db.flush()


def decider(db: Session, task: ApprovalTask) -> ApprovalTask | None:
    """The task of the same approval step whose decision closed ``task``, if any."""
    if task.status in DECISIONS:
        return task
    return db.scalars(
        select(ApprovalTask)
        .where(
            ApprovalTask.run_id == task.run_id,
            ApprovalTask.node_id == task.node_id,
            ApprovalTask.status.in_(DECISIONS),
            ApprovalTask.decided_at >= task.created_at,
        )
        .order_by(ApprovalTask.decided_at.desc())
    ).first()


def _already(db: Session, task: ApprovalTask) -> ConflictError:
    winner = decider(db, task)
    if winner is not None and winner.decided_by:
        return ConflictError(
            _l(
                "Already decided by %(who)s: %(decision)s.",
                who=winner.decided_by,
                decision=_l("approved") if winner.status == "approved" else _l("rejected"),
            ),
            code="already_decided",
        )
    return ConflictError(
        _l("This approval is no longer open (%(status)s).", status=task.status),
        code="already_decided",
    )
