"""The orders board shows where each order stands in its flows: one column per stand, counts
that match the lists page by page, a fixed number of statements however many orders, the
order page in business language and a tracking page that agrees without telling more."""

from __future__ import annotations

import re
from datetime import timedelta, timezone

import pytest
from sqlalchemy import event, select

from app.approvals import services as approvals
from app.db import get_db
from app.migrate import downgrade, upgrade
from app.models import ApprovalTask, Order, Run
from app.orders import views

from .approvals.helpers import approver, as_user
from .board_flows import AMOUNTS, ingest, publish_all

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


@pytest.fixture
def board(app, client, make_user, login):
    """Every board flow published, approver li (张丽) and a signed-in viewer."""
    db = get_db(app)
    approver(db, "li", display_name="张丽")
    publish_all(db)
    make_user("viewer1", roles=("viewer",))
    login("viewer1")
    return db


def _count(html: str, stand: str) -> int:
    match = re.search(rf'data-testid="count-flow-{stand}">(\d+)<', html)
    assert match, f"no count for {stand}"
    return int(match.group(1))


def _column(html: str, stand: str) -> str:
    start = html.index(f'data-stand="{stand}"')
    end = html.find("</section>", start)
    return html[start:end]


def test_each_stand_has_its_column_with_what_it_waits_for(board, client):
    for stand in AMOUNTS:
        ingest(board, f"PO-{stand}", stand)
    zh = client.get("/orders/", headers=ZH).get_data(as_text=True)
    for stand in AMOUNTS:
        assert _count(zh, stand) == 1, stand
        assert f"PO-{stand}" in _column(zh, stand), stand
    approval = _column(zh, "approval")
    assert "财务审批" in approval and "张丽" in approval
    # Due 24 h after ingest, shown in the company's zone (China time: +8 h from UTC).
    with board.session() as s:
        due = s.scalars(select(ApprovalTask.due_at)).one()
    shown = due.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    assert shown in approval
    assert "等待事件 已发货" in _column(zh, "event") and "等待仓库" in _column(zh, "event")
    assert "冷静期" in _column(zh, "held")
    assert "缺货待补" in _column(zh, "backordered")
    incident = _column(zh, "incident")
    assert "预占库存" in incident and "没有可预占的仓库" in incident
    assert "已批准" in _column(zh, "done")
    en = client.get("/orders/", headers=EN).get_data(as_text=True)
    assert "Waiting for approval" in en and "Finance review" in en
    assert "no warehouse to reserve in" in _column(en, "incident")
    assert "Approved" in _column(en, "done")


def test_an_approval_moves_the_order_from_waiting_to_done(board, client):
    order_id = ingest(board, "PO-A", "approval")
    before = client.get("/orders/", headers=ZH).get_data(as_text=True)
    assert (_count(before, "approval"), _count(before, "done")) == (1, 0)
    with board.session() as s:
        task = s.scalars(select(ApprovalTask)).one()
    as_user(board, "li", lambda s, u: approvals.decide(s, u, task.task_key, "approved"))
    after = client.get("/orders/", headers=ZH).get_data(as_text=True)
    assert (_count(after, "approval"), _count(after, "done")) == (0, 1)
    assert "已批准" in _column(after, "done")
    detail = client.get(f"/orders/{order_id}", headers=ZH).get_data(as_text=True)
    assert 'data-stand="done"' in detail and "board-approval" in detail and "已批准" in detail


def test_order_page_names_the_node_a_run_waits_at(board, client):
    order_id = ingest(board, "PO-W", "approval")
    html = client.get(f"/orders/{order_id}", headers=EN).get_data(as_text=True)
    row = html[html.index('data-testid="runs"') :]
    assert 'data-stand="approval"' in row
    assert "Waiting for approval" in row and "Finance review" in row and "张丽" in row


def test_counts_match_the_lists_across_pages(board, client, monkeypatch):
    sizes = {"approval": 3, "event": 2, "held": 1, "backordered": 1, "incident": 1, "done": 4}
    for stand, n in sizes.items():
        for i in range(n):
            ingest(board, f"PO-{stand}-{i}", stand)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)  # a few orders fill several pages
    for stand, n in sizes.items():
        listed, page = [], 1
        while True:
            text = client.get(f"/orders/?stand={stand}&page={page}", headers=EN).get_data(
                as_text=True
            )
            assert _count(text, stand) == n
            listed += re.findall(r'data-order="([^"]+)"', text)
            if "Older →" not in text:
                break
            page += 1
        assert sorted(listed) == sorted(f"PO-{stand}-{i}" for i in range(n)), stand
        assert page == (n + 1) // 2


def test_an_unknown_column_is_a_clear_404(client, make_user, login):
    make_user("viewer1", roles=("viewer",))
    login("viewer1")
    response = client.get("/orders/?stand=lost", headers=EN)
    assert response.status_code == 404
    assert "There is no board column lost" in response.get_data(as_text=True)


def _statements(app, client, path: str) -> int:
    seen: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    engine = get_db(app).engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(path, headers=ZH).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


@pytest.mark.parametrize("path", ["/orders/", "/orders/?stand=approval", "/orders/?stand=done"])
def test_statements_do_not_grow_with_the_orders(app, board, client, path):
    for stand in AMOUNTS:
        ingest(board, f"PO-{stand}-0", stand)
    few = _statements(app, client, path)
    for i in range(1, 6):
        for stand in ("approval", "done", "incident"):
            ingest(board, f"PO-{stand}-{i}", stand)
    assert _statements(app, client, path) == few


def test_tracking_says_processing_without_details_while_a_flow_decides(board, client):
    order_id = ingest(board, "PO-T", "approval")
    with board.session() as s:
        tracking = s.get(Order, order_id).tracking_id
        task = s.scalars(select(ApprovalTask)).one()
    zh = client.get(f"/track/{tracking}", headers=ZH).get_data(as_text=True)
    assert 'data-state="processing"' in zh and "处理中" in zh
    for internal in ("审批", "财务", "张丽", "board-approval"):
        assert internal not in zh
    en = client.get(f"/track/{tracking}", headers=EN).get_data(as_text=True)
    assert "Processing" in en
    as_user(board, "li", lambda s, u: approvals.decide(s, u, task.task_key, "approved"))
    with board.session() as s:
        assert s.scalars(select(Run.stand)).one() == "done"
    done = client.get(f"/track/{tracking}", headers=ZH).get_data(as_text=True)
    assert 'data-state="created"' in done and "已下单" in done


def test_the_migration_fills_in_where_stored_runs_stand(app, board, database_url):
    for stand in AMOUNTS:
        ingest(board, f"PO-{stand}", stand)
    board.dispose()  # the migration alters the runs table: no pooled connection may hold it
    downgrade(database_url, "0013")
    upgrade(database_url)
    with board.session() as s:
        stands = dict(s.execute(select(Order.external_id, Run.stand).join(Run)).all())
    assert stands == {f"PO-{stand}": stand for stand in AMOUNTS}
