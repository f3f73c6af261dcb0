"""Canvas commands in Chromium, through the keyboard and mouse as a supervisor uses them:
copy/paste, delete with confirmation, undo/redo, auto-layout, and two people editing one
draft."""

from __future__ import annotations

from ..app.editor.helpers import review_doc, store
from .conftest import wait_until
from .test_editor import _login


def _nodes(page) -> list[str]:
    return sorted(page.evaluate("OF.editor.fg.graph.getNodes().map(n => n.id)"))


def _open(page, base: str) -> None:
    page.goto(f"{base}/flows/large-order-review")
    page.wait_for_selector("#editor .ed-canvas svg")
    wait_until(page, "OF.editor && OF.editor.fg.graph.getNodes().length > 0")


def _click_node(page, node_id: str) -> None:
    page.locator(f'#graph g[data-cell-id="{node_id}"]').first.click()
    page.wait_for_selector(f'.node-form[data-node-id="{node_id}"]')


def test_copy_paste_delete_undo_redo_and_arrange(app, live_server, page_for, make_user):
    make_user("wang", roles=("supervisor",))
    store(app, review_doc())
    page = page_for(1440, 900, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server, "wang")
    _open(page, live_server)
    original = _nodes(page)

    _click_node(page, "large")
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    wait_until(page, f"OF.editor.fg.graph.getNodes().length === {len(original) + 1}")
    (copy,) = set(_nodes(page)) - set(original)
    kinds = page.evaluate(
        f"OF.editor.currentDoc().nodes.filter(n => n.id === {copy!r}).map(n => n.type)"
    )
    assert kinds == ["condition"]

    # Delete asks first; cancelling keeps the node, confirming removes it.
    _click_node(page, copy)
    page.keyboard.press("Delete")
    page.wait_for_selector("#dlg-confirm[open]")
    page.click("#dlg-confirm [value=cancel]")
    assert copy in _nodes(page)
    page.keyboard.press("Delete")
    page.wait_for_selector("#dlg-confirm[open]")
    page.click("#dlg-confirm [value=ok]")
    wait_until(page, f"OF.editor.fg.graph.getNodes().length === {len(original)}")

    # Undo brings it back, redo removes it again.
    page.keyboard.press("Control+z")
    wait_until(page, f"OF.editor.fg.graph.getNodes().length === {len(original) + 1}")
    assert copy in _nodes(page)
    page.keyboard.press("Control+Shift+z")
    wait_until(page, f"OF.editor.fg.graph.getNodes().length === {len(original)}")
    assert _nodes(page) == original

    # Arrange lays the flow out left to right: start comes first.
    page.evaluate("OF.editor.fg.graph.getCellById('start').position(900, 700)")
    page.click("[data-cmd=layout]")
    wait_until(
        page,
        "(() => { const g = OF.editor.fg.graph; const xs = g.getNodes().map(n => n.position().x);"
        " return g.getCellById('start').position().x === Math.min(...xs); })()",
    )
    assert errors == []


def test_two_people_editing_one_draft_are_warned_and_nothing_is_overwritten(
    app, live_server, page_for, make_user
):
    for name in ("wang", "zhao"):
        make_user(name, roles=("supervisor",))
    store(app, review_doc())
    first = page_for(1440, 900, locale="zh-CN")
    second = page_for(1440, 900, locale="zh-CN")
    _login(first, live_server, "wang")
    _login(second, live_server, "zhao")
    _open(first, live_server)
    _open(second, live_server)
    first.evaluate("OF.editor.fg.graph.getCellById('start').position(40, 40)")
    first.keyboard.press("Control+s")
    first.wait_for_selector("#save-state[data-state=saved]")
    second.evaluate("OF.editor.fg.graph.getCellById('start').position(400, 400)")
    second.keyboard.press("Control+s")
    second.wait_for_selector("#save-state[data-state=conflict]")
    banner = second.inner_text("#banner")
    assert "wang" in banner
    # What the first person saved is still the draft.
    with app.app_context():
        from app.db import get_session
        from app.flows import services as flows

        draft = flows.get_flow(get_session(), "large-order-review").draft
        (start,) = [n for n in draft["nodes"] if n["id"] == "start"]
        assert start["position"] == {"x": 40, "y": 40}


def test_decision_table_findings_count_orders_of_the_chosen_window(
    app, live_server, page_for, make_user
):
    from datetime import timedelta

    from app.db import get_db, in_transaction
    from app.models import utcnow
    from app.orders import services as orders

    from ..app.editor.test_editor_api import TABLE
    from ..app.flows_fixtures import flow_doc, order_doc

    make_user("wang", roles=("supervisor",))
    doc = flow_doc(
        "large-order-review",
        [{"id": "start", "type": "start"},
         {"id": "prio", "type": "decision_table", "config": {"table": TABLE, "store_as": "prio"}},
         {"id": "done", "type": "end", "config": {"outcome": "ok"}}],
        [("start", "prio"), ("prio", "done")],
    )  # fmt: skip
    store(app, doc)
    now = utcnow()
    for external_id, age in (("D-old", 10), ("D-new", 1)):
        in_transaction(get_db(app), lambda db, e=external_id, a=age: orders.ingest(
            db, order_doc(e, "300", channel="douyin"), now=now - timedelta(days=a)))  # fmt: skip
    page = page_for(1440, 900, locale="en-US")
    _login(page, live_server, "wang")
    _open(page, live_server)
    _click_node(page, "prio")
    page.wait_for_selector(".dt-window")
    assert page.input_value(".dt-window") == "7d"
    wait_until(page, "document.querySelector('.dt-grid').innerText.includes('last 1 orders')")
    page.select_option(".dt-window", "all")
    wait_until(page, "document.querySelector('.dt-grid').innerText.includes('last 2 orders')")


def test_the_overview_shows_the_flow_and_the_visible_area_and_moves_the_view(
    app, live_server, page_for, make_user
):
    make_user("wang", roles=("supervisor",))
    store(app, review_doc())
    page = page_for(1440, 900, locale="zh-CN")
    _login(page, live_server, "wang")
    _open(page, live_server)
    # Every node is painted: the overview's canvas has as many ink pixels as boxes need.
    painted = page.evaluate(
        """() => { const c = document.querySelector('#minimap canvas');
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"""
    )
    assert painted > 100
    outline = page.locator("#minimap .ed-minimap-view")

    def box() -> dict:
        page.wait_for_timeout(100)  # the outline follows on the next frame
        return outline.bounding_box()

    before = box()
    page.evaluate("OF.editor.fg.graph.zoom(0.5)")
    zoomed = box()
    assert zoomed["width"] < before["width"] and zoomed["height"] < before["height"]

    # A click in the overview centres the view on that point of the flow.
    mini = page.locator("#minimap").bounding_box()
    page.mouse.click(mini["x"] + 20, mini["y"] + mini["height"] / 2)
    centre = page.evaluate(
        """() => { const a = OF.editor.fg.graph.getGraphArea();
                   const m = OF.editor.fg.minimap.fit;
                   return [(a.x + a.width / 2 - m.x0) * m.scale + m.ox,
                           (a.y + a.height / 2 - m.y0) * m.scale + m.oy]; }"""
    )
    assert abs(centre[0] - 20) < 2 and abs(centre[1] - mini["height"] / 2) < 2
    moved = box()
    assert abs(moved["x"] + moved["width"] / 2 - (mini["x"] + 20)) < 3
