"""Exclusive groups: the trigger fields, their validation and who goes first."""

from __future__ import annotations

import pytest

from flow_engine import compile_flow, exclusive_winners, validate_flow
from tests.flow_engine.helpers import chain


def _flow(key: str, group: str | None = None, priority: int | None = None):
    doc = chain()
    doc["key"] = key
    if group is not None:
        doc["trigger"]["exclusive_group"] = group
    if priority is not None:
        doc["trigger"]["group_priority"] = priority
    return compile_flow(doc)


@pytest.mark.parametrize(
    ("flows", "first"),
    [
        ([("a", "g", 1), ("b", "g", 7)], ["b"]),  # higher priority first
        ([("b", "g", 3), ("a", "g", 3)], ["a"]),  # equal: by key
        ([("a", "g", None), ("b", "g", -1)], ["a"]),  # priority defaults to 0
        ([("a", "g", 1), ("b", "h", 1)], ["a", "b"]),  # different groups
        ([("a", None, None), ("b", "g", 1), ("c", "g", 2)], ["a", "c"]),  # outside: kept
        ([], []),
    ],
)
def test_only_the_first_of_each_group_starts(flows, first):
    compiled = [_flow(*f) for f in flows]
    assert [f.key for f in exclusive_winners(compiled, lambda f: f)] == first


def test_the_group_survives_the_round_trip_and_documents_without_it_stay_valid():
    flow = _flow("a", "large-orders", 10)
    assert flow.flow.to_dict()["trigger"] == {
        "event": "order.created", "exclusive_group": "large-orders", "group_priority": 10
    }  # fmt: skip
    assert _flow("b").flow.to_dict()["trigger"] == {"event": "order.created"}


@pytest.mark.parametrize(
    ("trigger", "path"),
    [
        ({"exclusive_group": "Large Orders"}, "/trigger/exclusive_group"),
        ({"exclusive_group": "g", "group_priority": 1.5}, "/trigger/group_priority"),
        ({"exclusive_group": "g", "group_priority": "10"}, "/trigger/group_priority"),
    ],
)
def test_a_bad_group_is_refused_with_its_path(trigger, path):
    doc = chain()
    doc["trigger"] |= trigger
    errors = [i for i in validate_flow(doc) if i.severity == "error"]
    assert [i.path for i in errors] == [path]
