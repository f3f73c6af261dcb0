"""What an evaluation does to alerts: open, update, reopen, resolve, and who is told.

- **Dedup**: a rule has at most one active (open or acknowledged) alert per key; a repeat
  breach updates it (value, orders behind it, last seen).
- **Cooldown**: a breach within ``cooldown_seconds`` of the last notice for that rule and
  key reopens the resolved alert without a new notice; after the cooldown it is a new
  alert, and people are told again.
- **Auto-resolve**: an active alert whose key no longer breaches is resolved (when the rule
  says so); acknowledged alerts resolve the same way.
Notices are outbox ``notify`` messages written in the same transaction, delivered by the
notification channels, retried and dead-lettered like every outbox message.
- **Actions**: every opening, reopenings inside the cooldown included, runs the rule's
  actions (:mod:`app.alerts.actions`): a webhook message in the same outbox, flows started
  on ``alert.opened``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from ..db import on_commit
from ..models import Alert, AlertOrder, AlertRule, Order, OutboxMessage, table_of
from ..runs.tasks import wake_outbox_many
from . import actions
from .evaluate import Breach, Outcome

ACTIVE = ("open", "acknowledged")
SEVERITY_ZH = {"info": "提示", "warning": "警告", "critical": "严重"}


@dataclass
class Changes:
    opened: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    notified: list[int] = field(default_factory=list)


def dedup_key(rule: AlertRule, key: str) -> str:
    return f"rule:{rule.id}:{key}"[:200]


def apply(db: Session, rule: AlertRule, outcome: Outcome, now: datetime) -> Changes:
    """Bring the rule's alerts in line with ``outcome``. No commit."""
    changes = Changes()
    query = select(Alert).where(Alert.rule_id == rule.id, Alert.status.in_(ACTIVE))
    if outcome.scope is not None:
        if not outcome.scope:
            return changes
        query = query.where(Alert.key.in_(sorted(outcome.scope)))
    active = {a.key: a for a in db.scalars(query)}
    cooldown = timedelta(seconds=rule.cooldown_seconds)
    outbox: list[dict[str, Any] | None] = []
    hooks: list[dict[str, Any] | None] = []
    for key, breach in outcome.breaches.items():
        alert = active.pop(key, None)
        if alert is not None:
            _refresh(db, alert, rule, breach, now)
            changes.updated.append(alert.id)
            continue
        recent = _recently_resolved(db, rule, key, now - cooldown)
        if recent is not None:
            recent.status, recent.resolved_at, recent.resolved_by = "open", None, None
            recent.acknowledged_at = recent.acknowledged_by = None
            recent.occurrences += 1
            _refresh(db, recent, rule, breach, now)
            changes.reopened.append(recent.id)
            if recent.notified_at is None or recent.notified_at <= now - cooldown:
                outbox.append(_notice(rule, recent, now))
            hooks.append(actions.on_opened(db, rule, recent, now))
            continue
        alert = _new(db, rule, breach, now)
        changes.opened.append(alert.id)
        outbox.append(_notice(rule, alert, now))
        hooks.append(actions.on_opened(db, rule, alert, now))
    if rule.auto_resolve:
        for alert in active.values():
            alert.status, alert.resolved_at, alert.resolved_by = "resolved", now, "auto"
            changes.resolved.append(alert.id)
    notices = [m for m in outbox if m is not None]
    changes.notified.extend(m["payload"]["alert_id"] for m in notices)
    _send(db, notices + [m for m in hooks if m is not None])
    db.flush()
    return changes


def _recently_resolved(db: Session, rule: AlertRule, key: str, since: datetime) -> Alert | None:
    return db.scalars(
        select(Alert)
        .where(
            Alert.rule_id == rule.id,
            Alert.key == key,
            Alert.status == "resolved",
            Alert.resolved_at >= since,
        )
        .order_by(Alert.resolved_at.desc())
        .limit(1)
    ).first()


def _new(db: Session, rule: AlertRule, breach: Breach, now: datetime) -> Alert:
    alert = Alert(
        rule_id=rule.id,
        key=breach.key,
        order_id=breach.order_id,
        channel=breach.channel,
        source=f"rule:{rule.key}"[:64],
        severity=rule.severity,
        status="open",
        dedup_key=dedup_key(rule, breach.key),
        created_at=now,
        occurrences=1,
        notifications=0,
        title="",
        message="",
        data={},
    )
    db.add(alert)
    _refresh(db, alert, rule, breach, now)
    db.flush()
    _link(db, alert, breach)
    return alert


def _refresh(db: Session, alert: Alert, rule: AlertRule, breach: Breach, now: datetime) -> None:
    texts = describe(rule, breach)
    alert.title = texts["zh"]["title"][:300]
    alert.message = texts["en"]["title"]
    alert.severity = rule.severity
    alert.last_seen_at = now
    alert.data = {
        "value": _plain(breach.value),
        "threshold": _plain(rule.definition.get("threshold")),
        "order_count": breach.order_count or len(breach.orders),
        "details": breach.details,
        "text": texts,
    }
    if alert.id is not None:
        _link(db, alert, breach)


def _link(db: Session, alert: Alert, breach: Breach) -> None:
    db.execute(delete(AlertOrder).where(AlertOrder.alert_id == alert.id))
    orders = list(dict.fromkeys(breach.orders))
    if orders:
        existing = set(db.scalars(select(Order.id).where(Order.id.in_(orders))))
        rows = [{"alert_id": alert.id, "order_id": o} for o in orders if o in existing]
        if rows:
            db.execute(insert(AlertOrder), rows)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _number(value: Any, rule: AlertRule) -> str:
    definition = rule.definition
    if isinstance(value, Decimal | int | float):
        number = Decimal(str(value))
        text = f"{number:,.2f}".rstrip("0").rstrip(".") if number % 1 else f"{int(number):,}"
        if rule.kind in ("aggregate", "streak") and definition.get("measure") == "rate":
            return f"{text}%"
        return text
    return str(value)


def describe(rule: AlertRule, breach: Breach) -> dict[str, dict[str, str]]:
    """The alert's title in Chinese and English: rule, what it is about, value vs limit."""
    name_zh = rule.name_zh or rule.name_en or rule.key
    name_en = rule.name_en or rule.name_zh or rule.key
    label = breach.details.get("label") or breach.key
    about_zh = "" if breach.key == "*" else f" · {label}"
    about_en = about_zh
    value = _number(breach.value, rule)
    threshold = rule.definition.get("threshold")
    kind = rule.kind
    if kind == "order":
        zh, en = f"{name_zh} · 订单 {label}", f"{name_en} · order {label}"
    elif kind == "streak":
        unit_zh = "天" if rule.definition.get("period") == "day" else "小时"
        unit_en = "days" if rule.definition.get("period") == "day" else "hours"
        zh = f"{name_zh}{about_zh}：连续 {value} {unit_zh}"
        en = f"{name_en}{about_en}: {value} {unit_en} in a row"
    elif kind == "stuck":
        limit = rule.definition.get("longer_than")
        zh = f"{name_zh}{about_zh}：{value} 单超过 {limit}"
        en = f"{name_en}{about_en}: {value} orders for more than {limit}"
    else:
        limit = _number(Decimal(str(threshold)), rule) if threshold is not None else ""
        zh = f"{name_zh}{about_zh}：{value}（阈值 {rule.definition.get('op', '>')} {limit}）"
        en = f"{name_en}{about_en}: {value} (threshold {rule.definition.get('op', '>')} {limit})"
    return {"zh": {"title": zh}, "en": {"title": en}}


def _notice(rule: AlertRule, alert: Alert, now: datetime) -> dict[str, Any] | None:
    alert.notified_at = now
    alert.notifications += 1
    if not rule.recipients:
        return None
    texts: Mapping[str, Any] = alert.data.get("text") or {}
    severity_zh = SEVERITY_ZH.get(rule.severity, rule.severity)
    link = f"/alerts/{alert.id}"
    message = {
        "zh": f"【{severity_zh}】{texts.get('zh', {}).get('title', alert.title)}\n{link}",
        "en": f"[{rule.severity}] {texts.get('en', {}).get('title', alert.message)}\n{link}",
    }
    return {
        "run_id": None,
        "effect_id": f"alert:{alert.id}:{alert.notifications}",
        "kind": "notify",
        "payload": {
            "recipients": list(rule.recipients),
            "channels": list(rule.channels or ["inbox"]),
            "message": message,
            "params": {},
            "alert_id": alert.id,
            "severity": rule.severity,
            "url": link,
        },
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _send(db: Session, messages: list[dict[str, Any]]) -> None:
    if not messages:
        return
    table = table_of(OutboxMessage)
    ids = [
        row[0]
        for row in db.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), messages
        )
    ]

    def wake() -> None:

        wake_outbox_many(ids)

    on_commit(db, wake)
