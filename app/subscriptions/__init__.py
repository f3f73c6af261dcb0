"""Outbound order event subscriptions: admins pick allowed endpoints and the order events
they get; each event becomes one signed outbox message per matching subscription."""

from ..runs.events import EVENTS, publish
from .services import (
    create_subscription,
    delete_subscription,
    deliveries,
    get_subscription,
    list_subscriptions,
    update_subscription,
)

__all__ = [
    "EVENTS",
    "create_subscription",
    "deliveries",
    "delete_subscription",
    "get_subscription",
    "list_subscriptions",
    "publish",
    "update_subscription",
]
