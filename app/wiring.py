"""Where the features above tell the layers below what they follow.

The packages of ``app`` import one way only (``docs/architecture.md`` draws the layers), so a
lower layer never names a feature above it. Where it must reach one (the outbox delivers a
notification, a rebuilt order is shown to the alert rules), it keeps a registry and the
feature is entered in it here, once, when the app is built:

- the outbox (``app.runs.outbox``) delivers ``notify`` messages through the notification
  channels and ``chat`` messages through the chat apps;
- approval tasks withdrawn in bulk by a run (``app.runs.effects``) update their chat cards,
  and so does an SLA reminder about them (``app.notifications.delivery``);
- a changed company time zone (``app.calendar``) regroups the daily figures (``app.metrics``);
- every order the figures rebuild, and every figures tick, reaches the alert rules;
- the notification channel kinds (``app.notifications.kinds``) are the channels a flow's
  notify node may name (``flow_engine``) and have their names on pages (``app.i18n``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .alerts import orders as order_alerts
from .alerts import services as alerts
from .calendar import services as calendar
from .chatapps import hooks as chat_hooks
from .chatapps import services as chat_cards
from .db import Database
from .metrics import refresh, rollups
from .metrics import tasks as metric_tasks
from .notifications import delivery as notifications
from .notifications import kinds as channel_kinds
from .runs import effects, outbox


def _due_alert_rules(database: Database, now: datetime | None) -> dict[str, Any]:
    return {rule.key: rule.error or "ok" for rule in alerts.evaluate_due(database, now=now)}


def _enter(registry: list[Any], item: Any) -> None:
    if item not in registry:
        registry.append(item)


def connect() -> None:
    """Enter every feature in the registries it follows (idempotent: tests build many apps)."""
    outbox.register_deliverer("notify", notifications.deliver_notify)
    outbox.register_deliverer("chat", chat_cards.deliver)
    _enter(effects.TASKS_WITHDRAWN, chat_hooks.refresh)
    _enter(notifications.TASKS_REMINDED, chat_hooks.remind)
    _enter(calendar.ZONE_CHANGED, rollups.rebuild_daily)
    _enter(refresh.OBSERVERS, order_alerts.observe)
    metric_tasks.AFTER_REFRESH["rules"] = _due_alert_rules
    channel_kinds.announce()
