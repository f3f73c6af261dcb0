"""Schedule triggers: at each cron tick (company time zone, working days only when asked) a
flow starts one run per open order its filter matches, once per tick, also through
``orderflow flow schedule-tick --now``."""

from __future__ import annotations

from datetime import datetime

import simplejson
from click.testing import CliRunner
from sqlalchemy import select

from app.calendar import services as business_calendar
from app.cli import cli
from app.db import get_db, in_transaction
from app.models import FlowVersion, Order, Run
from app.runs import schedule

from ..flows_fixtures import flow_doc, order_doc, publish

UNPAID_48H = 'order.status == "created" and order.created_at < now() - 48h'


def _publish(app) -> None:
    doc = flow_doc("unpaid-reminder", [
        {"id": "start", "type": "start"},
        {"id": "done", "type": "end", "config": {"outcome": "reminded"}},
    ], [("start", "done")], trigger="order.scheduled", filter=UNPAID_48H)  # fmt: skip
    doc["trigger"]["schedule"] = {"cron": "0 9 * * 1-5", "business_days": True}
    in_transaction(get_db(app), lambda db: publish(db, doc))


def _order(api, external_id: str, created_at: str) -> dict:
    body = simplejson.dumps(order_doc(external_id, created_at=created_at), use_decimal=True)
    return api.post("/orders", data=body, content_type="application/json").json


def _tick(app, at: str) -> schedule.TickReport:
    moment = datetime.fromisoformat(at)
    return in_transaction(get_db(app), lambda db: schedule.tick(db, moment))


def _runs_by_order(app) -> dict[str, int]:
    with get_db(app).session() as db:
        rows = db.execute(select(Order.external_id, Run.id).join(Run).join(FlowVersion).where(
            FlowVersion.flow.has(key="unpaid-reminder")))  # fmt: skip
        counts: dict[str, int] = {}
        for external_id, _ in rows:
            counts[external_id] = counts.get(external_id, 0) + 1
        return counts


def test_a_schedule_starts_one_run_per_matching_order_per_tick(app, api, app_config):
    _publish(app)
    _order(api, "OLD", "2026-11-20T10:00:00+08:00")
    _order(api, "NEW", "2026-11-22T20:00:00+08:00")
    paid = _order(api, "PAID", "2026-11-20T10:00:00+08:00")
    api.post("/status-events", json={"source": "erp", "event_id": "P-1", "code": "PAID",
             "occurred_at": "2026-11-21T09:00:00+08:00", "order": {"id": paid["id"]}})  # fmt: skip

    monday = _tick(app, "2026-11-23T09:00:30+08:00")  # Monday 09:00 in Shanghai
    assert monday.due == ("unpaid-reminder",) and monday.started == 1
    assert _tick(app, "2026-11-23T09:00:50+08:00").started == 0  # the same tick again
    assert _tick(app, "2026-11-23T09:01:00+08:00").due == ()  # not a tick of the cron
    assert _tick(app, "2026-11-22T09:00:00+08:00").due == ()  # Sunday
    assert _runs_by_order(app) == {"OLD": 1}

    in_transaction(get_db(app), lambda db: business_calendar.set_day(db, None, "2026-11-24",
                                                                    "holiday"))  # fmt: skip
    assert _tick(app, "2026-11-24T09:00:00+08:00").due == ()  # a holiday, though a Tuesday

    env = {"ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "DATABASE_URL": app_config["DATABASE_URL"], "SECRET_KEY": "test"}  # fmt: skip
    result = CliRunner().invoke(
        cli, ["flow", "schedule-tick", "--now", "2026-11-25T01:00:00Z"], env=env
    )
    assert result.exit_code == 0, result.output
    assert simplejson.loads(result.output) == {
        "at": "2026-11-25T09:00:00+08:00", "due": ["unpaid-reminder"], "started": 2}  # fmt: skip
    assert _runs_by_order(app) == {"OLD": 2, "NEW": 1}
    bad = CliRunner().invoke(cli, ["flow", "schedule-tick", "--now", "2026-11-25 09:00"], env=env)
    assert bad.exit_code == 2 and "2026-12-07T09:00+08:00" in bad.output
