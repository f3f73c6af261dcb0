"""Alert rules and alerts: configure, evaluate, preview, acknowledge, resolve, list.

Services take a session and the acting user and never commit; the background tasks
(:mod:`app.alerts.tasks`), views and commands own the transactions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..clock import zone as business_zone
from ..costs import services as costs
from ..costs.compute import Catalog
from ..db import Database, in_transaction
from ..errors import ConflictError, NotFoundError, ValidationError
from ..metrics import facts, history
from ..models import Alert, AlertOrder, AlertRule, Order, OrderFact, User, utcnow
from ..urls import page_arg
from . import actions, lifecycle, orders
from .evaluate import Outcome, evaluate
from .rules import check_definition, check_rule_fields

log = logging.getLogger(__name__)
PAGE_SIZE = 30


def _who(actor: User | None) -> str | None:
    return actor.username if actor is not None else None


# -- rules ---------------------------------------------------------------------------------


def list_rules(db: Session) -> list[AlertRule]:
    return list(db.scalars(select(AlertRule).order_by(AlertRule.key)))


def get_rule(db: Session, key: str) -> AlertRule:
    rule = db.scalars(select(AlertRule).where(AlertRule.key == key)).one_or_none()
    if rule is None:
        raise NotFoundError(_l("There is no alert rule %(key)s.", key=key))
    return rule


def save_rule(
    db: Session,
    actor: User | None,
    raw: Mapping[str, Any],
    *,
    existing: AlertRule | None = None,
    source: str | None = None,
) -> AlertRule:
    """Create a rule, or change ``existing``, from form, API or template values. No commit.

    ``raw`` holds the rule columns and ``kind`` with ``definition`` and ``actions``
    (mappings); without ``actions`` an existing rule keeps its own.
    """
    kind = str(raw.get("kind") or (existing.kind if existing else ""))
    errors: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    definition: dict[str, Any] = {}
    try:
        fields = check_rule_fields(raw)
    except ValidationError as err:
        errors.update(err.fields)
    try:
        definition = check_definition(db, kind, raw.get("definition") or {})
    except ValidationError as err:
        errors.update(
            {f"definition.{k}": v for k, v in err.fields.items()} or {"kind": err.message}
        )
    kept = existing.actions if existing is not None and "actions" not in raw else None
    chosen: dict[str, Any] = {}
    try:
        chosen = kept or actions.check_actions(db, raw.get("actions"))
    except ValidationError as err:
        errors.update({k: err.message for k in err.fields})
    if errors:
        raise ValidationError(_l("The rule has problems; see the marked fields."), fields=errors)
    taken = db.scalars(select(AlertRule).where(AlertRule.key == fields["key"])).one_or_none()
    if taken is not None and taken is not existing:
        raise ConflictError(
            _l("The key %(key)s is taken.", key=fields["key"]), code="duplicate_key"
        )
    now = utcnow()
    rule = existing or AlertRule(created_at=now, created_by=_who(actor), source=source or "ui")
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.kind = kind
    rule.definition = definition
    rule.actions = chosen
    rule.updated_by = _who(actor)
    rule.updated_at = now
    rule.last_error = None
    db.add(rule)
    db.flush()
    return rule


def delete_rule(db: Session, rule: AlertRule) -> None:
    """Remove a rule; its alerts stay in the inbox (without the link to the rule)."""
    for alert in db.scalars(
        select(Alert).where(Alert.rule_id == rule.id, Alert.status.in_(lifecycle.ACTIVE))
    ):
        alert.status, alert.resolved_at, alert.resolved_by = "resolved", utcnow(), "rule removed"
    db.delete(rule)
    db.flush()


# -- evaluation ----------------------------------------------------------------------------


def outcome_of(db: Session, rule: AlertRule, now: datetime, zone: ZoneInfo) -> Outcome | None:
    """What the rule finds now (no writes for scheduled kinds)."""
    if rule.kind == "order":
        return orders.recheck(db, rule, now)
    return evaluate(db, rule.kind, rule.definition, now, zone)


def evaluate_rule(
    db: Session, rule: AlertRule, *, now: datetime | None = None, zone: ZoneInfo | None = None
) -> lifecycle.Changes:
    """Evaluate ``rule`` and update its alerts. No commit."""
    moment = now or utcnow()
    started = time.perf_counter()
    if db.get_bind().dialect.name == "postgresql":  # one evaluator per rule at a time
        db.refresh(rule, with_for_update=True)
    outcome = outcome_of(db, rule, moment, zone or business_zone())
    changes = lifecycle.apply(db, rule, outcome, moment) if outcome else lifecycle.Changes()
    rule.last_evaluated_at = moment
    rule.last_duration_ms = int((time.perf_counter() - started) * 1000)
    if outcome is not None:
        rule.last_error = None
    return changes


@dataclass
class Evaluation:
    key: str
    changes: lifecycle.Changes | None
    milliseconds: int
    error: str | None = None


def evaluate_due(
    database: Database, *, now: datetime | None = None, force: bool = False
) -> list[Evaluation]:
    """Evaluate every enabled rule that is due (each in its own transaction)."""
    moment = now or utcnow()
    with database.session() as db:
        rules = [
            (r.id, r.key)
            for r in db.scalars(select(AlertRule).where(AlertRule.enabled.is_(True)))
            if force
            or r.last_evaluated_at is None
            or r.updated_at > r.last_evaluated_at
            or (moment - r.last_evaluated_at).total_seconds() >= r.every_seconds
        ]
    zone = business_zone()
    out = []
    for rule_id, key in rules:
        started = time.perf_counter()

        def work(db: Session, rule_id: int = rule_id) -> lifecycle.Changes:
            rule = db.get(AlertRule, rule_id)
            if rule is None:
                return lifecycle.Changes()
            return evaluate_rule(db, rule, now=moment, zone=zone)

        try:
            changes = in_transaction(database, work)
            out.append(Evaluation(key, changes, int((time.perf_counter() - started) * 1000)))
        except Exception as err:  # one broken rule must not stop the others; it is recorded
            log.exception("alert rule %s failed", key)
            _record_error(database, rule_id, str(err))
            out.append(Evaluation(key, None, int((time.perf_counter() - started) * 1000), str(err)))
    return out


def _record_error(database: Database, rule_id: int, message: str) -> None:
    def work(db: Session) -> None:
        rule = db.get(AlertRule, rule_id)
        if rule is not None:
            rule.last_error = message[:2000]
            rule.last_evaluated_at = utcnow()

    in_transaction(database, work)


def preview(db: Session, raw: Mapping[str, Any], *, now: datetime | None = None) -> Outcome:
    """What a rule (saved or not) would find now, without touching alerts."""
    kind = str(raw.get("kind") or "")
    definition = check_definition(db, kind, raw.get("definition") or {})
    moment = now or utcnow()
    if kind == "order":
        ids = db.scalars(
            select(OrderFact.order_id)
            .where(OrderFact.created_at >= moment - orders.BACKFILL)
            .order_by(OrderFact.created_at.desc())
            .limit(orders.BACKFILL_LIMIT)
        )
        catalog = Catalog.load(db)
        rebuilt = [facts.rebuilt_view(d, catalog, moment) for d in history.load(db, ids, moment)]
        rule = AlertRule(key="preview", kind=kind, definition=definition)
        schema = costs.schema(db, with_cost=True)
        return orders.evaluate_orders(rule, rebuilt, schema, moment) or Outcome()
    return evaluate(db, kind, definition, moment, business_zone())


# -- alerts --------------------------------------------------------------------------------


@dataclass
class AlertFilters:
    status: str = "open"
    severity: str = ""
    rule: str = ""
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> AlertFilters:
        status = str(args.get("status") or "open")
        if status not in ("open", "acknowledged", "resolved", "all"):
            status = "open"
        severity = str(args.get("severity") or "")
        page = page_arg(args)
        return cls(status, severity if severity in ("info", "warning", "critical") else "",
                   str(args.get("rule") or "")[:64], str(args.get("q") or "")[:100], page)  # fmt: skip


def list_alerts(db: Session, filters: AlertFilters) -> tuple[list[Alert], int]:
    query = select(Alert)
    if filters.status != "all":
        query = query.where(Alert.status == filters.status)
    if filters.severity:
        query = query.where(Alert.severity == filters.severity)
    if filters.rule:
        query = query.join(AlertRule, AlertRule.id == Alert.rule_id).where(
            AlertRule.key == filters.rule
        )
    if filters.q:
        like = f"%{filters.q}%"
        query = query.where(
            or_(Alert.title.ilike(like), Alert.message.ilike(like), Alert.key.ilike(like))
        )
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(
        query.order_by(Alert.created_at.desc(), Alert.id.desc())
        .limit(PAGE_SIZE)
        .offset((filters.page - 1) * PAGE_SIZE)
    )
    return list(rows), int(total)


def counts(db: Session) -> dict[str, int]:
    """Alerts per status."""
    return {
        s: int(n) for s, n in db.execute(select(Alert.status, func.count()).group_by(Alert.status))
    }


def open_count(db: Session) -> int:
    return int(
        db.scalar(select(func.count()).select_from(Alert).where(Alert.status == "open")) or 0
    )


def get_alert(db: Session, alert_id: int) -> Alert:
    alert = db.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(_l("There is no alert %(id)s.", id=alert_id))
    return alert


def orders_behind(db: Session, alert: Alert, limit: int = 200) -> list[Order]:
    """The orders an alert is about, newest first."""
    ids = list(db.scalars(select(AlertOrder.order_id).where(AlertOrder.alert_id == alert.id)))
    if alert.order_id is not None:
        ids.append(alert.order_id)
    if not ids:
        return []
    return list(
        db.scalars(select(Order).where(Order.id.in_(ids)).order_by(Order.id.desc()).limit(limit))
    )


def acknowledge(
    db: Session, actor: User | None, alert: Alert, *, now: datetime | None = None
) -> Alert:
    """Someone is on it: no further notices while it stays active. No commit."""
    if alert.status != "open":
        raise ConflictError(
            _l("Only open alerts can be acknowledged; this one is %(s)s.", s=alert.status)
        )
    alert.status = "acknowledged"
    alert.acknowledged_at = now or utcnow()
    alert.acknowledged_by = _who(actor)
    return alert


def resolve(db: Session, actor: User | None, alert: Alert, *, now: datetime | None = None) -> Alert:
    """Close an alert by hand (a rule opens it again if the condition still holds after
    its cooldown). No commit."""
    if alert.status == "resolved":
        raise ConflictError(_l("The alert is already resolved."))
    alert.status = "resolved"
    alert.resolved_at = now or utcnow()
    alert.resolved_by = _who(actor)
    return alert
