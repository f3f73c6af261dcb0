"""Events that advance a run, as frozen dataclasses with a JSON form.

``OrderArrived`` starts a run; the others are delivered to ``step()`` by the app: approval
decisions, delegations, 加签, 退回, resubmissions and 抄送, due timers, external statuses, answers to awaited effects, retries
after an incident and cancellations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flow_engine._codec import decode, encode
from flow_engine.errors import FlowStateError


@dataclass(frozen=True, slots=True)
class OrderArrived:
    """The order that starts a run (start_run() applies it to a fresh snapshot)."""

    type: ClassVar[str] = "order_arrived"
    order: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ApprovalDecided:
    """An approver decided a task: ``decision`` is ``approved`` or ``rejected``."""

    type: ClassVar[str] = "approval_decided"
    task_id: str
    actor: str
    decision: str
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class ApprovalDelegated:
    """An approver handed a pending task to another user."""

    type: ClassVar[str] = "approval_delegated"
    task_id: str
    actor: str
    to_user: str
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class ApprovalAdded:
    """加签: an approver adds ``user`` to their pending task, ``before`` themself (the added
    person decides first, then the task comes back to the adder) or ``after`` (the adder's
    approval counts once the added person approved too)."""

    type: ClassVar[str] = "approval_added"
    task_id: str
    actor: str
    user: str
    position: str
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class ApprovalSentBack:
    """退回: an approver sends a pending task back, with a comment, to exactly one of: a
    person who must supply more information (``to_user``), an earlier step of a sequential
    approval (``to_step``, that step's task id) or an earlier approval node of the run's path
    (``to_node``)."""

    type: ClassVar[str] = "approval_sent_back"
    task_id: str
    actor: str
    comment: str
    to_user: str | None = None
    to_step: str | None = None
    to_node: str | None = None


@dataclass(frozen=True, slots=True)
class ApprovalResubmitted:
    """The person asked for more information resubmits: the step opens again, fresh."""

    type: ClassVar[str] = "approval_resubmitted"
    task_id: str
    actor: str
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class ApprovalCopied:
    """抄送: an approver copies people on a pending task; they may read it, not decide it."""

    type: ClassVar[str] = "approval_copied"
    task_id: str
    actor: str
    users: tuple[str, ...]
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A timer scheduled by a ``schedule_timer`` effect is due."""

    type: ClassVar[str] = "timer_fired"
    timer_id: str


@dataclass(frozen=True, slots=True)
class ExternalEvent:
    """An external status arrived (e.g. ``shipped`` from the WMS)."""

    type: ClassVar[str] = "external_event"
    name: str
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EffectResult:
    """The app's answer to an awaited effect (reserve_inventory, awaited webhook)."""

    type: ClassVar[str] = "effect_result"
    effect_id: str
    status: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Retry:
    """Resume a run in ``incident`` at the failed node, optionally with corrected order data."""

    type: ClassVar[str] = "retry"
    actor: str | None = None
    order: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class CancelRun:
    """Stop the run; pending timers and approval tasks are withdrawn."""

    type: ClassVar[str] = "cancel"
    actor: str | None = None
    reason: str | None = None


Event = (
    OrderArrived
    | ApprovalDecided
    | ApprovalDelegated
    | ApprovalAdded
    | ApprovalSentBack
    | ApprovalResubmitted
    | ApprovalCopied
    | TimerFired
    | ExternalEvent
    | EffectResult
    | Retry
    | CancelRun
)
EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        OrderArrived,
        ApprovalDecided,
        ApprovalDelegated,
        ApprovalAdded,
        ApprovalSentBack,
        ApprovalResubmitted,
        ApprovalCopied,
        TimerFired,
        ExternalEvent,
        EffectResult,
        Retry,
        CancelRun,
    )
}


APPROVAL_EVENTS = (
    ApprovalDecided,
    ApprovalDelegated,
    ApprovalAdded,
    ApprovalSentBack,
    ApprovalResubmitted,
    ApprovalCopied,
)


def event_to_dict(event: Event) -> dict[str, Any]:
    """Return the JSON form of an event: ``{"type": ..., **fields}``."""
    out: dict[str, Any] = {"type": event.type}
    for name in event.__slots__:
        out[name] = encode(getattr(event, name))
    return out


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Read the JSON form of an event (FlowStateError on an unknown type or field)."""
    cls = EVENT_TYPES.get(data.get("type", ""))
    if cls is None:
        raise FlowStateError(f"unknown event type {data.get('type')!r}")
    kwargs = {k: decode(v) for k, v in data.items() if k != "type"}
    if cls is ApprovalCopied and isinstance(kwargs.get("users"), list):
        kwargs["users"] = tuple(kwargs["users"])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise FlowStateError(f"bad {cls.type} event: {exc}") from None


def event_key(event: Event) -> str | None:
    """The wait key an event is delivered to (``timer:<id>``, ``task:<id>`` ...)."""
    if isinstance(event, TimerFired):
        return "timer:" + event.timer_id
    if isinstance(event, APPROVAL_EVENTS):
        return "task:" + event.task_id
    if isinstance(event, ExternalEvent):
        return "event:" + event.name
    if isinstance(event, EffectResult):
        return "effect:" + event.effect_id
    return None


def event_summary(event: Event) -> dict[str, Any]:
    """The event's fields for the audit trail (a corrected order is not repeated there)."""
    return {name: getattr(event, name) for name in event.__slots__ if name != "order"}
