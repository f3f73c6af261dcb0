"""Business-time SLAs: working hours, weekends, holidays and make-up working days (调休)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from flow_engine import BusinessCalendar, NodeError, TimerFired, simulate, step
from tests.flow_engine.helpers import edge, effects, flow_doc, node, run

SH = ZoneInfo("Asia/Shanghai")
# National Day 2026: 1-7 October off, Saturday 10 October worked instead.
HOLIDAYS = [f"2026-10-0{d}" for d in range(1, 8)]
NATIONAL_DAY = BusinessCalendar(
    hours=["09:00-12:00", "13:00-18:00"], holidays=HOLIDAYS, workdays=["2026-10-10"]
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        # Inside one working morning.
        ("2026-09-29 09:30", timedelta(hours=2), "2026-09-29 11:30"),
        # Lunch is not working time.
        ("2026-09-29 11:00", timedelta(hours=2), "2026-09-29 14:00"),
        # Started at night: counting begins the next working morning.
        ("2026-09-28 22:00", timedelta(hours=1), "2026-09-29 10:00"),
        # 24 working hours across National Day end on the make-up Saturday.
        ("2026-09-30 15:00", timedelta(hours=24), "2026-10-10 15:00"),
        # Ends exactly at the close of a working day.
        ("2026-09-29 09:00", timedelta(hours=8), "2026-09-29 18:00"),
        # An ordinary weekend is skipped.
        ("2026-10-16 17:00", timedelta(hours=2), "2026-10-19 10:00"),
    ],
)
def test_business_time_skips_nights_weekends_and_holidays(start, duration, due):
    assert NATIONAL_DAY.add(at(start), duration) == at(due)


def test_due_time_keeps_the_start_time_zone():
    start = at("2026-09-30 15:00").astimezone(ZoneInfo("UTC"))
    due = NATIONAL_DAY.add(start, timedelta(hours=24))
    assert due.tzinfo == start.tzinfo and due == at("2026-10-10 15:00")


def test_calendar_from_reference_tables_matches_the_same_calendar_as_data():
    ref = {
        "calendar_hours": [
            {"id": "default", "timezone": "Asia/Shanghai", "weekdays": [1, 2, 3, 4, 5],
             "hours": "09:00-12:00|13:00-18:00"}
        ],
        "calendar_days": [{"date": d, "type": "holiday", "name": "国庆节"} for d in HOLIDAYS]
        + [{"date": "2026-10-10", "type": "workday", "name": "国庆节调休"}],
    }  # fmt: skip
    calendar = BusinessCalendar.from_ref(ref)
    assert calendar.is_working_day(at("2026-10-10 00:00").date())
    assert not calendar.is_working_day(at("2026-10-05 00:00").date())
    assert calendar.add(at("2026-09-30 15:00"), timedelta(hours=24)) == at("2026-10-10 15:00")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"hours": ["18:00-09:00"]}, "ends before it starts"),
        ({"hours": ["9am-5pm"]}, "is not a time"),
        ({"hours": ["09:00-13:00", "12:00-18:00"]}, "overlap"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"weekdays": [], "hours": ["09:00-18:00"]}, "no working time"),
        ({"holidays": ["2026-13-01"]}, "is not a date"),
    ],
)
def test_broken_calendars_are_refused_with_a_reason(kwargs, fragment):
    with pytest.raises(NodeError) as err:
        BusinessCalendar(**kwargs)
    assert err.value.code == "bad_calendar" and fragment in err.value.message


def _sla_flow(**sla) -> dict:
    return flow_doc(
        [node("start", "start"),
         node("ap", "approval", assignees=[{"user": "li"}], sla=sla),
         node("ok", "end", outcome="ok"), node("no", "end", outcome="no"),
         node("late", "end", outcome="late")],
        [edge("start", "ap"), edge("ap", "ok", "approved"), edge("ap", "no", "rejected"),
         edge("ap", "late", "timeout")],
    )  # fmt: skip


def _timers(result) -> dict[str, str]:
    return {e.payload["purpose"] + ":" + e.payload["timer_id"]: e.payload["due"]
            for e in effects(result, "schedule_timer")}  # fmt: skip


def test_business_hours_sla_sets_deadline_reminders_and_task_due_on_the_calendar():
    doc = _sla_flow(duration="24h", reminders=["4h"], business_hours=True)
    start = at("2026-09-30 15:00")
    _, started = run(doc, now=start, calendar=NATIONAL_DAY)
    due = {k.split(":")[0]: v for k, v in _timers(started).items()}
    assert datetime.fromisoformat(due["sla_deadline"]) == at("2026-10-10 15:00")
    # 3 hours on 30 September, the 4th on the first morning after the holiday.
    assert datetime.fromisoformat(due["sla_reminder"]) == at("2026-10-08 10:00")
    (create,) = effects(started, "create_approval_tasks")
    assert datetime.fromisoformat(create.payload["due"]) == at("2026-10-10 15:00")


def test_wall_clock_sla_is_unchanged_by_a_calendar():
    _, started = run(_sla_flow(duration="24h"), now=at("2026-09-30 15:00"), calendar=NATIONAL_DAY)
    (deadline,) = _timers(started).values()
    assert datetime.fromisoformat(deadline) == at("2026-10-01 15:00")


def test_escalation_limit_counts_business_time_too():
    doc = _sla_flow(
        duration="8h",
        on_timeout="escalate",
        escalate_to=[{"role": "ops_manager"}],
        escalation_duration="2h",
        business_hours=True,
    )
    flow, started = run(doc, now=at("2026-09-30 15:00"), calendar=NATIONAL_DAY)
    (deadline_id,) = [k.split(":", 1)[1] for k in _timers(started)]
    fired_at = at("2026-10-08 14:00")  # 3h on 30 Sept + 5h on 8 Oct
    escalated = step(
        flow, started.snapshot, TimerFired(deadline_id), now=fired_at, calendar=NATIONAL_DAY
    )
    (new_deadline,) = _timers(escalated).values()
    assert datetime.fromisoformat(new_deadline) == at("2026-10-08 16:00")
    (create,) = effects(escalated, "create_approval_tasks")
    assert create.payload["kind"] == "escalation" and create.payload["tasks"][0]["assignee"] == {
        "role": "ops_manager"
    }


def test_simulation_reads_the_calendar_from_reference_tables():
    ref = {"calendar_days": [{"date": d, "type": "holiday"} for d in HOLIDAYS]}
    report = simulate(
        _sla_flow(duration="9h", business_hours=True),
        {"external_id": "S1", "amount": 10},
        now=at("2026-09-30 15:00"),
        ref=ref,
        events=[{"type": "advance", "to": at("2026-10-08 14:59").isoformat()}],
    )
    # The default hours, 09:00-18:00: 3 hours on 30 September, 6 on 8 October.
    assert report.result.snapshot.status == "waiting"
    report = simulate(
        _sla_flow(duration="9h", business_hours=True),
        {"external_id": "S1", "amount": 10},
        now=at("2026-09-30 15:00"),
        ref=ref,
        events=[{"type": "advance", "to": at("2026-10-08 15:00").isoformat()}],
    )
    assert report.result.snapshot.outcome == "late"
