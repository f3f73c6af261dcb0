"""An order pasted into the simulator that the order schema refuses: each problem names the
field, what is accepted and an example, in the reader's language, values shown as code."""

from __future__ import annotations

import json

import pytest

from tests.app.editor.helpers import review_doc, store
from tests.app.flows_fixtures import order_doc

from .conftest import screenshot, sign_in


@pytest.mark.parametrize(
    ("locale", "amount", "quantity"),
    [
        ("zh-CN", "/amount 「金额」应为数字，例如 12.5。",
         "/lines/0/qty 「订单行第 1 项 › 数量」应为整数，例如 3。"),
        ("en-US", "/amount “Amount” must be a number, e.g. 12.5.",
         "/lines/0/qty “Lines #1 › Quantity” must be a whole number, e.g. 3."),
    ],
)  # fmt: skip
def test_a_pasted_order_the_schema_refuses_says_which_field_and_what_it_takes(
    app, live_server, page_for, make_user, locale, amount, quantity
):
    make_user("wang", roles=("supervisor",), display_name="王敏")
    store(app, review_doc(threshold="5000"), publish=True)
    page = page_for(1280, 900, locale=locale)
    sign_in(page, live_server, "wang")
    page.goto(f"{live_server}/flows/large-order-review")
    page.wait_for_selector("#graph svg")
    page.click(".side-tabs [data-tab=sim]")
    page.check("input[name=sim-source][value=json]")
    order = order_doc("SIM-1", amount="250.00")
    order["amount"], order["lines"][0]["qty"], order["lines"][0]["price"] = "lots", "two", 250
    page.fill("#sim-json", json.dumps(order, ensure_ascii=False))
    page.click("#sim-run")
    page.wait_for_selector("#sim-result .error li")
    shown = page.locator("#sim-result .error li").all_inner_texts()
    assert shown == [amount, quantity]
    codes = page.locator("#sim-result .error li code").all_inner_texts()
    assert codes == ["/amount", "12.5", "/lines/0/qty", "3"]
    page.wait_for_timeout(300)  # the canvas draws its nodes in animation frames
    screenshot(page, f"editor-simulator-problems-{locale[:2]}")
