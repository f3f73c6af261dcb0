"""The editor works out a node's exits from the type's declaration, as the engine does: for the
built-in types whose exits depend on their config and for a throw-away type registered in
this test alone, the exits the editor computes in Chromium are the engine's, config by config."""

from __future__ import annotations

from typing import Any

import pytest

from flow_engine import NODE_HANDLERS, register_node_type, unregister_node_type
from flow_engine.nodes.base import Exits, HandlerBase, Next, Runtime
from tests.app.editor.helpers import store
from tests.app.flows_fixtures import flow_doc

from .conftest import wait_until
from .test_editor import _login


class HoldHandler(HandlerBase):
    """Holds an order for review: one exit per reason listed, ``cleared``, and ``expired``
    once the hold has a deadline."""

    type = "credit_hold"
    family = "act"
    title = {"en": "Credit hold", "zh": "信用冻结"}
    exits = Exits(
        required=("cleared",),
        labels_from=("reasons", "exit"),
        optional=(("expired", {"path": "deadline", "present": True}),),
    )

    def run(self, prep: Any, rt: Runtime) -> Next:
        return Next("cleared")


@pytest.fixture
def hold() -> Any:
    register_node_type(HoldHandler())
    yield
    unregister_node_type("credit_hold")


CASES = [
    ("approval", {}),
    ("approval", {"sla": {"duration": "4h"}}),
    ("approval", {"sla": {"duration": "4h", "on_timeout": "approve"}}),
    ("approval", {"sla": {"duration": "4h", "on_timeout": "escalate"}}),
    ("approval", {"sla": {"duration": "4h", "on_timeout": "escalate", "escalation_duration": "1h"}}),
    ("switch", {}),
    ("switch", {"cases": [{"when": "true", "branch": "vip"}, {"when": "true", "branch": "vip"},
                          {"when": "true", "branch": "big"}]}),
    ("wait_event", {"event": "paid"}),
    ("wait_event", {"event": "paid", "timeout": "2h"}),
    ("credit_hold", {}),
    ("credit_hold", {"reasons": [{"exit": "fraud"}, {"exit": "limit"}], "deadline": "3d"}),
    ("credit_hold", {"reasons": [{"exit": "fraud"}], "deadline": ""}),
]  # fmt: skip


def test_the_editor_draws_the_exits_the_engine_checks(hold, app, live_server, page_for, make_user):
    make_user("wang", roles=("supervisor",), display_name="王敏")
    store(app, flow_doc("exits", [], []))
    page = page_for(1280, 800, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server, "wang")
    page.goto(f"{live_server}/flows/exits")
    wait_until(page, "!!(window.OF && OF.editor && OF.editor.revision)")
    assert page.evaluate("!!document.querySelector('.pal-item[data-type=credit_hold]')")
    for node_type, config in CASES:
        drawn = page.evaluate(
            "([type, config]) => OF.editor.fg.branchesOf({type, config})", [node_type, config]
        )
        spec = NODE_HANDLERS[node_type].branches(config)
        assert drawn["required"] == list(spec.required), (node_type, config)
        assert set(drawn["allowed"]) == set(spec.allowed or ()), (node_type, config)
    assert errors == []
