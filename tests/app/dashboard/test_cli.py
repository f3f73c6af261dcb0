"""``orderflow metrics``, ``orderflow costs`` and ``orderflow alerts`` on a real database."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import cli
from app.models import AlertRule, CostDriver, TemplateItem


@pytest.fixture
def run(app, app_config):
    env = {"ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"], "DATABASE_URL": app_config["DATABASE_URL"],
           "SECRET_KEY": "test"}  # fmt: skip

    def invoke(*args: str):
        result = CliRunner().invoke(cli, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def test_refresh_costs_and_alert_rules(run, database, scenario, tmp_path):
    assert "0 run events" in run("metrics", "refresh")
    assert "daily rows written" in run("metrics", "rebuild-daily")
    assert "5 orders rebuilt" in run("costs", "recalculate", "--days", "7")
    assert "0 drivers" in run("costs", "defaults")  # the scenario has drivers already
    spec = [{"key": "stuck.created", "name": {"en": "Stuck", "zh": "滞留"}, "severity": "warning",
             "rule": {"kind": "stalled_transition", "from": "created", "max_gap": "1d"}}]  # fmt: skip
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    assert "created stuck.created" in run("alerts", "import", str(path))
    with database.session() as db:
        db.scalars(select(AlertRule).where(AlertRule.key == "stuck.created")).one().enabled = True
        db.add(TemplateItem(kind="alert_rule", key="finance.backlog", bundle_id="finance", data={
            "key": "finance.backlog", "name": {"en": "Backlog", "zh": "积压"}, "severity": "warning",
            "rule": {"kind": "threshold", "metric": "approvals.pending", "above": 10}}))  # fmt: skip
        db.commit()
    assert "1 opened" in run("alerts", "evaluate", "--rule", "stuck.created")  # D and E
    assert "finance.backlog from template:finance" in run("alerts", "adopt")
    listing = run("alerts", "list")
    assert "stuck.created" in listing and "finance.backlog" in listing and "open 1" in listing
    out = tmp_path / "out.json"
    run("alerts", "export", str(out))
    exported = {r["key"]: r for r in json.loads(out.read_text(encoding="utf-8"))}
    assert exported["stuck.created"]["rule"]["native"]["kind"] == "stuck"
    with database.session() as db:
        assert db.scalars(select(CostDriver.key).order_by(CostDriver.key)).all() == [
            "approval_time",
            "handling",
        ]
