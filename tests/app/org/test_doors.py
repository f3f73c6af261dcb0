"""No silent assignment: a typo'd role, person or department is refused at every door a flow
comes through, pinned to its node and field, with "did you mean" by key, name and pinyin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from app.cli import cli
from app.db import get_session
from app.flows import services as flows
from app.models import BusinessRole, Department, RoleHolder, User
from app.org import checks
from app.org.directory import directory_cache
from tests.app.api.conftest import Api
from tests.app.editor.helpers import Json
from tests.app.flows_fixtures import flow_doc


def make_org(app: Any, make_user: Any) -> None:
    make_user("li.na", roles=("approver",), display_name="李娜")
    make_user("ann", roles=("supervisor",))
    with app.app_context():
        db = get_session()
        li = db.query(User).filter_by(username="li.na").one()
        db.add(Department(key="finance", name_zh="财务部", name_en="Finance"))
        for key, zh, en in (("approver", "审批人", "Approver"), ("finance", "财务", "Finance")):
            role = BusinessRole(key=key, name_zh=zh, name_en=en)
            db.add(role)
            db.flush()
            db.add(RoleHolder(role_id=role.id, user_id=li.id, scope=""))
        db.commit()


def review(assignee: dict[str, str], key: str = "review") -> dict[str, Any]:
    return flow_doc(
        key,
        [
            {"id": "start", "type": "start"},
            {"id": "check", "type": "approval", "name": {"zh": "财务复核", "en": "Finance check"},
             "config": {"assignees": [assignee]}},
            {"id": "ok", "type": "end", "config": {"outcome": "accepted"}},
            {"id": "no", "type": "end", "config": {"outcome": "rejected"}},
        ],
        [("start", "check"), ("check", "ok", "approved"), ("check", "no", "rejected")],
    )  # fmt: skip


# (assignee typed, code, field, English hint, Chinese hint)
TYPOS = [
    ({"role": "aprover"}, "unknown_role", "role", 'there is no business role "aprover". Did you mean approver (Approver)?', "没有业务角色「aprover」。您是不是要找 approver（审批人）？"),
    ({"role": "审批人"}, "unknown_role", "role", "Did you mean approver (Approver)?", "您是不是要找 approver（审批人）？"),
    ({"role": "caiwu"}, "unknown_role", "role", "Did you mean finance (Finance)?", "您是不是要找 finance（财务）？"),
    ({"user": "lina"}, "unknown_user", "user", 'there is no person "lina". Did you mean li.na (李娜)?', "没有人员「lina」。您是不是要找 li.na（李娜）？"),
    ({"department": "财务"}, "unknown_department", "department", 'there is no department "财务". Did you mean finance (Finance)?', "您是不是要找 finance（财务部）？"),
]  # fmt: skip


def _the_issue(issues: list[dict[str, Any]], code: str) -> dict[str, Any]:
    found = [i for i in issues if i["code"] == code]
    assert len(found) == 1, issues
    return found[0]


def _assert_pinned(issue: dict[str, Any], field: str, en: str, zh: str) -> None:
    assert issue["node_id"] == "check"
    assert issue["path"] == f"/nodes/1/config/assignees/0/{field}"
    assert issue["severity"] == "error"
    assert 'Assignees of node "Finance check"' in issue["message"] and en in issue["message"]
    assert "节点「财务复核」的处理人" in issue["message_zh"] and zh in issue["message_zh"]


@pytest.mark.parametrize(("assignee", "code", "field", "en", "zh"), TYPOS)
def test_the_check_names_the_node_field_and_what_was_meant(app, make_user, assignee, code, field, en, zh) -> None:  # fmt: skip
    make_org(app, make_user)
    with app.app_context():
        issues = [i.to_dict() for i in flows.check(get_session(), review(assignee))]
    _assert_pinned(_the_issue(issues, code), field, en, zh)


def test_known_keys_escalation_notify_and_fallback_are_checked_too(app, make_user) -> None:
    make_org(app, make_user)
    doc = review({"role": "finance"})
    doc["nodes"][1]["config"]["fallback"] = "li.na"
    with app.app_context():
        org = directory_cache.get(get_session())
        assert checks.check_flow(doc, org) == []
        doc["nodes"][1]["config"]["fallback"] = "nobody"
        doc["nodes"][1]["config"]["sla"] = {"escalate_to": [{"role": "financ"}]}
        issues = {i.path: i for i in checks.check_flow(doc, org)}
    assert set(issues) == {"/nodes/1/config/fallback", "/nodes/1/config/sla/escalate_to/0/role"}
    assert "Did you mean finance" in issues["/nodes/1/config/sla/escalate_to/0/role"].message
    assert "后备处理人" in issues["/nodes/1/config/fallback"].message_zh


def test_a_person_typed_as_a_role_is_told_to_change_the_kind(app, make_user) -> None:
    make_org(app, make_user)
    with app.app_context():
        issue = checks.check_flow(review({"role": "ann"}), directory_cache.get(get_session()))[0]
    assert '"ann" is a person: choose the kind person' in issue.message
    assert "「ann」是人员，请把类型改为人员" in issue.message_zh


@pytest.mark.parametrize(("assignee", "code", "field", "en", "zh"), TYPOS[::2])
def test_save_and_publish_refuse_in_the_editor(app, client, login, make_user, assignee, code, field, en, zh) -> None:  # fmt: skip
    make_org(app, make_user)
    with app.app_context():
        flows.create_flow(get_session(), None, review({"role": "finance"}))
        get_session().commit()
    login("ann")
    editor = Json(client)
    checked = editor.post("/flows/review/validate", {"doc": review(assignee)}).get_json()
    _assert_pinned(_the_issue(checked["issues"], code), field, en, zh)
    saved = editor.put("/flows/review/draft", {"doc": review(assignee), "base_revision": 1})
    assert saved.status_code == 200
    _assert_pinned(_the_issue(saved.get_json()["issues"], code), field, en, zh)
    published = editor.post("/flows/review/publish", {"note": "first", "revision": 2})
    assert published.status_code == 422, published.get_json()
    body = published.get_json()
    assert body["error"]["code"] == "invalid_flow"
    _assert_pinned(_the_issue(body["error"]["details"], code), field, en, zh)
    with app.app_context():
        assert flows.get_flow(get_session(), "review").published_version is None


@pytest.mark.parametrize(("assignee", "code", "field", "en", "zh"), TYPOS[::2])
def test_the_api_reports_and_refuses(app, client, make_key, make_user, assignee, code, field, en, zh) -> None:  # fmt: skip
    make_org(app, make_user)
    api = Api(client, make_key())
    created = api.post("/flows", json=review(assignee))
    assert created.status_code == 201
    _assert_pinned(_the_issue(created.get_json()["issues"], code), field, en, zh)
    put = api.put("/flows/review/draft", json={"base_revision": 1, "draft": review(assignee)})
    _assert_pinned(_the_issue(put.get_json()["issues"], code), field, en, zh)
    refused = api.post("/flows/review/publish", json={"note": "x"})
    assert refused.status_code == 422
    _assert_pinned(_the_issue(refused.get_json()["error"]["details"], code), field, en, zh)
    fixed = api.put("/flows/review/draft", json={"base_revision": 2, "draft": review({"role": "finance"})})  # fmt: skip
    assert fixed.get_json()["issues"] == []
    assert api.post("/flows/review/publish", json={"note": "x"}).status_code == 201


def test_flow_import_refuses(app, make_user) -> None:
    make_org(app, make_user)
    with app.app_context():
        db = get_session()
        with pytest.raises(Exception) as err:
            flows.import_flow(db, None, review({"department": "财务"}), publish_now=True)
        db.rollback()
    details = err.value.details
    _assert_pinned(_the_issue(details, "unknown_department"), "department", *TYPOS[4][3:])


@pytest.mark.parametrize(("assignee", "code", "field", "en", "zh"), TYPOS[::2])
def test_cli_validate_checks_against_the_configured_database(app, app_config, make_user, tmp_path: Path, monkeypatch, assignee, code, field, en, zh) -> None:  # fmt: skip
    make_org(app, make_user)
    monkeypatch.setenv("DATABASE_URL", app_config["DATABASE_URL"])
    monkeypatch.setenv("ORDERFLOW_INSTANCE_PATH", str(tmp_path))
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(review(assignee)), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["flow", "validate", str(path), "--json"])
    assert result.exit_code == 1, result.output
    _assert_pinned(_the_issue(json.loads(result.stdout), code), field, en, zh)
    zh_text = runner.invoke(cli, ["flow", "validate", str(path), "--lang", "zh"])
    assert (
        zh in zh_text.stdout and f"{code} at /nodes/1/config/assignees/0/{field}" in zh_text.stdout
    )
    skipped = runner.invoke(cli, ["flow", "validate", str(path), "--no-org"])
    assert skipped.exit_code == 0, skipped.output
