"""The dashboard, the bottleneck view, the cost heatmap and the alert inbox in Chromium,
on the fixed scenario of ``tests/app/dashboard/scenario.py``; screenshots in test-artifacts/."""

from __future__ import annotations

import pytest

from app.alerts import services as alerts
from app.db import get_db, in_transaction
from app.models import utcnow
from tests.app.dashboard.conftest import add_costs
from tests.app.dashboard.scenario import build

from .conftest import screenshot, wait_until


@pytest.fixture
def seeded(app, make_user):
    database = get_db(app)
    add_costs(database)
    scenario = build(database)
    make_user("wangmin", roles=("supervisor",), display_name="流程主管 王敏")
    rule = {"key": "stuck-created", "name_zh": "订单长时间未处理", "name_en": "Orders stuck unprocessed",
            "kind": "stuck", "severity": "critical",
            "definition": {"subject": "order_status", "states": ["created"], "longer_than": "1d"}}  # fmt: skip

    def work(db):
        made = alerts.save_rule(db, None, rule)
        alerts.evaluate_rule(db, made, now=utcnow())

    in_transaction(database, work)
    return scenario


def _login(page, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "wangmin")
    page.fill("input[name=password]", "correct-horse")
    page.click("button[type=submit].btn")


def test_dashboard_panels_and_filters(live_server, page_for, seeded):
    page = page_for(1280, 900)
    _login(page, live_server)
    page.goto(f"{live_server}/dashboard/?range=7d")
    page.wait_for_selector("#chart-orders svg")
    page.wait_for_timeout(600)  # let the charts' entry animation finish before the screenshot
    assert page.inner_text("[data-testid=figure-manual_rate]").startswith("40.0%")
    assert "66.7%" in page.inner_text("[data-testid=figure-on_time]")
    # Eight KPIs and the split-shipment rate: a chart each, or (no data) what feeds the panel.
    empty = page.eval_on_selector_all(".db-empty", "els => els.map(e => e.dataset.testid)")
    assert sorted(empty) == ["empty-self_service", "empty-split_rate"]
    assert page.locator(".db-chart svg").count() == 9 - len(empty)
    assert page.locator("[data-panel=split_rate]").count() == 1
    # Publish markers: one dashed line, its flow name only shown on hover (no piled labels).
    line = page.locator("#chart-orders svg path[stroke-dasharray]").first.bounding_box()
    page.mouse.move(line["x"] + line["width"] / 2, line["y"] + line["height"] / 2)
    wait_until(page, "/上线|Went live/.test(document.querySelector('#chart-orders').innerText)")
    assert page.locator("#chart-orders svg text", has_text=" v").count() == 0
    screenshot(page, "dashboard-kpis")
    # Filtering by channel swaps the panels in place (htmx) and redraws the charts.
    page.check("input[name=channel][value=taobao]")
    wait_until(
        page,
        "document.querySelector('[data-testid=figure-manual_rate]').innerText.startsWith('0.0%')",
    )
    page.wait_for_selector("#chart-orders svg")
    assert "channel=taobao" in page.url
    phone = page_for(390, 800, locale="en-US")
    _login(phone, live_server)
    phone.goto(f"{live_server}/dashboard/?range=7d")
    phone.wait_for_selector("#chart-status_lag svg")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width}px wide at 390px"
    screenshot(phone, "dashboard-kpis-phone")


def test_bottleneck_view_costs_and_alerts(live_server, page_for, seeded):
    page = page_for(1280, 900)
    _login(page, live_server)
    page.goto(f"{live_server}/dashboard/flows/fulfil?range=7d")
    page.wait_for_selector("#heat-graph [data-cell-id=load] rect[fill]")
    # The loading node (4-hour waits) is drawn in the hot colour, not the editor's blue.
    fill = page.evaluate(
        "document.querySelector('#heat-graph [data-cell-id=load] rect[fill]').getAttribute('fill')"
    )
    assert fill and fill.lower() not in ("#eff6ff", "#f0fdfa")
    page.click("#heat-graph [data-cell-id=qc]")
    page.wait_for_selector("[data-testid=slowest]")
    rows = page.locator("[data-testid=slowest] table").nth(1).inner_text()
    assert rows.index("B") < rows.index("A")  # B waited longest for QC release
    screenshot(page, "dashboard-bottleneck")
    page.goto(f"{live_server}/costs/?range=7d&dimension=urgency")
    wait_until(
        page,  # the cells' labels appear once the chart's animation has run
        "Array.from(document.querySelectorAll('#cost-chart svg text')).some(t => t.textContent.endsWith('×'))",
    )
    assert "standard" in page.inner_text("[data-testid=cost-table]")
    screenshot(page, "dashboard-cost-heatmap")
    page.goto(f"{live_server}/alerts/")
    page.click("[data-testid=alert-rows] a")
    assert page.locator("[data-testid=alert-orders] tbody tr").count() == 2  # D and E
    screenshot(page, "dashboard-alert")
