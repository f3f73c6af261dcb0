"""Outbound event subscriptions: list, create, get, change, delete, and the delivery log."""

from __future__ import annotations

from typing import Any

from flask import Response

from ..db import get_session
from ..models import OutboxMessage, Subscription
from ..subscriptions import services as subscriptions
from ._http import actor_name, iso, json_body, reply, transact
from ._schemas import list_of, ref
from .spec import SUBSCRIPTION_ID, api


def subscription_json(row: Subscription, *, with_secret: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "url": row.url,
        "events": list(row.events or ()),
        "channel": row.channel,
        "active": row.active,
        "own_secret": row.secret is not None,
        "created_by": row.created_by,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }
    if with_secret and row.secret:
        body["secret"] = row.secret  # shown once, when drawn
    return body


def delivery_json(message: OutboxMessage) -> dict[str, Any]:
    body = (message.payload or {}).get("body") or {}
    return {
        "id": message.id,
        "event_id": body.get("id"),
        "type": body.get("type"),
        "order_id": (body.get("order") or {}).get("id"),
        "status": message.status,
        "attempts": message.attempts,
        "last_error": message.last_error,
        "response_status": message.last_status,
        "created_at": iso(message.created_at),
        "next_attempt_at": iso(message.next_attempt_at),
        "sent_at": iso(message.sent_at),
    }


@api.get(
    "/subscriptions",
    scope="subscriptions:read",
    summary="Outbound order event subscriptions",
    responses={"200": list_of(ref("Subscription"))},
)  # fmt: skip
def list_subscriptions() -> Response:
    rows = subscriptions.list_subscriptions(get_session())
    return reply({"items": [subscription_json(r) for r in rows]})


@api.post(
    "/subscriptions",
    scope="subscriptions:write",
    summary="Subscribe an allowed endpoint to order events",
    body=ref("SubscriptionInput"),
    responses={"201": ref("Subscription")},
)  # fmt: skip
def create_subscription() -> Response:
    doc = json_body()
    actor = actor_name()

    def work(db: Any) -> dict[str, Any]:
        row = subscriptions.create_subscription(db, actor, doc)
        return subscription_json(row, with_secret=True)

    return reply(transact(work), 201)


@api.get(
    "/subscriptions/<id:subscription_id>",
    scope="subscriptions:read",
    summary="A subscription",
    params=[SUBSCRIPTION_ID],
    responses={"200": ref("Subscription")},
)  # fmt: skip
def get_subscription(subscription_id: int) -> Response:
    return reply(subscription_json(subscriptions.get_subscription(get_session(), subscription_id)))


@api.patch(
    "/subscriptions/<id:subscription_id>",
    scope="subscriptions:write",
    summary="Change a subscription (pause with active: false)",
    params=[SUBSCRIPTION_ID],
    body=ref("SubscriptionPatch"),
    responses={"200": ref("Subscription")},
)  # fmt: skip
def update_subscription(subscription_id: int) -> Response:
    """Change the fields sent; ``own_secret: true`` answers with the new secret once."""
    doc = json_body()

    def work(db: Any) -> dict[str, Any]:
        row = subscriptions.update_subscription(db, subscription_id, doc)
        return subscription_json(row, with_secret=doc.get("own_secret") is True)

    return reply(transact(work))


@api.delete(
    "/subscriptions/<id:subscription_id>",
    scope="subscriptions:write",
    summary="Delete a subscription (its messages not sent yet are dropped)",
    params=[SUBSCRIPTION_ID],
    responses={"200": ref("Subscription")},
)  # fmt: skip
def delete_subscription(subscription_id: int) -> Response:

    def work(db: Any) -> dict[str, Any]:
        body = subscription_json(subscriptions.get_subscription(db, subscription_id))
        subscriptions.delete_subscription(db, subscription_id)
        return body

    return reply(transact(work))


@api.get(
    "/subscriptions/<id:subscription_id>/deliveries",
    scope="subscriptions:read",
    summary="The subscription's recent messages, newest first",
    params=[SUBSCRIPTION_ID],
    responses={"200": list_of(ref("Delivery"))},
)  # fmt: skip
def subscription_deliveries(subscription_id: int) -> Response:
    rows = subscriptions.deliveries(get_session(), subscription_id)
    return reply({"items": [delivery_json(m) for m in rows]})
