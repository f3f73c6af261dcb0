"""Exits that depend on a node's config are declared as data (``Exits``): the engine checks
edges against them and the editor draws them from the same declaration (its ``configHolds``
twin is exercised by the editor's browser tests)."""

from __future__ import annotations

from typing import Any

import pytest

from flow_engine import NODE_HANDLERS
from flow_engine.nodes.base import Exits, config_holds


def _exits(node_type: str, config: dict[str, Any]) -> tuple[tuple[str | None, ...], set[Any]]:
    spec = NODE_HANDLERS[node_type].branches(config)
    return spec.required, set(spec.allowed or ())


@pytest.mark.parametrize(
    ("config", "required"),
    [
        ({}, ("approved", "rejected")),
        ({"sla": {}}, ("approved", "rejected")),
        ({"sla": {"duration": "4h"}}, ("approved", "rejected", "timeout")),
        ({"sla": {"duration": "4h", "on_timeout": "timeout"}}, ("approved", "rejected", "timeout")),
        ({"sla": {"duration": "4h", "on_timeout": "approve"}}, ("approved", "rejected")),
        ({"sla": {"duration": "4h", "on_timeout": "escalate"}}, ("approved", "rejected")),
        (
            {"sla": {"duration": "4h", "on_timeout": "escalate", "escalation_duration": "2h"}},
            ("approved", "rejected", "timeout"),
        ),
    ],
)
def test_an_approval_needs_its_timeout_exit_while_its_sla_ends_there(
    config: dict[str, Any], required: tuple[str, ...]
) -> None:
    assert _exits("approval", config) == (required, {"approved", "rejected", "timeout"})


def test_a_switch_has_its_cases_then_default() -> None:
    cases = [{"when": "true", "branch": "vip"}, {"when": "true", "branch": "big"},
             {"when": "false", "branch": "vip"}, {"when": "false"}, "not a case"]  # fmt: skip
    assert _exits("switch", {"cases": cases}) == (
        ("vip", "big", "default"),
        {"vip", "big", "default"},
    )
    assert _exits("switch", {}) == (("default",), {"default"})
    assert _exits("switch", {"cases": "vip"}) == (("default",), {"default"})


def test_a_wait_for_an_event_needs_its_timeout_exit_only_with_a_timeout() -> None:
    assert _exits("wait_event", {"event": "paid"}) == (("received",), {"received", "timeout"})
    assert _exits("wait_event", {"event": "paid", "timeout": "2h"}) == (
        ("received", "timeout"),
        {"received", "timeout"},
    )


@pytest.mark.parametrize(
    ("test", "config", "holds"),
    [
        ({"path": "a.b", "in": [1]}, {"a": {"b": 1}}, True),
        ({"path": "a.b", "in": [1]}, {"a": {"b": 2}}, False),
        ({"path": "a.b", "in": [1]}, {"a": 5}, False),
        ({"path": "a.b", "default": 1, "in": [1]}, {}, True),
        ({"path": "a.b", "default": 1, "in": [1]}, {"a": {"b": None}}, False),
        ({"path": "a", "present": True}, {"a": "x"}, True),
        ({"path": "a", "present": True}, {"a": ""}, False),
        ({"path": "a", "present": True}, {"a": {}}, False),
        ({"path": "a", "present": True}, {"a": None}, False),
        ({"path": "a", "present": False}, {}, True),
        (
            {"all": [{"path": "a", "present": True}, {"path": "b", "in": ["y"]}]},
            {"a": 1, "b": "y"},
            True,
        ),
        ({"all": [{"path": "a", "present": True}, {"path": "b", "in": ["y"]}]}, {"b": "y"}, False),
        ({"any": [{"path": "a", "present": True}, {"path": "b", "in": ["y"]}]}, {"b": "y"}, True),
        ({"any": []}, {}, False),
    ],
)
def test_config_tests(test: dict[str, Any], config: dict[str, Any], holds: bool) -> None:
    assert config_holds(test, config) is holds


def test_the_declaration_travels_as_json() -> None:
    exits = Exits(("ok",), ("cases", "branch"), (("late", {"path": "due", "present": True}),))
    assert exits.to_dict() == {
        "required": ["ok"],
        "labels_from": ["cases", "branch"],
        "optional": [["late", {"path": "due", "present": True}]],
    }
