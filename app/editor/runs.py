"""Runs for the supervisor: a filtered list and the detail of one run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..errors import NotFoundError
from ..models import Flow, FlowVersion, Order, Run, RunEvent
from ..runs.services import timeline
from ..urls import id_arg, page_arg
from ..wording import node_name

PAGE_SIZE = 50
STATUSES = ("waiting", "completed", "incident", "cancelled")


@dataclass(frozen=True)
class RunFilters:
    flow: str = ""
    version: int | None = None
    status: str = ""
    order: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> RunFilters:
        status = args.get("status", "")
        return cls(
            flow=args.get("flow", "").strip(),
            version=id_arg(args, "version"),
            status=status if status in STATUSES else "",
            order=args.get("order", "").strip()[:128],
            page=page_arg(args),
        )


@dataclass(frozen=True)
class RunRow:
    run: Run
    flow: Flow
    version: FlowVersion
    order: Order

    def current_names(self, language: str) -> list[str]:
        """Where the run stands, by the nodes' names."""
        current = set(self.run.current_nodes or ())
        nodes = (self.version.doc or {}).get("nodes", ())
        return [node_name(n, language) for n in nodes if n.get("id") in current]


def _query(filters: RunFilters) -> Select[Run, Flow, FlowVersion, Order]:
    query = (
        select(Run, Flow, FlowVersion, Order)
        .join(FlowVersion, Run.flow_version_id == FlowVersion.id)
        .join(Flow, FlowVersion.flow_id == Flow.id)
        .join(Order, Run.order_id == Order.id)
    )
    if filters.flow:
        query = query.where(Flow.key == filters.flow)
    if filters.version is not None:
        query = query.where(FlowVersion.number == filters.version)
    if filters.status:
        query = query.where(Run.status == filters.status)
    if filters.order:
        query = query.where(
            (Order.external_id == filters.order) | (Order.tracking_id == filters.order)
        )
    return query


def list_runs(db: Session, filters: RunFilters) -> tuple[list[RunRow], int]:
    """One page of runs, newest first, and the number of runs matching the filters."""
    query = _query(filters)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.execute(
        query.order_by(Run.started_at.desc(), Run.id.desc())
        .limit(PAGE_SIZE)
        .offset((filters.page - 1) * PAGE_SIZE)
    ).all()
    return [RunRow(*row) for row in rows], total


def status_counts(db: Session) -> dict[str, int]:
    return dict(db.execute(select(Run.status, func.count()).group_by(Run.status)).all())


def run_detail(db: Session, run_id: int) -> tuple[RunRow, list[RunEvent]]:
    row = db.execute(_query(RunFilters()).where(Run.id == run_id)).one_or_none()
    if row is None:
        raise NotFoundError(_l("Run %(id)s does not exist.", id=run_id))
    return RunRow(*row), timeline(db, run_id)


def path_of(events: list[RunEvent]) -> dict[str, Any]:
    """Nodes visited, the branch each left by, and where the run stands, for the graph."""
    steps = [
        {"node": e.node_id, "branch": e.branch, "event": e.kind}
        for e in events
        if e.node_id and e.kind in ("node_passed", "node_waiting", "incident", "join_waiting")
    ]
    return {"steps": steps, "path": list(dict.fromkeys(s["node"] for s in steps))}
