"""The editor without dead ends, in Chromium: the key follows the name, new nodes land in free
space with their exits shown, ends take their outcome from the branch, edge labels stay
readable, a connection drag always ends, and the publish dialog names each error's node and
field."""

from __future__ import annotations

import json

import pytest

from tests.app.editor.helpers import review_doc, store
from tests.app.flows_fixtures import flow_doc

from .conftest import screenshot, wait_until
from .test_editor import _center, _drag, _edges, _login

EDGES_JS = "OF.editor.currentDoc().edges.map(e => [e.id, e.from, e.to, e.branch || null])"


def _open(page, base: str, key: str) -> None:
    page.goto(f"{base}/flows/{key}")
    page.wait_for_selector("#editor .ed-canvas svg")
    wait_until(page, "!!(window.OF && OF.editor && OF.editor.revision)")


def _boxes(page) -> dict[str, dict]:
    """Each node's box in page pixels, once every node in the graph has been drawn (a node
    just dropped is drawn on the next frame)."""
    wait_until(
        page,
        """OF.editor.fg.graph.getNodes().every(
             n => document.querySelector(`#graph g[data-cell-id="${n.id}"] rect`))""",
    )
    return page.evaluate(
        """Object.fromEntries(OF.editor.fg.graph.getNodes().map(n => {
             const r = document.querySelector(`#graph g[data-cell-id="${n.id}"] rect`).getBoundingClientRect();
             return [n.id, {x: r.x, y: r.y, width: r.width, height: r.height}];
           }))"""
    )


def _stubs(page, node_id: str) -> list[str]:
    """The texts of the exit stubs the node shows."""
    return page.evaluate(
        """(id) => [...document.querySelectorAll(`#graph g[data-cell-id="${id}"] .exit-stub-text`)]
             .filter(t => t.getAttribute('display') !== 'none').map(t => t.textContent.replace(/\u00a0/g, ' '))""",
        node_id,
    )


def _overlap(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


@pytest.mark.parametrize(
    ("locale", "bad_text"),
    [
        ("zh-CN", "例如 da_e_ding_dan_shen_pi"),
        ("en-US", "e.g. da_e_ding_dan_shen_pi"),
    ],
)
def test_new_flow_key_follows_the_name_as_pinyin_and_is_checked_live(
    app, live_server, page_for, make_user, locale, bad_text
):
    make_user("wang", roles=("supervisor",), display_name="王敏")
    store(app, review_doc("da_e_ding_dan_shen_pi"))  # the plain slug is taken
    page = page_for(1280, 800, locale=locale)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server, "wang")
    page.goto(f"{live_server}/flows")
    page.click("[data-open-dialog=new-flow]")
    page.fill("#nf-name", "大额订单审批")
    wait_until(page, "document.getElementById('nf-key').value === 'da_e_ding_dan_shen_pi_2'")
    assert page.inner_text("#nf-key-msg") == "✓ da_e_ding_dan_shen_pi_2"

    # A key typed by hand is checked as it is typed, with an example of a good one.
    page.fill("#nf-key", "Bad Key!")
    wait_until(page, "document.getElementById('nf-key-msg').classList.contains('error')")
    assert bad_text in page.inner_text("#nf-key-msg")
    assert page.evaluate("document.getElementById('nf-key').validity.valid") is False
    screenshot(page, f"new-flow-key-{locale[:2]}")
    page.fill("#nf-key", "da_e_ding_dan_shen_pi")  # taken: the message offers another one
    wait_until(
        page,
        "document.getElementById('nf-key-msg').textContent.includes('da_e_ding_dan_shen_pi_2')",
    )
    assert "da_e_ding_dan_shen_pi" in page.inner_text("#nf-key-msg")

    # Emptied, the key follows the name again; the flow opens under it.
    page.fill("#nf-key", "")
    page.fill("#nf-name", "大额订单审批 VIP")
    wait_until(page, "document.getElementById('nf-key').value === 'da_e_ding_dan_shen_pi_vip'")
    page.click("#new-flow button[type=submit]")
    page.wait_for_url(f"{live_server}/flows/da_e_ding_dan_shen_pi_vip")
    assert errors == []


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_palette_nodes_land_in_free_space_with_their_exits_shown(
    app, live_server, page_for, make_user, locale
):
    make_user("wang", roles=("supervisor",), display_name="王敏")
    store(app, flow_doc("big", [], []))
    page = page_for(1440, 900, locale=locale)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server, "wang")
    _open(page, live_server, "big")

    # Clicks add at the middle of the view; each lands beside the ones already there.
    for node_type in ("start", "condition", "approval", "end", "end"):
        page.click(f".pal-item[data-type={node_type}]")
    # A drag released right on top of the condition lands next to it.
    boxes = _boxes(page)
    page.locator(".pal-item[data-type=approval]").scroll_into_view_if_needed()
    item = page.locator(".pal-item[data-type=approval]").bounding_box()
    _drag(page, _center(item), _center(boxes["condition_1"]))
    boxes = _boxes(page)
    assert len(boxes) == 6, errors
    ids = sorted(boxes)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            assert not _overlap(boxes[a], boxes[b]), (a, b, boxes[a], boxes[b])

    # A new approval shows its two required exits at once; an SLA adds the timeout exit.
    zh = locale == "zh-CN"
    approved, rejected, timeout = (
        ("通过", "拒绝", "超时") if zh else ("approved", "rejected", "timeout")
    )
    assert _stubs(page, "approval_1") == [approved, rejected]
    assert _stubs(page, "condition_1") == (["是", "否"] if zh else ["true", "false"])
    assert _stubs(page, "start_1") == ["下一步" if zh else "next"]
    assert _stubs(page, "end_1") == []
    page.evaluate("OF.editor.fg.selectOnly('approval_1')")
    page.wait_for_selector('.node-form[data-node-id="approval_1"]')
    page.fill('.node-form [data-path="sla.duration"]', "4小时")
    page.press('.node-form [data-path="sla.duration"]', "Tab")
    wait_until(
        page,
        "OF.editor.currentDoc().nodes.find(n => n.id === 'approval_1').config.sla?.duration === '4h'",
    )
    wait_until(
        page,
        "document.querySelectorAll('#graph g[data-cell-id=\"approval_1\"] .exit-stub[display=inline]').length === 3",
    )
    assert _stubs(page, "approval_1") == [approved, rejected, timeout]
    screenshot(page, f"editor-new-approval-exits-{locale[:2]}")

    # Dragging from a stub makes exactly that exit; the end takes its name as outcome.
    stub = page.locator('#graph g[data-cell-id="approval_1"] .exit-stub').nth(1).bounding_box()
    end = _boxes(page)["end_1"]
    _drag(page, _center(stub), _center(end))
    wait_until(page, "OF.editor.currentDoc().edges.length === 1")
    assert [e[1:] for e in _edges_js(page)] == [["approval_1", "end_1", "rejected"]]
    assert _stubs(page, "approval_1") == [approved, timeout]
    outcome = page.evaluate(
        "OF.editor.currentDoc().nodes.find(n => n.id === 'end_1').config.outcome"
    )
    assert outcome == "rejected"

    # The keyboard way: the timeout exit's list in the panel; focus stays on that list.
    page.evaluate("OF.editor.fg.selectOnly('approval_1')")
    exit_list = '.node-form[data-node-id="approval_1"] .exit-list select[data-branch="timeout"]'
    page.wait_for_selector(exit_list)
    page.focus(exit_list)
    page.select_option(exit_list, "end_2")
    wait_until(page, "OF.editor.currentDoc().edges.length === 2")
    assert page.evaluate("document.activeElement.dataset.branch") == "timeout"
    outcomes = page.evaluate(
        "Object.fromEntries(OF.editor.currentDoc().nodes.filter(n => n.type === 'end').map(n => [n.id, n.config.outcome]))"
    )
    assert outcomes == {"end_1": "rejected", "end_2": "timeout"}
    assert _stubs(page, "approval_1") == [approved]
    assert errors == []


def _edges_js(page) -> list[list]:
    return page.evaluate(EDGES_JS)


def test_ends_take_their_outcome_and_labels_into_one_end_do_not_overlap(
    app, live_server, page_for, make_user
):
    make_user("wang", roles=("supervisor",), display_name="王敏")
    doc = flow_doc(
        "sla-flow",
        [{"id": "start", "type": "start", "position": {"x": 0, "y": 100}},
         {"id": "check", "type": "condition", "config": {"expression": "order.amount >= 20000"}, "position": {"x": 260, "y": 100}},
         {"id": "finance", "type": "approval", "position": {"x": 520, "y": 0},
          "config": {"assignees": [{"role": "finance"}], "sla": {"duration": "4h"}}},
         {"id": "ok", "type": "end", "config": {"outcome": "done"}, "position": {"x": 820, "y": 200}},
         {"id": "no", "type": "end", "config": {"outcome": "done"}, "position": {"x": 820, "y": 0}}],
        [("start", "check"), ("check", "finance", "true"), ("check", "ok", "false")],
    )  # fmt: skip
    store(app, doc)
    page = page_for(1440, 900, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server, "wang")
    _open(page, live_server, "sla-flow")

    # Two exits of the approval into one end: the end takes the first's name; both labels
    # are readable (no overlap), also with the condition's "false" into the other end.
    finance_out = page.locator('#graph g[data-cell-id="finance"] [port="out"]').bounding_box()
    for target in ("no", "no", "ok"):
        box = page.locator(f'#graph g[data-cell-id="{target}"] [port="in"]').bounding_box()
        _drag(page, _center(finance_out), _center(box))
    wait_until(page, "OF.editor.currentDoc().edges.length === 6")
    edges = sorted(e[1:] for e in _edges_js(page))
    assert ["finance", "no", "approved"] in edges and ["finance", "no", "rejected"] in edges
    assert ["finance", "ok", "timeout"] in edges
    outcomes = page.evaluate(
        "Object.fromEntries(OF.editor.currentDoc().nodes.filter(n => n.type === 'end').map(n => [n.id, n.config.outcome]))"
    )
    # "ok" was reached by "false" first (says nothing): it keeps its outcome.
    assert outcomes == {"no": "approved", "ok": "done"}
    page.wait_for_timeout(100)
    labels = page.evaluate(
        """[...document.querySelectorAll('#graph .x6-edge')].map(g => {
             const r = g.querySelector('.x6-edge-label rect, [data-selector=body]');
             if (!r) return null;
             const b = r.getBoundingClientRect();
             return {id: g.getAttribute('data-cell-id'), x: b.x, y: b.y, width: b.width, height: b.height,
                     text: g.querySelector('.x6-edge-label text, [data-selector=label]').textContent};
           }).filter(Boolean)"""
    )
    assert len(labels) == 5, labels  # every edge but start -> check has a label
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            assert not _overlap(a, b), (a, b)
    screenshot(page, "editor-labels-into-one-end")
    assert errors == []


def test_fifty_connection_drags_always_end_and_never_change_an_edge(
    app, live_server, page_for, make_user
):
    make_user("wang", roles=("supervisor",), display_name="王敏")
    store(app, review_doc())
    page = page_for(1440, 900, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server, "wang")
    _open(page, live_server, "large-order-review")
    original = _edges_js(page)
    assert len(original) == 5

    def port(node: str, side: str = "out") -> tuple[float, float]:
        loc = page.locator(f'#graph g[data-cell-id="{node}"] [port="{side}"]')
        return _center(loc.bounding_box())

    def blank() -> tuple[float, float]:
        """A point of the canvas far from every node and its exits."""
        canvas = page.locator("#graph").bounding_box()
        boxes = _boxes(page).values()
        for fy in (0.92, 0.08, 0.5):
            for fx in (0.06, 0.5, 0.94):
                x, y = canvas["x"] + fx * canvas["width"], canvas["y"] + fy * canvas["height"]
                if all(
                    not (
                        b["x"] - 40 < x < b["x"] + b["width"] + 140
                        and b["y"] - 40 < y < b["y"] + b["height"] + 40
                    )
                    for b in boxes
                ):
                    return x, y
        raise AssertionError("no blank point on the canvas")

    def edge_middle() -> tuple[float, float]:
        p = page.evaluate(
            """(() => { const g = OF.editor.fg.graph, e = g.getCellById('e0');
                 const p = g.findViewByCell(e).getPointAtRatio(0.5); return g.localToClient(p.x, p.y); })()"""
        )
        return p["x"], p["y"]

    def node(node_id: str) -> tuple[float, float]:
        return _center(_boxes(page)[node_id])

    def check(n: int, what: str) -> None:
        state = page.evaluate(
            "({connecting: OF.editor.fg.isConnecting(), edges: " + EDGES_JS + ","
            " loose: OF.editor.fg.graph.getEdges().filter(e => !e.getSourceCell() || !e.getTargetCell()).length,"
            " total: OF.editor.fg.graph.getEdges().length})"
        )
        assert state["connecting"] is False, f"drag {n} ({what}) left the canvas connecting"
        assert state["edges"] == original, f"drag {n} ({what}) changed the edges"
        assert (state["loose"], state["total"]) == (0, len(original)), f"drag {n} ({what})"

    palette = page.locator(".pal-item").first

    def esc_during_drag() -> None:
        page.mouse.move(*port("large"))
        page.mouse.down()
        page.mouse.move(*blank(), steps=8)
        assert page.evaluate("OF.editor.fg.isConnecting()") is True
        page.keyboard.press("Escape")
        assert page.evaluate("OF.editor.fg.isConnecting()") is False
        page.mouse.move(*node("no"), steps=4)  # released over a node it could connect to
        page.mouse.up()

    def click_after_drop() -> None:
        page.mouse.move(*port("finance"))
        page.mouse.down()
        page.mouse.move(*blank(), steps=8)
        page.mouse.up()
        page.mouse.click(*blank())

    kinds = [
        ("exit to empty canvas", lambda: _drag(page, port("start"), blank())),
        ("exit back onto its own node", lambda: _drag(page, port("large"), node("large"))),
        ("exit onto its own exit", lambda: _drag(page, port("finance"), port("finance"))),
        ("exit onto the start node", lambda: _drag(page, port("finance"), node("start"))),
        (
            "exit to the palette",
            lambda: _drag(page, port("start"), _center(palette.bounding_box())),
        ),
        ("drag on an existing edge", lambda: _drag(page, edge_middle(), blank())),
        ("Esc during the drag", esc_during_drag),
        ("click on the canvas after the drop", click_after_drop),
    ]
    for n in range(50):
        what, act = kinds[n % len(kinds)]
        page.evaluate("OF.editor.fg.fit()")  # a drag on the canvas pans it: back into view
        act()
        page.wait_for_timeout(30)
        check(n, what)

    # After all that, moving the pointer over the exits changes nothing, and a real
    # connection still works.
    page.evaluate("OF.editor.fg.fit()")
    page.mouse.move(*port("start"))
    page.mouse.move(*port("large"), steps=5)
    page.mouse.move(*port("finance"), steps=5)
    check(50, "pointer moved over exits")
    _drag(page, port("finance"), port("no", "in"))
    wait_until(page, f"OF.editor.currentDoc().edges.length === {len(original) + 1}")
    assert _edges_js(page)[:5] == original
    assert errors == []


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_publish_dialog_lists_errors_by_node_and_field_and_opens_them(
    app, live_server, page_for, make_user, locale
):
    make_user("wang", roles=("supervisor",), display_name="王敏")
    doc = review_doc()
    finance = next(n for n in doc["nodes"] if n["id"] == "finance")
    finance["name"] = {"zh": "财务审批", "en": "Finance approval"}
    finance["config"] = {"sla": {"duration": "4x"}}  # and no approvers
    store(app, doc)
    page = page_for(1280, 900, locale=locale)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server, "wang")
    _open(page, live_server, "large-order-review")
    page.click("[data-cmd=publish]")
    page.wait_for_selector("#dlg-publish[open] .pub-error")
    items = page.locator("#pub-problems .pub-error")
    texts = [items.nth(i).inner_text() for i in range(items.count())]
    zh = locale == "zh-CN"
    name = "财务审批" if zh else "Finance approval"
    field = "时限 › 处理时限" if zh else "SLA › Decide within"
    assert any(t.startswith(f"{name} · {field}") for t in texts), texts
    # A required field that is missing is named by its label too.
    assert any(t.startswith(f"{name} · {'审批人' if zh else 'Approvers'}") for t in texts), texts
    assert not any("1 个错误" in t or "1 errors" in t for t in texts)
    assert page.evaluate("document.getElementById('pub-go').disabled") is True
    assert page.evaluate("document.activeElement.classList.contains('pub-error')")
    screenshot(page, f"editor-publish-errors-{locale[:2]}")

    # A click closes the dialog, selects the node, opens its panel on the field.
    page.locator("#pub-problems .pub-error", has_text=field).first.click()
    page.wait_for_selector('.node-form[data-node-id="finance"]')
    wait_until(page, "document.activeElement?.dataset?.path === 'sla.duration'")
    assert page.evaluate("OF.editor.fg.selected().map(c => c.id)") == ["finance"]
    assert page.evaluate("document.getElementById('dlg-publish').open") is False
    assert json.loads(json.dumps(_edges(page)))  # the canvas is intact
    assert errors == []
