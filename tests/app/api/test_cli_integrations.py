"""Shell commands for channels, custom order fields and outbound delivery."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from app.cli import cli


@pytest.fixture
def run(app, app_config):
    env = {
        "ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
        "DATABASE_URL": app_config["DATABASE_URL"],
        "SECRET_KEY": "test",
    }

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), env=env)

    return invoke


def test_channel_add_prints_the_secret_and_lists(run):
    made = run("channel", "add", "tmall-main", "--kind", "taobao", "--order-channel", "tmall")
    assert made.exit_code == 0, made.output
    assert "/api/v1/channels/tmall-main/webhook" in made.output
    assert re.search(r"Secret .*: \S{32,}", made.output)
    assert "tmall-main" in run("channel", "list").output
    again = run("channel", "add", "tmall-main", "--kind", "taobao", "--order-channel", "tmall")
    assert again.exit_code == 1 and "exists already" in again.output
    bad = run("channel", "add", "x", "--kind", "taobao", "--order-channel", "ebay")
    assert bad.exit_code == 1


def test_order_fields_and_outbox_commands(run):
    added = run("order-field", "add", "po_number", "--type", "string", "--label-en", "PO",
                "--label-zh", "采购单号", "--required")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "custom.po_number" in run("order-field", "list").output
    assert run("order-field", "remove", "po_number").exit_code == 0
    assert run("order-field", "list").output == ""
    assert run("outbox", "allow", "*.example.com").exit_code == 0
    own = run("outbox", "allow", "tms.example.com", "--own-secret")
    assert own.exit_code == 0 and re.search(r"signed with: whsec_\S{40,}", own.output)
    rotated = run("outbox", "host-secret", "TMS.example.com")
    assert rotated.exit_code == 0, rotated.output
    assert re.search(r"whsec_\S{40,}", rotated.output).group(0) not in own.output
    shared = run("outbox", "host-secret", "tms.example.com", "--shared")
    assert "shared secret" in shared.output
    unknown = run("outbox", "host-secret", "nowhere.example.com")
    assert unknown.exit_code == 1 and "not on the allowlist" in unknown.output
    assert run("outbox", "dead").output == ""
    missing = run("outbox", "replay", "99")
    assert missing.exit_code == 1 and "99" in missing.output
