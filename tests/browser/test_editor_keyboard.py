"""The editor works from the keyboard alone: Enter activates palette items, toolbar buttons
and side tabs, a problem in the list selects its node, and choosing an exit keeps the focus
on that exit's list."""

from __future__ import annotations

from tests.app.editor.helpers import review_doc, store

from .conftest import screenshot, wait_until
from .test_editor import _login


def _open(app, live_server, page_for, make_user, locale: str = "zh-CN"):
    make_user("wang", roles=("supervisor",), display_name="王敏")
    doc = review_doc()
    # The approval's "rejected" exit is left unconnected: the draft has a problem.
    doc["edges"] = [e for e in doc["edges"] if e.get("branch") != "rejected"]
    store(app, doc)
    page = page_for(1280, 800, locale=locale)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server, "wang")
    page.goto(f"{live_server}/flows/large-order-review")
    page.wait_for_selector("#editor .ed-canvas svg")
    wait_until(page, "OF.editor.fg.graph.getNodes().length === 5")
    return page, errors


def _focused(page) -> str:
    return page.evaluate(
        "(() => { const a = document.activeElement;"
        " return a ? a.tagName + (a.id ? '#' + a.id : '') + ' ' + (a.dataset.branch ?? a.dataset.cmd ?? a.dataset.tab ?? a.dataset.type ?? '') : ''; })()"
    )


def test_enter_activates_palette_items_toolbar_buttons_and_side_tabs(
    app, live_server, page_for, make_user
):
    page, errors = _open(app, live_server, page_for, make_user)
    # Palette: Enter adds the node and opens it.
    page.focus('.pal-item[data-type="notify"]')
    page.keyboard.press("Enter")
    wait_until(page, "OF.editor.fg.graph.getNodes().length === 6")
    wait_until(page, "OF.editor.fg.selected().some(c => c.getData().type === 'notify')")
    # Toolbar: Enter opens the trigger dialog; Esc closes it.
    page.focus('[data-cmd="settings"]')
    page.keyboard.press("Enter")
    wait_until(page, "document.getElementById('dlg-settings').open")
    page.keyboard.press("Escape")
    wait_until(page, "!document.getElementById('dlg-settings').open")
    zoom = page.evaluate("OF.editor.fg.graph.zoom()")
    page.focus('[data-cmd="zoom-in"]')
    page.keyboard.press("Enter")
    wait_until(page, f"OF.editor.fg.graph.zoom() > {zoom}")
    # Side tabs: Enter shows the tab's pane.
    page.focus('[role="tab"][data-tab="problems"]')
    page.keyboard.press("Enter")
    wait_until(
        page,
        "document.querySelector('[data-tab=problems]').getAttribute('aria-selected') === 'true'",
    )
    assert page.is_visible("#problems")
    page.focus('[role="tab"][data-tab="props"]')
    page.keyboard.press("Enter")
    wait_until(
        page, "document.querySelector('[data-tab=props]').getAttribute('aria-selected') === 'true'"
    )
    assert errors == []


def test_a_problem_is_opened_from_the_keyboard(app, live_server, page_for, make_user):
    page, errors = _open(app, live_server, page_for, make_user)
    page.focus('[data-cmd="save"]')
    page.keyboard.press("Enter")  # save and check: the problems are listed
    wait_until(page, "document.querySelector('#problems .problem[data-cell=\"finance\"]') !== null")
    page.evaluate("OF.editor.fg.sel.clean()")
    page.focus('[role="tab"][data-tab="problems"]')
    page.keyboard.press("Enter")
    page.focus('#problems .problem[data-cell="finance"]')
    page.keyboard.press("Enter")
    wait_until(page, "OF.editor.fg.selected().map(c => c.id).join() === 'finance'")
    wait_until(page, "document.querySelector('.node-form[data-node-id=\"finance\"]') !== null")
    # Space works as well, on another problem or the same.
    page.evaluate("OF.editor.fg.sel.clean()")
    page.focus('[role="tab"][data-tab="problems"]')
    page.keyboard.press("Enter")
    page.focus('#problems .problem[data-cell="finance"]')
    page.keyboard.press(" ")
    wait_until(page, "OF.editor.fg.selected().map(c => c.id).join() === 'finance'")
    assert errors == []


def test_choosing_an_exit_keeps_the_focus_on_it(app, live_server, page_for, make_user):
    page, errors = _open(app, live_server, page_for, make_user)
    # Select the approval node from the keyboard: the canvas, then ] until it is selected.
    page.focus("#graph")
    for _ in range(6):
        page.keyboard.press("]")
        if page.evaluate("OF.editor.fg.selected().map(c => c.id).join()") == "finance":
            break
    wait_until(page, "document.querySelector('.node-form[data-node-id=\"finance\"]') !== null")
    wait_until(
        page, "document.querySelector('.exit-list select[data-branch=\"rejected\"]') !== null"
    )
    page.focus('.exit-list select[data-branch="rejected"]')
    page.keyboard.press("ArrowDown")  # the first node of the list
    wait_until(
        page,
        "OF.editor.fg.graph.getEdges().some(e => e.getSourceCellId() === 'finance'"
        " && (e.getData() || {}).branch === 'rejected')",
    )
    page.wait_for_timeout(600)  # autosave and re-check after the change
    assert _focused(page).startswith("SELECT#exit-") and _focused(page).endswith(" rejected")
    # The keyboard goes on from there: the next choice changes the same exit.
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(600)
    assert _focused(page).endswith(" rejected"), _focused(page)
    screenshot(page, "editor-keyboard-exit-zh")
    assert errors == []
