"""The simulator compiles the document it is sent: only editors may send one of their own,
and what it runs is bounded."""

from __future__ import annotations

import time

import pytest
import simplejson

from tests.app.flows_fixtures import flow_doc, order_doc

from .helpers import Json, review_doc, store

KEY = "large-order-review"


def _order() -> dict:
    return simplejson.loads(simplejson.dumps(order_doc("SIM-1", "25000"), use_decimal=True))


@pytest.fixture
def as_user(app, client, login, make_user):
    def sign_in(role: str) -> Json:
        make_user(role, roles=(role,))
        login(role)
        return Json(client)

    return sign_in


def _save_draft(editor: Json, doc: dict) -> None:
    base = editor.get(f"/flows/{KEY}/draft").get_json()["revision"]
    assert editor.put(f"/flows/{KEY}/draft", {"doc": doc, "base_revision": base}).status_code == 200


def test_a_viewer_simulates_the_stored_draft_and_published_versions_only(app, client, as_user):
    store(app, review_doc(), publish=True)
    published = review_doc()
    draft = review_doc(threshold="10000")
    _save_draft(as_user("supervisor"), draft)
    client.post("/logout", headers={"X-CSRFToken": Json(client).token})
    viewer = as_user("viewer")
    moved = review_doc(threshold="10000")
    # as the canvas sends it back: positions moved, nodes and edges in its order, config {}
    moved["nodes"][0]["position"] = {"x": 999, "y": 999}
    moved["nodes"].reverse()
    moved["edges"].reverse()
    for doc in (published, draft, moved):
        answer = viewer.post(f"/flows/{KEY}/simulate", {"doc": doc, "order": _order()})
        assert answer.status_code == 200, answer.get_json()
    other = review_doc(threshold="1")
    refused = viewer.post(f"/flows/{KEY}/simulate", {"doc": other, "order": _order()})
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "permission_denied"
    zh = viewer.client.post(
        f"/flows/{KEY}/simulate",
        json={"doc": other, "order": _order()},
        headers={**viewer._headers(), "Accept-Language": "zh-CN,zh"},
    )
    en = viewer.client.post(
        f"/flows/{KEY}/simulate",
        json={"doc": other, "order": _order()},
        headers={**viewer._headers(), "Accept-Language": "en"},
    )
    assert "编辑流程的权限" in zh.get_json()["error"]["message"]
    assert "permission to edit flows" in en.get_json()["error"]["message"]


# The 2.9 KB expression of the report: 903 million characters before the bounds.
BLOW_UP = (
    'len(replace(replace("' + "a" * 1000 + '", "", "' + "b" * 1000 + '"), "", "' + "c" * 900 + '"))'
)


def _set_flow(expression: str, key: str = KEY) -> dict:
    return flow_doc(
        key,
        [{"id": "start", "type": "start"},
         {"id": "calc", "type": "set", "config": {"fields": [{"path": "vars.y", "expression": expression}]}},
         {"id": "done", "type": "end", "config": {"outcome": "accepted"}}],
        [("start", "calc"), ("calc", "done")],
    )  # fmt: skip


def test_an_editor_simulating_an_unbounded_expression_gets_the_dsl_error_quickly(app, as_user):
    store(app, review_doc())
    editor = as_user("supervisor")
    started = time.perf_counter()
    answer = editor.post(f"/flows/{KEY}/simulate", {"doc": _set_flow(BLOW_UP), "order": _order()})
    assert time.perf_counter() - started < 2
    assert "value_too_large" in answer.get_data(as_text=True)
