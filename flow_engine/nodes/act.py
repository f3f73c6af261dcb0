"""Acting nodes (data and messages): set, tag, webhook, notify, alert, merge."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flow_engine._durations import parse_duration
from flow_engine.effect_kinds import EffectKind, SimulatedWorld
from flow_engine.errors import NodeError
from flow_engine.events import EffectResult, TimerFired
from flow_engine.model import Node
from flow_engine.nodes._people import compile_people, resolve_people
from flow_engine.nodes.base import (
    ASSIGNEE,
    DURATION,
    EXPRESSION,
    FALLBACK,
    I18N,
    NO_INPUTS,
    VAR_NAME,
    CompileEnv,
    HandlerBase,
    Ignore,
    Next,
    Runtime,
    Wait,
    field,
    input_reader,
    obj,
)
from flow_engine.outbound import EXAMPLE_URL, RESERVED_HEADERS, call_issues
from flow_engine.state import Effect, Token
from rule_dsl import Expression

_PATH = {"type": "string", "pattern": "^(order|customer|vars)(\\.[A-Za-z_][A-Za-z0-9_]*)+$"}
_PARAMS = {"type": "object", "additionalProperties": EXPRESSION, "maxProperties": 50}
_SIMPLE = {"string": "string", "number": "number", "integer": "number", "boolean": "boolean"}


def _declared_type(schema: Mapping[str, Any], parts: list[str]) -> str | None:
    node: Any = schema
    for part in parts:
        props = node.get("properties") if isinstance(node, Mapping) else None
        if not isinstance(props, Mapping) or part not in props:
            return None
        node = props[part]
    kind = node.get("type") if isinstance(node, Mapping) else None
    return _SIMPLE.get(kind) if isinstance(kind, str) else None


def _declared(schema: Mapping[str, Any], parts: list[str]) -> bool:
    node: Any = schema
    for part in parts:
        props = node.get("properties") if isinstance(node, Mapping) else None
        if not isinstance(props, Mapping) or part not in props:
            return False
        node = props[part]
    return True


Params = tuple[tuple[str, Expression], ...]


def compile_params(params: Mapping[str, str], env: CompileEnv, rel: str) -> Params:
    """Compile {name: expression} into (name, expression) pairs.

    An expression that does not compile is left out: its issue keeps the flow from running.
    """
    pairs = ((name, env.expression(src, f"{rel}/{name}")) for name, src in (params or {}).items())
    return tuple((name, expr) for name, expr in pairs if expr is not None)


def eval_params(params: Params, rt: Runtime) -> dict[str, Any]:
    """Evaluate compiled params against the run context."""
    return {name: expr(rt.context, now=rt.now) for name, expr in params}


class SetHandler(HandlerBase):
    type = "set"
    family = "act"
    title = {"en": "Set fields", "zh": "设置字段"}
    config_schema = obj(
        "Set fields",
        "设置字段",
        {
            "fields": field(
                {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 100,
                    "items": obj(
                        "Assignment",
                        "赋值",
                        {
                            "path": field(
                                _PATH,
                                "Field",
                                "字段",
                                "order.x, customer.x or vars.x",
                                "order.x、customer.x 或 vars.x",
                            ),
                            "expression": field(EXPRESSION, "Value", "值"),
                        },
                        required=("path", "expression"),
                    ),
                },
                "Fields",
                "字段",
                "Evaluated in order; later fields see earlier ones.",
                "按顺序计算；后面的字段可以用到前面字段的值。",
            )
        },
        required=("fields",),
    )

    def var_schema(self, node: Node) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for item in node.config.get("fields", ()):
            parts = str(item.get("path", "")).split(".") if isinstance(item, Mapping) else []
            if len(parts) >= 2 and parts[0] == "vars":
                out[parts[1]] = {}
        return out

    def compile(self, node: Node, env: CompileEnv) -> Any:
        out = []
        for i, item in enumerate(node.config["fields"]):
            parts = item["path"].split(".")
            if parts[0] == "customer":
                parts = ["order", *parts]
            expect = _declared_type(env.context_schema, parts)
            if parts[:2] == ["order", "custom"] and not _declared(env.context_schema, parts):
                env.warning("field_not_declared", f"fields/{i}/path", field=item["path"])
            expr = env.expression(item["expression"], f"fields/{i}/expression", expect=expect)
            out.append((item["path"], expr, input_reader(expr.paths) if expr else NO_INPUTS))
        return tuple(out)

    def run(self, prep: Any, rt: Runtime) -> Next:
        inputs: dict[str, Any] = {}
        for path, expr, read_inputs in prep:
            inputs.update(read_inputs(rt.context))
            rt.set_path(path, expr(rt.context, now=rt.now))
        return Next(None, {"inputs": inputs})


class TagHandler(HandlerBase):
    type = "tag"
    family = "act"
    title = {"en": "Tag", "zh": "打标签"}
    config_schema = obj(
        "Tag",
        "打标签",
        {
            "tags": field(
                {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 50},
                "Tags",
                "标签",
            ),
            "expression": field(
                EXPRESSION,
                "Computed tags",
                "计算标签",
                "Expression returning a tag or a list.",
                "返回一个标签或标签列表的表达式。",
            ),
        },
        description="Adds tags to order.tags (no duplicates).",
        description_zh="向 order.tags 添加标签（不重复）。",
    )

    def compile(self, node: Node, env: CompileEnv) -> Any:
        src = node.config.get("expression")
        expr = env.expression(src, "expression") if src else None
        return (tuple(node.config.get("tags", ())), expr)

    def run(self, prep: Any, rt: Runtime) -> Next:
        tags, expr = prep
        wanted = list(tags)
        if expr is not None:
            value = expr(rt.context, now=rt.now)
            extra = value if isinstance(value, list | tuple) else [value]
            wanted += [str(v) for v in extra if v is not None]
        return Next(None, {"added": rt.add_tags(wanted)})


def _answer_webhook(world: SimulatedWorld, effect: Effect) -> EffectResult | None:
    """In a simulation an awaited call answers ``ok`` with the response given for its node."""
    if not effect.awaited:
        return None
    return EffectResult(effect.id, "ok", world.responses.get(effect.node_id or "", {}))


class WebhookHandler(HandlerBase):
    type = "webhook"
    effects = (EffectKind("webhook", _answer_webhook),)
    family = "act"
    title = {"en": "Call webhook", "zh": "调用 Webhook"}
    config_schema = obj(
        "Call webhook",
        "调用 Webhook",
        {
            "url": field(
                {"type": "string", "minLength": 1, "examples": [EXAMPLE_URL]}, "URL", "地址"
            ),
            "method": field(
                {"enum": ["POST", "PUT", "PATCH"], "default": "POST"}, "Method", "方法"
            ),
            "headers": field(
                {"type": "object", "additionalProperties": {"type": "string"}},
                "Headers",
                "请求头",
                "Extra headers; the ones the outbox sets itself are reserved: "
                + ", ".join(RESERVED_HEADERS),
                "附加请求头；发件箱自行设置的请求头为保留项："
                + "、".join(f"`{h}`" for h in RESERVED_HEADERS),
            ),
            "body": field(
                _PARAMS, "Body fields", "请求体字段", "name -> expression", "名称 → 表达式"
            ),
            "await_response": field(
                {"type": "boolean", "default": False},
                "Wait for the response",
                "等待响应",
                "Pause the run until the app reports the call's result; a failure is an incident.",
                "暂停运行，直到系统报告调用结果；调用失败会成为异常。",
            ),
            "store_as": field(VAR_NAME, "Store response as", "响应变量"),
        },
        required=("url",),
        description="Outbound HTTP call delivered by the outbox, idempotency key = effect id.",
        description_zh="由发件箱投递的外发 HTTP 调用，幂等键为副作用编号。",
    )

    def var_schema(self, node: Node) -> dict[str, Any]:
        name = node.config.get("store_as")
        return {name: {}} if name else {}

    def compile(self, node: Node, env: CompileEnv) -> Any:
        cfg = node.config
        env.issues.extend(call_issues(cfg, env.base_path, node.id))
        return (
            cfg["url"],
            cfg.get("method", "POST"),
            dict(cfg.get("headers", {})),
            compile_params(cfg.get("body", {}), env, "body"),
            bool(cfg.get("await_response", False)),
            cfg.get("store_as"),
        )

    def run(self, prep: Any, rt: Runtime) -> Next | Wait:
        url, method, headers, body, awaited, _ = prep
        payload = {"url": url, "method": method, "headers": headers, "body": eval_params(body, rt)}
        effect = rt.emit("webhook", payload, awaited=awaited)
        if not awaited:
            return Next(None, {"effect": effect.id})
        return Wait({"kind": "effect", "keys": ["effect:" + effect.id], "effect_id": effect.id})

    def resume(self, prep: Any, rt: Runtime, token: Token, event: Any) -> Next | Ignore:
        if not isinstance(event, EffectResult):
            return Ignore("not_waiting")
        if event.status != "ok":
            raise NodeError(
                "webhook_failed",
                f"webhook {prep[0]} failed: {dict(event.data)}",
                f"Webhook {prep[0]} 调用失败：{dict(event.data)}",
                details={"effect_id": event.effect_id, **event.data},
            )
        if prep[5]:
            rt.set_var(prep[5], dict(event.data))
        return Next(None, {"status": event.status})


# A channel name when the embedding app has not said which channels it has.
CHANNEL_NAME = "^[a-z][a-z0-9_]{0,31}$"


def _notify_schema(channels: Mapping[str, str] | None) -> dict[str, Any]:
    names: dict[str, Any] = (
        {"enum": list(channels)}
        if channels is not None
        else {"type": "string", "pattern": CHANNEL_NAME}
    )
    return obj(
        "Notify",
        "发送通知",
        {
            "to": field(
                {"type": "array", "minItems": 1, "items": ASSIGNEE}, "Recipients", "接收人"
            ),
            "channels": field(
                {"type": "array", "minItems": 1, "items": names},
                "Channels",
                "渠道",
                enum_zh=dict(channels) if channels is not None else None,
            ),
            "message": field(
                I18N,
                "Message",
                "消息",
                "Text with {param} placeholders.",
                "文本，可用 {参数} 占位符。",
            ),
            "params": field(_PARAMS, "Parameters", "参数"),
            "fallback": field(
                FALLBACK,
                "Fallback person",
                "后备接收人",
                "Notified when a recipient entry reaches nobody.",
                "某个接收人条目找不到人时，改为通知此人。",
            ),
        },
        required=("to", "message"),
    )


class NotifyHandler(HandlerBase):
    """Emits a ``notify`` effect to the people and channels it names.

    ``channels`` are the channels a node may name, each with its Chinese name: the embedding
    app's own (OrderFlow's in-app inbox and notification channel kinds). Without them any
    lowercase name is accepted: the engine only passes the names on.
    """

    type = "notify"
    effects = (EffectKind("notify"),)
    family = "act"
    title = {"en": "Notify", "zh": "发送通知"}

    def __init__(self, channels: Mapping[str, str] | None = None) -> None:
        self.channels = dict(channels) if channels is not None else None
        self.config_schema = _notify_schema(self.channels)

    def compile(self, node: Node, env: CompileEnv) -> Any:
        cfg = node.config
        return (
            compile_people(cfg["to"], env, "to", fallback=cfg.get("fallback"), contacts=True),
            tuple(cfg.get("channels", ("inbox",))),
            dict(cfg["message"]),
            compile_params(cfg.get("params", {}), env, "params"),
        )

    def run(self, prep: Any, rt: Runtime) -> Next:
        people, channels, message, params = prep
        payload = {
            "recipients": resolve_people(people, rt, code="no_recipient"),
            "channels": list(channels),
            "message": message,
            "params": eval_params(params, rt),
        }
        return Next(None, {"effect": rt.emit("notify", payload).id})


class AlertHandler(HandlerBase):
    type = "alert"
    effects = (EffectKind("alert"),)
    family = "act"
    title = {"en": "Raise alert", "zh": "发出告警"}
    config_schema = obj(
        "Raise alert",
        "发出告警",
        {
            "severity": field(
                {"enum": ["info", "warning", "critical"]},
                "Severity",
                "级别",
                enum_zh={"info": "提示", "warning": "警告", "critical": "严重"},
            ),
            "code": field({"type": "string", "pattern": "^[a-z][a-z0-9_.]{0,63}$"}, "Code", "代码"),
            "message": field(I18N, "Message", "消息"),
            "params": field(_PARAMS, "Parameters", "参数"),
        },
        required=("severity", "code", "message"),
    )

    def compile(self, node: Node, env: CompileEnv) -> Any:
        cfg = node.config
        params = compile_params(cfg.get("params", {}), env, "params")
        return (cfg["severity"], cfg["code"], dict(cfg["message"]), params)

    def run(self, prep: Any, rt: Runtime) -> Next:
        severity, code, message, params = prep
        payload = {
            "severity": severity,
            "code": code,
            "message": message,
            "params": eval_params(params, rt),
        }
        return Next(None, {"effect": rt.emit("alert", payload).id, "severity": severity})


def merge_key(order: Mapping[str, Any]) -> str:
    """Default merge group: same customer, same shipping address."""
    customer = order.get("customer") or {}
    addr = order.get("shipping_address") or {}
    parts = [str(customer.get("id", ""))]
    parts += [str(addr.get(k, "")) for k in ("country", "province", "city", "district", "street")]
    return "|".join(parts)


def _group_alone(world: SimulatedWorld, effect: Effect) -> EffectResult:
    """A simulation sees one order: its group holds it alone and closes at the window's end."""
    payload = effect.payload
    group = {"group_key": payload["group_key"], "shipment": f"SIM-{effect.id}",
             "closes_at": payload["until"], "orders": [payload["order_id"]],
             "opened": True}  # fmt: skip
    return EffectResult(effect.id, "grouped", group)


class MergeHandler(HandlerBase):
    type = "merge"
    effects = (
        EffectKind("merge", _group_alone),
        EffectKind("merge_left"),
        EffectKind("merge_closed"),
    )
    family = "act"
    title = {"en": "Merge orders", "zh": "合单"}
    waits = True
    config_schema = obj(
        "Merge orders",
        "合单",
        {
            "window": field(
                DURATION,
                "Hold window",
                "等待窗口",
                "How long the first order of a group waits for the others to join it.",
                "组里第一单等待其他订单加入的时长。",
            ),
            "key": field(
                EXPRESSION,
                "Group key",
                "合单键",
                "Defaults to customer id + shipping address.",
                "默认为客户编号 + 收货地址。",
            ),
        },
        required=("window",),
        description="Holds the order and combines it with the same customer's open orders to "
        "the same address into one shipment: the first order of a group opens it for the "
        "window, later ones join it, and all of them continue when the window closes.",
        description_zh="暂存订单，把同一客户发往同一地址的未完成订单合成一次发货：组里第一单开启等待窗口，之后的订单加入，窗口关闭时全部继续。",
    )

    def var_schema(self, node: Node) -> dict[str, Any]:
        props = {
            "group_key": {"type": "string"},
            "shipment": {"type": "string"},
            "closes_at": {"type": "string"},
            "orders": {"type": "array", "items": {"type": "string"}},
            "opened": {"type": "boolean"},
        }
        return {"merge": {"type": "object", "properties": props}}

    def compile(self, node: Node, env: CompileEnv) -> Any:
        src = node.config.get("key")
        key = env.expression(src, "key", expect="string") if src else None
        return (parse_duration(node.config["window"]), key)

    def run(self, prep: Any, rt: Runtime) -> Wait:
        window, key_expr = prep
        key = key_expr(rt.context, now=rt.now) if key_expr else merge_key(rt.context["order"])
        if not isinstance(key, str) or not key:
            raise NodeError("no_merge_key", "the merge key is empty", "合单键为空")
        until = rt.now + window
        order_id = rt.context["order"].get("external_id")
        payload = {"group_key": key, "order_id": order_id, "until": until.isoformat()}
        # The app puts the order into its group (opening one if none is open) and answers
        # with the group's shipment and closing time: the order waits for that time, not its own.
        effect = rt.emit("merge", payload, awaited=True)
        return Wait({"kind": "effect", "keys": ["effect:" + effect.id], "effect_id": effect.id})

    def resume(self, prep: Any, rt: Runtime, token: Token, event: Any) -> Next | Wait | Ignore:
        if isinstance(event, TimerFired):
            return _window_closed(rt, ((token.wait or {}).get("group") or {}).get("shipment"))
        if not isinstance(event, EffectResult):
            return Ignore("not_waiting")
        data = event.data
        if event.status != "grouped" or not data.get("shipment") or not data.get("closes_at"):
            raise NodeError(
                "merge_failed",
                f"the order could not be grouped: {event.status}",
                f"合单失败：{event.status}",
                details=dict(data),
            )
        closes_at = _aware(data["closes_at"])
        group = {
            "group_key": data.get("group_key"),
            "shipment": str(data["shipment"]),
            "closes_at": closes_at.isoformat(),
            "orders": list(data.get("orders") or ()),
            "opened": bool(data.get("opened")),
        }
        rt.set_var("merge", group)
        if closes_at <= rt.now:
            return _window_closed(rt, group["shipment"])
        timer = rt.schedule_timer(closes_at, "merge_window")
        keys = ["timer:" + timer]
        return Wait({"kind": "timer", "keys": keys, "timers": [timer], "group": group})

    def cancel(self, prep: Any, rt: Runtime, token: Token) -> None:
        super().cancel(prep, rt, token)
        group = (token.wait or {}).get("group")
        if group:  # a cancelled order leaves its group; the others still ship together
            order_id = rt.context["order"].get("external_id")
            rt.emit("merge_left", {"shipment": group["shipment"], "order_id": order_id})


def _window_closed(rt: Runtime, shipment: Any) -> Next:
    """The group ships: the app closes it (once) and the order continues."""
    rt.emit("merge_closed", {"shipment": shipment})
    return Next(None, {"window_closed": True, "shipment": shipment})


def _aware(text: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        raise NodeError(
            "merge_failed", f"bad closing time {text!r}", f"合单截止时间无效：{text!r}"
        ) from None
    if moment.tzinfo is None:
        raise NodeError("merge_failed", "closing time without zone", "合单截止时间缺少时区")
    return moment
