"""The trigger dialog offers every event a flow can start on and keeps the trigger settings
it does not edit (states, fields, schedule, concurrency)."""

from __future__ import annotations

from tests.app.editor.helpers import review_doc, store

from .conftest import wait_until
from .test_editor import _login


def test_trigger_dialog_keeps_what_it_does_not_edit(app, live_server, page_for, make_user):
    make_user("wang", roles=("supervisor",), display_name="王敏")
    doc = review_doc()
    doc["trigger"] = {"event": "order.status_changed", "to": ["paid"], "concurrency": "skip"}
    store(app, doc)
    page = page_for(1280, 800, locale="en-US")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server, "wang")
    page.goto(f"{live_server}/flows/large-order-review")
    page.wait_for_selector("#editor .ed-canvas svg")
    page.click('[data-cmd="settings"]')
    options = page.eval_on_selector_all("#set-event option", "os => os.map(o => o.value)")
    assert {"order.paid", "order.shipped", "order.updated", "alert.opened",
            "order.scheduled"} <= set(options)  # fmt: skip
    assert page.input_value("#set-event") == "order.status_changed"
    page.fill("#set-filter", "order.amount > 100")
    page.click('#dlg-settings [value="ok"]')
    wait_until(page, "OF.editor.currentDoc().trigger.filter === 'order.amount > 100'")
    assert page.evaluate("OF.editor.currentDoc().trigger") == {
        "event": "order.status_changed", "to": ["paid"], "concurrency": "skip",
        "filter": "order.amount > 100"}  # fmt: skip
    assert errors == []


def test_trigger_dialog_sets_the_queue_choice(app, live_server, page_for, make_user):
    make_user("wang", roles=("supervisor",), display_name="王敏")
    doc = review_doc()
    doc["trigger"] = {"event": "order.status_changed", "concurrency": "skip"}
    store(app, doc)
    page = page_for(1280, 800, locale="zh-CN")
    _login(page, live_server, "wang")
    page.goto(f"{live_server}/flows/large-order-review")
    page.wait_for_selector("#editor .ed-canvas svg")
    page.click('[data-cmd="settings"]')
    assert page.input_value("#set-concurrency") == "skip"
    labels = page.eval_on_selector_all("#set-concurrency option", "os => os.map(o => o.text)")
    assert any("排队" in label for label in labels), labels
    page.select_option("#set-concurrency", "queue")
    page.click('#dlg-settings [value="ok"]')
    wait_until(page, "OF.editor.currentDoc().trigger.concurrency === 'queue'")
    page.click('[data-cmd="settings"]')
    page.select_option("#set-concurrency", "parallel")
    page.click('#dlg-settings [value="ok"]')
    wait_until(page, "!('concurrency' in OF.editor.currentDoc().trigger)")
