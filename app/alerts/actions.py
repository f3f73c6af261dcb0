"""What an alert opening does besides notifying: call a webhook, start flows.

Both happen once per opening: when an alert is raised, and again when a resolved alert
opens again; never on the evaluations while it stays open. An opening is numbered by the
alert's ``occurrences``, so ``alert:<id>:<opening>`` names it everywhere: the flows' event
id, and (with ``:webhook``) the outbox message and the receiver's ``Idempotency-Key``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from flow_engine.outbound import EXAMPLE_URL, url_problem

from ..clock import zone as business_zone
from ..errors import ValidationError
from ..i18n import in_reader_language
from ..models import Alert, AlertOrder, AlertRule, Order
from ..runs import outbox
from ..runs.order_events import announce_order_event

log = logging.getLogger(__name__)

ALERT_OPENED = "alert.opened"


def check_actions(db: Session, raw: Any) -> dict[str, Any]:
    """The cleaned actions of a rule: ``{"webhook": {"url"} | None, "start_flows": bool}``.

    A webhook URL must be callable and its host on the outbox allowlist, as the outbox
    would refuse it at every delivery otherwise.
    """
    raw = raw if isinstance(raw, Mapping) else {}
    hook = raw.get("webhook")
    url = str((hook.get("url") if isinstance(hook, Mapping) else hook) or "").strip()
    out: dict[str, Any] = {"webhook": None, "start_flows": bool(raw.get("start_flows"))}
    if not url:
        return out
    problem = url_problem(url)
    if problem is not None:
        raise ValidationError(
            _l(
                "Webhook address (actions.webhook.url) %(url)s cannot be used: %(reason)s. "
                "Give an http:// or https:// address with a host, e.g. %(example)s.",
                url=repr(url),
                reason=in_reader_language(*problem),
                example=EXAMPLE_URL,
            ),
            fields={"actions.webhook.url": "invalid"},
        )
    try:
        outbox.check_destination(db, url)
    except outbox.DeliveryError:
        host = (urlsplit(url).hostname or "").lower()
        raise ValidationError(
            _l(
                "Webhook address (actions.webhook.url): the host %(host)s is not on the "
                "outbound allowlist. An admin allows it on /admin/outbox or with "
                "orderflow outbox allow %(host)s; or give an address on an allowed host, "
                "e.g. %(example)s.",
                host=host,
                example=EXAMPLE_URL,
            ),
            fields={"actions.webhook.url": "not_allowed"},
        ) from None
    out["webhook"] = {"url": url}
    return out


def on_opened(db: Session, rule: AlertRule, alert: Alert, now: datetime) -> dict[str, Any] | None:
    """Run the rule's actions for this opening of ``alert``; returns the webhook's outbox
    row for the caller to insert with the notices (None without a webhook). No commit."""
    actions = rule.actions or {}
    if actions.get("start_flows"):
        emit_alert_opened(db, alert)
    hook = actions.get("webhook")
    if not hook:
        return None
    return {
        "run_id": None,
        "effect_id": f"{event_id(alert)}:webhook",
        "kind": "webhook",
        "payload": {
            "url": hook["url"],
            "method": "POST",
            "headers": {},
            "alert_id": alert.id,
            "body": {"type": ALERT_OPENED, "id": event_id(alert), "alert": alert_data(db, alert)},
        },
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def event_id(alert: Alert) -> str:
    return f"alert:{alert.id}:{alert.occurrences}"


def alert_data(db: Session, alert: Alert) -> dict[str, Any]:
    """What receivers and flows get about an opening: rule, level, time, values, orders.

    Opening (or reopening) an alert marks it seen at that moment, so ``last_seen_at`` is
    when this opening happened."""
    rule = db.get(AlertRule, alert.rule_id) if alert.rule_id is not None else None
    definition = rule.definition if rule is not None else {}
    data = alert.data or {}
    ids = list(
        db.scalars(
            select(AlertOrder.order_id)
            .where(AlertOrder.alert_id == alert.id)
            .order_by(AlertOrder.order_id)
        )
    )
    if alert.order_id is not None and alert.order_id not in ids:
        ids.insert(0, alert.order_id)
    external = dict(db.execute(select(Order.id, Order.external_id).where(Order.id.in_(ids))).all())
    group_by = definition.get("group_by") or None
    opened_at = alert.last_seen_at or alert.created_at
    return {
        "id": alert.id,
        "opening": alert.occurrences,
        "rule": {
            "key": rule.key if rule is not None else None,
            "name": {"zh": rule.name_zh, "en": rule.name_en} if rule is not None else None,
            "kind": rule.kind if rule is not None else None,
        },
        "level": alert.severity,
        "opened_at": opened_at.astimezone(business_zone()).isoformat() if opened_at else None,
        "title": (data.get("text") or {}).get("en", {}).get("title") or alert.message,
        "key": alert.key,
        "group_by": None if group_by == "none" else group_by,
        "metric": {
            "value": data.get("value"),
            "op": definition.get("op"),
            "threshold": data.get("threshold"),
            "details": data.get("details") or {},
        },
        "order_count": data.get("order_count", len(ids)),
        "orders": [{"id": i, "external_id": external[i]} for i in ids if i in external],
        "skus": [alert.key] if group_by == "sku" and alert.key else [],
        "url": f"/alerts/{alert.id}",
    }


def alert_opened_event(db: Session, alert: Alert) -> dict[str, Any]:
    """The ``alert.opened`` event flows with that trigger start on."""
    return {
        "type": ALERT_OPENED,
        "id": event_id(alert),
        "alert": alert_data(db, alert),
        "order_id": alert.order_id,
    }


def emit_alert_opened(db: Session, alert: Alert) -> dict[str, Any]:
    """Hand this opening of ``alert`` to the flows whose trigger is ``alert.opened``, in the
    evaluation's transaction. Returns the event."""
    event = alert_opened_event(db, alert)
    log.info("alert %s opened (%s): starting flows on alert.opened", alert.id, event["id"])
    order = db.get(Order, alert.order_id) if alert.order_id is not None else None
    if order is None:  # runs are per order: an alert about no single order starts none
        return event
    announce_order_event(db, ALERT_OPENED, order, event["alert"], key=event["id"])
    return event
