"""Runs (list, get, timeline), approvals (list mine or copied to me, decide, 加签, 退回,
resubmit, 抄送, comment) and alerts."""

from __future__ import annotations

from typing import Any

from flask import Response, g, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from ..approvals import services as approvals
from ..db import get_session
from ..errors import NotFoundError, PermissionDeniedError, ValidationError
from ..models import Alert, ApprovalReader, ApprovalTask, Run, RunEvent, User
from ..runs import services as runs
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
from ._schemas import list_of, ref
from .orders import run_json
from .spec import PAGING, api, filter_param, param


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


@api.get(
    "/runs",
    scope="runs:read",
    summary="List runs, newest first",
    params=[*PAGING, filter_param("status", 16),
      param("order_id", schema={"type": "integer", "minimum": 0, "maximum": 2**31 - 1})],
    responses={"200": list_of(ref("Run"), paged=True)},
)  # fmt: skip
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


@api.get(
    "/runs/<id:run_id>",
    scope="runs:read",
    summary="A run",
    params=[param("run_id", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})],
    responses={"200": ref("Run")},
)  # fmt: skip
def get_run(run_id: int) -> Response:
    run = _run(run_id)
    body = run_json(run)
    body["vars"] = (run.snapshot or {}).get("vars", {})
    return reply(body)


@api.get(
    "/runs/<id:run_id>/timeline",
    scope="runs:read",
    summary="A run's audit trail",
    params=[param("run_id", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})],
    responses={"200": list_of(ref("RunEvent"))},
)  # fmt: skip
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


@api.get(
    "/approvals",
    scope="approvals:write",
    summary="Pending approvals of the key's owner, or those copied to them",
    params=[param("box", schema={"type": "string", "enum": ["pending", "cc"]},
                                description="pending (default): waiting for the owner; cc: copied to them (抄送) or mentioned")],
    responses={"200": list_of(ref("ApprovalTask"))},
)  # fmt: skip
def my_approvals() -> Response:
    """Pending approval tasks of the key's owner (assigned to them or to their roles)."""
    user = _owner()
    # As documented, box is pending or cc when given: an empty box is refused too.
    box = request.args.get("box", "pending")
    if box not in ("pending", "cc"):
        raise ValidationError(
            _l("box is pending or cc."),
            code="invalid_parameter",
            details=[{"path": "box", "message": "pending | cc", "rule": "enum"}],
        )
    if box == "cc":  # copied to the owner (抄送) or mentioned: newest first
        mine = ApprovalReader.username == user.username
        if user.role_names:
            mine = or_(
                mine, ApprovalReader.username.is_(None) & ApprovalReader.role.in_(user.role_names)
            )
        copied = select(ApprovalReader.task_key).where(mine)
        found = get_session().scalars(
            select(ApprovalTask)
            .where(ApprovalTask.task_key.in_(copied))
            .order_by(ApprovalTask.id.desc())
            .limit(200)
        )
        return reply({"items": [task_json(t) for t in found]})
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


@api.post(
    "/approvals/<task_key>/decision",
    scope="approvals:write",
    summary="Approve or reject a task",
    params=[param("task_key", "path")],
    body=ref("DecisionInput"),
    responses={"200": ref("ApprovalTask")},
)  # fmt: skip
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


def _field(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    """A string field of the body (None when absent), or a 422 naming it."""
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValidationError(
            _l("%(field)s must be text.", field=name),
            code="invalid_body",
            details=[{"path": f"/{name}", "message": "expected a string", "rule": "type"}],
        )
    return value


def _reloaded(db: Any, task_key: str) -> dict[str, Any]:
    return task_json(approvals.get_task(db, task_key))


@api.post(
    "/approvals/<task_key>/add-approver",
    scope="approvals:write",
    summary="加签: add an approver before or after the key's owner",
    params=[param("task_key", "path")],
    body=ref("AddApproverInput"),
    responses={"200": ref("ApprovalTask")},
)  # fmt: skip
def add_approver(task_key: str) -> Response:
    """加签: add an approver before or after the key's owner."""
    body = json_body()
    user = _field(body, "user", required=True) or ""
    position = _field(body, "position", required=True) or ""
    comment = _field(body, "comment")
    owner = _owner()

    def work(db: Any) -> dict[str, Any]:
        approvals.add_approver(
            db, db.merge(owner), task_key, user, position, comment=comment, via="api"
        )
        return _reloaded(db, task_key)

    return reply(transact(work))


@api.post(
    "/approvals/<task_key>/send-back",
    scope="approvals:write",
    summary="退回: send a task back to a person, an earlier step or an earlier approval",
    params=[param("task_key", "path")],
    body=ref("SendBackInput"),
    responses={"200": ref("ApprovalTask")},
)  # fmt: skip
def send_back(task_key: str) -> Response:
    """退回: to a person for more information, an earlier step or an earlier approval."""
    body = json_body()
    comment = _field(body, "comment", required=True)
    to_user, to_step, to_node = (_field(body, name) for name in ("to_user", "to_step", "to_node"))
    owner = _owner()

    def work(db: Any) -> dict[str, Any]:
        approvals.send_back(db, db.merge(owner), task_key, comment=comment, via="api",
                            to_user=to_user, to_step=to_step, to_node=to_node)  # fmt: skip
        return _reloaded(db, task_key)

    return reply(transact(work))


@api.post(
    "/approvals/<task_key>/resubmit",
    scope="approvals:write",
    summary="Resubmit a request for more information; the step opens again",
    params=[param("task_key", "path")],
    body=ref("ResubmitInput"),
    responses={"200": list_of(ref("ApprovalTask"))},
)  # fmt: skip
def resubmit(task_key: str) -> Response:
    """Answer a 需补充信息 task: the step opens again; returns its fresh tasks."""
    body = json_body()
    comment = _field(body, "comment")
    owner = _owner()

    def work(db: Any) -> list[dict[str, Any]]:
        fresh = approvals.resubmit(db, db.merge(owner), task_key, comment=comment, via="api")
        return [task_json(t) for t in fresh]

    return reply({"items": transact(work)})


@api.post(
    "/approvals/<task_key>/cc",
    scope="approvals:write",
    summary="抄送: let colleagues read a task",
    params=[param("task_key", "path")],
    body=ref("CopyInput"),
    responses={"200": ref("ApprovalTask")},
)  # fmt: skip
def copy_approval(task_key: str) -> Response:
    """抄送: let colleagues read a pending task and its outcome."""
    body = json_body()
    users = body.get("users")
    if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
        raise ValidationError(
            _l('users is a list of user names, e.g. ["wang"].'),
            code="invalid_body",
            details=[{"path": "/users", "message": "expected an array of strings", "rule": "type"}],
        )
    comment = _field(body, "comment")
    owner = _owner()

    def work(db: Any) -> dict[str, Any]:
        approvals.copy_to(db, db.merge(owner), task_key, users, comment=comment, via="api")
        return _reloaded(db, task_key)

    return reply(transact(work))


@api.post(
    "/approvals/<task_key>/comments",
    scope="approvals:write",
    summary="Comment on a task; @mentioned users are told",
    params=[param("task_key", "path")],
    body=ref("CommentInput"),
    responses={"201": ref("Commented")},
)  # fmt: skip
def comment_approval(task_key: str) -> Response:
    """A comment on a task; @mentioned users are told and may read it."""
    body = json_body()
    text = _field(body, "comment", required=True)
    owner = _owner()
    done = transact(
        lambda db: approvals.add_comment(db, db.merge(owner), task_key, text, via="api")
    )
    return reply({"mentioned": done.mentioned, "unknown": done.unknown}, 201)


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


@api.get(
    "/alerts",
    scope="alerts:read",
    summary="List alerts, newest first",
    params=[*PAGING, filter_param("status", 16), filter_param("severity", 16)],
    responses={"200": list_of(ref("Alert"), paged=True)},
)  # fmt: skip
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


@api.get(
    "/alerts/<id:alert_id>",
    scope="alerts:read",
    summary="An alert",
    params=[param("alert_id", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})],
    responses={"200": ref("Alert")},
)  # fmt: skip
def get_alert(alert_id: int) -> Response:
    alert = get_session().get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(_l("There is no alert %(id)s.", id=alert_id))
    return reply(alert_json(alert))
