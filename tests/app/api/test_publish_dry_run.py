"""``POST /flows/{key}/publish`` as a dry run: the overlap report, nothing published."""

from __future__ import annotations

import pytest

from app.db import get_db

from ..overlap_fixtures import OVER, load_history


@pytest.fixture
def history(app):
    return load_history(get_db(app))


@pytest.mark.parametrize(
    ("path", "body", "lang", "sentence"),
    [
        ("?dry_run=true", None, "en",
         f"Both create approval tasks for {OVER} of the last 200 orders."),
        ("", {"dry_run": True, "note": "x"}, "zh",
         f"最近 200 个订单中有 {OVER} 个会同时触发两个流程的审批任务。"),
    ],
)  # fmt: skip
def test_dry_run_reports_the_overlap_and_publishes_nothing(
    history, api, path, body, lang, sentence
):
    kwargs = {"json": body} if body is not None else {}
    response = api.post(
        f"/flows/big-orders/publish{path}", headers={"Accept-Language": lang}, **kwargs
    )
    assert response.status_code == 200, response.json
    answer = response.json
    assert (answer["dry_run"], answer["would_publish"]) == (True, 1)
    report = answer["overlap"]
    assert (report["orders"], report["draft_runs"], report["event"]) == (200, OVER, "order.created")
    first = report["overlaps"][0]
    assert (first["flow"], first["both_run"], first["kinds"]["approval"]) == (
        "finance-review",
        OVER,
        OVER,
    )
    assert sentence in first["summary"]
    assert api.get("/flows/big-orders/versions").json["items"] == []


def test_dry_run_compares_the_last_orders_asked_for(history, api):
    response = api.post("/flows/big-orders/publish?dry_run=true", json={"last": 20})
    assert response.json["overlap"]["orders"] == 20
    assert response.json["overlap"]["overlaps"][0]["both_run"] == 20  # the newest are over


@pytest.mark.parametrize(
    ("body", "path"), [({"dry_run": "yes"}, "/dry_run"), ({"dry_run": True, "last": 0}, "/last")]
)
def test_dry_run_refuses_a_bad_body(history, api, body, path):
    response = api.post("/flows/big-orders/publish", json=body)
    assert response.status_code == 422 and response.json["error"]["details"][0]["path"] == path


def test_dry_run_of_a_broken_draft_refuses_as_publishing_would(history, api):
    draft = api.get("/flows/big-orders").json
    doc = draft["draft"] | {"edges": []}
    api.put(
        "/flows/big-orders/draft", json={"base_revision": draft["draft_revision"], "draft": doc}
    )
    response = api.post("/flows/big-orders/publish?dry_run=true")
    assert response.status_code == 422
