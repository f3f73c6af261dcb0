"""When a person is deactivated, their open tasks go on to someone who can decide them.

A task assigned to the person by name goes to their delegate (``away_delegate``), else their
direct manager, else the fallback person of the task's approval node; a task of a business
role or department whose last active holder or member the person was goes the same way. Each
handover is the engine's delegation event (the run withdraws the task and opens one for the
new person, exactly once) with an ``ApprovalAction`` ``reassigned`` in the audit trail. When
no one is left, the task stays and the admins get a ``no_approver`` alert naming the order,
the node and why: a task never waits silently for nobody.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import on_commit
from ..errors import ValidationError
from ..models import (
    Alert,
    ApprovalTask,
    BusinessRole,
    Department,
    FlowVersion,
    Order,
    OutboxMessage,
    RoleHolder,
    Run,
    User,
    utcnow,
)
from ..runs.tasks import wake_outbox_many
from . import services as approvals

ACTOR = "system"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Handover:
    """What became of one open task: ``to`` the new person, or None with an alert raised."""

    task_key: str
    to: str | None
    reason: str  # delegate / manager / fallback / nobody


def _active(db: Session, username: str | None) -> User | None:
    if not username:
        return None
    found = db.scalars(select(User).where(User.username == username)).one_or_none()
    return found if found is not None and found.is_active else None


def _username(db: Session, user_id: int | None) -> str | None:
    found = db.get(User, user_id) if user_id is not None else None
    return found.username if found is not None else None


def _fallback(db: Session, task: ApprovalTask) -> str | None:
    """The fallback person configured on the task's approval node."""
    run = db.get(Run, task.run_id)
    version = db.get(FlowVersion, run.flow_version_id) if run else None
    for node in (version.doc if version else {}).get("nodes", ()):
        if node.get("id") == task.node_id:
            return (node.get("config") or {}).get("fallback")
    return None


def _orphaned(db: Session, user: User) -> list[ApprovalTask]:
    """Open role and department tasks that ``user`` could decide and no one else active can."""
    held = list(
        db.execute(
            select(BusinessRole.key, RoleHolder.scope)
            .join(RoleHolder, RoleHolder.role_id == BusinessRole.id)
            .where(RoleHolder.user_id == user.id)
        )
    )
    out: list[ApprovalTask] = []
    for key, scope in held:
        others = db.scalar(
            select(RoleHolder.id)
            .join(BusinessRole, BusinessRole.id == RoleHolder.role_id)
            .join(User, User.id == RoleHolder.user_id)
            .where(
                BusinessRole.key == key,
                RoleHolder.scope == scope,
                User.id != user.id,
                User.is_active.is_(True),
            )
            .limit(1)
        )
        if others is None:
            out += db.scalars(
                select(ApprovalTask).where(
                    ApprovalTask.status == "pending",
                    ApprovalTask.assignee.is_(None),
                    ApprovalTask.role == key,
                    ApprovalTask.scope.in_([scope, None] if not scope else [scope]),
                )
            )
    if user.department_id is not None:
        dept = db.get(Department, user.department_id)
        others = db.scalar(
            select(User.id)
            .where(
                User.department_id == user.department_id,
                User.id != user.id,
                User.is_active.is_(True),
            )
            .limit(1)
        )
        if dept is not None and others is None:
            out += db.scalars(
                select(ApprovalTask).where(
                    ApprovalTask.status == "pending",
                    ApprovalTask.assignee.is_(None),
                    ApprovalTask.role.is_(None),
                    ApprovalTask.department == dept.key,
                )
            )
    return out


def reassign_open_tasks(
    db: Session, user: User, *, actor: User | None = None, now: datetime | None = None
) -> list[Handover]:
    """Hand on the open tasks of ``user``, who is being deactivated. No commit."""

    now = now or utcnow()
    actor_name = actor.username if actor is not None else ACTOR
    own = list(
        db.scalars(
            select(ApprovalTask)
            .where(ApprovalTask.status == "pending", ApprovalTask.assignee == user.username)
            .order_by(ApprovalTask.id)
        )
    )
    tasks = own + [t for t in _orphaned(db, user) if t not in own]
    name = user.display_name or user.username
    out: list[Handover] = []
    for task in tasks:
        target, reason = None, "nobody"
        for why, candidate in (
            ("delegate", user.away_delegate),
            ("manager", _username(db, user.manager_id)),
            ("fallback", _fallback(db, task)),
        ):
            found = _active(db, candidate)
            if found is not None and found.id != user.id:
                target, reason = found, why
                break
        if target is None:
            _alert_nobody(db, task, user, now)
            out.append(Handover(task.task_key, None, reason))
            continue
        comment = f"{name} 已停用，转交给{target.display_name or target.username}"
        new = approvals.hand_over(
            db, task, actor_name, target.username, comment, now=now, action="reassigned",
            on_behalf_of=user.username, via="admin",
        )  # fmt: skip
        if new is None:  # decided meanwhile: nothing to hand on
            continue
        new.why = {"zh": f"接替已停用的{name}", "en": f"Reassigned from {name}, deactivated"}
        out.append(Handover(task.task_key, target.username, reason))
    return out


def _alert_nobody(db: Session, task: ApprovalTask, user: User, now: datetime) -> None:
    """The task stays with nobody able to decide it: an alert and a notice to the admins."""
    run = db.get(Run, task.run_id)
    order = db.get(Order, run.order_id) if run else None
    external = order.external_id if order else task.payload.get("order_id")
    name = user.display_name or user.username
    zh = f"{name} 已停用，没有代理人、上级或后备处理人接手"
    en = f"{user.username} is deactivated and has no delegate, manager or fallback person"
    link = f"/approvals/{task.task_key}"
    db.add(
        Alert(
            run_id=task.run_id,
            order_id=order.id if order else None,
            source=f"run:{task.run_id}",
            severity="critical",
            title=f"订单 {external} 的审批在节点 {task.node_id} 无人处理：{zh}"[:300],
            message=f"The approval of order {external} at node {task.node_id} has no one: {en}",
            dedup_key=f"no_approver:task:{task.task_key}"[:200],
            data={"code": "no_approver", "node_id": task.node_id, "task_key": task.task_key,
                  "text": {"zh": {"title": zh}, "en": {"title": en}}},
        )
    )  # fmt: skip
    message = OutboxMessage(
        run_id=task.run_id,
        effect_id=f"no_approver:{task.task_key}:{user.id}:{now.timestamp()}"[:128],
        kind="notify",
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        payload={
            "recipients": [{"access_role": "admin"}],
            "channels": ["inbox", "email"],
            "message": {
                "zh": f"【严重】订单 {external} 的审批（节点 {task.node_id}）无人处理：{zh}\n{link}",
                "en": f"[critical] The approval of order {external} (node {task.node_id}) "
                f"has no one to decide it: {en}\n{link}",
            },
            "params": {},
            "url": link,
        },
    )
    db.add(message)
    db.flush()
    ids = [message.id]

    def wake() -> None:

        wake_outbox_many(ids)

    on_commit(db, wake)


def set_active(db: Session, actor: User | None, user: User, active: bool) -> list[Handover]:
    """Deactivate (which also ends every session and hands on the person's open tasks as
    described above) or reactivate ``user``. No commit: the caller's transaction holds the
    change together with whatever else it does (an organisation sync deactivating several)."""
    if not active and actor is not None and actor.id == user.id:
        raise ValidationError(
            _l("You cannot deactivate your own account; ask another administrator."),
            fields={"active": "self"},
        )
    was_active = user.is_active
    user.is_active = active
    handed: list[Handover] = []
    if not active:
        user.session_version += 1
        if was_active:
            db.flush()
            handed = reassign_open_tasks(db, user, actor=actor)
    log.info(
        "user %s %s by %s", user.username, "activated" if active else "deactivated",
        actor.username if actor else "system",
    )  # fmt: skip
    return handed
