"""Deciding, delegating, 加签 (adding an approver), 退回 (sending back), resubmitting, 抄送
(copying) and commenting on approval tasks. Two approvers deciding at the same moment get
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

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from flow_engine import (
    ApprovalAdded,
    ApprovalCopied,
    ApprovalDecided,
    ApprovalDelegated,
    ApprovalResubmitted,
    ApprovalSentBack,
    Event,
)

from ..errors import AppError, ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from ..models import (
    ApprovalAction,
    ApprovalTask,
    BusinessRole,
    Department,
    Order,
    RoleHolder,
    Run,
    RunEvent,
    User,
    utcnow,
)
from ..notifications.people import is_away
from ..runs import readers
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
    depts: dict[int | None, str] = (
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
    if is_info(task):
        raise ValidationError(
            _l(
                "This task asks you for more information, not for a decision: answer in the "
                "comment and press Resubmit."
            ),
            fields={"decision": "info_request"},
        )
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


def hand_over(
    db: Session,
    task: ApprovalTask,
    actor: str,
    to_user: str,
    comment: str | None,
    *,
    now: datetime,
    action: str,
    on_behalf_of: str | None,
    via: str,
    device: str | None = None,
) -> ApprovalTask | None:
    """Withdraw ``task`` from its assignee and open it for ``to_user`` through the run,
    recording ``action`` (delegated, reassigned). Returns the new task, or None when the
    task was decided meanwhile. No commit."""
    event = ApprovalDelegated(task.task_key, actor, to_user, comment)
    outcome = runs.apply_event(db, task.run_id, event, now=now)
    db.refresh(task)
    if not outcome.accepted:
        return None
    task.status, task.comment = "delegated", comment
    task.decided_by, task.decided_at = actor, now
    db.add(
        ApprovalAction(
            task_key=task.task_key,
            run_id=task.run_id,
            action=action,
            actor=actor,
            on_behalf_of=on_behalf_of,
            to_user=to_user,
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
            ApprovalTask.assignee == to_user,
            ApprovalTask.status == "pending",
        )
        .order_by(ApprovalTask.id.desc())
    ).first()
    if new is None:  # the engine always opens one; a missing row means a damaged database
        raise ConflictError(f"handing over {task.task_key} opened no task")
    return new


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
    new = hand_over(
        db, task, actor.username, target.username, comment, now=now, action="delegated",
        on_behalf_of=principal if principal != actor.username else None, via=via, device=device,
    )  # fmt: skip
    if new is None:
        raise _already(db, task)
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


def _sent_back_by(db: Session, task: ApprovalTask) -> str | None:
    """Who sent ``task``'s step back, when that is what closed it."""
    if task.status == "sent_back":
        return task.decided_by
    if task.status != "withdrawn" or task.comment != "sent_back":
        return None
    return db.scalars(
        select(ApprovalAction.actor)
        .where(ApprovalAction.run_id == task.run_id, ApprovalAction.action == "sent_back")
        .order_by(ApprovalAction.id.desc())
    ).first()


def _named(db: Session, username: str) -> str:
    """A user by their display name (their username when they have none)."""
    shown = db.scalar(select(User.display_name).where(User.username == username))
    return shown or username


def _already(db: Session, task: ApprovalTask) -> ConflictError:
    back = _sent_back_by(db, task)
    if back:
        return ConflictError(
            _l(
                "Already sent back by %(who)s; it waits for the resubmission.",
                who=_named(db, back),
            ),
            code="already_decided",
        )
    winner = decider(db, task)
    if winner is not None and winner.decided_by:
        return ConflictError(
            _l(
                "Already decided by %(who)s: %(decision)s.",
                who=_named(db, winner.decided_by),
                decision=_l("approved") if winner.status == "approved" else _l("rejected"),
            ),
            code="already_decided",
        )
    return ConflictError(
        _l("This approval is no longer open (%(status)s).", status=task.status),
        code="already_decided",
    )


# -- 加签, 退回, resubmission, 抄送, comments --------------------------------------------------

POSITIONS = ("before", "after")
MAX_COPIES = 20
_MENTION = re.compile(r"@([A-Za-z0-9_.\-]{1,64})")


def is_info(task: ApprovalTask) -> bool:
    """Whether ``task`` asks for more information (退回 to a person) rather than a decision."""
    return (task.payload or {}).get("kind") == "info"


def _active_user(db: Session, name: str, field: str) -> User:
    """The active user called ``name``, or a ValidationError naming what was given."""
    text = (name or "").strip()
    found = db.scalars(select(User).where(User.username == text)).one_or_none() if text else None
    if found is None or not found.is_active:
        raise ValidationError(
            _l(
                "There is no active user named %(name)s. Give a user name, e.g. wang.",
                name=text or "—",
            ),
            fields={field: "unknown"},
        )
    return found


def _audit(
    db: Session,
    task: ApprovalTask,
    actor: User,
    principal: str | None,
    action: str,
    *,
    to_user: str | None = None,
    comment: str | None = None,
    via: str,
    device: str | None,
    now: datetime,
) -> None:
    db.add(
        ApprovalAction(
            task_key=task.task_key, run_id=task.run_id, action=action, actor=actor.username,
            on_behalf_of=principal if principal and principal != actor.username else None,
            to_user=to_user, comment=comment, via=via, device=(device or "")[:255] or None,
            at=now,
        )
    )  # fmt: skip


_REFUSED = {
    "bad_send_back_target": _l(
        "It can only go back to an earlier approval step this order passed, e.g. the first "
        "approver of a one-after-another step."
    ),
    "send_back_in_parallel_branch": _l(
        "It cannot go back to an earlier approval while the order is in parallel branches; "
        "send it back to a person instead."
    ),
}


def _apply(db: Session, task: ApprovalTask, event: Event, now: datetime) -> Run:
    """Feed ``event`` to the task's run; a refused one raises (409 when the task was closed
    meanwhile). Returns the run."""
    outcome = runs.apply_event(db, task.run_id, event, now=now)
    db.refresh(task)
    if not outcome.accepted:
        message = _REFUSED.get(outcome.ignored or "")
        if message is not None:
            raise ValidationError(message, fields={"to": "invalid"})
        raise _already(db, task)
    return outcome.run


def add_approver(
    db: Session,
    actor: User,
    task_key: str,
    username: str,
    position: str,
    *,
    comment: str | None = None,
    now: datetime | None = None,
    via: str = "web",
    device: str | None = None,
) -> ApprovalTask | None:
    """加签: add ``username`` to a pending task ``before`` the actor (they decide first, then
    the task comes back) or ``after`` (they approve once the actor approved). Returns the new
    task for ``before``, None for ``after`` (its task opens when the actor approves).
    No commit."""
    if position not in POSITIONS:
        raise ValidationError(
            _l("Add the approver before or after you."), fields={"position": "invalid"}
        )
    now = now or utcnow()
    comment = _comment(comment)
    task, principal = _open_task(db, actor, task_key, now)
    if is_info(task):
        raise ValidationError(
            _l("This task asks for more information; approvers cannot be added to it."),
            fields={"user": "info_request"},
        )
    target = _active_user(db, username, "user")
    if target.id == actor.id or target.username == task.assignee:
        raise ValidationError(_l("Choose someone else."), fields={"user": "self"})
    _apply(
        db,
        task,
        ApprovalAdded(task.task_key, actor.username, target.username, position, comment),
        now,
    )
    action = "added_before" if position == "before" else "added_after"
    if position == "before":
        task.status, task.comment = "added", comment
        task.decided_by, task.decided_at = actor.username, now
    _audit(db, task, actor, principal, action, to_user=target.username, comment=comment,
           via=via, device=device, now=now)  # fmt: skip
    db.flush()
    if position == "after":
        return None
    return db.scalars(
        select(ApprovalTask)
        .where(ApprovalTask.run_id == task.run_id, ApprovalTask.assignee == target.username,
               ApprovalTask.status == "pending")
        .order_by(ApprovalTask.id.desc())
    ).first()  # fmt: skip


def send_back_targets(db: Session, task: ApprovalTask) -> dict[str, list[tuple[str, str]]]:
    """Where ``task`` may go back to: earlier approved steps of a one-after-another approval
    (task key, approver) and earlier approval nodes of the run's path (node id, node)."""
    steps = []
    if (task.payload or {}).get("mode") == "sequential":
        steps = [
            (t.task_key, t.decided_by or t.assignee or t.role or "")
            for t in db.scalars(
                select(ApprovalTask)
                .where(ApprovalTask.run_id == task.run_id, ApprovalTask.node_id == task.node_id,
                       ApprovalTask.status == "approved", ApprovalTask.id < task.id)
                .order_by(ApprovalTask.id)
            )
        ]  # fmt: skip
    nodes = list(
        dict.fromkeys(
            db.scalars(
                select(RunEvent.node_id)
                .where(RunEvent.run_id == task.run_id, RunEvent.kind == "node_waiting",
                       RunEvent.node_type == "approval", RunEvent.node_id != task.node_id)
                .order_by(RunEvent.seq)
            )
        )
    )  # fmt: skip
    return {"steps": steps, "nodes": [(n, n) for n in nodes if n]}


def send_back(
    db: Session,
    actor: User,
    task_key: str,
    *,
    comment: str | None,
    to_user: str | None = None,
    to_step: str | None = None,
    to_node: str | None = None,
    now: datetime | None = None,
    via: str = "web",
    device: str | None = None,
) -> ApprovalTask | None:
    """退回: send a pending task back, with a comment, to a person for more information
    (``to_user``; they get a 需补充信息 task), to an earlier step of a one-after-another
    approval (``to_step``, that step's task key) or to an earlier approval node of the run
    (``to_node``). Returns the task opened for the person or step, if any. No commit."""
    comment = _comment(comment)
    if not comment:
        raise ValidationError(
            _l("Say what is missing: a comment is required to send it back."),
            fields={"comment": "required"},
        )
    chosen = [x for x in (to_user, to_step, to_node) if x and x.strip()]
    if len(chosen) != 1:
        raise ValidationError(
            _l("Send it back to one person or one earlier step."), fields={"to": "required"}
        )
    now = now or utcnow()
    task, principal = _open_task(db, actor, task_key, now)
    if is_info(task):
        raise ValidationError(
            _l("Answer this request with Resubmit; it cannot be sent back."),
            fields={"to": "info_request"},
        )
    target_name = None
    if to_user and to_user.strip():
        target_name = _active_user(db, to_user, "to_user").username
    event = ApprovalSentBack(
        task.task_key, actor.username, comment, to_user=target_name,
        to_step=(to_step or "").strip() or None, to_node=(to_node or "").strip() or None,
    )  # fmt: skip
    _apply(db, task, event, now)
    task.status, task.comment = "sent_back", comment
    task.decided_by, task.decided_at = actor.username, now
    shown = target_name or to_node or ""
    if to_step:
        step = db.scalars(select(ApprovalTask).where(ApprovalTask.task_key == to_step)).first()
        shown = (step.decided_by or step.assignee or "") if step is not None else to_step
    _audit(db, task, actor, principal, "sent_back", to_user=shown[:64], comment=comment,
           via=via, device=device, now=now)  # fmt: skip
    db.flush()
    return db.scalars(
        select(ApprovalTask)
        .where(ApprovalTask.run_id == task.run_id, ApprovalTask.status == "pending",
               ApprovalTask.id > task.id)
        .order_by(ApprovalTask.id)
    ).first()  # fmt: skip


def resubmit(
    db: Session,
    actor: User,
    task_key: str,
    *,
    comment: str | None = None,
    now: datetime | None = None,
    via: str = "web",
    device: str | None = None,
) -> list[ApprovalTask]:
    """Answer a 需补充信息 task: the step it came from opens again with fresh tasks.
    Returns them. No commit."""
    now = now or utcnow()
    comment = _comment(comment)
    task, principal = _open_task(db, actor, task_key, now)
    if not is_info(task):
        raise ValidationError(
            _l("Only a request for more information is resubmitted; decide this one."),
            fields={"task": "not_info"},
        )
    _apply(db, task, ApprovalResubmitted(task.task_key, actor.username, comment), now)
    task.status, task.comment = "resubmitted", comment
    task.decided_by, task.decided_at = actor.username, now
    _audit(db, task, actor, principal, "resubmitted", comment=comment, via=via, device=device,
           now=now)  # fmt: skip
    db.flush()
    return list(
        db.scalars(
            select(ApprovalTask)
            .where(ApprovalTask.run_id == task.run_id, ApprovalTask.status == "pending",
                   ApprovalTask.id > task.id)
            .order_by(ApprovalTask.id)
        )
    )  # fmt: skip


def copy_to(
    db: Session,
    actor: User,
    task_key: str,
    usernames: Iterable[str],
    *,
    comment: str | None = None,
    now: datetime | None = None,
    via: str = "web",
    device: str | None = None,
) -> list[str]:
    """抄送: let colleagues read a pending task and its outcome, and tell them. Returns the
    user names copied. No commit."""
    now = now or utcnow()
    comment = _comment(comment)
    names = list(dict.fromkeys(n.strip() for n in usernames if n and n.strip()))
    if not names:
        raise ValidationError(
            _l("Choose at least one colleague to copy."), fields={"users": "required"}
        )
    if len(names) > MAX_COPIES:
        raise ValidationError(
            _l("Copy at most %(n)d people at once.", n=MAX_COPIES), fields={"users": "too_many"}
        )
    task, principal = _open_task(db, actor, task_key, now)
    people = [_active_user(db, name, "users").username for name in names]
    _apply(db, task, ApprovalCopied(task.task_key, actor.username, tuple(people), comment), now)
    for name in people:
        _audit(db, task, actor, principal, "cc", to_user=name, comment=comment, via=via,
               device=device, now=now)  # fmt: skip
    db.flush()
    return people


def may_read(db: Session, user: User, task: ApprovalTask, *, now: datetime | None = None) -> bool:
    """Whether ``user`` may open ``task``: who may decide it (or acts for them), who acted on
    the run's approvals, and who was copied on or mentioned in its step."""
    if not user.is_active:
        return False
    if may_decide(db, user, task) or acting_for(db, user, task, now=now) is not None:
        return True
    if readers.reads(db, user, task):
        return True
    acted = db.scalars(
        select(ApprovalAction.id).where(
            ApprovalAction.run_id == task.run_id, ApprovalAction.actor == user.username
        )
    ).first()
    return acted is not None


@dataclass(frozen=True)
class Commented:
    mentioned: list[str]
    unknown: list[str]


def mentions(db: Session, text: str) -> tuple[list[User], list[str]]:
    """The active users ``@``-mentioned in ``text`` (by user name or display name) and the
    mentions that name nobody."""
    users = list(db.scalars(select(User).where(User.is_active.is_(True))))
    by_name = {u.username.lower(): u for u in users}
    found: dict[int, User] = {}
    for u in users:  # display names may hold spaces and Chinese: look for them as written
        if u.display_name and f"@{u.display_name}" in text:
            found[u.id] = u
    unknown = []
    for word in _MENTION.findall(text):
        user = by_name.get(word.lower())
        if user is not None:
            found[user.id] = user
        elif not any(f"@{u.display_name}".startswith(f"@{word}") for u in found.values()):
            unknown.append(word)
    return list(found.values()), list(dict.fromkeys(unknown))


def add_comment(
    db: Session,
    actor: User,
    task_key: str,
    text: str | None,
    *,
    now: datetime | None = None,
    via: str = "web",
    device: str | None = None,
) -> Commented:
    """A comment on a task from anyone who may read it; the people ``@``-mentioned are told
    and may read the task from then on. No commit."""
    now = now or utcnow()
    comment = _comment(text)
    if not comment:
        raise ValidationError(_l("Write a comment first."), fields={"comment": "required"})
    task = get_task(db, task_key)
    if not may_read(db, actor, task, now=now):
        raise PermissionDeniedError(_l("You may not read this approval."))
    people, unknown = mentions(db, comment)
    people = [p for p in people if p.id != actor.id]
    names = sorted(p.username for p in people)
    _audit(db, task, actor, None, "commented", to_user=",".join(names)[:64] or None,
           comment=comment, via=via, device=device, now=now)  # fmt: skip
    if people:
        readers.add_readers(
            db, run_id=task.run_id, node_id=task.node_id, task_key=task.task_key,
            people=[{"user": n} for n in names], reason="mention", added_by=actor.username,
            text=comment, now=now,
        )  # fmt: skip
    db.flush()
    return Commented(names, unknown)
