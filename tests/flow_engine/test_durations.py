"""Durations as people write them: one parser, its canonical form, and the messages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flow_engine import compile_flow, normalise_durations, validate_flow
from flow_engine._durations import DurationError, normalise_duration, parse_duration

from .helpers import chain, edge, flow_doc, node

# (written, canonical) in the forms supervisors type, Chinese and English.
READ = [
    ("4h", "4h"),
    ("2d 4h", "2d4h"),
    ("2d4h", "2d4h"),
    ("48h", "48h"),
    ("4小时", "4h"),
    ("4 个小时", "4h"),
    ("2天", "2d"),
    ("3天4小时", "3d4h"),
    ("30分钟", "30m"),
    ("90 分钟", "90m"),
    ("半小时", "30m"),
    ("1个半小时", "1h30m"),
    ("两个半小时", "2h30m"),
    ("一天半", "1d12h"),
    ("十二小时", "12h"),
    ("1小时零5分钟", "1h5m"),
    ("1周", "1w"),
    ("45秒", "45s"),
    ("2 hours", "2h"),
    ("30 min", "30m"),
    ("2 Hours 30 Minutes", "2h30m"),
    ("1 day, 4 hours", "1d4h"),
    ("1.5h", "1h30m"),
    ("0.5d", "12h"),
    ("30m 1h", "1h30m"),
]

# (written, reason) for what is refused.
REFUSED = [
    ("4小时x", "unrecognised"),
    ("", "unrecognised"),
    ("4", "unrecognised"),
    ("h", "unrecognised"),
    ("3 months", "unrecognised"),
    ("1年", "unrecognised"),
    ("1.333h", "unrecognised"),
    ("-2h", "unrecognised"),
    ("半半小时", "unrecognised"),
    ("99999999w", "too_long"),
    ("4h" * 30, "unrecognised"),
]


@pytest.mark.parametrize(("text", "canonical"), READ)
def test_written_duration_has_canonical_form(text: str, canonical: str) -> None:
    assert normalise_duration(text) == canonical
    assert normalise_duration(canonical) == canonical
    assert parse_duration(text) == parse_duration(canonical)


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_unreadable_duration_is_refused(text: str, reason: str) -> None:
    with pytest.raises(DurationError) as err:
        normalise_duration(text)
    assert err.value.reason == reason


def test_parse_gives_the_length() -> None:
    assert parse_duration("1个半小时") == timedelta(minutes=90)
    assert parse_duration("2d 4h") == timedelta(days=2, hours=4)


def _approval_flow(duration: str, reminders: list[str] | None = None) -> dict:
    sla = {"duration": duration, **({"reminders": reminders} if reminders else {})}
    approval = node("big", "approval", assignees=[{"role": "finance"}], sla=sla)
    approval["name"] = {"zh": "大额审批", "en": "Large order approval"}
    nodes = [
        node("start", "start"),
        approval,
        node("ok", "end", outcome="approved"),
        node("no", "end", outcome="rejected"),
        node("late", "end", outcome="timeout"),
    ]
    edges = [
        edge("start", "big"),
        edge("big", "ok", "approved"),
        edge("big", "no", "rejected"),
        edge("big", "late", "timeout"),
    ]
    return flow_doc(nodes, edges)


# (field value, code, English message, Chinese message)
MESSAGES = [
    (
        "4小时x",
        "invalid_duration",
        "Node 'Large order approval': SLA › Decide within '4小时x' is not a duration we can "
        "read. Write e.g. 4h, 2d 4h, 30m, 2 hours, 30 min, 1.5h.",
        "节点「大额审批」的“时限 · 处理时限”「4小时x」无法识别。"
        "可以写：4h、2d 4h、4小时、2天、30分钟、半小时。",
    ),
    (
        "20000w",
        "duration_too_long",
        "Node 'Large order approval': SLA › Decide within '20000w' is longer than 10 years; "
        "give a shorter duration.",
        "节点「大额审批」的“时限 · 处理时限”「20000w」超过 10 年，请填写更短的时长。",
    ),
]


@pytest.mark.parametrize(("value", "code", "en", "zh"), MESSAGES)
def test_validation_names_node_and_field(value: str, code: str, en: str, zh: str) -> None:
    issues = validate_flow(_approval_flow(value))
    assert [(i.code, i.path, i.node_id) for i in issues] == [
        (code, "/nodes/1/config/sla/duration", "big")
    ]
    assert (issues[0].message, issues[0].message_zh) == (en, zh)


def test_reminder_message_names_the_item() -> None:
    [issue] = validate_flow(_approval_flow("4h", ["1h", "两小时吧"]))
    assert issue.path == "/nodes/1/config/sla/reminders/1"
    assert "“时限 · 提醒时间 · 第 2 项”「两小时吧」" in issue.message_zh
    assert "SLA › Remind after › #2 '两小时吧'" in issue.message


def test_written_forms_validate_and_compile() -> None:
    doc = _approval_flow("4小时", ["半小时", "2 hours"])
    assert validate_flow(doc) == []
    compiled = compile_flow(doc)
    assert compiled is not None


def test_normalise_rewrites_every_duration_field_and_leaves_the_rest() -> None:
    doc = _approval_flow("2d 4h", ["半小时", "oops"])
    timer = chain(node("wait", "timer", duration="1个半小时"))
    merged = {**doc, "nodes": doc["nodes"] + [timer["nodes"][1]]}
    out = normalise_durations(merged)
    assert out["nodes"][1]["config"]["sla"] == {"duration": "2d4h", "reminders": ["30m", "oops"]}
    assert out["nodes"][1]["name"] == {"zh": "大额审批", "en": "Large order approval"}
    assert out["nodes"][-1]["config"] == {"duration": "1h30m"}
    assert merged["nodes"][1]["config"]["sla"]["duration"] == "2d 4h"  # input untouched
    assert normalise_durations(out) == out
