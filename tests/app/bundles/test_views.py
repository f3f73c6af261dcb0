"""The template pages: who may open them, the gallery search, the preview with its graphs,
the dry run and import as htmx fragments, conflicts settled per item, all or nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.models import CustomField, Flow, FlowVersion, ReferenceTable, TemplateImport
from tests.app.conftest import csrf_token

ZH = {"Accept-Language": "zh"}
EN = {"Accept-Language": "en"}
HX = {"HX-Request": "true"}


@pytest.fixture
def admin(client, login, make_user):
    """An admin logged in; returns the session's CSRF token."""
    make_user("boss", roles=("admin",))
    login("boss")
    return csrf_token(client, "/admin/templates/")


def _counts(app) -> tuple[int, ...]:
    from app.db import get_db

    with get_db(app).session() as db:
        return tuple(
            db.scalar(select(func.count()).select_from(m))
            for m in (Flow, ReferenceTable, CustomField, TemplateImport)
        )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/templates/"),
        ("get", "/admin/templates/large-order-finance-review"),
        ("post", "/admin/templates/large-order-finance-review/dry-run"),
        ("post", "/admin/templates/large-order-finance-review/import"),
        ("get", "/admin/templates/upload"),
        ("post", "/admin/templates/upload"),
        ("post", "/admin/templates/upload/import"),
        ("get", "/admin/templates/export"),
        ("post", "/admin/templates/export"),
    ],
)
def test_only_admins_may_use_the_template_pages(app, client, login, make_user, method, path):
    make_user("sue", roles=("supervisor", "approver"))
    if method == "get":  # anonymous: to the login page (a POST lacks its CSRF token first)
        assert client.get(path).status_code == 302
    login("sue")
    token = csrf_token(client, "/")
    response = getattr(client, method)(path, data={"csrf_token": token}, headers=ZH)
    assert response.status_code == 403
    assert "您没有权限打开此页面" in response.get_data(as_text=True)
    assert _counts(app) == (0, 0, 0, 0)


def test_the_nav_links_the_templates_for_admins_only(client, login, make_user):
    make_user("sue", roles=("supervisor",))
    make_user("boss", roles=("admin",))
    login("sue")
    assert "/admin/templates/" not in client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login("boss")
    assert 'href="/admin/templates/"' in client.get("/").get_data(as_text=True)


def _cards(html: str) -> list[str]:
    return re.findall(r'data-bundle="([a-z0-9-]+)"', html)


@pytest.mark.parametrize(
    ("query", "industry", "expected"),
    [
        ("跨境", "", ["cross-border-status-bridge"]),
        ("kjdc", "", ["cross-border-status-bridge"]),  # pinyin initials of 跨境多仓
        ("pharmacy", "", ["pharmacy-nearest-fulfilment"]),
        ("", "live_commerce", ["live-commerce-intake"]),
        ("zhibo", "", ["live-commerce-intake"]),
        ("状态", "cross_border", ["cross-border-status-bridge"]),
        ("no-such-thing", "", []),
    ],
)
def test_gallery_search_in_chinese_english_and_pinyin(client, admin, query, industry, expected):
    response = client.get(f"/admin/templates/?q={query}&industry={industry}", headers=HX | ZH)
    html = response.get_data(as_text=True)
    assert "<html" not in html  # the htmx answer is only the cards
    assert _cards(html) == expected
    assert f"找到模板：{len(expected)}" in html


def test_gallery_page_lists_every_bundle_with_its_counts(client, admin):
    html = client.get("/admin/templates/", headers=ZH).get_data(as_text=True)
    assert "<html" in html and len(_cards(html)) == 10
    assert "B2B柔性订单路由" in html and "2 个流程" in html


def test_preview_draws_each_flow_with_names_and_branch_labels_in_the_page_language(client, admin):
    zh = client.get("/admin/templates/large-order-finance-review", headers=ZH)
    assert zh.status_code == 200
    html = zh.get_data(as_text=True)
    svgs = re.findall(r'<svg class="flow-graph".*?</svg>', html, re.S)
    assert len(svgs) == 1
    assert svgs[0].count('class="node"') == 13 and svgs[0].count('class="edge"') == 12
    assert "财务复核" in svgs[0] and ">通过<" in svgs[0] and ">超时<" in svgs[0]
    # Parameters are shown with their values, the rules and tables are listed.
    assert "order.amount &gt; 5000" in html and "{{threshold}}" not in html
    assert "自动预审" in html and "hit_policy" not in html and "命中策略：first" in html
    assert "finance.review_backlog" in html
    en = client.get("/admin/templates/large-order-finance-review", headers=EN)
    svg = re.search(r'<svg class="flow-graph".*?</svg>', en.get_data(as_text=True), re.S)
    assert svg and "Finance review" in svg.group(0) and ">approved<" in svg.group(0)


def test_unknown_bundle_is_a_404(client, admin):
    response = client.get("/admin/templates/no-such-bundle", headers=ZH)
    assert response.status_code == 404
    assert "no-such-bundle" in response.get_data(as_text=True)


def test_dry_run_fragment_lists_refusals_then_import_shows_the_summary(app, client, admin):
    url = "/admin/templates/b2b-flexible-routing"
    refused = client.post(f"{url}/dry-run", data={"csrf_token": admin}, headers=HX | ZH)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "<html" not in html
    assert 'data-testid="refusals"' in html and "po_number" in html
    assert 'data-testid="run-import"' not in html  # nothing to import while refused

    data = {"csrf_token": admin, "create_fields": "1"}
    plan = client.post(f"{url}/dry-run", data=data, headers=HX | ZH).get_data(as_text=True)
    assert 'data-testid="refusals"' not in html.split("</h3>")[0]
    assert 'data-kind="flow" data-key="b2b-order-routing" data-action="create"' in plan
    assert 'data-kind="custom_field" data-key="po_number" data-action="create"' in plan
    assert 'data-testid="run-import"' in plan
    assert _counts(app) == (0, 0, 0, 0)  # a dry run changes nothing

    done = client.post(f"{url}/import", data=data, headers=HX | ZH)
    summary = done.get_data(as_text=True)
    assert done.status_code == 200 and "<html" not in summary
    assert 'data-testid="import-summary"' in summary and "流程已以草稿形式导入" in summary
    assert 'href="/flows/b2b-order-routing"' in summary
    flows, tables, fields, imports = _counts(app)
    assert (flows, imports) == (2, 1) and tables == 2 and fields >= 2
    from app.db import get_db

    with get_db(app).session() as db:
        assert db.scalar(select(func.count()).select_from(FlowVersion)) == 0  # drafts
        record = db.scalars(select(TemplateImport)).one()
        assert record.imported_by == "boss" and record.source == "builtin"
    assert "b2b-order-routing" in client.get("/flows").get_data(as_text=True)


def test_import_with_publish_publishes_the_flows(app, client, admin):
    data = {"csrf_token": admin, "publish": "1", "create_fields": "1"}
    response = client.post("/admin/templates/urgent-order-prereview/import", data=data)
    assert response.status_code == 302 and "/admin/templates/imports/" in response.location
    page = client.get(response.location, headers=ZH).get_data(as_text=True)
    assert "流程已发布" in page and "urgent-order-prereview" in page
    from app.db import get_db

    with get_db(app).session() as db:
        flow = db.scalars(select(Flow)).one()
        assert flow.published_version == 1


def test_a_refused_import_changes_nothing_and_says_why_in_the_users_language(app, client, admin):
    url = "/admin/templates/b2b-flexible-routing/import"
    zh = client.post(url, data={"csrf_token": admin}, headers=HX | ZH)
    html = zh.get_data(as_text=True)
    assert zh.status_code == 422 and "<html" not in html
    assert "无法导入该模板" in html and "po_number" in html
    en = client.post(url, data={"csrf_token": admin}, headers=HX | EN)
    assert "The template cannot be imported" in en.get_data(as_text=True)
    page = client.post(url, data={"csrf_token": admin}, headers=ZH)
    assert page.status_code == 422 and "没有做任何更改" in page.get_data(as_text=True)
    assert _counts(app) == (0, 0, 0, 0)


def test_bad_parameter_is_reported_by_name(app, client, admin):
    data = {"csrf_token": admin, "param:threshold": "5000; drop"}
    response = client.post(
        "/admin/templates/large-order-finance-review/import", data=data, headers=HX | ZH
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<code>threshold</code>" in html and "5000; drop" in html
    assert _counts(app) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("language", "reason"), [(EN, "a port is a number from 1 to 65535"), (ZH, "端口是 1 到 65535")]
)
def test_an_address_parameter_the_sender_cannot_call_is_reported_by_name(
    app, client, admin, language, reason
):
    data = {"csrf_token": admin, "param:finance_url": "https://finance.example.com:99999/holds"}
    response = client.post(
        "/admin/templates/late-order-payment-freeze/import", data=data, headers=HX | language
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<code>finance_url</code>" in html and reason in html
    assert _counts(app) == (0, 0, 0, 0)


def test_each_conflict_is_settled_by_its_own_choice(app, client, admin):
    url = "/admin/templates/large-order-finance-review"
    assert client.post(f"{url}/import", data={"csrf_token": admin}).status_code == 302
    changed = {"csrf_token": admin, "param:threshold": "8000", "policy": "rename"}
    plan = client.post(f"{url}/dry-run", data=changed, headers=HX | ZH).get_data(as_text=True)
    assert 'data-key="large-order-finance-review" data-action="rename"' in plan
    assert 'name="choice:flow:large-order-finance-review"' in plan
    # The flow is skipped although the policy for everything else stays "rename".
    skip = {**changed, "choice:flow:large-order-finance-review": "skip"}
    plan = client.post(f"{url}/dry-run", data=skip, headers=HX | ZH).get_data(as_text=True)
    assert 'data-key="large-order-finance-review" data-action="skip"' in plan
    assert client.post(f"{url}/import", data=skip, headers=HX).status_code == 200
    from app.db import get_db

    with get_db(app).session() as db:
        assert list(db.scalars(select(Flow.key))) == ["large-order-finance-review"]
        assert "5000" in str(db.scalars(select(Flow)).one().draft["trigger"])
        record = db.scalars(select(TemplateImport).order_by(TemplateImport.id.desc())).first()
        assert record.options["choices"] == {"flow:large-order-finance-review": "skip"}
    client.post(f"{url}/import", data=changed, headers=HX)
    with get_db(app).session() as db:
        keys = sorted(db.scalars(select(Flow.key)))
    assert keys == ["large-order-finance-review", "large-order-finance-review-2"]


def test_forms_without_the_csrf_token_are_refused(app, client, admin):
    response = client.post("/admin/templates/urgent-order-prereview/import", headers=HX | ZH)
    assert response.status_code == 400
    assert _counts(app) == (0, 0, 0, 0)


def test_every_shipped_bundle_previews_with_one_graph_per_flow(client, admin):
    from templates_lib import builtin_bundles

    for bundle in builtin_bundles():
        html = client.get(f"/admin/templates/{bundle.id}", headers=ZH).get_data(as_text=True)
        graphs = re.findall(r'<svg class="flow-graph".*?</svg>', html, re.S)
        assert len(graphs) == len(bundle.flows), bundle.id
        for doc, svg in zip(bundle.flows, graphs, strict=True):
            assert svg.count('class="node"') == len(doc["nodes"]), doc["key"]
            assert svg.count('class="edge"') == len(doc["edges"]), doc["key"]
        assert 'data-testid="dry-run"' in html
