"""An admin in Chromium finds a template in the gallery (Chinese, then pinyin initials),
previews its drawn flow, runs the dry run, imports it, reads the summary and finds the
imported flow in the flows list; the preview also works at phone width."""

from __future__ import annotations

from app.db import get_db, in_transaction
from app.org.demo import load_demo_org
from app.users import services as users
from tests.browser.conftest import screenshot, wait_until

BUNDLE = "large-order-finance-review"


def _admin(app) -> None:
    with app.app_context():
        in_transaction(
            get_db(app),
            lambda db: users.create_user(
                db, None, username="boss", password="correct-horse", roles=("admin",),
                locale="zh",
            ),
        )  # fmt: skip
        # An organisation whose business roles the template's approvals go to.
        in_transaction(get_db(app), load_demo_org)


def _login(page, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "correct-horse")
    page.click("button[type=submit].btn")
    page.wait_for_url(f"{base}/")


def _search(page, words: str) -> list[str]:
    page.fill("[data-testid=template-search]", words)
    wait_until(page, "w => new URL(location.href).searchParams.get('q') === w", arg=words)
    page.wait_for_load_state("networkidle")
    return page.eval_on_selector_all("[data-bundle]", "els => els.map(e => e.dataset.bundle)")


def test_admin_finds_previews_and_imports_a_template(app, live_server, page_for):
    _admin(app)
    page = page_for(width=1280, height=900, locale="zh-CN")
    _login(page, live_server)
    page.click("nav >> text=模板")
    page.wait_for_url(f"{live_server}/admin/templates/")
    assert page.locator("[data-bundle]").count() == 10

    assert _search(page, "跨境") == ["cross-border-status-bridge"]
    assert _search(page, "cwfh") == [BUNDLE]  # 财务复核 by its pinyin initials
    assert "找到模板：1" in page.inner_text("[data-testid=template-count]")
    screenshot(page, "templates-gallery")

    page.click(f"[data-bundle={BUNDLE}] h3 a")
    page.wait_for_url(f"{live_server}/admin/templates/{BUNDLE}")
    graph = page.locator("svg.flow-graph")
    assert graph.count() == 1 and graph.locator("g.node").count() == 13
    box = graph.bounding_box()
    assert box and box["width"] > 1000  # drawn at its natural size, the frame scrolls
    assert "财务复核" in graph.inner_html() and ">通过<" in graph.inner_html()
    screenshot(page, "templates-preview")

    # The dry run on the page: publishing changes what it says; nothing is stored yet.
    plan = page.locator("[data-testid=dry-run]")
    assert "流程以草稿形式导入" in plan.inner_text()
    page.check("[data-testid=opt-publish]")
    wait_until(
        page,
        "() => document.querySelector('[data-testid=dry-run]').innerText.includes('流程将立即发布')",
    )
    assert page.locator(f"tr[data-kind=flow][data-key={BUNDLE}][data-action=create]").count() == 1

    page.click("[data-testid=run-import]")
    summary = page.wait_for_selector("[data-testid=import-summary]")
    assert "已导入 大额订单财务复核" in summary.inner_text()
    assert "流程已发布" in summary.inner_text()
    screenshot(page, "templates-summary")

    page.click("[data-testid=to-flows]")
    page.wait_for_url(f"{live_server}/flows")
    row = page.locator("#flow-rows tr", has_text=BUNDLE)
    assert row.count() == 1 and "大额订单财务复核" in row.inner_text()


def test_the_preview_fits_a_phone_and_scrolls_the_graph_sideways(app, live_server, page_for):
    _admin(app)
    page = page_for(width=360, height=780, locale="zh-CN")
    _login(page, live_server)
    page.goto(f"{live_server}/admin/templates/cross-border-status-bridge")
    frame = page.locator(".graph-wrap").first
    sizes = frame.evaluate("e => [e.clientWidth, e.scrollWidth]")
    assert sizes[0] < 360 < sizes[1]  # the 27-node graph scrolls inside its frame
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0  # the page itself does not
    frame.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
    assert frame.evaluate("e => e.scrollLeft") > 0
