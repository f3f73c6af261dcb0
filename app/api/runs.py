"""Runs (list, get, timeline), approvals (list mine, decide) and alerts."""

from __future__ import annotations

from typing import Any

from flask import Response, g
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from ..approvals import services as approvals
from ..db import get_session
from ..errors import NotFoundError, PermissionDeniedError, ValidationError
from ..models import Alert, ApprovalTask, Run, RunEvent, User
from ..runs import services as runs
from ..security import api_key_required
from ._blueprint import bp
from ._http import (
    cursor_id,
    int_param,
    iso,
    json_body,
    limit_param,
    page,
    reply,
    str_param,
    transact,
)
from .orders import run_json


def event_json(event: RunEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": iso(event.at),
        "kind": event.kind,
        "node_id": event.node_id,
        "node_type": event.node_type,
        "branch": event.branch,
        "actor": event.actor,
        "data": event.data,
    }


@bp.get("/runs")
@api_key_required("runs:read")
def list_runs() -> Response:
    limit = limit_param()
    query = select(Run).order_by(Run.id.desc()).limit(limit + 1)
    after = cursor_id()
    if after is not None:
        query = query.where(Run.id < after)
    state = str_param("status", max_length=16)
    if state is not None:
        query = query.where(Run.status == state)
    order_id = int_param("order_id", 0, low=0)
    if order_id:
        query = query.where(Run.order_id == order_id)
    result = page(list(get_session().scalars(query)), limit, lambda r: r.id)
    result["items"] = [run_json(r) for r in result["items"]]
    return reply(result)


def _run(run_id: int) -> Run:
    run = get_session().get(Run, run_id)
    if run is None:
        raise NotFoundError(_l("Run %(id)s does not exist.", id=run_id))
    return run


@bp.get("/runs/<id:run_id>")
@api_key_required("runs:read")
def get_run(run_id: int) -> Response:
    run = _run(run_id)
    body = run_json(run)
    body["vars"] = (run.snapshot or {}).get("vars", {})
    return reply(body)


@bp.get("/runs/<id:run_id>/timeline")
@api_key_required("runs:read")
def run_timeline(run_id: int) -> Response:
    run = _run(run_id)
    return reply({"items": [event_json(e) for e in runs.timeline(get_session(), run.id)]})


# -- approvals --------------------------------------------------------------------------


def _owner() -> User:
    user = g.api_key.created_by
    if user is None or not user.is_active:
        raise PermissionDeniedError(
            _l("Approvals through the API act as the key's owner; this key has none."),
            code="no_key_owner",
        )
    return user


def task_json(task: ApprovalTask) -> dict[str, Any]:
    return {
        "task_key": task.task_key,
        "run_id": task.run_id,
        "node_id": task.node_id,
        "assignee": task.assignee,
        "role": task.role,
        "status": task.status,
        "due_at": iso(task.due_at),
        "decided_by": task.decided_by,
        "decided_at": iso(task.decided_at),
        "comment": task.comment,
        "payload": task.payload,
        "created_at": iso(task.created_at),
    }


@bp.get("/approvals")
@api_key_required("approvals:write")
def my_approvals() -> Response:
    """Pending approval tasks of the key's owner (assigned to them or to their roles)."""
    user = _owner()
    query = select(ApprovalTask).where(ApprovalTask.status == "pending")
    if "admin" not in user.role_names:
        query = query.where(
            or_(
                ApprovalTask.assignee == user.username,
                (ApprovalTask.assignee.is_(None)) & ApprovalTask.role.in_(user.role_names),
            )
        )
    tasks = get_session().scalars(query.order_by(ApprovalTask.id).limit(200))
    return reply({"items": [task_json(t) for t in tasks]})


@bp.post("/approvals/<task_key>/decision")
@api_key_required("approvals:write")
def decide(task_key: str) -> Response:
    body = json_body()
    decision, comment = body.get("decision"), body.get("comment")
    if not isinstance(decision, str) or (comment is not None and not isinstance(comment, str)):
        raise ValidationError(
            _l("A decision is approved or rejected."),
            code="invalid_body",
            details=[{"path": "/decision", "message": "approved | rejected", "rule": "enum"}],
        )
    owner = _owner()
    result = transact(
        lambda db: approvals.decide(db, db.merge(owner), task_key, decision, comment=comment)
    )
    return reply(task_json(result.task))


# -- alerts -----------------------------------------------------------------------------


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "run_id": alert.run_id,
        "order_id": alert.order_id,
        "source": alert.source,
        "severity": alert.severity,
        "title": alert.title,
        "message": alert.message,
        "status": alert.status,
        "data": alert.data,
        "created_at": iso(alert.created_at),
        "acknowledged_at": iso(alert.acknowledged_at),
        "resolved_at": iso(alert.resolved_at),
    }


@bp.get("/alerts")
@api_key_required("alerts:read")
def list_alerts() -> Response:
    limit = limit_param()
    query = select(Alert).order_by(Alert.id.desc()).limit(limit + 1)
    after = cursor_id()
    if after is not None:
        query = query.where(Alert.id < after)
    for name, column in (("status", Alert.status), ("severity", Alert.severity)):
        value = str_param(name, max_length=16)
        if value is not None:
            query = query.where(column == value)
    result = page(list(get_session().scalars(query)), limit, lambda a: a.id)
    result["items"] = [alert_json(a) for a in result["items"]]
    return reply(result)


@bp.get("/alerts/<id:alert_id>")
@api_key_required("alerts:read")
def get_alert(alert_id: int) -> Response:
    alert = get_session().get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(_l("There is no alert %(id)s.", id=alert_id))
    return reply(alert_json(alert))
