"""Background work of runs: timers, outbox delivery and schedule triggers.

The database is the truth. Huey is only the alarm clock: a timer row is woken at its due
time by a scheduled task, and a periodic sweep fires every due timer and retries every
due outbox message whatever happened to the queue (a worker killed mid-task, a lost Redis).
Firing is a conditional UPDATE, so a timer fires once however many wake-ups arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from huey import crontab
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from flow_engine import TimerFired

from ..db import Database, get_db, in_transaction, rows_matched
from ..models import OutboxMessage, RunTimer, utcnow
from ..queue import huey, task_app
from . import outbox, schedule, services, triggers

log = logging.getLogger(__name__)
SWEEP_BATCH = 500


def wake_timer(timer_id: int, due: datetime) -> None:
    """Ask the queue to fire ``timer_id`` at ``due`` (called after the timer row committed)."""
    fire_timer.schedule(args=(timer_id,), eta=due)


def wake_outbox_many(message_ids: list[int]) -> None:
    """Ask the queue to deliver these messages (called after they committed)."""
    deliver_messages(message_ids)


@huey.task(retries=3, retry_delay=5)
def fire_timer(timer_id: int) -> str:
    """Fire one due timer; returns what happened (for logs and tests)."""
    return fire_timer_now(timer_id)


def fire_timer_now(timer_id: int, now: datetime | None = None) -> str:
    database = get_db(task_app())

    def work(db: Session) -> str:
        moment = now or utcnow()
        timer = db.get(RunTimer, timer_id)
        if timer is None or timer.status != "pending":
            return "gone"
        if timer.due_at > moment + timedelta(seconds=1):
            return "early"  # a sweep or the schedule will come back at the due time
        claimed = rows_matched(
            db,
            update(RunTimer)
            .where(RunTimer.id == timer_id, RunTimer.status == "pending")
            .values(status="fired", fired_at=moment),
        )
        if claimed != 1:
            return "gone"
        outcome = services.apply_event(db, timer.run_id, TimerFired(timer.timer_key), now=moment)
        return "fired" if outcome.accepted else f"ignored:{outcome.ignored}"

    result = in_transaction(database, work)
    if result == "early":
        with database.session() as db:
            timer = db.get(RunTimer, timer_id)
            if timer is not None:
                wake_timer(timer_id, timer.due_at)
    return result


@huey.task()
def deliver_messages(message_ids: list[int]) -> list[str]:
    database = get_db(task_app())
    return [outbox.deliver(database, m) for m in message_ids]


@huey.periodic_task(crontab(minute="*"))
def sweep() -> dict[str, int]:
    """Fire due timers, retry due outbox messages and start queued trigger events whose
    flow's run finished (every minute, and at start-up)."""
    return sweep_now()


def sweep_now(now: datetime | None = None) -> dict[str, int]:
    database = get_db(task_app())
    started = utcnow()
    moment = now or started
    with database.session() as db:
        timers = list(
            db.scalars(
                select(RunTimer.id)
                .where(RunTimer.status == "pending", RunTimer.due_at <= moment)
                .order_by(RunTimer.due_at)
                .limit(SWEEP_BATCH)
            )
        )
        messages = list(
            db.scalars(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.status.in_((outbox.PENDING, outbox.SENDING)),
                    OutboxMessage.kind.in_(outbox.DELIVERERS),
                    OutboxMessage.next_attempt_at <= moment,
                )
                .order_by(OutboxMessage.next_attempt_at)
                .limit(SWEEP_BATCH)
            )
        )
    fired = sum(fire_timer_now(t, now=moment) == "fired" for t in timers)
    # Queued trigger events whose flow's run of the order finished without starting them
    # (a run finished by an older version, a crash between): started now.
    queued = in_transaction(database, lambda db: triggers.start_queued_due(db, moment))
    # Each message is claimed at the time it is reached (``now`` moved on by the time spent):
    # with a slow receiver, a lease taken when the batch began could run out before its
    # message is sent, and another sweeper would send it a second time.
    sent = _deliver_each(database, messages, lambda: moment + (utcnow() - started))
    if timers or messages or queued:
        log.info(
            "sweep: %d/%d timers fired, %d/%d messages sent, %d queued runs started",
            fired,
            len(timers),
            sent,
            len(messages),
            queued,
        )
    return {"timers": len(timers), "fired": fired, "messages": len(messages), "sent": sent,
            "queued_started": queued}  # fmt: skip


def _deliver_each(database: Database, message_ids: list[int], clock: Callable[[], datetime]) -> int:
    sent = 0
    for message_id in message_ids:
        try:
            sent += outbox.deliver(database, message_id, now=clock()) == "sent"
        except Exception:
            # Recording the outcome failed (the database, most likely); the lease brings the
            # message back, and the rest of the batch is still delivered.
            log.exception("sweep: outbox %s could not be processed", message_id)
    return sent


@huey.task()
def recover() -> dict[str, int]:
    """Run once when a server or worker starts: catch up on anything missed while down."""
    return sweep_now()


@huey.periodic_task(crontab(minute="*"))
def schedule_flows() -> dict[str, object]:
    """Start the runs of the schedule-triggered flows due this minute."""
    report = schedule_now()
    return {"at": report.at, "due": list(report.due), "started": report.started}


def schedule_now(now: datetime | None = None) -> schedule.TickReport:
    """One schedule tick at ``now`` (default: the current minute), in its own transaction."""
    return in_transaction(get_db(task_app()), lambda db: schedule.tick(db, now))
