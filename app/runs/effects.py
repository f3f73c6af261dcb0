"""Performing a run's effects inside the run's transaction.

Each effect kind the engine declares (``flow_engine.effect_kinds()``: the runtime's and each
node type's) has one handler here, checked when the app starts. Handlers only write rows
(timers, tasks, reservations, outbox messages, alerts), most of them through the transaction's
:class:`Writes` buffer; anything another process must act on is woken up after commit.
A handler may answer an awaited effect at once (inventory) by returning the event to feed
back into the run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from flow_engine import Effect, EffectResult, Event, effect_kinds

from ..inventory import services as inventory
from ..jsontext import jsonable
from ..models import ApprovalTask, RunTimer
from ..shipments import services as shipments
from .readers import add_readers
from .writer import Writes

log = logging.getLogger(__name__)


@dataclass
class EffectContext:
    db: Session
    run_id: int
    order_id: int
    now: datetime
    writes: Writes


Handler = Callable[[EffectContext, Effect], Event | None]


def _schedule_timer(ctx: EffectContext, effect: Effect) -> None:
    ctx.writes.timer(
        ctx.run_id, effect.payload["timer_id"], datetime.fromisoformat(effect.payload["due"])
    )
    return None


def _cancel_timer(ctx: EffectContext, effect: Effect) -> None:
    key = effect.payload["timer_id"]
    if ctx.writes.cancel_buffered_timer(ctx.run_id, key):
        return None
    ctx.db.execute(
        update(RunTimer)
        .where(
            RunTimer.run_id == ctx.run_id, RunTimer.timer_key == key, RunTimer.status == "pending"
        )
        .values(status="cancelled")
    )
    return None


def _reserve(ctx: EffectContext, effect: Effect) -> Event:
    allocations = effect.payload["allocations"]
    answer = inventory.reserve(
        ctx.db,
        effect_id=effect.id,
        run_id=ctx.run_id,
        allocations=allocations,
        rows=ctx.writes.reservations,
        view=ctx.writes.stock,
    )
    status = answer.pop("status")
    return EffectResult(effect.id, status, answer)


def _release(ctx: EffectContext, effect: Effect) -> None:
    ctx.writes.flush_reservations()  # a hold taken earlier in this transaction is released too
    allocations = effect.payload["allocations"]
    inventory.release(ctx.db, run_id=ctx.run_id, allocations=allocations)
    if ctx.writes.stock is not None:
        ctx.writes.stock.forget(a["sku"] for a in allocations)
    return None


def _merge(ctx: EffectContext, effect: Effect) -> Event:
    payload = effect.payload
    group = shipments.join_group(
        ctx.db,
        group_key=str(payload["group_key"]),
        order_id=ctx.order_id,
        run_id=ctx.run_id,
        until=datetime.fromisoformat(payload["until"]),
        now=ctx.now,
    )
    return EffectResult(effect.id, "grouped", group)


def _merge_closed(ctx: EffectContext, effect: Effect) -> None:
    shipments.release_group(ctx.db, effect.payload.get("shipment"), ctx.now)
    return None


def _merge_left(ctx: EffectContext, effect: Effect) -> None:
    shipments.leave_group(ctx.db, effect.payload.get("shipment"), ctx.order_id, ctx.now)
    return None


def _split(ctx: EffectContext, effect: Effect) -> None:
    shipments.record_allocation(
        ctx.db,
        order_id=ctx.order_id,
        run_id=ctx.run_id,
        shipments=effect.payload.get("shipments") or (),
        now=ctx.now,
    )
    return None


def _create_tasks(ctx: EffectContext, effect: Effect) -> None:
    payload = jsonable(effect.payload)
    shown = {k: payload.get(k) for k in ("kind", "mode", "reason", "checks", "order_id")}
    for task in payload["tasks"]:
        who = task["assignee"]
        extra = {k: v for k, v in task.items() if k not in ("id", "assignee")}
        ctx.db.add(
            ApprovalTask(
                task_key=task["id"],
                run_id=ctx.run_id,
                node_id=effect.node_id or "",
                assignee=who.get("user"),
                role=who.get("role"),
                scope=who.get("scope") if who.get("role") else None,
                department=who.get("department"),
                why=who.get("why"),
                status="pending",
                due_at=datetime.fromisoformat(payload["due"]) if payload.get("due") else None,
                payload={**shown, **extra} if extra else shown,
            )
        )
    return None


def _copy(ctx: EffectContext, effect: Effect) -> None:
    """抄送: the people may read the step's tasks; each is told once."""

    payload = jsonable(effect.payload)
    people: list[dict[str, str]] = []
    for who in payload["people"]:
        # A business role or department copied is its people as the directory has them now.
        if who.get("people"):
            people.extend({"user": user} for user in who["people"])
        elif who.get("user"):
            people.append({"user": who["user"]})
        else:
            people.append(who)
    add_readers(
        ctx.db,
        run_id=ctx.run_id,
        node_id=effect.node_id or "",
        task_key=payload["task_ids"][0],
        people=people,
        reason="cc",
        added_by=payload.get("by"),
        now=ctx.now,
    )
    return None


# Told of approval tasks withdrawn in bulk, in the same transaction: registered by features
# that follow tasks (the chat apps' cards) when the app is built.
TASKS_WITHDRAWN: list[Callable[[Session, list[str]], None]] = []


def _withdraw_tasks(ctx: EffectContext, effect: Effect) -> None:
    ctx.db.execute(
        update(ApprovalTask)
        .where(
            ApprovalTask.run_id == ctx.run_id,
            ApprovalTask.task_key.in_(list(effect.payload["task_ids"])),
            ApprovalTask.status == "pending",
        )
        .values(status="withdrawn", comment=effect.payload.get("reason"))
    )
    # A bulk update passes no flush hook: whoever follows tasks (the chat cards) is told here.
    for told in TASKS_WITHDRAWN:
        told(ctx.db, list(effect.payload["task_ids"]))
    return None


def _to_outbox(ctx: EffectContext, effect: Effect) -> None:
    payload = {**jsonable(effect.payload), "awaited": effect.awaited, "node_id": effect.node_id}
    ctx.writes.outbox.append(
        {
            "run_id": ctx.run_id,
            "subscription_id": None,  # every row of one insert names the same columns
            "effect_id": effect.id,
            "kind": effect.kind,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": ctx.now,
            "created_at": ctx.now,
        }
    )
    return None


def _alert(ctx: EffectContext, effect: Effect) -> None:
    payload = jsonable(effect.payload)
    message = payload.get("message") or {}
    params = payload.get("params") or {}
    ctx.writes.alert(
        {
            "run_id": ctx.run_id,
            "order_id": ctx.order_id,
            "source": f"flow:{effect.node_id}",
            "severity": payload.get("severity", "warning"),
            "title": fill(
                str(message.get("zh") or message.get("en") or payload.get("code")), params
            ),
            "message": fill(str(message.get("en") or ""), params),
            "dedup_key": f"flow:{payload.get('code')}:order:{ctx.order_id}",
            "data": {
                "code": payload.get("code"),
                "params": payload.get("params", {}),
                "repeats": 1,
            },
        }
    )
    return None


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


# What a placeholder shows for a value the order does not have (never "None").
MISSING = "—"


def fill(text: str, params: Mapping[str, Any]) -> str:
    """Put parameter values into ``{name}`` placeholders; unknown ones stay as written and a
    missing value (null, empty) shows as ``MISSING``.

    Only plain names are replaced (no attribute or index access), so a message text can never
    reach into the values it is given.
    """
    return _PLACEHOLDER.sub(lambda m: _shown(params[m[1]]) if m[1] in params else m[0], text)


def _shown(value: Any) -> str:
    return MISSING if value is None or value == "" else str(value)


EFFECT_HANDLERS: dict[str, Handler] = {
    "schedule_timer": _schedule_timer,
    "cancel_timer": _cancel_timer,
    "reserve_inventory": _reserve,
    "release_inventory": _release,
    "create_approval_tasks": _create_tasks,
    "withdraw_approval_tasks": _withdraw_tasks,
    "copy_approval": _copy,
    "webhook": _to_outbox,
    "notify": _to_outbox,
    "merge": _merge,
    "merge_closed": _merge_closed,
    "merge_left": _merge_left,
    "split": _split,
    "alert": _alert,
}


def require_performers() -> None:
    """Refuse to start when the engine declares an effect kind no performer here takes (a node
    type registered without its performer), instead of failing on the first order that
    reaches it."""
    missing = sorted(set(effect_kinds()) - set(EFFECT_HANDLERS))
    if missing:
        raise RuntimeError(
            "no performer for the effect kinds " + ", ".join(missing) + ": add one to "
            "app.runs.effects.EFFECT_HANDLERS for each kind the node type declares"
        )


def perform(ctx: EffectContext, effect: Effect) -> Event | None:
    """Perform one effect; returns the answer event for an awaited effect answered at once."""
    handler = EFFECT_HANDLERS.get(effect.kind)
    if handler is None:
        raise ValueError(f"no handler for effect kind {effect.kind!r}")
    return handler(ctx, effect)


def effect_summary(effect: Effect) -> dict[str, Any]:
    return {"id": effect.id, "kind": effect.kind, "node": effect.node_id}
