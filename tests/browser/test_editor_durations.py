"""A duration typed the way people write it is shown back normalised in the approval form."""

from __future__ import annotations

import pytest

from tests.app.editor.helpers import review_doc, store

from .conftest import screenshot, wait_until
from .test_editor import _login, _select


@pytest.mark.parametrize(("locale", "lang"), [("zh-CN", "zh"), ("en-US", "en")])
def test_sla_duration_is_shown_normalised(app, live_server, page_for, make_user, locale, lang):
    make_user("wang", roles=("supervisor",), display_name="王敏")
    store(app, review_doc())
    page = page_for(1440, 900, locale=locale)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server, "wang")
    page.goto(f"{live_server}/flows/large-order-review")
    page.wait_for_selector("#editor .ed-canvas svg")
    _select(page, "finance")

    field = '.node-form [data-path="sla.duration"]'
    page.fill(field, "1个半小时")
    page.press(field, "Tab")
    wait_until(page, f"document.querySelector('{field}')?.value === '1h30m'")
    wait_until(
        page,
        "OF.editor.currentDoc().nodes.find(n => n.id === 'finance').config.sla?.duration === '1h30m'",
    )
    help_text = page.inner_text('.node-form .cfg-field:has(> [data-path="sla.duration"]) > .help')
    assert ("可以写：4h、2d 4h、4小时" if lang == "zh" else "Write e.g. 4h, 2d 4h") in help_text
    page.locator(field).scroll_into_view_if_needed()
    screenshot(page, f"editor-approval-sla-duration-{lang}")
    assert errors == []
