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
    assert "由「大额采购单」转到这里" in line
    assert "订单金额 ¥25,000.00 &gt; ¥20,000.00&nbsp;✓" in line and line.endswith("→ 是")
    assert "order.amount" not in page and "big" not in line  # no DSL, no node id


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
    assert line.startswith("Sent here by Channel: ")
    assert "Order amount ¥12,000.00 &gt; ¥10,000.00&nbsp;✓" in line
    assert "taobao" not in line  # the case that did not match is not the reason


def test_supervisors_can_open_the_rule_as_written(app, client, login):
    db = db_of(app)
    approver(db, "li", roles=("approver", "supervisor"))
    approver(db, "wu")
    big = {"id": "big", "type": "condition", "name": {"zh": "金额判断", "en": "Amount check"},
           "config": {"expression": "order.amount > 20000"},
           "_edges": [("big", "review", "true"), ("big", "ok", "false")]}  # fmt: skip
    run = start(db, _doc(big), amount="25000.00")
    (task,) = tasks_of(db, run.id)
    login("li")
    page = client.get(f"/approvals/{task.task_key}").get_data(as_text=True)
    raw = page.split('data-testid="raw-trace">', 1)[1].split("</details>", 1)[0]
    assert "<code>big</code>" in raw and "<code>order.amount &gt; 20000</code>" in raw
    assert "<code>true</code>" in raw and "<code>order.amount = 25000.00</code>" in raw
