"""The editor's backtest runs as a background job: a progress bar while it waits and runs,
the impact summary with the approval workload per role, the changed orders paged, and each
one opening in the simulator; in Chinese and English."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import get_db, in_transaction
from app.flows import backtest_job as jobs
from app.models import BacktestJob, Flow
from tests.app.editor.helpers import review_doc, store

from .conftest import screenshot, wait_until


def _login(page, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "wang")
    page.fill("input[name=password]", "correct-horse")
    page.click("button[type=submit].btn")
    page.wait_for_url(f"{base}/")


@pytest.mark.parametrize(
    ("locale", "summary", "waiting"),
    [
        ("zh-CN", "5 个订单中有 2 个", "等待后台任务处理"),
        ("en-US", "2 of 5 orders would be handled differently", "waiting for a worker"),
    ],
)
def test_backtest_job_progress_summary_and_simulator(
    app, live_server, page_for, make_user, locale, summary, waiting
):
    make_user("wang", roles=("supervisor",), display_name="王敏")
    amounts = ["1200.00", "4800.00", "5200.00", "9900.00", "3000.00"]
    store(
        app,
        review_doc(threshold="5000"),
        publish=True,
        orders_in=tuple((f"B{n}", a, {}) for n, a in enumerate(amounts)),
    )
    database = get_db(app)
    in_transaction(
        database,
        lambda db: setattr(db.scalars(select(Flow)).one(), "draft", review_doc(threshold="3000")),
    )
    page = page_for(1280, 900, locale=locale)
    _login(page, live_server)
    page.goto(f"{live_server}/flows/large-order-review")
    page.wait_for_selector("#graph svg")
    page.click("[data-cmd=backtest]")
    page.fill("#bt-last", "100000")
    page.click("#bt-run")
    wait_until(page, "(t) => document.getElementById('bt-result').innerText.includes(t)", waiting)
    assert page.is_visible("#bt-progress") and page.is_visible("#bt-stop")
    with database.session() as db:
        job_id = db.scalars(select(BacktestJob.id)).one()
    jobs.run_job_now(database, job_id)  # what the worker does
    page.wait_for_selector("#bt-changes [data-simulate]")
    text = page.inner_text("#bt-result")
    assert summary in text and "finance" in text
    assert page.is_hidden("#bt-stop")
    assert page.evaluate("document.getElementById('bt-progress').value") == 5
    screenshot(page, f"editor-backtest-job-{locale[:2]}")
    page.click("#bt-changes [data-simulate] >> nth=0")
    wait_until(page, "() => document.getElementById('sim-result').innerText.length > 20")
    assert page.evaluate("document.querySelector('input[name=sim-source]:checked').value") == "past"
