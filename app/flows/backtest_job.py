"""Backtests as background jobs: a quarter of orders replayed against a draft and the live
version without a cap, with a progress bar, cancellable, resumable after a restart.

The job row is the truth. Each batch of orders is replayed and committed in one
transaction with the changed orders it found, the progress, the running impact summary and
the cursor of its last order; a worker killed mid-job loses at most one batch, and the job
resumes behind the cursor when it is run again (the minute sweep re-queues a running job
that has not moved for :data:`STALLED_AFTER`). A cancel request is read at each batch.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import uuid
from collections import deque
from collections.abc import Generator, Mapping
from datetime import timedelta
from functools import partial
from typing import Any, NamedTuple

from flask_babel import lazy_gettext as _l
from huey import crontab
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..db import Database, get_db, in_transaction, rows_matched
from ..errors import NotFoundError, ValidationError
from ..models import BacktestChange, BacktestJob, Flow, Order, table_of, utcnow
from ..queue import huey, task_app
from . import backtest as bt

log = logging.getLogger(__name__)

MAX_JOB_ORDERS = 1_000_000
STALLED_AFTER = timedelta(minutes=2)
PAGE = 50
# Below this many orders a second process costs more to start than it saves (at 1,000 orders
# two took as long as one). Above, two processes pay when a core is free: on an idle 2-core
# machine they replayed 10,000 orders 1.8x and 100,000 orders 1.9x faster than one, while on a
# machine already busy they measured slower (bench/backtest_bench.py, mode new-2p).
PROCESSES_FROM = 10_000
ACTIVE = ("queued", "running")


class Impact:
    """What a draft changes over the orders replayed so far: how many orders change and
    how (path, outcome, fields, warehouse or carrier, approvers), and the approval workload
    of each approver and role before (live version) and after (draft)."""

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        data = data or {}
        self.orders: int = data.get("orders", 0)
        self.changed: int = data.get("changed", 0)
        self.counts: dict[str, int] = {
            **dict.fromkeys(bt.CHANGE_KINDS, 0),
            **data.get("counts", {}),
        }
        self.workload: dict[tuple[str, str], list[int]] = {
            (w["kind"], w["who"]): [w["before"], w["after"]] for w in data.get("workload", ())
        }

    def add(self, order: Any, before: bt.Outcome, after: bt.Outcome) -> tuple[str, ...]:
        """Count one replayed order; returns how it changes."""
        self.orders += 1
        for side, outcome in ((0, before), (1, after)):
            for asked in outcome.approvers:
                kind, _, who = asked.partition(": ")[2].partition(" ")
                self.workload.setdefault((kind, who), [0, 0])[side] += 1
        changes = bt._changes(before, after)
        if changes:
            self.changed += 1
            for kind in changes:
                self.counts[kind] += 1
        return changes

    def merge(self, other: Impact) -> None:
        """Count in what ``other`` counted (a batch replayed elsewhere)."""
        self.orders += other.orders
        self.changed += other.changed
        for kind, count in other.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + count
        for key, (before, after) in other.workload.items():
            mine = self.workload.setdefault(key, [0, 0])
            mine[0] += before
            mine[1] += after

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: workload sorted by the largest change first."""
        workload: list[dict[str, Any]] = [
            {"kind": k, "who": w, "before": b, "after": a, "delta": a - b}
            for (k, w), (b, a) in self.workload.items()
        ]
        workload.sort(key=lambda r: (-abs(r["delta"]), r["kind"], r["who"]))
        return {
            "orders": self.orders,
            "changed": self.changed,
            "counts": dict(self.counts),
            "workload": workload,
        }


class Batch(NamedTuple):
    """One batch replayed and summarised where it ran: what it adds to the impact, the
    orders it changed (with how, before and after) and its last order (the job's cursor).
    Orders come without their documents."""

    impact: Impact
    changed: list[tuple[bt.StoredOrder, tuple[str, ...], bt.Outcome, bt.Outcome]]
    tail: bt.StoredOrder


def _summarised(replayed: list[tuple[bt.StoredOrder, bt.Outcome, bt.Outcome]]) -> Batch:
    impact = Impact()
    changed = []
    for order, before, after in replayed:
        changes = impact.add(order, before, after)
        if changes:
            changed.append((order._replace(data={}), changes, before, after))
    return Batch(impact, changed, replayed[-1][0]._replace(data={}))


# What a forked worker process replays with (set in the parent just before the fork).
_worker: dict[str, Any] = {}


def _start_worker() -> None:
    # The parent's pooled connections are the parent's: this process opens its own.
    _worker["engine"].dispose(close=False)


def _replay_in_worker(after: bt.Cursor | None, last: bt.Cursor) -> Batch:
    """Read the orders behind ``after`` down to ``last``, replay and summarise them: only
    the summary and the changed orders travel back to the parent."""
    with Session(_worker["engine"]) as db:
        rows = bt.orders_between(db, after, last)
        ref = {**_worker["ref"], "inventory": bt.batch_stock(db, rows)}
    return _summarised(bt.replay_batch(_worker["replay"], rows, ref))


def replay(
    db: Session,
    flow: Flow,
    draft_doc: Mapping[str, Any] | None,
    *,
    last: int,
    workers: int = 1,
    after: bt.Cursor | None = None,
    skip: int = 0,
    replay_: bt.Replay | None = None,
) -> Generator[Batch]:
    """The ``last`` most recent orders replayed before and after, one batch at a time.

    With ``workers`` > 1 the batches are shared by that many forked processes, each reading
    its batch's orders itself and summarising them, while this one only finds where each
    batch starts and ends (results come back in order)."""
    replay_ = replay_ or bt.prepare(db, flow, draft_doc)
    if workers <= 1:
        for rows in bt.order_batches(db, last, after=after, skip=skip):
            yield _summarised(bt.replay_batch(replay_, rows, bt.batch_ref(db, rows)))
        return
    ref = {k: v for k, v in bt.batch_ref(db, []).items() if k != "inventory"}
    _worker.update(engine=db.get_bind(), replay=replay_, ref=ref)
    ranges = bt.key_ranges(db, last, after=after, skip=skip)
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_start_worker) as pool:
        pending: deque[Any] = deque()
        for behind, final in ranges:
            pending.append(pool.apply_async(_replay_in_worker, (behind, final)))
            if len(pending) > 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def processes_for(orders: int) -> int:
    """How many processes replay a job of ``orders`` orders: two when the job is long enough
    to pay for a second one and the machine has a core to spare (its load average over the
    last minute leaves one free), else one."""
    cores = os.cpu_count() or 1
    if orders < PROCESSES_FROM or cores < 2:
        return 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # no load average on this system: stay on one core
        return 1
    return 2 if load <= cores - 1 else 1


def start(
    db: Session, flow: Flow, draft_doc: Mapping[str, Any] | None, *, last: int, user_id: int | None
) -> BacktestJob:
    """Create a job for the draft (or ``draft_doc``) over the last ``last`` orders. No commit:
    the caller queues :func:`run_job` after committing."""
    if not isinstance(last, int) or isinstance(last, bool) or not 1 <= last <= MAX_JOB_ORDERS:
        raise ValidationError(
            _l(
                "Backtest between 1 and %(n)d orders, for example 100000.",
                n=MAX_JOB_ORDERS,
            ),
            fields={"last": "range"},
        )
    doc = draft_doc if draft_doc is not None else flow.draft
    replay_ = bt.prepare(db, flow, doc)  # refuses a missing or invalid draft now, not later
    total = min(last, db.scalar(select(func.count()).select_from(Order)) or 0)
    job = BacktestJob(
        flow_key=flow.key,
        draft=dict(doc or {}),
        last=last,
        total=total,
        published_version=replay_.published_version,
        summary=Impact().to_dict(),
        created_by_id=user_id,
    )
    db.add(job)
    db.flush()
    return job


def get_job(db: Session, job_id: int) -> BacktestJob:
    job = db.get(BacktestJob, job_id)
    if job is None:
        raise NotFoundError(_l("Backtest %(id)s was not found.", id=job_id), code="not_found")
    return job


def cancel(db: Session, job: BacktestJob) -> None:
    """Ask a queued or running job to stop at its next batch (a queued one stops at once)."""
    if job.status == "queued":
        job.status, job.finished_at = "cancelled", utcnow()
    elif job.status == "running":
        job.cancel_requested = True
    job.updated_at = utcnow()


def stalled(job: BacktestJob) -> bool:
    """A running job that has not moved for a while (its worker stopped)."""
    return job.status == "running" and utcnow() - job.updated_at > STALLED_AFTER


def job_dict(job: BacktestJob) -> dict[str, Any]:
    """Progress and summary as the editor polls them."""
    return {
        "id": job.id,
        "flow": job.flow_key,
        "status": job.status,
        "stalled": stalled(job),
        "cancel_requested": job.cancel_requested,
        "last": job.last,
        "total": job.total,
        "done": job.done,
        "percent": 100 if job.total == 0 else int(100 * job.done / job.total),
        "published_version": job.published_version,
        "summary": job.summary,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def changes_page(db: Session, job: BacktestJob, page: int = 1) -> dict[str, Any]:
    """One page of the orders that change, in the order they were found (newest first)."""
    page = max(1, page)
    rows = db.scalars(
        select(BacktestChange)
        .where(BacktestChange.job_id == job.id)
        .order_by(BacktestChange.id)
        .offset((page - 1) * PAGE)
        .limit(PAGE)
    ).all()
    return {
        "page": page,
        "per_page": PAGE,
        "total": job.summary.get("changed", 0),
        "items": [
            {
                "order_id": r.order_id,
                "external_id": r.external_id,
                "channel": r.channel,
                "changes": r.changes,
                "published": r.published,
                "draft": r.draft,
            }
            for r in rows
        ],  # fmt: skip
    }


def run_job_now(database: Database, job_id: int, *, workers: int | None = None) -> str:
    """Run (or resume) job ``job_id`` to its end; returns its final status."""

    token = uuid.uuid4().hex

    def claim(db: Session) -> BacktestJob | None:
        job = db.get(BacktestJob, job_id)
        if (
            job is None
            or job.status not in ACTIVE
            or (job.status == "running" and not stalled(job))
        ):
            return None  # finished, or another worker is on it
        job.status, job.updated_at, job.claim = "running", utcnow(), token
        return job

    if in_transaction(database, claim) is None:
        with database.session() as db:
            job = db.get(BacktestJob, job_id)
            return job.status if job else "gone"
    try:
        return _run(database, job_id, workers, token)
    except Exception as exc:  # a job must end with a reason, never hang as "running"
        log.exception("backtest %s failed", job_id)
        reason = str(exc) or type(exc).__name__

        def fail(db: Session) -> None:
            db.execute(
                update(BacktestJob)
                .where(BacktestJob.id == job_id)
                .values(status="failed", error=reason,
                        finished_at=utcnow(), updated_at=utcnow())
            )  # fmt: skip

        in_transaction(database, fail)
        return "failed"


def _run(database: Database, job_id: int, workers: int | None, token: str) -> str:
    with database.session() as db:
        job = db.get(BacktestJob, job_id)
        if job is None:
            return "gone"
        flow = db.scalars(select(Flow).where(Flow.key == job.flow_key)).one()
        after = None  # a batch commits cursor_at and cursor_id together
        if job.cursor_at is not None and job.cursor_id is not None:
            after = (job.cursor_at, job.cursor_id)
        skip, last = job.done, job.last
        impact = Impact(job.summary)
        if workers is None:
            workers = processes_for(last - skip)
        replay_ = bt.prepare(db, flow, job.draft)
        batches = replay(db, flow, job.draft, last=last, workers=workers, after=after,
                         skip=skip, replay_=replay_)  # fmt: skip
        for batch in batches:
            impact.merge(batch.impact)
            rows = [
                {"job_id": job_id, "order_id": order.id, "external_id": order.external_id,
                 "channel": order.channel, "changes": list(changes),
                 "published": before.to_dict(), "draft": now.to_dict()}
                for order, changes, before, now in batch.changed
            ]  # fmt: skip
            tail = batch.tail
            step = _commit_batch(database, job_id, rows, batch.impact.orders, impact, tail, token)
            if step == "lost":  # resumed elsewhere: that run finishes the job
                batches.close()
                return "superseded"
            if step == "cancel":
                batches.close()
                return _finish(database, job_id, "cancelled")
    return _finish(database, job_id, "done")


def _commit_batch(
    database: Database,
    job_id: int,
    rows: list[dict[str, Any]],
    count: int,
    impact: Impact,
    tail: bt.StoredOrder,
    token: str,
) -> str:
    def work(db: Session) -> str:
        mine = rows_matched(db,
            update(BacktestJob)
            .where(BacktestJob.id == job_id, BacktestJob.claim == token)
            .values(done=BacktestJob.done + count, summary=impact.to_dict(),
                    cursor_at=tail.created_at, cursor_id=tail.id, updated_at=utcnow())
        )  # fmt: skip
        if mine != 1:
            return "lost"
        if rows:
            db.execute(table_of(BacktestChange).insert(), rows)
        asked = db.scalar(select(BacktestJob.cancel_requested).where(BacktestJob.id == job_id))
        return "cancel" if asked else "go"

    return in_transaction(database, work)


def _requeue(job_id: int, db: Session) -> None:
    db.execute(update(BacktestJob).where(BacktestJob.id == job_id).values(status="queued"))


def _finish(database: Database, job_id: int, status: str) -> str:
    def work(db: Session) -> None:
        job = db.get(BacktestJob, job_id)
        if job is not None:
            job.status, job.finished_at, job.updated_at = status, utcnow(), utcnow()
            if status == "done":
                job.total = job.done

    in_transaction(database, work)
    return status


@huey.task()
def run_job(job_id: int) -> str:
    """Run backtest job ``job_id`` in the background."""
    return run_job_now(get_db(task_app()), job_id)


@huey.periodic_task(crontab(minute="*"))
def resume_stalled() -> list[int]:
    """Re-queue running jobs whose worker stopped (they resume behind their cursor)."""
    return resume_stalled_now(get_db(task_app()))


def resume_stalled_now(database: Database) -> list[int]:
    with database.session() as db:
        ids = db.scalars(
            select(BacktestJob.id).where(
                BacktestJob.status == "running", BacktestJob.updated_at < utcnow() - STALLED_AFTER
            )
        ).all()
    for job_id in ids:
        in_transaction(database, partial(_requeue, job_id))
        run_job(job_id)
    return list(ids)
