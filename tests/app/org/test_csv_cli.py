"""``orderflow org import/export/check`` and the CSV they read and write."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import cli
from app.db import get_db, in_transaction
from app.models import Department, RoleHolder, User
from app.org import csvio
from tests.app.flows_fixtures import flow_doc

HEADER = ",".join(csvio.HEADER)


@pytest.fixture
def run(world, app_config):
    env = {"ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "DATABASE_URL": app_config["DATABASE_URL"], "SECRET_KEY": "test"}  # fmt: skip

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), env=env)

    return invoke


def _file(tmp_path: Path, *rows: str) -> str:
    path = tmp_path / "org.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return str(path)


def _snapshot(world) -> tuple:
    with world.app_context(), get_db().session() as db:
        return (
            sorted(db.execute(select(User.username, User.department_id, User.manager_id,
                                     User.display_name, User.is_active)).all()),
            sorted(db.execute(select(Department.key, Department.name_zh, Department.parent_id)).all()),
            sorted(db.execute(select(RoleHolder.user_id, RoleHolder.role_id, RoleHolder.scope)).all()),
        )  # fmt: skip


def test_export_then_import_changes_nothing(run, world, tmp_path):
    out = tmp_path / "out.csv"
    assert run("org", "export", str(out)).exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0] == HEADER
    assert "li.na,Li Na,finance,财务部,Finance,ops,wang.min,finance,1" in text
    assert (
        "zhao.lei,Zhao Lei,warehouse,仓储部,Warehousing,ops,wang.min,warehouse_lead@SH-01,1" in text
    )
    before = _snapshot(world)
    result = run("org", "import", str(out), "--lang", "en")
    assert result.exit_code == 0, result.output
    assert (
        "0 created, 0 updated, 6 unchanged people; 0 new and 0 changed departments" in result.output
    )
    assert _snapshot(world) == before


def test_the_dry_run_lists_every_change_per_row_and_field_and_changes_nothing(run, world, tmp_path):
    path = _file(
        tmp_path,
        "li.na,Li Na,tax,税务部,Tax,finance,zhao.lei,finance;warehouse_lead@BJ-01,1",
        "zhao.lei,Zhao Lei,warehouse,,,,wang.min,warehouse_lead@SH-01,1",
        "sun.li,孙丽,tax,税务部,Tax,finance,li.na,,1",
    )
    before = _snapshot(world)
    result = run("org", "import", path, "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "第 2 行：新建部门 tax（税务部）" in lines
    assert "第 2 行 li.na：部门 财务部 → 税务部" in lines
    assert "第 2 行 li.na：上级 wang.min → zhao.lei" in lines
    assert "第 2 行 li.na：业务角色 finance → finance; warehouse_lead@BJ-01" in lines
    assert "第 3 行 zhao.lei：无变化" in lines
    assert "第 4 行 sun.li：新建人员" in lines
    assert "1 created, 1 updated, 1 unchanged" in result.output and "dry run" in result.output
    assert _snapshot(world) == before
    result = run("org", "import", path, "--lang", "en")
    assert result.exit_code == 0, result.output
    assert "Row 2 li.na: department Finance → Tax" in result.output
    with world.app_context(), get_db().session() as db:
        sun = db.scalars(select(User).where(User.username == "sun.li")).one()
        assert (sun.display_name, sun.role_names, sun.is_active) == (
            "孙丽",
            frozenset({"approver"}),
            True,
        )
        tax = db.scalars(select(Department).where(Department.key == "tax")).one()
        assert sun.department_id == tax.id and tax.parent_id is not None
    assert "7 unchanged" not in run("org", "import", path, "--lang", "en").output
    assert "0 updated, 3 unchanged" in run("org", "import", path, "--lang", "en").output


def test_a_bad_file_is_refused_whole_with_rows_and_columns(run, world, tmp_path):
    path = _file(
        tmp_path,
        "li.na,Li Na,finance,,,,nobody,finance,1",  # 2 unknown manager
        "wang.min,Wang Min,ops,,,,zhao.lei,,1",  # 3 cycle wang.min -> zhao.lei -> wang.min
        "zhao.lei,Zhao Lei,warehouse,,,,wang.min,warehouse_lead@SH-1,1",  # 4 unknown scope key
        "chen.jing,Chen Jing,,,,,,Finance-Team,1",  # 5 bad role key
        "chen.jing,Chen Jing,,,,,,,1",  # 6 duplicate username
        "sun.li,孙丽,tax,,,,,,maybe",  # 7 unknown department, bad active
    )
    before = _snapshot(world)
    result = run("org", "import", path, "--lang", "en")
    assert result.exit_code == 1
    out = result.output
    assert "Nothing was changed" in out
    assert "/rows/2/manager: There is no person with the username 'nobody'" in out
    assert "/rows/3/manager: zhao.lei cannot manage wang.min" in out and "circle" in out
    assert out.index("/rows/2/") < out.index("/rows/3/") < out.index("/rows/7/")
    assert "/rows/4/roles: 'SH-1' is not a key of warehouses" in out and "SH-01" in out
    assert "/rows/5/roles: 'Finance-Team' is not a business role key" in out
    assert "/rows/6/username: chen.jing is on row 5 already" in out
    assert "/rows/7/department: There is no department 'tax'" in out
    assert "/rows/7/active:" in out
    assert _snapshot(world) == before
    # nothing was stored even of the good rows
    result = run("org", "import", path, "--dry-run")
    assert result.exit_code == 1


def test_a_wrong_header_is_refused_naming_the_columns(run, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("username,name,department\nli.na,Li,finance\n", encoding="utf-8")
    result = run("org", "import", str(path), "--lang", "en")
    assert result.exit_code == 1
    assert "/rows/1/" in result.output and "display_name" in result.output
    assert "not known: name" in result.output


def test_check_reports_what_flows_name_that_cannot_take_a_task(run, world):
    doc = flow_doc("orgcheck", [
        {"id": "start", "type": "start"},
        {"id": "ok", "type": "approval", "config": {"assignees": [
            {"role": "finanse"}, {"role": "warehouse_lead", "scope": "order.warehouse"},
            {"user": "li.nna"}, {"department": "finance"}, {"department": "sales"}],
            "mode": "any", "timeout": "2d"}},
        {"id": "end", "type": "end", "config": {"outcome": "ok"}},
    ], [("start", "ok"), ("ok", "end")])  # fmt: skip
    with world.app_context():
        in_transaction(get_db(), lambda db: _store_draft(db, doc))
    result = run("org", "check", "--lang", "en")
    assert result.exit_code == 1, result.output
    out = result.output
    assert "role finanse: finanse is not a business role. Did you mean finance? (orgcheck)" in out
    assert "user li.nna: There is no person with the username 'li.nna'. Did you mean li.na?" in out
    assert "department sales: There is no department 'sales'." in out
    assert "warehouse_lead" not in out and "department finance" not in out


def test_check_passes_when_everything_resolves(run, world):
    assert run("org", "check").exit_code == 0


def _store_draft(db, doc) -> None:
    from app.models import Flow

    db.add(Flow(key=doc["key"], name_zh="组织检查", draft=doc))
