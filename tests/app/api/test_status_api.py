"""Status events: per-system code mapping, monotonic progression with late and out-of-order
events, duplicates that change nothing, status lag, and runs resumed by a status."""

from __future__ import annotations

import pytest
import simplejson

from app.db import get_db, in_transaction
from app.models import Run

from ..flows_fixtures import flow_doc, order_doc, publish


def _order(api, external_id: str = "S1") -> dict:
    body = simplejson.dumps(order_doc(external_id), use_decimal=True)
    return api.post("/orders", data=body, content_type="application/json").json


def _event(api, order: dict, source: str, code: str, at: str, event_id: str | None = None,
           **extra):  # fmt: skip
    body = {
        "source": source,
        "event_id": event_id or f"{source}-{code}-{at}",
        "code": code,
        "occurred_at": at,
        "order": {"channel": order["channel"], "external_id": order["external_id"]},
        **extra,
    }
    return api.post("/status-events", json=body)


@pytest.mark.parametrize(
    ("source", "code", "state"),
    [
        ("erp", "PAYMENT_CONFIRMED", "paid"),
        ("erp", "credit_approved", "approved"),
        ("wms", "PICKED", "picking"),
        ("wms", "PACKED", "packed"),
        ("wms", "OUTBOUND_CONFIRMED", "shipped"),
        ("tms", "CUSTOMS_CLEARED", "customs_cleared"),
        ("tms", "POD_RECEIVED", "signed"),
        ("carrier", "DELIVERED", "delivered"),
        ("erp", "CANCELLED", "cancelled"),
    ],
)
def test_each_source_maps_its_codes(api, source, code, state):
    order = _order(api)
    response = _event(api, order, source, code, "2026-11-21T09:00:00+08:00")
    assert response.status_code == 201
    assert response.json["state"] == state and response.json["effect"] == "applied"
    assert api.get(f"/orders/{order['id']}").json["status"] == state


def test_out_of_order_and_late_events_never_move_an_order_back(api):
    order = _order(api)
    assert (
        _event(api, order, "carrier", "DELIVERED", "2026-11-22T15:00:00+08:00").json["effect"]
        == "applied"
    )
    late = _event(api, order, "wms", "PICKED", "2026-11-21T09:00:00+08:00")
    assert late.status_code == 201 and late.json["effect"] == "late"
    assert late.json["order_status"] == "delivered"
    shipped = _event(api, order, "wms", "SHIPPED", "2026-11-21T18:00:00+08:00")
    assert shipped.json["effect"] == "late"
    cancel = _event(api, order, "erp", "CANCELLED", "2026-11-22T16:00:00+08:00")
    assert cancel.json["effect"] == "late"  # too late to cancel a delivered order
    returned = _event(api, order, "carrier", "REFUSED", "2026-11-23T10:00:00+08:00")
    assert returned.json["effect"] == "applied" and returned.json["order_status"] == "returned"
    detail = api.get(f"/orders/{order['id']}").json
    assert detail["status"] == "returned"
    # Milestones in progression order, each at the time it happened at the source.
    assert [m["state"] for m in detail["milestones"]] == [
        "created", "picking", "shipped", "delivered", "returned"]  # fmt: skip
    assert detail["milestones"][1]["at"] == "2026-11-21T01:00:00Z"


def test_the_same_event_twice_changes_nothing(api):
    order = _order(api)
    first = _event(api, order, "wms", "PACKED", "2026-11-21T09:00:00+08:00", event_id="W-9")
    again = _event(api, order, "wms", "SHIPPED", "2026-11-21T10:00:00+08:00", event_id="W-9")
    assert first.status_code == 201
    assert again.status_code == 200 and again.json["duplicate"] is True
    assert again.json["id"] == first.json["id"] and again.json["state"] == "packed"
    assert api.get(f"/orders/{order['id']}").json["status"] == "packed"
    events = api.get(f"/orders/{order['id']}/status-events").json["items"]
    assert len(events) == 1


def test_receive_time_and_lag_are_recorded(api):
    order = _order(api)
    event = _event(api, order, "tms", "DISPATCHED", "2026-11-21T09:00:00Z").json
    assert event["occurred_at"] == "2026-11-21T09:00:00Z"
    assert event["received_at"] > event["occurred_at"]
    assert event["lag_seconds"] > 3600


@pytest.mark.parametrize(
    ("change", "status", "code", "path"),
    [
        ({"source": "pos"}, 422, "unknown_source", "/source"),
        ({"code": "TELEPORTED"}, 422, "unknown_status_code", "/code"),
        ({"occurred_at": "yesterday"}, 422, "invalid_status_event", "/occurred_at"),
        ({"occurred_at": "2026-11-21T09:00:00"}, 422, "invalid_status_event", "/occurred_at"),
        ({"event_id": ""}, 422, "invalid_status_event", "/event_id"),
        ({"order": {"id": 999}}, 404, "not_found", None),
        ({"order": {}}, 422, "invalid_status_event", "/order"),
    ],
)
def test_bad_status_events_are_refused_with_a_path(api, change, status, code, path):
    order = _order(api)
    body = {"source": "wms", "event_id": "x", "code": "PACKED",
            "occurred_at": "2026-11-21T09:00:00Z", "order": {"id": order["id"]}, **change}  # fmt: skip
    response = api.post("/status-events", json=body)
    assert response.status_code == status
    assert response.json["error"]["code"] == code
    if path:
        assert response.json["error"]["details"][0]["path"] == path


def test_status_event_resumes_the_run_waiting_for_it(api, app):
    doc = flow_doc(
        "wait-ship",
        [{"id": "start", "type": "start"},
         {"id": "wait", "type": "wait_event", "config": {"event": "shipped", "store_as": "ship"}},
         {"id": "done", "type": "end", "config": {"outcome": "shipped"}}],
        [("start", "wait"), ("wait", "done", "received")],
    )  # fmt: skip
    database = get_db(app)
    in_transaction(database, lambda db: publish(db, doc))
    order = _order(api, "RUN-1")
    runs = api.get(f"/orders/{order['id']}/runs").json["items"]
    assert [r["status"] for r in runs] == ["waiting"]
    packed = _event(api, order, "wms", "PACKED", "2026-11-21T09:00:00Z")
    assert packed.json["runs_resumed"] == 0
    shipped = _event(api, order, "wms", "SHIPPED", "2026-11-21T10:00:00Z", location="广州仓")
    assert shipped.json["runs_resumed"] == 1
    with database.session() as db:
        run = db.get(Run, runs[0]["id"])
        assert run.status == "completed" and run.outcome == "shipped"
        assert run.snapshot["vars"]["ship"]["location"] == "广州仓"
    # The same event again resumes nothing and changes nothing.
    again = _event(api, order, "wms", "SHIPPED", "2026-11-21T10:00:00Z", location="广州仓")
    assert again.status_code == 200 and again.json["runs_resumed"] == 0
    timeline = api.get(f"/runs/{runs[0]['id']}/timeline").json["items"]
    assert timeline and timeline[-1]["kind"]


def test_status_mappings_are_published(api):
    body = api.get("/status-mappings").json
    assert [s["state"] for s in body["states"]][:3] == ["created", "paid", "approved"]
    assert body["sources"]["carrier"]["SIGNED"] == "signed"
