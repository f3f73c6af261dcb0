"""The JSON endpoints of the flow editor, called as the editor script calls them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.db import get_session
from app.models import Flow, Order, Run

from .helpers import Json, review_doc, store


@pytest.fixture
def editor(app, client, login, make_user):
    make_user("wang", roles=("supervisor",))
    login("wang")
    return Json(client)


def test_draft_round_trip_and_stale_revision_is_refused(app, editor):
    store(app, review_doc())
    loaded = editor.get("/flows/large-order-review/draft").get_json()
    assert loaded["revision"] == 1 and loaded["doc"]["key"] == "large-order-review"
    doc = loaded["doc"]
    doc["nodes"][1]["config"]["expression"] = "order.amount >= 30000"
    saved = editor.put("/flows/large-order-review/draft", {"doc": doc, "base_revision": 1})
    assert saved.status_code == 200 and saved.get_json()["revision"] == 2
    assert saved.get_json()["issues"] == [] and saved.get_json()["updated_by"] == "wang"
    # A second editor still on revision 1 is refused and told who saved when.
    stale = editor.put("/flows/large-order-review/draft", {"doc": doc, "base_revision": 1})
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert error["code"] == "draft_conflict" and error["details"]["revision"] == 2
    assert error["details"]["updated_by"] == "wang"
    with app.app_context():
        flow = get_session().scalars(select(Flow)).one()
        assert flow.draft["nodes"][1]["config"]["expression"] == "order.amount >= 30000"


def test_save_reports_issues_pinned_to_nodes_and_edges(app, editor):
    store(app, review_doc())
    doc = review_doc()
    doc["nodes"][1]["config"]["expression"] = "order.amont >= 20000"
    doc["edges"].append({"id": "dangling", "from": "finance", "to": "nowhere", "branch": "timeout"})
    issues = editor.put(
        "/flows/large-order-review/draft", {"doc": doc, "base_revision": 1}
    ).get_json()["issues"]
    by_code = {i["code"]: i for i in issues}
    assert by_code["expression"]["node_id"] == "large"
    assert by_code["expression"]["dsl"]["hint"] == "did you mean `order.amount`?"
    assert by_code["dangling_edge"]["path"].startswith("/edges/5")


@pytest.mark.parametrize(
    ("body", "ok", "code", "column"),
    [
        ({"source": "order.amont > 5", "kind": "condition"}, False, "unknown_field", 7),
        ({"source": "order.amount + 1", "kind": "condition"}, False, "expected_type", 1),
        ({"source": "order.amount + 1", "kind": "value"}, True, None, None),
        (
            {
                "source": 'rule "x" when order.amount > 1 then set order.status = "big" end',
                "node_type": "ruleset",
            },
            True,
            None,
            None,
        ),
        ({"source": "candidate.cost * 2", "node_type": "route", "path": "cost"}, True, None, None),
        (
            {"source": "order.amount >", "node_type": "condition", "path": "expression"},
            False,
            "unexpected_end",
            None,
        ),
    ],
)
def test_live_expression_check(editor, body, ok, code, column):
    out = editor.post("/flows/editor/expression", body).get_json()
    assert out["ok"] is ok
    if not ok:
        assert out["errors"][0]["code"] == code
        assert "^" in out["errors"][0]["excerpt"]
        if column:
            assert out["errors"][0]["column"] == column


def test_valid_condition_comes_back_as_a_builder_tree(editor):
    out = editor.post(
        "/flows/editor/expression", {"source": 'customer.tier == "gold"', "kind": "condition"}
    ).get_json()
    assert out["builder"]["tree"]["items"] == [
        {"field": "customer.tier", "cmp": "==", "value": "gold"}
    ]
    dsl = editor.post("/flows/editor/builder/to-dsl", {"tree": out["builder"]["tree"]}).get_json()
    assert dsl == {"source": 'customer.tier == "gold"', "errors": []}
    bad = editor.post("/flows/editor/builder/to-dsl", {"tree": {"op": "and", "items": []}})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "builder_empty"
    back = editor.post("/flows/editor/builder/from-dsl", {"source": "order.amount >"}).get_json()
    assert back["tree"] is None and back["errors"][0]["code"] == "unexpected_end"


def test_node_form_is_generated_from_the_config_schema(app, editor):
    node = {
        "id": "a1",
        "type": "approval",
        "config": {"assignees": [{"role": "finance"}], "mode": "all"},
    }
    html = editor.client.post(
        "/flows/editor/node-form", data={"node": __import__("json").dumps(node)},
        headers={"X-CSRFToken": editor.token, "HX-Request": "true", "Accept-Language": "zh"},
    ).get_data(as_text=True)  # fmt: skip
    # each approver is a picker set to its kind (人员/业务角色/部门 ...)
    assert 'data-assignee data-path="assignees.0" data-kind="role"' in html
    assert '<option value="all" selected>会签</option>' in html  # enum with Chinese labels
    assert 'data-path="sla.duration"' in html  # nested object
    assert 'data-path="checks"' in html and 'data-action="add"' in html  # list of objects
    assert 'data-path="reason.zh"' in html  # localized text
    table = {"id": "t", "type": "decision_table", "config": {}}
    html = editor.client.post(
        "/flows/editor/node-form", data={"node": __import__("json").dumps(table)},
        headers={"X-CSRFToken": editor.token},
    ).get_data(as_text=True)  # fmt: skip
    assert 'class="dt-grid"' in html and 'data-type="json"' in html


TABLE = {
    "hit_policy": "first",
    "inputs": [
        {"name": "channel", "expression": "order.channel"},
        {"name": "amount", "expression": "order.amount"},
    ],
    "outputs": [{"name": "priority", "type": "string"}],
    "rules": [
        {"inputs": ['"taobao"', ">= 1000"], "outputs": ['"P1"']},
        {"inputs": ['"jd"', "-"], "outputs": ['"P2"']},
        {"inputs": ['"taobao", "jd"', "[5000..9000]"], "outputs": ['"P3"']},
    ],
}


def test_table_findings_count_recent_orders(app, editor):
    store(app, review_doc(), orders_in=(
        ("D1", "300", {"channel": "douyin"}), ("D2", "400", {"channel": "douyin"}),
        ("T1", "500", {"channel": "taobao"}), ("T2", "6000", {"channel": "taobao"}),
        ("J1", "6000", {"channel": "jd"}),
    ))  # fmt: skip
    out = editor.post("/flows/editor/table", {"table": TABLE}).get_json()
    assert out["orders"] == 5 and out["unmatched"] == 3
    findings = {(f["kind"], tuple(f["rows"]), f["message"][:30]): f for f in out["findings"]}
    gaps = [f for f in out["findings"] if f["kind"] == "gap"]
    small_taobao = next(f for f in gaps if "taobao" in f["message"])
    others = next(f for f in gaps if "not(" in f["message"])
    assert small_taobao["orders"] == 1 and small_taobao["sample_orders"] == ["T1"]
    assert others["orders"] == 2 and others["channels"] == [{"channel": "douyin", "orders": 2}]
    overlap = next(f for key, f in findings.items() if key[0] == "overlap" and key[1] == (0, 2))
    assert overlap["orders"] == 1 and overlap["sample_orders"] == ["T2"]


def test_table_cell_errors_are_located(editor):
    table = {**TABLE, "rules": [{"inputs": ['"taobao"', '>= "x"'], "outputs": ['"P1"']}]}
    out = editor.post("/flows/editor/table", {"table": table}).get_json()
    assert out["findings"] == []
    assert (
        out["errors"][0]["location"]["row"] == 0
        and out["errors"][0]["location"]["name"] == "amount"
    )


def test_simulate_takes_the_path_for_the_amount(app, editor):
    store(app, review_doc())
    doc = review_doc()
    big = editor.post(
        "/flows/large-order-review/simulate", {"doc": doc, "order": _order("25000")}
    ).get_json()
    assert big["path"] == ["start", "large", "finance"] and big["status"] == "waiting"
    small = editor.post(
        "/flows/large-order-review/simulate", {"doc": doc, "order": _order("800")}
    ).get_json()
    assert small["path"] == ["start", "large", "ok"] and small["outcome"] == "accepted"
    decided = editor.post("/flows/large-order-review/simulate", {
        "doc": doc, "order": _order("25000"),
        "events": [{"type": "approval_decided", "node": "finance", "decision": "rejected", "actor": "li"}],
    }).get_json()  # fmt: skip
    assert decided["outcome"] == "rejected"
    bad = editor.post("/flows/large-order-review/simulate", {"doc": doc, "order": {"channel": "x"}})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_order"


def _order(amount: str) -> dict:
    from tests.app.flows_fixtures import order_doc

    doc = order_doc("SIM-1", amount)
    return __import__("json").loads(__import__("simplejson").dumps(doc, use_decimal=True))


def test_diff_backtest_publish_and_test_order(app, editor):
    store(app, review_doc(), publish=True, orders_in=(("A1", "25000", {}), ("A2", "15000", {})))
    doc = review_doc(threshold="10000")
    doc["nodes"].append(
        {"id": "tagit", "type": "tag", "config": {"tags": ["x"]}, "position": {"x": 0, "y": 0}}
    )
    doc["edges"][2] = {"id": "e2", "from": "large", "to": "tagit", "branch": "false"}
    doc["edges"].append({"id": "e9", "from": "tagit", "to": "ok"})
    bt = editor.post("/flows/large-order-review/backtest", {"doc": doc, "last": 50}).get_json()
    assert bt["orders"] == 2 and bt["changed"] == 1 and bt["diffs"][0]["external_id"] == "A2"
    base = editor.get("/flows/large-order-review/draft").get_json()["revision"]
    saved = editor.put(
        "/flows/large-order-review/draft", {"doc": doc, "base_revision": base}
    ).get_json()
    diff = editor.get("/flows/large-order-review/diff").get_json()
    assert diff["added"] == ["tagit"] and diff["live_version"] == 1
    assert ["large", "tagit", "false"] in diff["edges_added"] and '+      "to": "tagit"' in diff[
        "json"
    ]
    no_note = editor.post(
        "/flows/large-order-review/publish", {"note": "", "revision": saved["revision"]}
    )
    assert no_note.status_code == 422
    stale = editor.post("/flows/large-order-review/publish", {"note": "x", "revision": base})
    assert stale.status_code == 409
    ok = editor.post(
        "/flows/large-order-review/publish",
        {"note": "finance from 10k", "revision": saved["revision"]},
    )
    assert ok.get_json()["version"] == 2
    sent = editor.post(
        "/flows/large-order-review/test-order", {"order": _order("12000")}
    ).get_json()
    assert sent["created"] and len(sent["runs"]) == 1 and sent["runs"][0]["status"] == "waiting"


def test_invalid_draft_is_not_published(app, editor):
    doc = review_doc()
    doc["edges"] = doc["edges"][:2]
    store(app, doc)
    out = editor.post("/flows/large-order-review/publish", {"note": "try", "revision": 1})
    assert out.status_code == 422 and out.get_json()["error"]["code"] == "invalid_flow"
    assert any(d["code"] == "branch_not_connected" for d in out.get_json()["error"]["details"])
    with app.app_context():
        assert get_session().scalars(select(Flow)).one().published_version is None


def test_viewers_may_look_but_not_save_or_publish(app, client, login, make_user):
    store(app, review_doc())
    make_user("vic", roles=("viewer",))
    login("vic")
    api = Json(client)
    assert api.get("/flows/large-order-review/draft").status_code == 200
    assert (
        api.put(
            "/flows/large-order-review/draft", {"doc": review_doc(), "base_revision": 1}
        ).status_code
        == 403
    )
    assert (
        api.post("/flows/large-order-review/publish", {"note": "x", "revision": 1}).status_code
        == 403
    )
    assert (
        api.post("/flows/large-order-review/test-order", {"order": _order("1")}).status_code == 403
    )
    with app.app_context():
        assert get_session().scalars(select(Order)).first() is None
        assert get_session().scalars(select(Run)).first() is None


def test_table_findings_count_the_orders_of_a_time_window(app, editor):
    from datetime import timedelta

    from app.db import get_db, in_transaction
    from app.models import utcnow
    from app.orders import services as orders

    from ..flows_fixtures import order_doc

    now = utcnow()
    for external_id, channel, age in (("D-old", "douyin", 10), ("D-new", "douyin", 2),
                                      ("T-new", "taobao", 0)):  # fmt: skip
        in_transaction(get_db(app), lambda db, e=external_id, c=channel, a=age: orders.ingest(
            db, order_doc(e, "300", channel=c), now=now - timedelta(days=a, minutes=1)))  # fmt: skip
    week = editor.post("/flows/editor/table", {"table": TABLE, "window": "7d"}).get_json()
    every = editor.post("/flows/editor/table", {"table": TABLE, "window": "all"}).get_json()
    assert (week["orders"], week["window"]) == (2, "7d") and every["orders"] == 3
    others = next(f for f in week["findings"] if f["kind"] == "gap" and "not(" in f["message"])
    assert others["sample_orders"] == ["D-new"]  # last week's douyin order, not the old one
    refused = editor.post("/flows/editor/table", {"table": TABLE, "window": "1y"})
    assert refused.status_code == 422
    assert editor.post("/flows/editor/table", {"table": TABLE, "window": [7]}).status_code == 422


def test_a_new_approval_opens_with_a_blank_approver_picker(editor) -> None:
    """An approval without approvers shows one picker (a business role) ready to search, marked
    blank so that the page does not save it as an approver; a chosen one is no longer blank."""
    post = lambda node: editor.client.post(  # noqa: E731
        "/flows/editor/node-form", data={"node": json.dumps(node)},
        headers={"X-CSRFToken": editor.token, "HX-Request": "true", "Accept-Language": "zh"},
    ).get_data(as_text=True)  # fmt: skip
    html = post({"id": "a", "type": "approval", "config": {}})
    assert 'data-item="assignees.0" data-blank' in html
    assert 'data-assignee data-path="assignees.0" data-kind="role"' in html
    assert 'data-item="checks.0"' not in html  # optional lists stay empty
    html = post({"id": "a", "type": "approval", "config": {"assignees": [{"user": "li"}]}})
    assert "data-blank" not in html
    assert 'data-assignee data-path="assignees.0" data-kind="user"' in html
    html = post({"id": "n", "type": "notify", "config": {}})  # a notice's recipients likewise
    assert 'data-item="to.0" data-blank' in html
