"""The publish dialog's overlap section and the exclusive group in the flow settings."""

from __future__ import annotations

import pytest

from app.db import get_db, in_transaction

from ..flows_fixtures import order_doc, publish
from ..overlap_fixtures import OVER, approval_flow, load_history
from .helpers import Json


@pytest.fixture
def history(app, login, make_user):
    make_user("wang", roles=("supervisor",))
    login("wang")
    return load_history(get_db(app))


@pytest.mark.parametrize(
    ("lang", "texts"),
    [
        ("en", [f"This draft would start a run for {OVER} of the last 200 orders",
                f"Both create approval tasks for {OVER} of the last 200 orders.",
                "put both in the same exclusive group"]),
        ("zh", [f"最近 200 个订单中有 {OVER} 个会同时触发两个流程的审批任务。",
                "同一个互斥组"]),
    ],
)  # fmt: skip
def test_publish_dialog_lists_the_live_flows_that_overlap(history, client, lang, texts):
    page = client.get("/flows/big-orders/overlap", headers={"Accept-Language": lang})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "finance-review" in html and "<code>quiet</code>" in html
    for text in texts:
        assert text in html
    assert html.index("finance-review") < html.index("<code>quiet</code>")  # busiest first


def test_editor_page_wires_the_overlap_and_the_exclusive_group(history, client):
    html = client.get("/flows/big-orders", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="pub-overlap"' in html and "/flows/big-orders/overlap" in html
    assert 'id="set-group"' in html and 'id="set-priority"' in html
    assert "Exclusive group (optional)" in html


def test_simulator_says_when_another_flow_of_the_group_goes_first(history, client):
    editor = Json(client)
    in_transaction(
        history, lambda db: publish(db, approval_flow("finance-review", group="large", priority=5))
    )
    order = _plain(order_doc("S1", "6000"))
    for priority, first in [(0, "finance-review"), (9, None)]:
        doc = approval_flow("big-orders", group="large", priority=priority)
        report = editor.post("/flows/big-orders/simulate", {"doc": doc, "order": order}).get_json()
        assert report["excluded_by"] == first
    small = _plain(order_doc("S2", "100"))  # neither trigger matches: nobody goes first
    doc = approval_flow("big-orders", group="large")
    assert (
        editor.post("/flows/big-orders/simulate", {"doc": doc, "order": small}).get_json()[
            "excluded_by"
        ]
        is None
    )


def _plain(order: dict) -> dict:
    """The order as a browser sends it: amounts as JSON numbers."""
    lines = [line | {"price": int(line["price"])} for line in order["lines"]]
    return order | {"amount": int(order["amount"]), "lines": lines}
