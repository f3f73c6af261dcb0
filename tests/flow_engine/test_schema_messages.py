"""Schema problems in people's words: the node and field by name, what is accepted, an example."""

from __future__ import annotations

import pytest

from flow_engine import validate_flow
from tests.flow_engine.helpers import chain

FINANCE = {"zh": "财务审批", "en": "Finance approval"}


def _named(node_id: str, node_type: str, config: dict) -> dict:
    return {"id": node_id, "type": node_type, "name": FINANCE, "config": config}


def _config_issue(node_type: str, config: dict, path: str):
    doc = chain(_named("n", node_type, config))
    issues = [i for i in validate_flow(doc) if i.code == "config" and i.path == path]
    assert len(issues) == 1, [i.to_dict() for i in validate_flow(doc)]
    return issues[0]


# (node type, config, JSON pointer, English, Chinese)
CASES = [
    (
        "approval",
        {"assignees": []},
        "/nodes/1/config/assignees",
        "Node 'Finance approval': “Approvers” needs at least 1 entry.",
        "节点「财务审批」：「审批人」至少需要 1 项。",
    ),
    (
        "condition",
        {},
        "/nodes/1/config/expression",  # a missing field: the message sits under it
        "Node 'Finance approval': “Condition” is required, e.g. "
        '`order.amount > 5000 and customer.tier in ["gold", "platinum"]`.',
        "节点「财务审批」：「条件」必填，例如 "
        '`order.amount > 5000 and customer.tier in ["gold", "platinum"]`。',
    ),
    (
        "approval",
        {"assignees": [{"role": "finance"}], "mode": "maybe"},
        "/nodes/1/config/mode",
        "Node 'Finance approval': “Mode” cannot be `maybe`; choose one of: "
        "`any`, `all`, `sequential`.",
        "节点「财务审批」：「审批方式」不能是 `maybe`，请从以下选择："
        "或签（`any`）、会签（`all`）、依次审批（`sequential`）。",
    ),
    (
        "end",
        {"outcome": "Done!"},
        "/nodes/1/config/outcome",
        "Node 'Finance approval': “Outcome” `Done!` is not in the accepted form; "
        "write it like `manual_review`.",
        "节点「财务审批」：「结果」的 `Done!` 格式不对：请写成类似 `manual_review` 的形式。",
    ),
    (
        "timer",
        {},
        "/nodes/1/config",
        "Node 'Finance approval': “Timer” needs exactly one of “Wait for” or “Wait until”.",
        "节点「财务审批」：「定时等待」需要且只能填写「等待时长」或「等待至」其中一项。",
    ),
    (
        "notify",
        {"to": [{}], "message": {"zh": "有新订单"}},
        "/nodes/1/config/to/0",
        "Node 'Finance approval': “Recipients #1” needs exactly one of “User” or “Business role” "
        "or “Department” or “Manager of” or “Expression” or “Order contact”.",
        "节点「财务审批」：「接收人第 1 项」需要且只能填写「人员」或「业务角色」或「部门」或「谁的上级」"
        "或「表达式」或「订单联系人」其中一项。",
    ),
    (
        "tag",
        {"tags": ["vip"], "colour": "red"},
        "/nodes/1/config",
        "Node 'Finance approval': “Tag” has no setting `colour`; it takes: Tags, Computed tags.",
        "节点「财务审批」：「打标签」没有 `colour` 这一项；可以填写：标签、计算标签。",
    ),
    (
        "approval",
        {"assignees": [{"role": "finance"}], "sla": {"duration": "4h", "reminders": "2h"}},
        "/nodes/1/config/sla/reminders",
        'Node \'Finance approval\': “Remind after” must be a list, e.g. `["a", "b"]`.',
        '节点「财务审批」：「提醒时间」应为列表，例如 `["a", "b"]`。',
    ),
]


@pytest.mark.parametrize(("node_type", "config", "path", "en", "zh"), CASES)
def test_schema_problem_names_the_field_and_what_is_accepted(node_type, config, path, en, zh):
    issue = _config_issue(node_type, config, path)
    assert (issue.code, issue.node_id) == ("config", "n")
    assert (issue.message, issue.message_zh) == (en, zh)


def test_an_unnamed_node_is_named_by_its_type_and_id():
    doc = chain({"id": "check", "type": "condition", "config": {}})
    (issue,) = [i for i in validate_flow(doc) if i.code == "config"]
    assert issue.message_zh.startswith("节点「条件判断 `check`」：「条件」必填")
    assert issue.message.startswith("Node 'Condition `check`': “Condition” is required")


def test_no_message_is_jsonschema_text():
    doc = chain(
        _named("a", "approval", {"assignees": [], "mode": "x", "sla": {"reminders": 1}}),
        {"id": "c", "type": "condition", "config": {"expression": 5}},
        {"id": "w", "type": "webhook", "config": {"method": "GET"}},
    )
    texts = [i.message + i.message_zh for i in validate_flow(doc) if i.code == "config"]
    assert len(texts) >= 5
    for raw in ("is a required property", "should be non-empty", "does not match", "is not one of"):
        assert not [t for t in texts if raw in t], raw


def test_each_missing_setting_is_named_once_where_it_belongs():
    """A validator reports each missing field as its own failure with the whole required
    list; every issue names and points at its own field, not the first one three times."""
    doc = chain({"id": "t", "type": "decision_table", "config": {"table": {}}})
    issues = [(i.path, i.message_zh) for i in validate_flow(doc) if i.code == "config"]
    assert issues == [
        ("/nodes/1/config/table/inputs", "节点「决策表 `t`」：「输入列」必填。"),
        ("/nodes/1/config/table/outputs", "节点「决策表 `t`」：「输出列」必填。"),
        ("/nodes/1/config/table/rules", "节点「决策表 `t`」：「规则」必填。"),
    ]
