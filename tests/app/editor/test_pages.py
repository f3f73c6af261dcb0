"""Supervisor pages: flows list (search, status, create, duplicate, archive), editor page,
runs list with filters, run detail with timeline and retry."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.db import get_session
from app.models import Flow, Run, RunEvent
from tests.app.conftest import csrf_token
from tests.app.flows_fixtures import flow_doc

from .helpers import review_doc, store


@pytest.fixture
def supervisor(client, login, make_user):
    make_user("wang", roles=("supervisor",), display_name="王敏")
    login("wang")
    return client


def _flows(app, *docs, publish=()):
    for doc in docs:
        store(app, doc, publish=doc["key"] in publish)


def test_flows_list_search_by_pinyin_initials_and_status(app, supervisor):
    a = review_doc("large-order-review")
    a["name"] = {"zh": "大额订单审核", "en": "Large order review"}
    b = review_doc("douyin-routing")
    b["name"] = {"zh": "抖音订单路由", "en": "Douyin routing"}
    _flows(app, a, b, publish=("douyin-routing",))
    page = supervisor.get("/flows").get_data(as_text=True)
    assert "大额订单审核" in page and "抖音订单路由" in page and 'href="/flows"' in page
    found = supervisor.get("/flows?q=dedd", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "大额订单审核" in found and "抖音订单路由" not in found and "<html" not in found
    published = supervisor.get("/flows?status=published").get_data(as_text=True)
    assert (
        'data-flow="douyin-routing"' in published
        and 'data-flow="large-order-review"' not in published
    )
    drafts = supervisor.get("/flows?status=draft").get_data(as_text=True)
    assert 'data-flow="large-order-review"' in drafts


def test_unpublished_changes_are_flagged(app, supervisor):
    _flows(app, review_doc(), publish=("large-order-review",))
    assert "status-published" in supervisor.get("/flows").get_data(as_text=True)
    store(app, review_doc(threshold="30000"))
    assert "status-changed" in supervisor.get("/flows").get_data(as_text=True)


def test_create_opens_an_empty_canvas_then_duplicate_and_archive(app, supervisor):
    token = csrf_token(supervisor, "/flows")
    made = supervisor.post(
        "/flows",
        data={"csrf_token": token, "key": "vip-review", "name_zh": "VIP 审核", "name_en": ""},
    )
    assert made.status_code == 302 and made.headers["Location"].endswith("/flows/vip-review")
    page = supervisor.get("/flows/vip-review").get_data(as_text=True)
    assert 'id="editor-config"' in page and "vendor/x6/x6.min.js" in page
    assert page.count('class="pal-item') == 21  # every node type of the engine
    bad = supervisor.post("/flows", data={"csrf_token": token, "key": "Bad Key!", "name_zh": "x"})
    assert bad.status_code == 302 and bad.headers["Location"].endswith("/flows")
    supervisor.post("/flows/vip-review/duplicate", data={"csrf_token": token})
    supervisor.post("/flows/vip-review/archive", data={"csrf_token": token})
    with app.app_context():
        flows = {f.key: f for f in get_session().scalars(select(Flow))}
        assert (
            flows["vip-review"].draft["nodes"] == [] and flows["vip-review"].archived_at is not None
        )
        assert flows["vip-review-copy"].name_zh == "VIP 审核（副本）"
    assert 'data-flow="vip-review"' not in supervisor.get("/flows").get_data(as_text=True)
    assert 'data-flow="vip-review"' in supervisor.get("/flows?status=archived").get_data(
        as_text=True
    )


def test_viewer_sees_the_editor_read_only(app, client, login, make_user):
    _flows(app, review_doc(), publish=("large-order-review",))
    make_user("vic", roles=("viewer",))
    login("vic")
    page = client.get("/flows/large-order-review").get_data(as_text=True)
    # The published flow links to its bottleneck heatmap (the read-only view with timings).
    assert 'href="/dashboard/flows/large-order-review" data-testid="bottlenecks"' in page
    assert (
        '"canEdit": false' in page
        and 'class="pal-item' not in page
        and 'data-cmd="publish"' not in page
    )
    token = csrf_token(client, "/flows")
    assert (
        client.post("/flows", data={"csrf_token": token, "key": "x", "name_zh": "x"}).status_code
        == 403
    )


def test_approver_cannot_open_flows_or_runs(client, login, make_user):
    make_user("ann", roles=("approver",))
    login("ann")
    assert client.get("/flows").status_code == 403
    assert client.get("/runs").status_code == 403


def _incident_flow():
    return flow_doc(
        "per-unit",
        [{"id": "start", "type": "start"},
         {"id": "unit", "type": "set", "config": {"fields": [{"path": "vars.unit", "expression": "order.amount / order.custom.units"}]}},
         {"id": "done", "type": "end", "config": {"outcome": "priced"}}],
        [("start", "unit"), ("unit", "done")],
    )  # fmt: skip


def test_runs_list_filters_and_detail_with_retry(app, supervisor):
    store(
        app, review_doc(), publish=True, orders_in=(("BIG-1", "25000", {}), ("SMALL-1", "300", {}))
    )
    store(
        app, _incident_flow(), publish=True, orders_in=(("U-1", "100", {"custom": {"units": 0}}),)
    )
    page = supervisor.get("/runs").get_data(as_text=True)
    assert "BIG-1" in page and "SMALL-1" in page and "U-1" in page
    waiting = supervisor.get("/runs?status=waiting", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "BIG-1" in waiting and "SMALL-1" not in waiting and "<html" not in waiting
    assert "BIG-1" not in supervisor.get("/runs?flow=per-unit").get_data(as_text=True)
    assert "SMALL-1" in supervisor.get("/runs?order=SMALL-1").get_data(as_text=True)
    assert "SMALL-1" not in supervisor.get("/runs?flow=large-order-review&version=2").get_data(
        as_text=True
    )
    with app.app_context():
        incident = get_session().scalars(select(Run).where(Run.status == "incident")).one()
    detail = supervisor.get(f"/runs/{incident.id}").get_data(as_text=True)
    assert "run_started" in detail and 'id="run-config"' in detail and "/retry" in detail
    steps = re.search(r'"steps": (\[.*?\])', detail).group(1)
    assert '"node": "unit"' in steps and '"incident"' in steps
    token = csrf_token(supervisor, f"/runs/{incident.id}")
    supervisor.post(f"/runs/{incident.id}/retry", data={"csrf_token": token})
    with app.app_context():
        kinds = [
            e.kind
            for e in get_session().scalars(select(RunEvent).where(RunEvent.run_id == incident.id))
        ]
    assert "retried" in kinds


def test_nav_shows_flows_and_runs_by_permission(supervisor):
    page = supervisor.get("/").get_data(as_text=True)
    assert 'href="/flows"' in page and 'href="/runs"' in page


def test_flows_and_runs_with_a_trailing_slash_lead_to_the_lists(supervisor):
    client = supervisor
    for path in ("/flows", "/runs"):
        r = client.get(path + "/")
        assert r.status_code == 308 and r.headers["Location"] == path
        r = client.get(path + "/?q=%E5%A4%A7&status=live")
        assert r.headers["Location"] == path + "?q=%E5%A4%A7&status=live"
        assert client.get(path + "/", follow_redirects=True).status_code == 200
