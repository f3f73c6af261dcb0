"""Per-order rules: a condition on each order, checked whenever the order changes.

The refresher rebuilds an order's facts and cost whenever something happens to it (a run
step, a status report, a decision) and hands the rebuilt orders to :func:`observe` in the
same transaction: every enabled per-order rule is evaluated on each of them, opening or
resolving that order's alert. On schedule, :func:`recheck` evaluates the orders behind open
alerts again (conditions that depend on the clock), and a new or changed rule is first run
over the orders of the last day.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rule_dsl import DslError

from ..costs import services as costs
from ..costs.compute import compiled
from ..metrics import rollups
from ..metrics.facts import Rebuilt, rebuild
from ..models import Alert, AlertRule, OrderFact
from . import lifecycle
from .evaluate import Breach, Outcome

log = logging.getLogger(__name__)
BACKFILL = timedelta(days=1)
BACKFILL_LIMIT = 500
RECHECK_LIMIT = 500


def _rules(db: Session) -> list[AlertRule]:
    return list(
        db.scalars(select(AlertRule).where(AlertRule.kind == "order", AlertRule.enabled.is_(True)))
    )


def observe(db: Session, rebuilt: Sequence[Rebuilt], now: datetime) -> None:
    """Evaluate every per-order rule on the rebuilt orders (refresher observer)."""
    rules = _rules(db)
    if not rules or not rebuilt:
        return
    schema = costs.schema(db, with_cost=True)
    for rule in rules:
        outcome = evaluate_orders(rule, rebuilt, schema, now)
        if outcome is not None:
            lifecycle.apply(db, rule, outcome, now)


def evaluate_orders(
    rule: AlertRule, rebuilt: Sequence[Rebuilt], schema: dict[str, Any], now: datetime
) -> Outcome | None:
    """The rule's outcome over ``rebuilt`` (scope: those orders); None if it cannot compile."""
    try:
        condition = compiled(rule.definition["condition"], schema, "boolean")
    except DslError as err:
        rule.last_error = err.message
        return None
    scope: set[str] = set()
    outcome = Outcome(scope=scope)
    for item in rebuilt:
        key = str(item.data.order_id)
        scope.add(key)
        try:
            hit = condition(item.context, now=now)
        except DslError as err:
            log.info("rule %s on order %s: %s", rule.key, item.data.order_id, err.message)
            continue
        if hit:
            outcome.breaches[key] = Breach(
                key,
                Decimal(item.breakdown.total),
                orders=[item.data.order_id],
                order_count=1,
                channel=item.data.channel,
                order_id=item.data.order_id,
                details={"label": item.data.external_id, "cost": str(item.breakdown.total)},
            )
    return outcome


def recheck(db: Session, rule: AlertRule, now: datetime) -> Outcome | None:
    """Evaluate ``rule`` again on the orders behind its open alerts, or on the last day's
    orders when it was never evaluated or changed since. No commit."""
    if rule.last_evaluated_at is None or rule.updated_at > rule.last_evaluated_at:
        ids = list(
            db.scalars(
                select(OrderFact.order_id)
                .where(OrderFact.created_at >= now - BACKFILL)
                .order_by(OrderFact.created_at.desc())
                .limit(BACKFILL_LIMIT)
            )
        )
    else:
        ids = []
    # The orders behind active alerts, those checked longest ago first (a few hundred per
    # evaluation keeps each one short; the rest follow at the next evaluations).
    ids += list(
        db.scalars(
            select(Alert.order_id)
            .where(
                Alert.rule_id == rule.id,
                Alert.status.in_(lifecycle.ACTIVE),
                Alert.order_id.is_not(None),
            )
            .order_by(Alert.last_seen_at.asc().nulls_first())
            .limit(RECHECK_LIMIT)
        )
    )
    if not ids:
        return Outcome(scope=set())
    collected: list[Rebuilt] = []
    touched = rebuild(db, ids, now, observers=[lambda _db, items, _now: collected.extend(items)])
    rollups.recompute_orders(db, touched.created)
    rollups.recompute_costs(db, touched.created)
    rollups.recompute_deliveries(db, touched.delivered)
    return evaluate_orders(rule, collected, costs.schema(db, with_cost=True), now)
