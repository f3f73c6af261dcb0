"""The outbox deliverer of ``notify`` messages.

A ``notify`` message from a run (an approval that needs someone, a reminder, an escalation,
a flow's notify node) is first *fanned out*: its recipients are resolved to users (roles to
their members, people out of office to their delegates), each gets an in-app notification,
and each (channel, user) pair becomes a message of its own with the rendered text and, where
the channel is personal, a single-use sign-in link. Those are sent at once and, like any
outbox message, retried with backoff until they go through or are dead-lettered, each on
its own: a failing robot does not send the email twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clock
from ..config import LANGUAGES
from ..db import get_db, in_transaction
from ..models import (
    ApprovalAction,
    ApprovalTask,
    Notification,
    NotificationChannel,
    Order,
    OutboxMessage,
    Run,
    User,
    utcnow,
)
from ..queue import task_app
from ..runs import outbox
from ..runs.effects import fill
from ..wording import Wording
from . import links, messages
from .kinds import KINDS, ChannelKind, check_destinations
from .people import Contact, resolve

log = logging.getLogger(__name__)

APPROVAL_EVENTS = {
    "approval": "approval_needed",
    "escalation": "approval_escalated",
    "delegated": "approval_delegated",
    "added": "approval_needed",
    "info": "approval_info",
    "approval_reminder": "approval_reminder",
}
# Told of an SLA reminder's tasks and the moment it fired, in the fan-out's transaction:
# registered by features that follow tasks (the chat apps' cards) when the app is built.
TASKS_REMINDED: list[Callable[[Session, list[str], datetime], None]] = []


def deliver_notify(message: OutboxMessage, _secret: str) -> dict[str, Any]:
    """Deliver one ``notify`` outbox message (fan out, or send one fanned-out part)."""

    app = task_app()
    database = get_db(app)
    if "channel_id" in message.payload:
        return send_part(database, message.payload)
    children = in_transaction(database, lambda db: fan_out(db, app, message))
    results = [outbox.deliver(database, child) for child in children]
    return {"status": 200, "parts": len(children), "results": results}


def send_part(database: Any, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Send one fanned-out message through its channel, as configured now."""
    with database.session() as db:
        channel = db.get(NotificationChannel, payload["channel_id"])
        if channel is None or not channel.enabled:
            raise outbox.DeliveryError("the channel was removed or disabled", permanent=True)
        kind = KINDS.get(channel.kind)
        if kind is None:
            raise outbox.DeliveryError(
                f"no channel kind {channel.kind!r} is registered", permanent=True
            )
        config = dict(channel.config)
        check_destinations(db, kind, config)
    return kind.send(config, payload)


def task_values(db: Session, task: ApprovalTask, language: str) -> dict[str, Any]:
    """What message templates see about a task and its order."""
    order = db.scalars(
        select(Order).join(Run, Run.order_id == Order.id).where(Run.id == task.run_id)
    ).first()
    data = order.data if order is not None else {}
    customer = data.get("customer") or {}
    checks = task.payload.get("checks") or []
    reason = task.payload.get("reason") or {}
    wording = Wording(language, currency=str(data.get("currency") or "CNY"))
    amount = data.get("amount")
    return {
        "order_id": task.payload.get("order_id") or (order.external_id if order else ""),
        "customer": customer.get("name") or customer.get("id") or "",
        "amount": f"{amount:,.2f}"
        if isinstance(amount, int | float) or hasattr(amount, "quantize")
        else (amount or ""),
        "currency": data.get("currency") or "",
        "reason": reason.get(language) or reason.get("zh") or reason.get("en") or "",
        "checks_total": len(checks),
        "checks_failed": sum(1 for c in checks if not c.get("passed")),
        "check_lines": [wording.check(c) for c in checks],
        "due": clock.local(task.due_at, empty=""),
    }


def _channels(db: Session, event: str, kinds: list[str] | None) -> list[NotificationChannel]:
    """The enabled channels that carry ``event`` (of the named kinds, for a flow's message)
    and whose kind is registered."""
    found = [
        c
        for c in db.scalars(
            select(NotificationChannel)
            .where(NotificationChannel.enabled.is_(True))
            .order_by(NotificationChannel.id)
        )
        if c.kind in KINDS
    ]
    if event == "flow_message":
        return [c for c in found if kinds is None or c.kind in kinds]
    return [c for c in found if event in (c.events or ())]


def _targets(
    db: Session, payload: Mapping[str, Any], now: datetime
) -> list[tuple[User | Contact, ApprovalTask | None, str | None]]:
    """(user, task, acting for) for everyone this message reaches."""
    keys = list(payload.get("task_ids") or ())
    tasks = (
        list(db.scalars(select(ApprovalTask).where(ApprovalTask.task_key.in_(keys))))
        if keys
        else []
    )
    out: list[tuple[User | Contact, ApprovalTask | None, str | None]] = []
    seen: set[tuple[int | str, str | None]] = set()
    if tasks and payload.get("readers"):  # copied or mentioned: told themselves, whatever state
        for user, _principal in resolve(
            db, list(payload.get("recipients") or ()), now, routed=False
        ):
            if (user.id, tasks[0].task_key) not in seen:
                seen.add((user.id, tasks[0].task_key))
                out.append((user, tasks[0], None))
        return out
    if tasks:
        for task in sorted(tasks, key=lambda t: keys.index(t.task_key)):
            if task.status != "pending":
                continue
            who = (
                {"user": task.assignee}
                if task.assignee
                else {"role": task.role, "scope": task.scope or ""}
                if task.role
                else {"department": task.department}
            )
            for user, principal in resolve(db, [who], now):
                if (user.id, task.task_key) not in seen:
                    seen.add((user.id, task.task_key))
                    out.append((user, task, principal))
        return out
    for user, principal in resolve(db, list(payload.get("recipients") or ()), now):
        if (user.id, None) not in seen:
            seen.add((user.id, None))
            out.append((user, None, principal))
    return out


def address(kind: ChannelKind, user: User | Contact) -> dict[str, Any] | None:
    """Who to address on a channel of ``kind``, or None if the user cannot be reached there.
    The order's contacts are reached by personal channels only (email, SMS), never through
    the team's group chats."""
    if isinstance(user, Contact) and not kind.personal:
        return None
    return kind.address_of(user)


def fan_out(db: Session, app: Flask, message: OutboxMessage) -> list[int]:
    """Create the in-app notifications and one outbox message per channel and user; returns
    the ids of the parts still to send. Safe to run again for the same message."""
    payload = message.payload
    now = utcnow()
    event = payload.get("event") or APPROVAL_EVENTS.get(str(payload.get("kind")), "flow_message")
    channels = _channels(db, event, payload.get("channels"))
    if event == "approval_reminder" and payload.get("task_ids"):
        for told in TASKS_REMINDED:
            told(db, list(payload["task_ids"]), message.created_at or now)
    parts: list[dict[str, Any]] = []
    base = links.base_url(app)
    task_parts: dict[tuple[str, str], dict[str, Any]] = {}

    def values_in(language: str, user: User | Contact, task: ApprovalTask | None) -> dict[str, Any]:
        values: dict[str, Any] = {"name": user.display_name or user.username, "link": ""}
        if task is None:
            text = payload.get("message") or {}
            values["message"] = fill(
                text.get(language) or text.get("zh") or text.get("en") or "",
                payload.get("params") or {},
            )
            return values
        key = (task.task_key, language)
        if key not in task_parts:
            task_parts[key] = task_values(db, task, language)
        values |= task_parts[key]
        values["link"] = f"{base}/approvals/{task.task_key}"
        values["delegated_by"] = (
            _delegated_by(db, task, user) if event == "approval_delegated" else ""
        )
        values["by"] = payload.get("by") or task.payload.get("requested_by") or ""
        values["message"] = payload.get("text") or task.payload.get("comment") or ""
        return values

    for n, (user, task, principal) in enumerate(_targets(db, payload, now)):
        language = user.locale or "zh"
        values = values_in(language, user, task)
        if task is not None and principal:
            _note_routed(db, task, principal, user, now)
        source = f"outbox:{message.id}:{user.id}:{task.task_key if task else ''}"
        if isinstance(user, Contact):
            pass  # the order's contact has no inbox here: email or SMS only
        elif (
            db.scalars(select(Notification.id).where(Notification.source_key == source)).first()
            is None
        ):
            # The inbox shows the message in the language the reader has the pages in, which
            # may differ from the one set for their email and chat messages.
            texts = {
                lang: messages.render(
                    db,
                    "inbox",
                    event,
                    lang,
                    values if lang == language else values_in(lang, user, task),
                )
                for lang in LANGUAGES
            }
            title, body = texts[language] if language in texts else texts["zh"]
            db.add(Notification(user_id=user.id, source_key=source, event=event, title=title[:255], body=body,
                                texts={lang: [t[:255], b] for lang, (t, b) in texts.items()},
                                url=f"/approvals/{task.task_key}" if task else None,
                                task_key=task.task_key if task else None, created_at=now))  # fmt: skip
        for channel in channels:
            kind = KINDS[channel.kind]
            reach = address(kind, user)
            if reach is None:
                continue
            personal = kind.personal or bool(channel.config.get("personal_links"))
            parts.append({"n": n, "channel": channel, "user": user, "task": task, "values": values,
                          "address": reach, "personal": personal, "language": language})  # fmt: skip
    return _queue_parts(db, app, message, event, parts, now)


def _queue_parts(
    db: Session,
    app: Flask,
    message: OutboxMessage,
    event: str,
    parts: list[dict[str, Any]],
    now: datetime,
) -> list[int]:
    keys = [f"n{message.id}.{p['channel'].id}.{p['user'].id}.{p['n']}" for p in parts]
    existing = (
        set(db.scalars(select(OutboxMessage.effect_id).where(OutboxMessage.effect_id.in_(keys))))
        if keys
        else set()
    )
    rows = []
    for key, p in zip(keys, parts, strict=True):
        if key in existing:
            continue
        values, task = dict(p["values"]), p["task"]
        if task is not None and p["personal"]:
            values["link"] = links.issue(
                db, app, task.task_key, p["user"].username, channel=p["channel"].kind, now=now
            )
        subject, body = messages.render(db, p["channel"].kind, event, p["language"], values)
        row = OutboxMessage(run_id=message.run_id, effect_id=key, kind="notify", status=outbox.PENDING,
                            attempts=0, next_attempt_at=now, created_at=now,
                            payload={"channel_id": p["channel"].id, "channel_kind": p["channel"].kind,
                                     "subject": subject, "body": body, "link": values["link"], "key": key,
                                     "username": p["user"].username, **p["address"]})  # fmt: skip
        db.add(row)
        rows.append(row)
    db.flush()
    pending = (
        set(
            db.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.effect_id.in_(keys), OutboxMessage.status == outbox.PENDING
                )
            )
        )
        if keys
        else set()
    )
    return sorted(pending)


def _note_routed(
    db: Session, task: ApprovalTask, principal: str, user: User | Contact, now: datetime
) -> None:
    db.add(ApprovalAction(task_key=task.task_key, run_id=task.run_id, action="routed", actor="system",
                          on_behalf_of=principal, to_user=user.username, at=now))  # fmt: skip


def _delegated_by(db: Session, task: ApprovalTask, user: User | Contact) -> str:
    action = db.scalars(
        select(ApprovalAction)
        .where(
            ApprovalAction.run_id == task.run_id,
            ApprovalAction.action == "delegated",
            ApprovalAction.to_user == (task.assignee or user.username),
        )
        .order_by(ApprovalAction.id.desc())
    ).first()
    if action is None or not action.actor:
        return ""
    found = db.scalars(select(User).where(User.username == action.actor)).first()
    return (found.display_name or found.username) if found else action.actor
