"""One clock: the same moment reads the same on every page, in the company's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from app import clock
from app.db import get_db, in_transaction
from app.models import FlowVersion, Order, Run, RunEvent
from app.orders import services as orders

from .approvals.helpers import approval_doc, approver, tasks_of
from .conftest import csrf_token
from .flows_fixtures import order_doc, publish

# 20:14 in London (UTC in December) is 04:14 the next day in Shanghai.
MOMENT = datetime(2026, 12, 6, 20, 14, 30, tzinfo=UTC)
SHANGHAI, LONDON = "2026-12-07 04:14", "2026-12-06 20:14"


@pytest.fixture
def moment_everywhere(app):
    """An approval run whose order, run, events and flow version all carry ``MOMENT``."""
    database = get_db(app)
    approver(database, "boss", roles=("admin",))
    approver(database, "li")  # the approval's assignee (a flow naming nobody does not publish)
    in_transaction(database, lambda db: publish(db, approval_doc()))
    doc = order_doc("PO-CLOCK", "25000.00", created_at=MOMENT.isoformat())
    _, _, runs = in_transaction(database, lambda db: orders.ingest(db, doc))
    run = runs[0]

    def pin(db):  # type: ignore[no-untyped-def]
        db.execute(update(Run).where(Run.id == run.id).values(started_at=MOMENT))
        db.execute(update(RunEvent).where(RunEvent.run_id == run.id).values(at=MOMENT))
        db.execute(update(FlowVersion).values(published_at=MOMENT))
        db.execute(update(Order).where(Order.id == run.order_id).values(updated_at=MOMENT))
        return db.get(Order, run.order_id).tracking_id

    tracking = in_transaction(database, pin)
    (task,) = tasks_of(database, run.id)
    return {
        "runs": "/runs",
        "run": f"/runs/{run.id}",
        "flows": "/flows",
        "order": f"/orders/{run.order_id}",
        "approval": f"/approvals/{task.task_key}",
        "tracking": f"/track/{tracking}",
        "dashboard": "/dashboard/flows",
    }


def _times(client, pages: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, path in pages.items():
        response = client.get(path)
        assert response.status_code == 200, (name, path, response.status_code)
        out[name] = response.get_data(as_text=True)
    return out


def test_every_page_shows_the_moment_in_the_company_zone(client, login, moment_everywhere):
    login("boss")
    for name, page in _times(client, moment_everywhere).items():
        assert SHANGHAI in page, f"{name} does not show {SHANGHAI}"
        assert LONDON not in page, f"{name} still shows UTC ({LONDON})"


def test_pages_follow_when_the_admin_changes_the_zone(app, client, login, moment_everywhere):
    login("boss")
    saved = client.post(
        "/admin/calendar/settings",
        data={"timezone": "Europe/London", "weekdays": ["1", "2", "3", "4", "5"],
              "hours": "09:00-12:00\n13:00-18:00", "csrf_token": csrf_token(client, "/admin/calendar/")},
    )  # fmt: skip
    assert saved.status_code == 302
    for name, page in _times(client, moment_everywhere).items():
        assert LONDON in page, f"{name} does not follow the new zone"
        assert SHANGHAI not in page, f"{name} still shows Shanghai time"
    with app.app_context():
        assert str(clock.zone()) == "Europe/London"


def test_an_unknown_zone_is_refused_and_the_clock_stays(app, client, login, moment_everywhere):
    login("boss", **{"Accept-Language": "en"})
    client.post(
        "/admin/calendar/settings",
        data={"timezone": "Shanghai", "weekdays": ["1"], "hours": "09:00-18:00",
              "csrf_token": csrf_token(client, "/admin/calendar/")},
    )  # fmt: skip
    page = client.get("/admin/calendar/").get_data(as_text=True)
    assert "Shanghai" in page and "time zone" in page
    assert SHANGHAI in client.get(moment_everywhere["runs"]).get_data(as_text=True)


def test_the_api_keeps_iso_8601_with_offsets(client, app, moment_everywhere):
    with app.app_context():
        assert clock.local_iso(MOMENT) == "2026-12-07T04:14:30+08:00"
        assert clock.offset_label(MOMENT) == "UTC+08:00"


def test_the_simulator_stamps_orders_in_the_company_zone(app, client, login, moment_everywhere):
    """The editor tells the simulator the company zone's offset, so a simulated order is
    created 'now' in Shanghai (480 minutes), and in India (no summer time, 330) once the admin picks it."""
    login("boss")
    key = "big-orders"
    assert '"utcOffsetMinutes": 480' in client.get(f"/flows/{key}").get_data(as_text=True)
    client.post(
        "/admin/calendar/settings",
        data={"timezone": "Asia/Kolkata", "weekdays": ["1"], "hours": "09:00-18:00",
              "csrf_token": csrf_token(client, "/admin/calendar/")},
    )  # fmt: skip
    with app.app_context():
        assert clock.utc_offset_minutes(MOMENT) == 330
    assert '"utcOffsetMinutes": 330' in client.get(f"/flows/{key}").get_data(as_text=True)
