"""The checks on the approval page are evaluated again when the approver opens it."""

from __future__ import annotations

from app.db import in_transaction
from app.inventory import services as inventory

from .helpers import approval_doc, approver, db_of, start, tasks_of

STOCK = [{"name": "stock_ok", "label": {"en": "Stock available", "zh": "库存充足"},
          "expression": 'ref.inventory["GZ"]["SKU-1"] >= order.lines[0].qty'}]  # fmt: skip


def _check_line(page: str) -> str:
    return page.split('data-check="stock_ok"', 1)[1].split("</li>", 1)[0]


def test_a_check_that_no_longer_holds_is_shown_failing_and_flagged(app, client, login):
    db = db_of(app)
    approver(db, "li")
    in_transaction(db, lambda s: inventory.set_stock(s, "SKU-1", "GZ", 5))
    run = start(db, approval_doc(checks=STOCK))
    (task,) = tasks_of(db, run.id)
    assert task.payload["checks"][0]["passed"] is True  # at the request
    login("li")
    page = client.get(f"/approvals/{task.task_key}").get_data(as_text=True)
    assert 'class="pass"' in page.split('data-check="stock_ok"', 1)[0][-40:]
    assert "data-changed" not in _check_line(page)
    in_transaction(db, lambda s: inventory.set_stock(s, "SKU-1", "GZ", 0))  # sold elsewhere
    page = client.get(f"/approvals/{task.task_key}").get_data(as_text=True)
    line = _check_line(page)
    assert line.startswith(" data-changed") and "未通过" in line
    assert "与申请时不同：申请时为通过" in line
    assert "库存（GZ · SKU-1） 0 ≥ 订单行数量 1&nbsp;✗" in line  # the value now, in business words
    assert "ref.inventory" not in line  # no DSL on an approver's page
