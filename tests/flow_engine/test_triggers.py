"""Trigger documents: status-change filters on from/to states and the concurrency option."""

from __future__ import annotations

import pytest

from flow_engine import Flow, compile_flow, validate_flow
from tests.flow_engine.helpers import NOW, chain, sample_order

CHANGE = {"from": "created", "to": "paid"}


def _flow(**trigger):
    doc = chain()
    doc["trigger"] = {"event": "order.status_changed", **trigger}
    return doc


@pytest.mark.parametrize(
    ("trigger", "data", "expected"),
    [
        ({}, CHANGE, True),
        ({"to": "paid"}, CHANGE, True),
        ({"to": ["shipped", "paid"]}, CHANGE, True),
        ({"to": "shipped"}, CHANGE, False),
        ({"from": "created", "to": "paid"}, CHANGE, True),
        ({"from": ["paid"], "to": "paid"}, CHANGE, False),
        ({"to": "paid"}, None, False),
    ],
)
def test_status_change_matches_on_from_and_to(trigger, data, expected):
    flow = compile_flow(_flow(**trigger))
    assert flow.matches("order.status_changed", sample_order(), now=NOW, data=data) is expected


def test_trigger_round_trips_with_its_options():
    doc = _flow(**{"from": ["created"], "to": "paid", "concurrency": "skip"})
    trigger = Flow.from_dict(doc).trigger
    assert (trigger.from_states, trigger.to_states, trigger.concurrency) == (
        ("created",), ("paid",), "skip")  # fmt: skip
    assert trigger.to_dict() == {"event": "order.status_changed", "from": ["created"],
                                 "to": ["paid"], "concurrency": "skip"}  # fmt: skip
    assert Flow.from_dict(chain()).trigger.to_dict() == chain()["trigger"]


def test_queue_is_a_concurrency_choice():
    doc = _flow(concurrency="queue")
    assert [i for i in validate_flow(doc) if i.severity == "error"] == []
    assert Flow.from_dict(doc).trigger.concurrency == "queue"


@pytest.mark.parametrize(
    "trigger", [{"concurrency": "wait"}, {"to": []}, {"from": "Paid"}, {"to": 3}]
)
def test_bad_trigger_options_are_refused_with_their_path(trigger):
    errors = [i for i in validate_flow(_flow(**trigger)) if i.severity == "error"]
    assert errors and all(i.path.startswith("/trigger") for i in errors), errors


def test_a_schedule_trigger_needs_its_schedule_and_keeps_it():
    doc = chain()
    doc["trigger"] = {"event": "order.scheduled"}
    assert [i.path for i in validate_flow(doc) if i.severity == "error"] == ["/trigger"]
    doc["trigger"]["schedule"] = {"cron": "0 9 * * 1-5", "business_days": True}
    assert validate_flow(doc) == []
    assert Flow.from_dict(doc).trigger.to_dict() == doc["trigger"]
    doc["trigger"]["schedule"] = {"cron": "every morning"}
    assert [i.path for i in validate_flow(doc)] == ["/trigger/schedule/cron"]
