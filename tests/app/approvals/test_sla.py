"""SLA: reminders, then escalation or the automatic decision, on an injected clock and across
a worker restart; business-time deadlines from the calendar the admin keeps."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.calendar import services as calendar
from app.db import in_transaction
from app.models import Notification, RunTimer, utcnow

from ..notifications.servers import SmtpSink
from ..test_queue import BIN, _env, _stop
from .helpers import approval_doc, approver, channel, db_of, deliver_all, run_of, start, tasks_of

SH = ZoneInfo("Asia/Shanghai")


def _timers(db, run_id):
    with db.session() as s:
        return list(
            s.scalars(select(RunTimer).where(RunTimer.run_id == run_id).order_by(RunTimer.due_at))
        )


def test_reminder_then_escalation_then_timeout_on_an_injected_clock(app, make_app):
    db = db_of(app)
    for name in ("li", "zhao"):
        approver(db, name)
    doc = approval_doc(sla={"duration": "8h", "reminders": ["2h"], "on_timeout": "escalate",
                            "escalate_to": [{"user": "zhao"}], "escalation_duration": "4h"})  # fmt: skip
    t0 = utcnow()
    with SmtpSink() as smtp:
        channel(db, "email", **smtp.config())
        run = start(db, doc, now=t0)
        deliver_all(app, t0)
        smtp.wait(1)
        assert [t.due_at - t0 for t in _timers(db, run.id)] == [
            timedelta(hours=2),
            timedelta(hours=8),
        ]
        # Nothing is due an hour in.
        assert deliver_all(app, t0 + timedelta(hours=1))["fired"] == 0
        # A restarted worker (a new app on the same database) picks up where the old one was.
        later = make_app()
        assert deliver_all(later, t0 + timedelta(hours=2, seconds=1))["fired"] == 1
        deliver_all(later, t0 + timedelta(hours=2, seconds=2))
        reminder = smtp.wait(2)[1]
        assert reminder["To"].endswith("<li@example.com>") and "提醒" in reminder["Subject"]
        assert deliver_all(later, t0 + timedelta(hours=8, seconds=1))["fired"] == 1
        first, second = tasks_of(db, run.id)
        assert (first.status, second.assignee, second.payload["kind"]) == (
            "withdrawn",
            "zhao",
            "escalation",
        )
        assert second.due_at == t0 + timedelta(hours=12, seconds=1)  # 4 h after escalating
        deliver_all(later, t0 + timedelta(hours=8, seconds=2))
        escalated = smtp.wait(3)[2]
        assert escalated["To"].endswith("<zhao@example.com>") and "升级" in escalated["Subject"]
        assert run_of(db, run.id).status == "waiting"
        deliver_all(later, t0 + timedelta(hours=12, seconds=1))
    assert run_of(db, run.id).outcome == "late"
    with db.session() as s:
        events = sorted(n.event for n in s.scalars(select(Notification)))
        assert events == ["approval_escalated", "approval_needed", "approval_reminder"]


def test_automatic_decision_at_the_deadline(app):
    db = db_of(app)
    approver(db, "li")
    t0 = utcnow()
    run = start(db, approval_doc(sla={"duration": "1h", "on_timeout": "approve"}), now=t0)
    deliver_all(app, t0 + timedelta(minutes=59))
    assert run_of(db, run.id).status == "waiting"
    deliver_all(app, t0 + timedelta(hours=1, seconds=1))
    done = run_of(db, run.id)
    assert done.outcome == "accepted"
    assert done.snapshot["vars"]["review"]["auto"] is True
    assert [t.status for t in tasks_of(db, run.id)] == ["withdrawn"]


def test_business_hours_over_national_day_use_the_admins_calendar(app):
    db = db_of(app)
    approver(db, "li")

    def setup(s):
        calendar.save_settings(s, None, timezone="Asia/Shanghai", weekdays=["1", "2", "3", "4", "5"],
                               hours=["09:00-12:00", "13:00-18:00"])  # fmt: skip
        return calendar.seed_statutory(s, 2026)

    with app.test_request_context():
        assert in_transaction(db, setup) > 20
    start_at = datetime(2026, 9, 30, 15, 0, tzinfo=SH)
    run = start(db, approval_doc(sla={"duration": "24h", "business_hours": True}), now=start_at)
    (task,) = tasks_of(db, run.id)
    # 3 h on 30 Sept; 1-7 Oct off; 8 h on 8 and 9 Oct; the make-up Saturday 10 Oct adds 5 h.
    assert task.due_at.astimezone(SH) == datetime(2026, 10, 10, 15, 0, tzinfo=SH)


def test_calendar_admin_page_edits_days_and_computes_due_times(app, client, login, make_user):
    from ..conftest import csrf_token

    make_user("boss", roles=("admin",))
    login("boss")
    token = csrf_token(client, "/admin/calendar/")
    client.post("/admin/calendar/seed?year=2026", data={"csrf_token": token})
    client.post("/admin/calendar/days", data={"csrf_token": token, "date": "2026-12-31",
                                              "type": "holiday", "name": "年终盘点"})  # fmt: skip
    page = client.get("/admin/calendar/?year=2026").get_data(as_text=True)
    assert "国庆节" in page and "国庆节调休" in page and "年终盘点" in page
    due = client.get("/admin/calendar/?year=2026&start=2026-09-30T15:00&hours=24").get_data(
        as_text=True
    )
    assert "2026-10-10 15:00" in due  # the default hours: 09:00-12:00, 13:00-18:00


def test_reminder_and_automatic_decision_survive_a_killed_worker(app, app_config):
    db = db_of(app)
    approver(db, "li")
    env = _env(app_config)

    def spawn() -> subprocess.Popen:
        return subprocess.Popen([str(BIN), "worker", "--workers", "1"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    with SmtpSink() as smtp:
        channel(db, "email", **smtp.config())
        worker = spawn()
        try:
            # A first approval proves the worker is up, so that the run under test starts on a
            # warm worker and its reminder cannot come due before the worker is killed.
            warm_up = approval_doc("warm-up")
            warm_up["trigger"]["filter"] = 'order.external_id == "PO-0"'
            start(db, warm_up, "PO-0")
            assert smtp.wait(1, timeout=30), "the worker did not send the first approval email"
            doc = approval_doc(sla={"duration": "20s", "reminders": ["4s"], "on_timeout": "reject"})
            doc["trigger"]["filter"] = 'order.external_id == "PO-1"'
            began = time.monotonic()
            run = start(db, doc, "PO-1")
            assert smtp.wait(2, timeout=20), "the worker did not send the approval email"
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
            assert time.monotonic() - began < 4, (
                "the machine was too slow to kill before the reminder"
            )
            assert [t.status for t in _timers(db, run.id)] == ["pending", "pending"]
            time.sleep(max(0.0, 5 - (time.monotonic() - began)))  # the reminder comes due
            assert run_of(db, run.id).status == "waiting"
            worker = spawn()
            deadline = time.monotonic() + 90  # a fresh worker starts slowly on a busy machine
            while time.monotonic() < deadline and (
                run_of(db, run.id).status != "completed" or len(smtp.messages) < 3
            ):
                time.sleep(0.2)
        finally:
            _stop(worker)
    assert run_of(db, run.id).outcome == "refused"
    assert [t.status for t in _timers(db, run.id)] == ["fired", "fired"]
    assert "提醒" in smtp.messages[2]["Subject"]
