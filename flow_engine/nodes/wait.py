"""Waiting nodes: timer (duration or datetime expression) and wait_event (external status)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from flow_engine._durations import parse_duration
from flow_engine.errors import NodeError
from flow_engine.events import ExternalEvent, TimerFired
from flow_engine.model import Node
from flow_engine.nodes.base import (
    DURATION,
    EXPRESSION,
    VAR_NAME,
    CompileEnv,
    Exits,
    HandlerBase,
    Ignore,
    Next,
    Runtime,
    Wait,
    field,
    obj,
)
from flow_engine.state import Token


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise NodeError(
                "bad_datetime", f"{value!r} is not a datetime", f"{value!r} 不是日期时间"
            ) from None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    raise NodeError(
        "bad_datetime",
        f"timer expression gave {value!r}, not a datetime",
        f"定时表达式的结果 {value!r} 不是日期时间",
    )


class TimerHandler(HandlerBase):
    type = "timer"
    family = "wait"
    title = {"en": "Timer", "zh": "定时等待"}
    waits = True
    config_schema = {
        **obj(
            "Timer",
            "定时等待",
            {
                "duration": field(DURATION, "Wait for", "等待时长"),
                "until": field(
                    EXPRESSION,
                    "Wait until",
                    "等待至",
                    "Datetime expression, e.g. order.promised_at - 24h",
                    "日期时间表达式，例如 order.promised_at - 24h",
                ),
            },
            description="Continues when the duration has passed or the datetime is reached "
            "(at once if it is already past).",
            description_zh="等到时长过去或到达指定时间后继续（时间已过则立即继续）。",
        ),
        "oneOf": [{"required": ["duration"]}, {"required": ["until"]}],
    }

    def compile(self, node: Node, env: CompileEnv) -> Any:
        if "duration" in node.config:
            return ("duration", parse_duration(node.config["duration"]))
        return ("until", env.expression(node.config["until"], "until"))

    def run(self, prep: Any, rt: Runtime) -> Next | Wait:
        kind, value = prep
        due = rt.now + value if kind == "duration" else _as_datetime(value(rt.context, now=rt.now))
        if due <= rt.now:
            return Next(None, {"due": due.isoformat(), "already_due": True})
        timer = rt.schedule_timer(due, "timer")
        return Wait({"kind": "timer", "keys": ["timer:" + timer], "timers": [timer]}, {"due": due})

    def resume(self, prep: Any, rt: Runtime, token: Token, event: Any) -> Next | Ignore:
        if isinstance(event, TimerFired):
            return Next(None, {"fired": event.timer_id})
        return Ignore("not_waiting")


class WaitEventHandler(HandlerBase):
    type = "wait_event"
    exits = Exits(
        required=("received",), optional=(("timeout", {"path": "timeout", "present": True}),)
    )
    family = "wait"
    title = {"en": "Wait for event", "zh": "等待事件"}
    waits = True
    config_schema = obj(
        "Wait for event",
        "等待事件",
        {
            "event": field(
                {"type": "string", "pattern": "^[a-z][a-z0-9_.]{0,63}$"},
                "Event",
                "事件",
                "External status name, e.g. shipped (from the WMS) or paid.",
                "外部状态名，例如 `shipped`（来自 WMS）或 `paid`。",
            ),
            "timeout": field(
                DURATION,
                "Timeout",
                "超时",
                "Leave by 'timeout' after this long.",
                "超过这个时长后走“超时”出口。",
            ),
            "store_as": field(VAR_NAME, "Store payload as", "事件数据变量"),
        },
        required=("event",),
        description="Leaves by 'received' when the event arrives.",
        description_zh="事件到达时走“已收到”出口。",
    )

    def var_schema(self, node: Node) -> dict[str, Any]:
        name = node.config.get("store_as")
        return {name: {"type": "object"}} if name else {}

    def compile(self, node: Node, env: CompileEnv) -> Any:
        cfg = node.config
        timeout = parse_duration(cfg["timeout"]) if "timeout" in cfg else None
        return (cfg["event"], timeout, cfg.get("store_as"))

    def run(self, prep: Any, rt: Runtime) -> Wait:
        name, timeout, _ = prep
        keys, timers = ["event:" + name], []
        if timeout is not None:
            timers.append(rt.schedule_timer(rt.now + timeout, "event_timeout"))
            keys.append("timer:" + timers[0])
        return Wait({"kind": "event", "event": name, "keys": keys, "timers": timers})

    def resume(self, prep: Any, rt: Runtime, token: Token, event: Any) -> Next | Ignore:
        timers = (token.wait or {}).get("timers", ())
        if isinstance(event, TimerFired):
            return Next("timeout", {"timer": event.timer_id})
        if not isinstance(event, ExternalEvent):
            return Ignore("not_waiting")
        for timer_id in timers:
            rt.cancel_timer(timer_id)
        if prep[2]:
            rt.set_var(prep[2], dict(event.payload))
        return Next("received", {"event": event.name, "payload": dict(event.payload)})
