"""The approval page says which rule sent the order there, with the values it read."""

from __future__ import annotations

from ..flows_fixtures import flow_doc
from .helpers import approver, db_of, start, tasks_of


def _doc(node: dict) -> dict:
    return flow_doc(
        "po-review",
        [{"id": "start", "type": "start"}, node,
         {"id": "review", "type": "approval", "name": {"en": "Finance review", "zh": "财务审批"},
          "config": {"assignees": [{"user": "li"}]}},
         {"id": "ok", "type": "end", "config": {"outcome": "accepted"}},
         {"id": "no", "type": "end", "config": {"outcome": "refused"}}],
        [("start", node["id"]), *node.pop("_edges"), ("review", "ok", "approved"),
         ("review", "no", "rejected"), ("review", "no", "timeout")],
    )  # fmt: skip


def test_a_condition_that_sent_the_order_is_shown_with_its_inputs(app, client, login):
    db = db_of(app)
    approver(db, "li")
    big = {"id": "big", "type": "condition", "name": {"zh": "大额采购单", "en": "Large PO"},
           "config": {"expression": "order.amount > 20000"},
           "_edges": [("big", "review", "true"), ("big", "ok", "false")]}  # fmt: skip
    run = start(db, _doc(big), amount="25000.00")
    (task,) = tasks_of(db, run.id)
    login("li")
    page = client.get(f"/approvals/{task.task_key}").get_data(as_text=True)
    line = page.split('data-testid="sent-by">', 1)[1].split("</p>", 1)[0]
    assert "大额采购单" in line and "<code>order.amount &gt; 20000</code>" in line
    assert "→ 是" in line and "<code>order.amount = 25000" in line


def test_a_switch_case_names_the_condition_that_matched(app, client, login):
    db = db_of(app)
    approver(db, "li")
    lane = {"id": "lane", "type": "switch", "name": {"zh": "渠道", "en": "Channel"},
            "config": {"cases": [{"branch": "b2b", "when": 'order.channel == "b2b"'},
                                 {"branch": "b2b", "when": "order.amount > 10000"}]},
            "_edges": [("lane", "review", "b2b"), ("lane", "ok", "default")]}  # fmt: skip
    run = start(db, _doc(lane), amount="12000.00")
    (task,) = tasks_of(db, run.id)
    login("li", **{"Accept-Language": "en"})
    page = client.get(f"/approvals/{task.task_key}", headers={"Accept-Language": "en"})
    line = page.get_data(as_text=True).split('data-testid="sent-by">', 1)[1].split("</p>", 1)[0]
    assert "order.channel == &#34;b2b&#34; or order.amount &gt; 10000" in line
