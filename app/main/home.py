"""What the home page shows each person: their flows and drafts with problems (supervisors),
approvals waiting (approvers), incidents, dead letters and users (admins)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..approvals import queries as approvals
from ..editor import services as editor
from ..flows import services as flows
from ..models import OutboxMessage, Run, User
from ..runs import outbox
from ..security import permissions_of

SHOWN = 8


@dataclass
class DraftProblem:
    summary: editor.FlowSummary
    errors: int


@dataclass
class Home:
    flows: list[editor.FlowSummary] = field(default_factory=list)
    flow_total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    drafts: list[DraftProblem] = field(default_factory=list)
    incidents: int = 0
    waiting_runs: int = 0
    approvals: int = 0
    dead_letters: int = 0
    users: int = 0


def home_for(db: Session, user: User) -> Home:
    """The figures of ``user``'s home page (only what their roles may see)."""
    home, perms = Home(), permissions_of(user)
    if "flows.view" in perms:
        rows = editor.flow_summaries(db)
        mine = [r for r in rows if r.flow.owner_id == user.id] or rows
        live_first = {"changed": 0, "draft": 1, "published": 2}
        home.flows = sorted(mine, key=lambda r: live_first.get(r.status, 3))[:SHOWN]
        home.flow_total = len(mine)
        for row in rows:
            home.counts[row.status] = home.counts.get(row.status, 0) + 1
        if "flows.edit" in perms:
            # Only unpublished drafts are checked: a handful, not every flow.
            for row in rows:
                if row.status in ("draft", "changed") and row.flow.draft is not None:
                    issues = flows.check(db, row.flow.draft)
                    errors = sum(1 for i in issues if i.severity == "error")
                    if errors:
                        home.drafts.append(DraftProblem(row, errors))
    if "runs.view" in perms:
        by_status = dict(
            db.execute(
                select(Run.status, func.count())
                .where(Run.status.in_(("incident", "waiting")))
                .group_by(Run.status)
            ).all()
        )
        home.incidents = by_status.get("incident", 0)
        home.waiting_runs = by_status.get("waiting", 0)
    if "approvals.decide" in perms:
        home.approvals = approvals.pending_count(db, user)
    if "channels.manage" in perms:
        home.dead_letters = db.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == outbox.DEAD)
        ) or 0  # fmt: skip
    if "users.manage" in perms:
        home.users = db.scalar(select(func.count()).select_from(User)) or 0
    return home
