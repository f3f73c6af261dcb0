"""What the approver sees: the inbox rows and one approval with its order, checks and history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session

from ..models import (
    ApprovalAction,
    ApprovalReader,
    ApprovalTask,
    Flow,
    FlowVersion,
    Notification,
    Order,
    Run,
    RunEvent,
    User,
    utcnow,
)
from ..runs.cache import compiled_version
from ..runs.services import enrich_customer, reference_for
from ..wording import Clause, Wording, node_name
from . import services

PAGE_SIZE = 50
HISTORY_KINDS = ("node_passed", "node_waiting", "event_received", "run_completed", "run_cancelled")


@dataclass
class Row:
    """One approval in the inbox."""

    task: ApprovalTask
    order: Order | None
    flow: str
    reason: str
    checks_failed: int
    checks_total: int
    acting_for: str | None
    overdue: bool
    # The failed checks in business words, one line each.
    failed: list[str] = field(default_factory=list)
    # Why the task is the reader's: "财务 · SH-01", or "代 张三 处理" when acting for them.
    why: str = ""
    for_name: str | None = None


@dataclass
class Detail:
    """One approval as the approver opens it."""

    task: ApprovalTask
    order: Order | None
    run: Run | None
    flow: str
    reason: str
    checks: list[dict[str, Any]]
    # The decision that routed the order here: node, rule text, branch, the values it read.
    sent_by: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    actions: list[ApprovalAction] = field(default_factory=list)
    steps: list[ApprovalTask] = field(default_factory=list)
    acting_for: str | None = None
    decided_by: ApprovalTask | None = None
    # Who was copied on the step (抄送) or mentioned in its comments.
    readers: list[ApprovalReader] = field(default_factory=list)
    # Node id -> the node's name in the reader's language.
    node_names: dict[str, str] = field(default_factory=dict)
    # Username -> how people on the page are named (display name; "张三 (zhang3)" when two
    # users share that display name).
    people: dict[str, str] = field(default_factory=dict)

    def who(self, username: str | None) -> str:
        """A person on this page by name, their username when they have no display name."""
        return self.people.get(username or "", username or "")


def _text(value: Any, language: str) -> str:
    if isinstance(value, dict):
        return str(value.get(language) or value.get("zh") or value.get("en") or "")
    return str(value or "")


def _visible(people: list[services.Standing]) -> Any:
    """Tasks assigned to any of ``people`` (the reader, and absent colleagues they stand in
    for): by name, by a business role held for the task's scope, or by department. Plain
    column comparisons with the standings read beforehand: no subquery per task."""
    names = [p.username for p in people]
    holds = sorted({h for p in people for h in p.holds})
    departments = sorted({p.department for p in people if p.department})
    by_role = [
        and_(
            ApprovalTask.role == key,
            (ApprovalTask.scope == scope) if scope else func.coalesce(ApprovalTask.scope, "") == "",
        )
        for key, scope in holds
    ]
    return or_(
        ApprovalTask.assignee.in_(names),
        and_(
            ApprovalTask.assignee.is_(None),
            or_(
                *by_role,
                and_(ApprovalTask.role.is_(None), ApprovalTask.department.in_(departments))
                if departments
                else false(),
            ),
        ),
    )


@dataclass
class InboxPage:
    """One page of the inbox and how many approvals match in all."""

    rows: list[Row]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max((self.total + self.page_size - 1) // self.page_size, 1)


def inbox(
    db: Session,
    user: User,
    *,
    language: str = "zh",
    show: str = "pending",
    search: str = "",
    overdue_only: bool = False,
    everyone: bool = False,
    now: datetime | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> InboxPage:
    """Approvals waiting for ``user`` (or decided by them, ``show="done"``), soonest due first,
    one page at a time (a page past the last shows the last)."""
    now = now or utcnow()
    absent = services.principals(db, user, now) if show == "pending" else []
    known = services.standings(db, [user, *absent])
    # The page's tasks are chosen on the task table alone (its order joined only to search),
    # then read with their order and flow: the joins cost 50 rows, not every open task.
    query = select(ApprovalTask.id)
    if show == "done":
        decided = select(ApprovalAction.task_key).where(
            ApprovalAction.actor == user.username, ApprovalAction.action != "commented"
        )
        query = query.where(ApprovalTask.task_key.in_(decided))
        order_by: tuple[Any, ...] = (ApprovalTask.decided_at.desc(), ApprovalTask.id.desc())
    elif show == "cc":  # 抄送我的: copied on it or mentioned in it, newest first
        roles = sorted(user.role_names)
        mine = ApprovalReader.username == user.username
        if roles:
            mine = or_(
                mine, and_(ApprovalReader.username.is_(None), ApprovalReader.role.in_(roles))
            )
        copied = select(ApprovalReader.task_key).where(mine)
        query = query.where(ApprovalTask.task_key.in_(copied))
        order_by = (ApprovalTask.created_at.desc(), ApprovalTask.id.desc())
    else:
        query = query.where(ApprovalTask.status == "pending")
        if not (everyone and "admin" in user.role_names):
            query = query.where(_visible(list(known.values())))
        order_by = (ApprovalTask.due_at.is_(None), ApprovalTask.due_at, ApprovalTask.id)
    if search.strip():
        query = (
            query.join(Run, Run.id == ApprovalTask.run_id)
            .join(Order, Order.id == Run.order_id)
            .where(Order.external_id.contains(search.strip()))
        )
    if overdue_only:
        query = query.where(ApprovalTask.due_at < now)
    total = int(db.scalar(select(func.count()).select_from(query.subquery())) or 0)
    page = min(max(page, 1), max((total + page_size - 1) // page_size, 1))
    chosen = query.order_by(*order_by).limit(page_size).offset((page - 1) * page_size)
    found = db.execute(
        select(ApprovalTask, Order, Flow)
        .join(Run, Run.id == ApprovalTask.run_id)
        .join(Order, Order.id == Run.order_id)
        .join(FlowVersion, FlowVersion.id == Run.flow_version_id)
        .join(Flow, Flow.id == FlowVersion.flow_id)
        .where(ApprovalTask.id.in_(chosen.scalar_subquery()))
        .order_by(*order_by)
    )
    names = {p.username: p.display_name or p.username for p in absent}
    rows = []
    for task, order, flow in found:
        checks = task.payload.get("checks") or []
        for_whom = (
            services.acting_for(db, user, task, now=now, absent=absent, known=known)
            if show == "pending"
            else None
        )
        rows.append(
            Row(
                task=task,
                order=order,
                flow=(flow.name_zh if language == "zh" else flow.name_en) or flow.key,
                reason=_text(task.payload.get("reason"), language),
                checks_failed=sum(1 for c in checks if not c.get("passed")),
                checks_total=len(checks),
                acting_for=for_whom,
                overdue=task.due_at is not None and task.due_at < now,
                failed=_failed(checks, Wording(language, currency=_currency(order))),
                why=_text(task.why, language) or task.role or task.department or "",
                for_name=names.get(for_whom) if for_whom and for_whom != user.username else None,
            )
        )
    return InboxPage(rows, total, page, page_size)


def _failed(checks: list[dict[str, Any]], wording: Wording) -> list[str]:
    return [wording.check(c) for c in checks if not c.get("passed")]


def pending_count(db: Session, user: User) -> int:
    """How many approvals wait for ``user`` now."""
    absent = services.principals(db, user, utcnow())
    known = services.standings(db, [user, *absent])
    query = select(func.count(ApprovalTask.id)).where(
        ApprovalTask.status == "pending", _visible(list(known.values()))
    )
    return int(db.scalar(query) or 0)


def stamp(db: Session, user: User) -> tuple[Any, ...]:
    """What the live approver pages and the nav badges show, in one statement: a new task takes
    a new id, a decision, hand-over or comment adds an action, a withdrawn or decided task
    leaves the pending count, and ``user``'s notifications come with new ids or get read.
    The pages poll with the version of this and get an empty answer while it stays the same."""
    mine = Notification.user_id == user.id
    return tuple(
        db.execute(
            select(
                select(func.max(ApprovalTask.id)).scalar_subquery(),
                select(func.count(ApprovalTask.id))
                .where(ApprovalTask.status == "pending")
                .scalar_subquery(),
                select(func.max(ApprovalAction.id)).scalar_subquery(),
                select(func.max(Notification.id)).where(mine).scalar_subquery(),
                select(func.count(Notification.id))
                .where(mine, Notification.read_at.is_(None))
                .scalar_subquery(),
            )
        ).one()
    )


def people_names(db: Session, usernames: Any) -> dict[str, str]:
    """Username -> the name people know them by, for every user in ``usernames``, in one
    query: the display name, with the username added when another user has the same
    display name; the username alone when there is no display name."""
    wanted = sorted({str(u) for u in usernames if u})
    if not wanted:
        return {}
    shown = func.coalesce(User.display_name, "")
    same = (
        select(
            User.username.label("username"),
            shown.label("display"),
            func.count().over(partition_by=shown).label("sharing"),
        )
        .where(shown.in_(select(shown).where(User.username.in_(wanted))))
        .subquery()
    )
    out: dict[str, str] = {}
    for username, display, sharing in db.execute(
        select(same.c.username, same.c.display, same.c.sharing).where(same.c.username.in_(wanted))
    ):
        if not display:
            out[username] = username
        elif sharing > 1:
            out[username] = f"{display} ({username})"
        else:
            out[username] = display
    return out


def node_names(version: FlowVersion | None, language: str) -> dict[str, str]:
    nodes = (version.doc if version else {}).get("nodes", ())
    return {node["id"]: node_name(node, language) for node in nodes}


def detail(
    db: Session,
    user: User,
    task: ApprovalTask,
    *,
    language: str = "zh",
    now: datetime | None = None,
) -> Detail:
    """The approval with its order, checks, the steps before it and the audit trail."""
    run = db.get(Run, task.run_id)
    order = db.get(Order, run.order_id) if run else None
    version = db.get(FlowVersion, run.flow_version_id) if run else None
    names = node_names(version, language)
    wording = Wording(language, currency=_currency(order), node_names=names)
    rules = _check_rules(version, task.node_id)
    fresh = _checks_now(db, task, run, version, now or utcnow()) if task.status == "pending" else {}
    checks = []
    for c in task.payload.get("checks") or ():
        rule = str(c.get("rule") or rules.get(str(c.get("name")), ""))
        check = {
            "name": c.get("name"),
            "label": _text(c.get("label"), language) or c.get("name"),
            "value": c.get("value"),
            "passed": bool(c.get("passed")),
            "inputs": c.get("inputs") or {},
            "rule": rule,
            "said": _said(wording, rule, c.get("inputs") or {}),
        }
        current = fresh.get(str(c.get("name")))
        if current is not None:  # what holds now, and whether it changed since the request
            check["now"] = {**current, "said": _said(wording, rule, current.get("inputs") or {})}
            check["changed"] = current["passed"] != check["passed"]
        checks.append(check)
    events = list(
        db.scalars(
            select(RunEvent)
            .where(RunEvent.run_id == task.run_id, RunEvent.kind.in_(HISTORY_KINDS))
            .order_by(RunEvent.seq)
        )
    )
    history = [
        {
            "at": e.at,
            "kind": e.kind,
            "node": names.get(e.node_id or "", e.node_id or ""),
            "branch": e.branch,
            "branch_text": wording.branch(e.branch),
            "actor": e.actor,
            "data": e.data or {},
        }
        for e in events
    ]
    actions = list(
        db.scalars(
            select(ApprovalAction)
            .where(ApprovalAction.run_id == task.run_id)
            .order_by(ApprovalAction.at, ApprovalAction.id)
        )
    )
    steps = list(
        db.scalars(
            select(ApprovalTask)
            .where(ApprovalTask.run_id == task.run_id, ApprovalTask.node_id == task.node_id)
            .order_by(ApprovalTask.id)
        )
    )
    readers = list(
        db.scalars(
            select(ApprovalReader)
            .where(ApprovalReader.run_id == task.run_id, ApprovalReader.node_id == task.node_id)
            .order_by(ApprovalReader.id)
        )
    )
    flow = ""
    if version is not None:
        flow = (
            version.flow.name_zh if language == "zh" else version.flow.name_en
        ) or version.flow.key
    decider = services.decider(db, task) if task.status != "pending" else None
    people = people_names(
        db,
        [decider.decided_by if decider else None, *(e.actor for e in events)]
        + [x for s in steps for x in (s.assignee, s.decided_by)]
        + [x for a in actions for x in (a.actor, a.to_user, a.on_behalf_of)]
        + [r.username for r in readers],
    )
    return Detail(
        task=task,
        order=order,
        run=run,
        flow=flow,
        reason=_text(task.payload.get("reason"), language),
        sent_by=_sent_by(events, task, version, names, wording),
        checks=checks,
        history=history,
        actions=actions,
        steps=steps,
        acting_for=services.acting_for(db, user, task, now=now)
        if task.status == "pending"
        else None,
        decided_by=decider,
        readers=readers,
        node_names=names,
        people=people,
    )


DECIDING = ("condition", "switch", "decision_table", "ruleset")


def _currency(order: Order | None) -> str:
    return str((order.data or {}).get("currency") or "CNY") if order is not None else "CNY"


def _check_rules(version: FlowVersion | None, node_id: str) -> dict[str, str]:
    """Each check's rule by name, from the flow (for tasks created before checks carried it)."""
    for node in (version.doc if version else {}).get("nodes", ()):
        if node.get("id") == node_id:
            checks = (node.get("config") or {}).get("checks") or ()
            return {str(c.get("name")): str(c.get("expression") or "") for c in checks}
    return {}


def _said(wording: Wording, rule: str, inputs: dict[str, Any]) -> list[Clause]:
    return wording.rule(rule, inputs) if rule else wording.facts(inputs)


def _sent_by(
    events: list[RunEvent],
    task: ApprovalTask,
    version: FlowVersion | None,
    names: dict[str, str],
    wording: Wording,
) -> dict[str, Any] | None:
    """The last decision the order passed before it reached this approval, with the rule as
    written and the values it read: why this order, and not another, waits here."""
    arrived = next(
        (e.seq for e in events if e.kind == "node_waiting" and e.node_id == task.node_id), None
    )
    if arrived is None:
        return None
    decided = [
        e for e in events if e.seq < arrived and e.kind == "node_passed" and e.node_type in DECIDING
    ]
    if not decided:
        return None
    event = decided[-1]
    config = next(
        (n.get("config") or {} for n in (version.doc if version else {}).get("nodes", ())
         if n.get("id") == event.node_id),
        {},
    )  # fmt: skip
    data = event.data or {}
    inputs = data.get("inputs") or {}
    rule = ""
    said: list[Clause] = []
    if event.node_type == "condition":
        rule = str(config.get("expression") or "")
        said = _said(wording, rule, inputs)
    elif event.node_type == "switch":
        cases: dict[str, list[str]] = {}
        for case in config.get("cases", ()):
            cases.setdefault(str(case.get("branch")), []).append(str(case.get("when")))
        whens = [w for b in data.get("matched") or () for w in cases.get(str(b), [])]
        rule = "; ".join(
            " or ".join(cases.get(str(b), [str(b)])) for b in data.get("matched") or ()
        )
        # the cases are alternatives: what held is why; what did not is noise
        said = [c for w in whens for c in wording.rule(w, inputs) if c.holds is not False]
        said = said or wording.facts(inputs)
    elif event.node_type == "decision_table":
        rows = [int(r) + 1 for r in data.get("matched") or () if isinstance(r, int)]
        rule = ", ".join(f"#{r}" for r in rows)
        said = [Clause(wording.row(r)) for r in rows] + wording.facts(inputs)
    elif event.node_type == "ruleset":
        rule = ", ".join(str(r) for r in data.get("fired") or ())
        said = [Clause(str(r)) for r in data.get("fired") or ()] + wording.facts(inputs)
    return {
        "node": names.get(event.node_id or "", event.node_id or ""),
        "node_id": event.node_id,
        "type": event.node_type,
        "rule": rule,
        "said": said,
        "branch": event.branch,
        "branch_text": wording.branch(event.branch),
        "inputs": inputs,
    }


def _checks_now(
    db: Session, task: ApprovalTask, run: Run | None, version: FlowVersion | None, now: datetime
) -> dict[str, dict[str, Any]]:
    """The approval's checks evaluated again on today's stock and customer data, by name;
    empty when they cannot be (the run or its version is gone, the flow no longer compiles)."""
    if run is None or version is None or not run.snapshot:
        return {}
    from flow_engine import FlowError, RunSnapshot, approval_checks

    try:
        snapshot = RunSnapshot.from_dict(run.snapshot)
        ref = reference_for(db, snapshot.order)
        order = enrich_customer(snapshot.order, ref)
        checks = approval_checks(
            compiled_version(version), snapshot, task.node_id, now=now, ref=ref, order=order
        )
    except FlowError:
        return {}
    return {str(c["name"]): c for c in checks}
