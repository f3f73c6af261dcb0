"""Status events posted one per request share transactions like order intake (group
commit): events that arrive while another event's transaction runs are recorded together
in the next one, each request gets its own answer (its runs started, its duplicate notice,
its own error), and the runs they start are the same as one at a time."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import simplejson
from sqlalchemy import func, select

from app.db import get_db
from app.models import FlowVersion, Run, StatusEvent
from app.status import services as status

from ..flows_fixtures import order_doc
from .conftest import at_once
from .test_event_triggers import _flow


@pytest.fixture
def first_event_slowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first status event's transaction takes 0.3 s: the others queue behind it."""
    record, slowed = status.record_incoming, threading.Event()

    def slow_first(*args: Any, **kwargs: Any) -> Any:
        if not slowed.is_set():
            slowed.set()
            threading.Event().wait(0.3)
        return record(*args, **kwargs)

    monkeypatch.setattr(status, "record_incoming", slow_first)


@pytest.mark.parametrize("with_unknown_order", [False, True])
def test_concurrent_status_events_share_transactions_and_start_their_runs(
    app, make_key, first_event_slowed, with_unknown_order
):
    _flow(app, "on-paid", "order.paid")
    key = make_key(scopes=("orders:write", "orders:read"))
    headers = {"Authorization": f"Bearer {key}"}
    client = app.test_client()
    n = 12
    orders = [client.post("/api/v1/orders", headers=headers, content_type="application/json",
                          data=simplejson.dumps(order_doc(f"SG{i}"), use_decimal=True)).json
              for i in range(n)]  # fmt: skip
    events = [{"source": "erp", "event_id": f"SG-{i}", "code": "PAID",
               "occurred_at": "2026-12-07T09:00:00+08:00", "order": {"id": o["id"]}}
              for i, o in enumerate(orders)]  # fmt: skip
    events.append(dict(events[3]))  # the same event twice
    if with_unknown_order:
        events.append({**events[0], "event_id": "SG-x", "order": {"id": 2_000_000}})

    def post(i: int):
        return app.test_client().post("/api/v1/status-events", json=events[i], headers=headers)

    replies = at_once(len(events), post)
    for i in range(n):
        if i != 3:
            assert replies[i].status_code == 201, replies[i].json
            assert (replies[i].json["event_id"], replies[i].json["runs_started"]) == (
                f"SG-{i}", 1)  # fmt: skip
    twice = sorted(replies[i].status_code for i in (3, n))
    assert twice == [200, 201]
    with get_db(app).session() as db:
        assert db.scalar(select(func.count(StatusEvent.id))) == n
        started = db.scalar(select(func.count(Run.id)).join(FlowVersion).where(
            FlowVersion.flow.has(key="on-paid")))  # fmt: skip
        assert started == n
    grouped = app.extensions["orderflow.group_commit.status_events"].groups
    if with_unknown_order:
        assert replies[n + 1].status_code == 404
    else:
        assert grouped >= 1
