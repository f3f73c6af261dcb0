"""A supervisor builds, checks, simulates and publishes a flow in the editor, in Chromium."""

from __future__ import annotations

import json

from app.db import get_session
from app.users import services as users
from tests.app.org_fixtures import staffed

from .conftest import screenshot, wait_until


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "correct-horse")
    page.click("button[type=submit].btn")
    page.wait_for_url(f"{base}/")


def _center(box) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=6)
    page.mouse.move(*end, steps=6)
    page.mouse.up()


def _place(page, node_type: str, x: float, y: float) -> str:
    """Drag a node type from the palette to (x, y) of the canvas; return the new node id."""
    before = set(page.evaluate("OF.editor.fg.graph.getNodes().map(n => n.id)"))
    palette_item = page.locator(f".pal-item[data-type={node_type}]")
    palette_item.scroll_into_view_if_needed()
    item = palette_item.bounding_box()
    canvas = page.locator("#graph").bounding_box()
    _drag(page, _center(item), (canvas["x"] + x, canvas["y"] + y))
    after = set(page.evaluate("OF.editor.fg.graph.getNodes().map(n => n.id)"))
    (new,) = after - before
    return new


def _connect(page, source: str, target: str) -> None:
    port = page.locator(f'#graph g[data-cell-id="{source}"] [port="out"]').bounding_box()
    node = page.locator(f'#graph g[data-cell-id="{target}"] [port="in"]').bounding_box()
    _drag(page, _center(port), _center(node))


def _edges(page) -> list[list]:
    return page.evaluate("OF.editor.currentDoc().edges.map(e => [e.from, e.to, e.branch || null])")


def _select(page, node_id: str) -> None:
    page.evaluate(f"OF.editor.fg.selectOnly({json.dumps(node_id)})")
    page.wait_for_selector(f'.node-form[data-node-id="{node_id}"]')


def _lit(page) -> list[str]:
    return page.evaluate("[...OF.editor.fg.marks.path.nodes]")


def _simulate(page, amount: str) -> None:
    page.click(".side-tabs [data-tab=sim]")
    page.fill("#sim-amount", amount)
    page.click("#sim-run")
    page.wait_for_selector(".sim-summary")


def test_supervisor_builds_large_order_review_from_empty_canvas(
    app, live_server, page_for, make_user
):
    make_user("wang", roles=("supervisor",), display_name="王敏")
    with app.app_context():
        db = get_session()
        _, api_key = users.create_api_key(db, None, name="shop", scopes=["orders:write"])
        staffed(db, ["finance"])  # the business role the approval goes to, with a holder
        db.commit()
    page = page_for(1440, 900, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server, "wang")

    # A new flow opens on an empty canvas.
    page.click("nav a[href='/flows']")
    page.click("text=新建流程")
    page.fill("#nf-name", "大额订单财务审核")
    page.fill("#nf-key", "large-order-review")
    page.click("#new-flow button[type=submit]")
    page.wait_for_selector("#editor .ed-canvas svg")
    page.wait_for_selector("#canvas-hint", state="visible")

    # Drag the nodes from the palette and connect them.
    start = _place(page, "start", 110, 300)
    check = _place(page, "condition", 320, 300)
    finance = _place(page, "approval", 530, 160)
    ok = _place(page, "end", 750, 300)
    no = _place(page, "end", 750, 60)
    _connect(page, start, check)
    _connect(page, check, finance)  # first exit of a condition: true
    _connect(page, check, ok)  # then false
    _connect(page, finance, ok)  # approved
    _connect(page, finance, no)  # rejected
    assert sorted(_edges(page)) == sorted([
        [start, check, None], [check, finance, "true"], [check, ok, "false"],
        [finance, ok, "approved"], [finance, no, "rejected"],
    ])  # fmt: skip

    # Configure: the condition with the builder, a caret error, then the fix.
    _select(page, check)
    page.wait_for_selector(".node-form .cb-rule")
    page.select_option(".node-form .cb-rule .cb-field", "order.amount")
    page.select_option(".node-form .cb-rule .cb-cmp", ">=")
    page.fill(".node-form .cb-rule .cb-value", "20000")
    wait_until(
        page,
        "document.querySelector('.node-form textarea.dsl-input').value === 'order.amount >= 20000'",
    )
    page.click(".node-form .mode-text")
    page.fill(".node-form textarea.dsl-input", "order.amont >= 20000")
    page.wait_for_selector(".node-form .dsl-err")
    error_text = page.inner_text(".node-form .dsl-error")
    assert "order.amont" in error_text and "^^^^^" in error_text and "order.amount" in error_text
    screenshot(page, "editor-caret-error")
    page.fill(".node-form textarea.dsl-input", "order.amount >= 20000")
    page.wait_for_selector(".node-form .dsl-editor[data-valid=yes]")
    page.click(".node-form .mode-builder")
    assert page.input_value(".node-form .cb-rule .cb-value") == "20000"

    _select(page, finance)
    page.click(".node-form [data-action=add][data-path=assignees]")
    picker = '.node-form [data-assignee][data-path="assignees.0"]'
    page.wait_for_selector(picker)
    page.select_option(f"{picker} .assignee-kind", "role")
    page.fill(f"{picker} .assignee-search", "caiwu")  # 财务 by its pinyin
    page.click(f"{picker} .assignee-matches li[data-key=finance]")
    page.fill('.node-form [data-node="name.zh"]', "财务审批")
    _select(page, ok)
    page.fill('.node-form [data-path="outcome"]', "accepted")
    _select(page, no)
    page.fill('.node-form [data-path="outcome"]', "rejected")
    page.wait_for_timeout(400)

    # Save: the whole flow is checked and no problem is left.
    page.keyboard.press("Control+s")
    page.wait_for_selector("#save-state[data-state=saved]")
    problems = page.evaluate("OF.editor.issues.filter(i => i.severity === 'error')")
    assert problems == []
    assert page.inner_text("#problems").startswith("✓")
    screenshot(page, "editor-large-order-review")

    # Simulate above and below the threshold: the right path lights up.
    _simulate(page, "25000")
    assert set(_lit(page)) == {start, check, finance}
    assert "等待中" in page.inner_text(".sim-summary")
    screenshot(page, "editor-simulator-large-order")
    _simulate(page, "800")
    assert set(_lit(page)) == {start, check, ok}
    assert "accepted" in page.inner_text(".sim-summary")
    screenshot(page, "editor-simulator-small-order")

    # Publish with the diff and a note.
    page.click("[data-cmd=publish]")
    page.wait_for_selector("#dlg-publish[open] .diff-list")
    assert "财务审批" in page.inner_text("#pub-diff")
    page.fill("#pub-note", "金额 2 万起由财务审核")
    page.click("#pub-go")
    page.wait_for_selector("#banner.success")
    assert "1" in page.inner_text("#banner")

    # An order arrives through the API and its run shows in the runs list.
    order = {
        "external_id": "TB-BIG-1", "channel": "taobao", "currency": "CNY", "amount": 36000,
        "customer": {"id": "C-9", "name": "李娜", "tier": "gold"},
        "lines": [{"sku": "SKU-1", "qty": 2, "price": 18000}],
    }  # fmt: skip
    res = page.request.post(
        f"{live_server}/api/v1/orders", data=json.dumps(order),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )  # fmt: skip
    assert res.status in (200, 201), res.text()
    page.goto(f"{live_server}/runs?flow=large-order-review")
    row = page.locator("tr[data-run]", has_text="TB-BIG-1")
    assert "等待中" in row.inner_text()  # the run status in the reader's words
    row.locator("a").click()
    page.wait_for_selector("#run-graph svg")
    timeline = page.inner_text(".timeline")
    assert "运行开始" in timeline and "run_started" not in timeline
    screenshot(page, "runs-detail")
    assert errors == []
