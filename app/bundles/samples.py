"""A bundle's sample orders through the real intake, their scripted events applied to the
stored runs, and what the runs did, for the demo, the preview and the tests."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from flow_engine import ExternalEvent, RunSnapshot, TimerFired
from templates_lib import Bundle, Observed, dedup_key, prepare_order, sample_now

from ..approvals import services as approvals
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
    RunTimer,
    User,
    utcnow,
)
from ..orders import intake
from ..runs import services as runs

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)$")


def shifted(doc: Any, days: int) -> Any:
    """``doc`` with every ISO date-time text moved by whole ``days`` (time of day kept)."""
    if isinstance(doc, str) and _ISO.match(doc):
        moved = datetime.fromisoformat(doc.replace("Z", "+00:00")) + timedelta(days=days)
        return moved.isoformat()
    if isinstance(doc, list):
        return [shifted(v, days) for v in doc]
    if isinstance(doc, dict):
        return {k: shifted(v, days) for k, v in doc.items()}
    return doc


def feed(
    db: Session, bundle: Bundle, sample: Mapping[str, Any], *, now: datetime | None = None
) -> intake.Received:
    """Send one sample order through the intake as the bundle prepares it. No commit.

    With ``now`` (the demo) the order's dates move by whole days to just before ``now``;
    without, the order arrives at the sample's own time (tests check exact outcomes).
    """
    doc = prepare_order(bundle, sample["order"])
    at = sample_now(sample)
    if now is not None:
        days = (now - at).days
        doc, at = shifted(doc, days), now
    return intake.receive(db, doc, dedup_key=dedup_key(bundle.intake, doc), now=at)


def _user(db: Session, username: str | None) -> User:
    user = None
    if username:
        user = db.scalars(select(User).where(User.username == username)).first()
    if user is None:
        user = next(
            (u for u in db.scalars(select(User).order_by(User.id)) if "admin" in u.role_names),
            None,
        )
    if user is None:
        raise LookupError(f"no user {username!r} and no admin to decide sample approvals")
    return user


def _decider(db: Session, task: ApprovalTask, username: str | None) -> User:
    """Who decides a sample's approval: the scripted actor when the task is theirs, else a
    person it is assigned to (by name, business role or department), since being assigned a
    task is what allows deciding it; else the actor named (or the first admin), whose
    decision is then refused as it would be in the app."""
    named = _user(db, username)
    candidates = [named]
    if task.assignee:
        candidates += db.scalars(select(User).where(User.username == task.assignee))
    elif task.role:
        candidates += db.scalars(
            select(User)
            .join(RoleHolder, RoleHolder.user_id == User.id)
            .join(BusinessRole, BusinessRole.id == RoleHolder.role_id)
            .where(BusinessRole.key == task.role, RoleHolder.scope == (task.scope or ""))
            .order_by(User.id)
        )
    elif task.department:
        candidates += db.scalars(
            select(User)
            .join(Department, Department.id == User.department_id)
            .where(Department.key == task.department)
            .order_by(User.id)
        )
    for user in candidates:
        if approvals.acting_for(db, user, task) is not None:
            return user
    return named


def _fire_due(db: Session, order_id: int, until: datetime) -> datetime:
    """Fire the order's timers due by ``until`` in due order; returns the last moment."""
    moment = until
    while True:
        timer = db.scalars(
            select(RunTimer)
            .join(Run, Run.id == RunTimer.run_id)
            .where(Run.order_id == order_id, RunTimer.status == "pending", RunTimer.due_at <= until)
            .order_by(RunTimer.due_at, RunTimer.id)
        ).first()
        if timer is None:
            return moment
        moment = timer.due_at
        db.execute(
            update(RunTimer)
            .where(RunTimer.id == timer.id)
            .values(status="fired", fired_at=moment)
            .execution_options(synchronize_session=False)
        )
        runs.apply_event(db, timer.run_id, TimerFired(timer.timer_key), now=moment)


def play(db: Session, order: Order, events: Iterable[Mapping[str, Any]], start: datetime) -> None:
    """Apply a sample's scripted events to the order's stored runs, as the app would."""
    now = start
    for raw in events:
        if "at" in raw:
            now = datetime.fromisoformat(str(raw["at"]))
        kind = raw["type"]
        if kind == "advance":
            target = (
                datetime.fromisoformat(raw["to"]) if "to" in raw else now + _duration(raw["by"])
            )
            _fire_due(db, order.id, target)
            now = target
        elif kind == "approval_decided":
            task = db.scalars(
                select(ApprovalTask)
                .join(Run, Run.id == ApprovalTask.run_id)
                .where(
                    Run.order_id == order.id,
                    ApprovalTask.node_id == raw["node"],
                    ApprovalTask.status == "pending",
                )
                .order_by(ApprovalTask.id)
            ).first()
            if task is not None:
                approvals.decide(
                    db, _decider(db, task, raw.get("actor")), task.task_key, raw["decision"],
                    comment=raw.get("comment"), now=now,
                )  # fmt: skip
        elif kind == "external_event":
            for run in runs.runs_of_order(db, order.id):
                if run.status == "waiting":
                    runs.apply_event(
                        db,
                        run.id,
                        ExternalEvent(raw["name"], dict(raw.get("payload") or {})),
                        now=now,
                    )
        db.flush()


def _duration(text: str) -> timedelta:
    from flow_engine._durations import parse_duration

    return parse_duration(text)


def observe(db: Session, order: Order) -> dict[str, Observed]:
    """Per flow key, what the order's run did (for comparing with a sample's expectations)."""
    out: dict[str, Observed] = {}
    for run in runs.runs_of_order(db, order.id):
        version = db.get(FlowVersion, run.flow_version_id)
        if version is None:  # the foreign key guarantees it
            continue
        notify_nodes = {n["id"] for n in version.doc["nodes"] if n["type"] == "notify"}
        snapshot = RunSnapshot.from_dict(run.snapshot)
        messages = list(db.scalars(select(OutboxMessage).where(OutboxMessage.run_id == run.id)))
        out[version.doc["key"]] = Observed(
            status=run.status,
            outcome=run.outcome,
            waiting_at=list(run.current_nodes) if run.status == "waiting" else [],
            vars=snapshot.vars,
            order=snapshot.order,
            alerts=[
                a.data.get("code") for a in db.scalars(select(Alert).where(Alert.run_id == run.id))
            ],
            webhooks=[m.payload.get("node_id") for m in messages if m.kind == "webhook"],
            notifications=[
                m.payload.get("node_id")
                for m in messages
                if m.kind == "notify" and m.payload.get("node_id") in notify_nodes
            ],
        )
    return out


def feed_all(
    db: Session, bundle: Bundle, *, now: datetime | None = None, demo_only: bool = True
) -> list[intake.Received]:
    """Feed every sample (those marked for the demo with ``demo_only``). No commit."""
    moment = now or utcnow()
    return [
        feed(db, bundle, s, now=moment)
        for s in bundle.samples
        if not demo_only or s.get("demo", True)
    ]
