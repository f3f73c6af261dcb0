"""Durations typed in the editor: saved in canonical form, shown back normalised."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.db import get_session
from app.models import Flow

from .helpers import Json, review_doc, store


@pytest.fixture
def editor(app, client, login, make_user):
    make_user("wang", roles=("supervisor",))
    login("wang")
    return Json(client)


def _with_sla(duration: str, reminders: list[str]) -> dict:
    doc = review_doc()
    doc["nodes"][2]["name"] = {"zh": "财务审批", "en": "Finance approval"}
    doc["nodes"][2]["config"]["sla"] = {"duration": duration, "reminders": reminders}
    doc["nodes"].append({"id": "late", "type": "end", "config": {"outcome": "timeout"}})
    doc["edges"].append({"from": "finance", "to": "late", "branch": "timeout"})
    return doc


def test_saving_stores_durations_in_canonical_form(app, editor):
    store(app, review_doc())
    doc = _with_sla("2d 4h", ["半小时", "4小时"])
    saved = editor.put("/flows/large-order-review/draft", {"doc": doc, "base_revision": 1})
    assert saved.status_code == 200 and saved.get_json()["issues"] == []
    with app.app_context():
        flow = get_session().scalars(select(Flow)).one()
        assert flow.draft["nodes"][2]["config"]["sla"] == {
            "duration": "2d4h",
            "reminders": ["30m", "4h"],
        }


def test_unreadable_duration_is_reported_in_the_readers_language(app, editor):
    store(app, review_doc())
    doc = _with_sla("4小时x", [])
    issues = editor.put(
        "/flows/large-order-review/draft", {"doc": doc, "base_revision": 1}
    ).get_json()["issues"]
    assert [(i["code"], i["node_id"], i["path"]) for i in issues] == [
        ("invalid_duration", "finance", "/nodes/2/config/sla/duration")
    ]
    assert issues[0]["message_zh"] == (
        "节点「财务审批」的“时限 · 处理时限”「4小时x」无法识别。"
        "可以写：4h、2d 4h、4小时、2天、30分钟、半小时。"
    )
    assert "does not match" not in issues[0]["message"]


@pytest.mark.parametrize(
    ("lang", "help_text"),
    [
        ("zh", "可以写：4h、2d 4h、4小时、2天、30分钟、半小时"),
        ("en", "Write e.g. 4h, 2d 4h, 30 min"),
    ],
)
def test_node_form_shows_the_normalised_duration(app, editor, lang, help_text):
    node = {
        "id": "a1",
        "type": "approval",
        "config": {"assignees": [{"role": "finance"}], "sla": {"duration": "1个半小时"}},
    }
    html = editor.client.post(
        "/flows/editor/node-form",
        data={"node": json.dumps(node)},
        headers={"X-CSRFToken": editor.token, "HX-Request": "true", "Accept-Language": lang},
    ).get_data(as_text=True)
    assert 'data-path="sla.duration" data-type="string" data-duration value="1h30m"' in html
    assert "data-normalised" in html and help_text in html
