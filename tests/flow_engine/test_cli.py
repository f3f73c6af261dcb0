"""``orderflow flow validate`` and ``orderflow flow simulate`` through click's CliRunner."""

from __future__ import annotations

import json

from click.testing import CliRunner

from app.commands.flow import flow
from flow_engine import validate_flow
from tests.flow_engine.helpers import BENCH_FLOWS, FIXTURES, load_json

ROUTING = str(BENCH_FLOWS / "routing.flow.json")
REF = str(BENCH_FLOWS / "ref.json")


def _invoke(*args):
    return CliRunner().invoke(flow, list(args), catch_exceptions=False)


def test_validate_a_valid_flow_exits_zero():
    result = _invoke("validate", ROUTING)
    assert result.exit_code == 0
    assert "is valid" in result.output


def test_validate_prints_every_error_and_exits_one():
    path = FIXTURES / "error-many-faults.json"
    errors = [i for i in validate_flow(load_json(path)) if i.severity == "error"]
    result = _invoke("validate", str(path))
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == len(errors) >= 5
    assert "dangling_edge at /edges/2/to" in result.output
    assert "^" in result.output, "expression errors show the caret"


def test_validate_in_chinese_and_as_json():
    path = str(FIXTURES / "error-cyclic.json")
    zh = _invoke("validate", path, "--lang", "zh")
    assert zh.exit_code == 1 and "循环" in zh.output
    as_json = _invoke("validate", path, "--json")
    (issue,) = json.loads(as_json.output)
    assert issue["code"] == "cycle_without_wait" and issue["node_id"] == "check"


def test_validate_unreadable_file_is_a_clean_error(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(flow, ["validate", str(broken)])
    assert result.exit_code == 1
    assert "cannot read flow" in result.output


def test_simulate_prints_path_decisions_fields_effects_and_outcome(tmp_path):
    sample = load_json(BENCH_FLOWS / "orders.json")[7]  # cross-border order
    order = tmp_path / "order.json"
    order.write_text(json.dumps(sample), encoding="utf-8")
    result = _invoke(
        "simulate",
        ROUTING,
        "--order",
        str(order),
        "--ref",
        REF,
        "--now",
        "2024-06-03T09:00:00+08:00",
    )
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["status"] == "completed" and report["outcome"] == "routed"
    assert report["path"][:3] == ["start", "channel", "customs"]
    assert report["fields_set"]["vars.customs"] is True
    assert {e["kind"] for e in report["effects"]} >= {"reserve_inventory", "webhook"}
    channel = next(s for s in report["steps"] if s["node"] == "channel")
    assert channel["branch"] == "cross_border" and channel["inputs"]["order.channel"] == "shopify"
    assert report["pending"] == []


def test_simulate_with_events_and_pending_wait(tmp_path):
    sample = load_json(BENCH_FLOWS / "orders.json")[6]  # B2B order needing approval
    order = tmp_path / "order.json"
    order.write_text(json.dumps(sample["order"]), encoding="utf-8")
    pending = json.loads(
        _invoke("simulate", ROUTING, "--order", str(order), "--ref", REF,
                "--now", "2024-06-03T09:00:00+08:00").output
    )  # fmt: skip
    assert pending["status"] == "waiting"
    (wait,) = pending["pending"]
    assert wait["node"] == "approve" and wait["waiting_for"] == "approval"
    assert {t["purpose"] for t in wait["timers"]} == {"sla_reminder", "sla_deadline"}
    events = tmp_path / "events.json"
    events.write_text(
        json.dumps([{"type": "approval_decided", "node": "approve", "actor": "li",
                     "decision": "rejected", "at": "2024-06-03T10:00:00+08:00"}]),
        encoding="utf-8",
    )  # fmt: skip
    done = json.loads(
        _invoke("simulate", ROUTING, "--order", str(order), "--ref", REF, "--events", str(events),
                "--now", "2024-06-03T09:00:00+08:00").output
    )  # fmt: skip
    assert done["outcome"] == "rejected"
    decided = [s for s in done["steps"] if s["event"] == "event_received"]
    assert decided[0]["actor"] == "li"


def test_simulate_refuses_an_invalid_flow(tmp_path):
    order = tmp_path / "order.json"
    order.write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(
        flow, ["simulate", str(FIXTURES / "error-two-starts.json"), "--order", str(order)]
    )
    assert result.exit_code == 1
    assert "multiple_starts" in result.output
