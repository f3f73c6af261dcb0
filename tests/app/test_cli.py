"""The ``orderflow`` command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import cli
from app.commands.demo import DEMO_USERS

BIN = Path(sys.executable).parent / "orderflow"


@pytest.fixture
def env(app_config):
    return {
        "ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
        "DATABASE_URL": app_config["DATABASE_URL"],
        "SECRET_KEY": "test",
    }


@pytest.fixture
def run(app, env):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, extra_env: dict | None = None):
        return runner.invoke(cli, list(args), env={**env, **(extra_env or {})}, input=input)

    return invoke


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _all_commands(command, (*prefix, name))


@pytest.mark.parametrize(
    "path", [(), *_all_commands(cli)], ids=lambda p: " ".join(p) or "orderflow"
)
def test_every_command_has_help(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and len(result.output.splitlines()) > 3


def test_db_current_upgrade_downgrade(run):
    result = run("db", "current")
    assert result.exit_code == 0 and "up to date" in result.output
    result = run("db", "downgrade", "base")
    assert result.exit_code == 0 and "revision none" in result.output
    result = run("db", "current")
    assert "needs 'orderflow db upgrade'" in result.output
    result = run("db", "upgrade")
    assert result.exit_code == 0 and "Database at revision" in result.output
    assert "up to date" in run("db", "current").output


def test_user_create_list_set_role(run):
    result = run("user", "create", "wang.min", "--role", "supervisor", "--display-name", "王敏",
                 input="s3cret-pass\ns3cret-pass\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Created user wang.min with roles supervisor" in result.output
    result = run("user", "set-role", "wang.min", "supervisor", "approver")
    assert result.exit_code == 0 and "wang.min: approver, supervisor" in result.output
    listing = run("user", "list").output
    assert "wang.min" in listing and "approver,supervisor" in listing and "王敏" in listing


def test_user_create_reads_password_from_environment(run):
    result = run(
        "user",
        "create",
        "ci-bot",
        "--role",
        "viewer",
        extra_env={"ORDERFLOW_PASSWORD": "pipeline-pass"},
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ("user", "create", "a b", "--role", "viewer"),
            "longenough\nlongenough\n",
            "A username has 2 to 64",
        ),
        (("user", "create", "ann", "--role", "viewer"), "short\nshort\n", "at least 8 characters"),
        (("user", "set-role", "ghost", "viewer"), None, "There is no user named ghost."),
        (("user", "create", "ann", "--role", "king"), None, "Invalid value for '--role'"),
    ],
)
def test_user_commands_explain_bad_input(run, args, stdin, message):
    result = run(*args, input=stdin)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_duplicate_user_is_refused(run):
    run("user", "create", "ann", "--role", "viewer", input="longenough\nlongenough\n")
    result = run("user", "create", "ann", "--role", "viewer", input="longenough\nlongenough\n")
    assert result.exit_code == 1 and "The username ann is taken." in result.output


def test_demo_creates_each_role_once(run):
    first = run("demo")
    assert first.exit_code == 0
    for username, password, roles, _ in DEMO_USERS:
        assert f"{username:<11} {password:<22} {roles[0]}" in first.output
    second = run("demo")
    assert second.exit_code == 0 and "(exists, unchanged)" in second.output
    listing = run("user", "list").output
    for username, _password, roles, _ in DEMO_USERS:
        assert f"{username:<24} {roles[0]:<30}" in listing


def test_demo_users_can_log_in(app, run, login):
    run("demo")
    for username, password, _roles, _ in DEMO_USERS:
        assert login(username, password).status_code == 302


def _orderflow(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN), *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/x", "DATABASE_URL must start with sqlite:/// or postgresql://"),
        ("postgresql://nobody@127.0.0.1:1/none", "Cannot connect to the database at postgresql"),
        ("sqlite:////nonexistent-dir/deeper/x.db", "Cannot connect to the database at sqlite"),
    ],
)
def test_bad_database_url_gives_a_clear_message(tmp_path, url, message):
    result = _orderflow("db", "current", DATABASE_URL=url, ORDERFLOW_INSTANCE_PATH=str(tmp_path))
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("command", [("worker",), ("serve", "--port", "5998")])
def test_unreachable_queue_gives_a_clear_message(app, env, command):
    result = _orderflow(*command, **env, REDIS_URL="redis://:s3cret@127.0.0.1:1/0")
    assert result.returncode == 1
    assert "Cannot reach the background queue at redis://:***@127.0.0.1:1/0" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout


def test_serve_refuses_an_unmigrated_database(tmp_path):
    result = _orderflow(
        "serve",
        "--port",
        "5999",
        DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}",
        ORDERFLOW_INSTANCE_PATH=str(tmp_path),
    )
    assert result.returncode == 1
    assert "Run: orderflow db upgrade" in result.stderr


def test_order_ingest_reads_json_lines_in_batches_and_refuses_a_bad_batch_whole(app, run, tmp_path):
    import simplejson

    from app.db import get_db
    from app.models import Order

    from .flows_fixtures import order_doc

    docs = [order_doc(f"CLI-{i}") for i in range(5)]
    lines = tmp_path / "orders.jsonl"
    lines.write_text("\n".join(simplejson.dumps(d, use_decimal=True) for d in docs) + "\n")
    result = run("order", "ingest", str(lines), "--batch", "2")
    assert result.exit_code == 0, result.output
    assert result.output.count(": stored;") == 5 and "5 stored, 0 seen before" in result.output
    again = run("order", "ingest", str(lines))
    assert "0 stored, 5 seen before" in again.output

    bad = [order_doc("CLI-5"), order_doc("CLI-6"), {**order_doc("CLI-7"), "lines": "none"}]
    listed = tmp_path / "bad.json"
    listed.write_text(simplejson.dumps(bad, use_decimal=True))
    refused = run("order", "ingest", str(listed), "--batch", "2")
    assert refused.exit_code == 1
    assert "orders 3-3 refused (2 orders before it were stored)" in refused.output
    assert 'order 3 /lines: “Lines” must be a list, e.g. `["a", "b"]`.' in refused.output
    with get_db(app).session() as db:
        stored = sorted(db.scalars(select(Order.external_id)))
    assert stored == [f"CLI-{i}" for i in range(7)]


def test_channel_mapping_can_be_tried_and_set_from_the_shell(app, run, tmp_path):
    import json

    assert (
        run("channel", "add", "tb", "--kind", "taobao", "--order-channel", "taobao").exit_code == 0
    )
    shown = run("channel", "mapping", "tb")
    assert json.loads(shown.output)["effective"]["fields"]["external_id"]["path"] == "trade.tid"
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"fields": {"urgent": {"const": True}}}))
    payload = tmp_path / "trade.json"
    payload.write_text(json.dumps({"trade": {"tid": "T1", "payment": "9.90", "orders": {"order": [
        {"outer_sku_id": "SKU-1", "num": 1, "price": "9.90"}]}}}))  # fmt: skip
    tried = run("channel", "mapping", "tb", "--set", str(mine), "--try", str(payload))
    assert tried.exit_code == 0, tried.output
    assert '"urgent": true' in tried.output and "Mapping of tb saved." in tried.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"fields": {"amount": {"path": "x", "type": "money"}}}))
    refused = run("channel", "mapping", "tb", "--set", str(bad))
    assert refused.exit_code == 1
    assert "/fields/amount/type: amount: type money is unknown; one of string" in refused.output
