"""The newcomer path, counted: a supervisor builds the large-order approval flow from an empty
canvas the way a person would (palette drags, exits, the condition builder, the approver picker,
an SLA typed as 4小时), simulates it on both sides of the threshold and publishes it; an order
arrives through the API; the approver decides on a phone from the email link; the board and the
order page show the outcome. At most 25 UI actions, and no page is ever reloaded."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from app.db import get_db, get_session, in_transaction
from app.users import services as users
from tests.app.approvals.helpers import approver, channel, deliver_all
from tests.app.notifications.servers import SmtpSink
from tests.app.org_fixtures import hold

from .conftest import ARTIFACTS, screenshot, wait_until
from .test_editor import _center, _edges

MAX_ACTIONS = 25
PHONE = {"width": 375, "height": 812}
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


class Counted:
    """A person's hands on one page: every click, fill, choice, key press and drag counts."""

    def __init__(self, page, tally: list[str]) -> None:
        self.page = page
        self.tally = tally

    def _count(self, what: str) -> None:
        self.tally.append(what)

    def click(self, selector: str) -> None:
        self._count(f"click {selector}")
        self.page.click(selector)

    def fill(self, selector: str, text: str) -> None:
        self._count(f"fill {selector}")
        self.page.fill(selector, text)

    def choose(self, selector: str, value: str) -> None:
        self._count(f"choose {value}")
        self.page.select_option(selector, value)

    def press(self, selector: str, key: str) -> None:
        self._count(f"press {key}")
        self.page.press(selector, key)

    def drag(self, what: str, start: tuple[float, float], end: tuple[float, float]) -> None:
        self._count(f"drag {what}")
        mouse = self.page.mouse
        mouse.move(*start)
        mouse.down()
        mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=6)
        mouse.move(*end, steps=6)
        mouse.up()


def _navigations(page) -> list[str]:
    """The paths of the documents the page loads, in order (a reload shows as a repeat;
    history changes made by htmx load no document and are not listed)."""
    seen: list[str] = []
    page.on("load", lambda: seen.append(page.url.split("://", 1)[1].split("/", 1)[1]))
    return seen


def _stub(page, node_id: str, branch: str) -> tuple[float, float]:
    selector = (
        f'#graph g[data-cell-id="{node_id}"] .exit-stub[data-exit="{branch}"][display=inline]'
    )
    page.wait_for_selector(selector)
    # The exits are laid out again when one appears (the SLA's timeout exit): aim only at a
    # position that held still over two animation frames.
    box = page.evaluate(
        """async (sel) => {
            const frame = () => new Promise((done) => requestAnimationFrame(done));
            const read = () => JSON.stringify(document.querySelector(sel).getBoundingClientRect());
            let last = read();
            for (let i = 0; i < 50; i++) {
                await frame();
                await frame();
                const now = read();
                if (now === last) return JSON.parse(now);
                last = now;
            }
            throw new Error("exit stub " + sel + " kept moving");
        }""",
        selector,
    )
    return _center(box)


def _entry(page, node_id: str) -> tuple[float, float]:
    return _center(page.locator(f'#graph g[data-cell-id="{node_id}"] rect').first.bounding_box())


def _palette(page, node_type: str) -> tuple[float, float]:
    item = page.locator(f".pal-item[data-type={node_type}]")
    item.scroll_into_view_if_needed()
    return _center(item.bounding_box())


def _new_node(page, before: set[str]) -> str:
    wait_until(page, "OF.editor.fg.graph.getNodes().length", timeout=3000)
    (new,) = set(page.evaluate("OF.editor.fg.graph.getNodes().map(n => n.id)")) - before
    page.wait_for_selector(f'.node-form[data-node-id="{new}"]')
    return new


def _nodes(page) -> set[str]:
    return set(page.evaluate("OF.editor.fg.graph.getNodes().map(n => n.id)"))


def _sign_in(page, base: str, username: str) -> None:
    """Signing in is the setup before the path; it is not counted."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "correct-horse")
    page.click("button[type=submit].btn")
    page.wait_for_url(f"{base}/")


def _keep(name: str, doc_name: str) -> None:
    """Copy a screenshot to the documentation's images when ORDERFLOW_DOC_SHOTS=1."""
    if os.environ.get("ORDERFLOW_DOC_SHOTS") == "1":
        DOCS_IMG.mkdir(exist_ok=True)
        shutil.copyfile(ARTIFACTS / f"{name}.png", DOCS_IMG / f"{doc_name}.png")


@pytest.mark.parametrize(("locale", "lang"), [("zh-CN", "zh"), ("en-US", "en")])
def test_newcomer_builds_publishes_and_sees_a_large_order_approved(
    app, live_server, page_for, make_user, locale, lang
):
    zh = lang == "zh"
    db = get_db(app)
    app.config["BASE_URL"] = live_server
    make_user("wang", roles=("supervisor",), display_name="王敏")
    approver(db, "li", locale=lang, display_name="李娜")
    in_transaction(db, lambda s: hold(s, "li", "finance"))  # 财务, the business role
    with app.app_context():
        s = get_session()
        _, api_key = users.create_api_key(s, None, name="shop", scopes=["orders:write"])
        s.commit()

    tally: list[str] = []
    page = page_for(1600, 900, locale=locale)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _sign_in(page, live_server, "wang")
    visited = _navigations(page)
    page.goto(f"{live_server}/flows")
    hand = Counted(page, tally)

    # A new flow: the key follows the name.
    hand.click("[data-open-dialog=new-flow]")
    hand.fill("#nf-name", "大额订单审批")
    wait_until(page, "document.getElementById('nf-key').value === 'da_e_ding_dan_shen_pi'")
    hand.click("#new-flow button[type=submit]")
    page.wait_for_selector("#editor .ed-canvas svg")
    wait_until(page, "!!(window.OF && OF.editor && OF.editor.revision)")
    assert _nodes(page) == set()
    canvas = page.locator("#graph").bounding_box()

    # The start, then each next node dropped on the exit it follows.
    hand.drag("start", _palette(page, "start"), (canvas["x"] + 110, canvas["y"] + 300))
    start = _new_node(page, set())
    before = _nodes(page)
    hand.drag("condition", _palette(page, "condition"), _stub(page, start, ""))
    check = _new_node(page, before)

    # The condition builder opens with a rule on the order amount: "> 5000".
    rule = f'.node-form[data-node-id="{check}"] .cb-rule'
    page.wait_for_selector(f"{rule} .cb-value")
    assert page.input_value(f"{rule} .cb-field") == "order.amount"
    hand.choose(f"{rule} .cb-cmp", ">")
    hand.fill(f"{rule} .cb-value", "5000")
    wait_until(
        page,
        "document.querySelector('.node-form textarea.dsl-input').value === 'order.amount > 5000'",
    )

    before = _nodes(page)
    hand.drag("approval", _palette(page, "approval"), _stub(page, check, "true"))
    review = _new_node(page, before)

    # The approver picker is there at once; 财务 is found by its pinyin.
    picker = f'.node-form[data-node-id="{review}"] [data-assignee][data-path="assignees.0"]'
    page.wait_for_selector(picker)
    hand.fill(f"{picker} .assignee-search", "caiwu")
    page.wait_for_selector(f"{picker} .assignee-matches li[data-key=finance]")
    hand.click(f"{picker} .assignee-matches li[data-key=finance]")
    wait_until(
        page,
        f"OF.editor.currentDoc().nodes.find(n => n.id === {json.dumps(review)})"
        ".config.assignees?.[0]?.role === 'finance'",
    )
    sla = f'.node-form[data-node-id="{review}"] [data-path="sla.duration"]'
    hand.fill(sla, "4小时")
    page.locator(sla).scroll_into_view_if_needed()
    screenshot(page, f"newcomer-approval-form-{lang}")

    # Ends on the approval's exits (a timeout exit appeared with the SLA), then the small
    # orders' exit to the approved end.
    _stub(page, review, "timeout")  # the exits are laid out for the SLA before aiming
    before = _nodes(page)
    hand.drag("end", _palette(page, "end"), _stub(page, review, "approved"))
    ok = _new_node(page, before)
    before = _nodes(page)
    hand.drag("end", _palette(page, "end"), _stub(page, review, "rejected"))
    no = _new_node(page, before)
    hand.drag("timeout", _stub(page, review, "timeout"), _entry(page, no))
    hand.drag("false", _stub(page, check, "false"), _entry(page, ok))
    assert sorted(_edges(page), key=str) == sorted([
        [start, check, None], [check, review, "true"], [check, ok, "false"],
        [review, ok, "approved"], [review, no, "rejected"], [review, no, "timeout"],
    ], key=str)  # fmt: skip
    doc = page.evaluate("OF.editor.currentDoc()")
    by_id = {n["id"]: n for n in doc["nodes"]}
    assert by_id[ok]["config"]["outcome"] == "approved"
    assert by_id[no]["config"]["outcome"] == "rejected"
    assert by_id[review]["config"]["sla"]["duration"] == "4h"
    screenshot(page, f"newcomer-editor-{lang}")

    # Simulate: the form's sample order (25,000) needs the approval; 800 does not.
    hand.click(".side-tabs [data-tab=sim]")
    hand.click("#sim-run")
    page.wait_for_selector(".sim-summary")
    lit = "[...OF.editor.fg.marks.path.nodes].sort().join()"
    assert page.evaluate(lit) == ",".join(sorted([start, check, review]))
    hand.fill("#sim-amount", "800")
    hand.press("#sim-amount", "Enter")
    wait_until(page, f"{lit} === {json.dumps(','.join(sorted([start, check, ok])))}")
    assert "approved" in page.inner_text(".sim-summary")
    steps = page.inner_text("#sim-result")
    assert "node_passed" not in steps and ("经过节点" if zh else "Passed node") in steps
    screenshot(page, f"newcomer-simulated-{lang}")

    # Publish through the dialog: no problem is left.
    hand.click("[data-cmd=publish]")
    page.wait_for_selector("#dlg-publish[open] .diff-list")
    hand.fill("#pub-note", "金额 5000 以上由财务审批")
    hand.click("#pub-go")
    try:
        page.wait_for_selector("#banner.success", timeout=10_000)
    except Exception as exc:  # say what the dialog says instead
        raise AssertionError(page.inner_text("#dlg-publish")) from exc

    # An order arrives through the API; the approver gets the email.
    order = {
        "external_id": "TB-NEW-1", "channel": "taobao", "currency": "CNY", "amount": 8600,
        "customer": {"id": "C-9", "name": "李娜", "tier": "gold"},
        "lines": [{"sku": "SKU-1", "qty": 2, "price": 4300}],
    }  # fmt: skip
    with SmtpSink() as smtp:
        channel(db, "email", **smtp.config())
        res = page.request.post(
            f"{live_server}/api/v1/orders", data=json.dumps(order),
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        )  # fmt: skip
        assert res.status in (200, 201), res.text()
        deliver_all(app)
        smtp.wait(1)
        (link,) = smtp.links()

    # Signed in on a phone, the approver finds it in the inbox, as theirs through the finance
    # role (a look for the documentation, outside the counted path).
    inbox = page_for(**PHONE, locale=locale)
    _sign_in(inbox, live_server, "li")
    inbox.goto(f"{live_server}/approvals/")
    card = inbox.locator(".ap-card", has_text="TB-NEW-1")
    assert ("财务" if zh else "Finance") in card.inner_text()
    screenshot(inbox, f"newcomer-inbox-375-{lang}")

    # The approver, on a phone, opens the link and approves in one tap.
    phone = page_for(**PHONE, locale=locale)
    phone_visited = _navigations(phone)
    phone.goto(link)
    phone.wait_for_selector("[data-testid=approve]")
    screenshot(phone, f"newcomer-task-375-{lang}")
    Counted(phone, tally).click("[data-testid=approve]")
    phone.wait_for_selector("[data-testid=outcome]")
    assert ("已同意" if zh else "Approved") in phone.inner_text("[data-testid=task-status]")
    screenshot(phone, f"newcomer-task-approved-375-{lang}")

    # The supervisor sees the outcome on the board and on the order's page.
    hand.click("nav a[href='/orders/']")
    done = "[data-stand=done]"
    wait_until(page, f"(document.querySelector('{done}')?.innerText || '').includes('TB-NEW-1')")
    assert ("已批准" if zh else "Approved") in page.inner_text(done)
    screenshot(page, f"newcomer-board-{lang}")
    hand.click(f"{done} a:has-text('TB-NEW-1')")
    page.wait_for_selector("[data-testid=runs]")
    assert ("已批准" if zh else "Approved") in page.inner_text("[data-testid=runs]")
    screenshot(page, f"newcomer-order-{lang}")

    assert len(tally) <= MAX_ACTIONS, "\n".join(tally)
    paths = [p.split("?")[0] for p in visited]
    assert paths[0] == "flows" and paths[1] == "flows/da_e_ding_dan_shen_pi", visited
    assert paths[2] == "orders/" and paths[3].startswith("orders/") and len(paths) == 4, visited
    # The link, then the task page the decision answers with.
    assert len(phone_visited) == 2 and phone_visited[0].startswith("approvals/link/"), phone_visited
    assert phone_visited[1].startswith("approvals/"), phone_visited
    assert errors == []
    if zh:
        _keep("newcomer-approval-form-zh", "editor-approval-form-zh")
        _keep("newcomer-task-375-zh", "approval-task-phone-zh")
        _keep("newcomer-inbox-375-zh", "approval-inbox-phone-zh")
    else:
        _keep("newcomer-approval-form-en", "editor-approval-form-en")
        _keep("newcomer-task-375-en", "approval-task-phone-en")
        _keep("newcomer-inbox-375-en", "approval-inbox-phone-en")
    print(f"{len(tally)} actions:\n" + "\n".join(tally))
