"""Outbound event subscriptions: list, create, get, change, delete, and the delivery log."""

from __future__ import annotations

from typing import Any

from flask import Response

from ..db import get_session
from ..models import OutboxMessage, Subscription
from ..security import api_key_required
from ..subscriptions import services as subscriptions
from ._blueprint import bp
from ._http import actor_name, iso, json_body, reply, transact


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


@bp.get("/subscriptions")
@api_key_required("subscriptions:read")
def list_subscriptions() -> Response:
    rows = subscriptions.list_subscriptions(get_session())
    return reply({"items": [subscription_json(r) for r in rows]})


@bp.post("/subscriptions")
@api_key_required("subscriptions:write")
def create_subscription() -> Response:
    doc = json_body()
    actor = actor_name()

    def work(db: Any) -> dict[str, Any]:
        row = subscriptions.create_subscription(db, actor, doc)
        return subscription_json(row, with_secret=True)

    return reply(transact(work), 201)


@bp.get("/subscriptions/<id:subscription_id>")
@api_key_required("subscriptions:read")
def get_subscription(subscription_id: int) -> Response:
    return reply(subscription_json(subscriptions.get_subscription(get_session(), subscription_id)))


@bp.patch("/subscriptions/<id:subscription_id>")
@api_key_required("subscriptions:write")
def update_subscription(subscription_id: int) -> Response:
    """Change the fields sent; ``own_secret: true`` answers with the new secret once."""
    doc = json_body()

    def work(db: Any) -> dict[str, Any]:
        row = subscriptions.update_subscription(db, subscription_id, doc)
        return subscription_json(row, with_secret=doc.get("own_secret") is True)

    return reply(transact(work))


@bp.delete("/subscriptions/<id:subscription_id>")
@api_key_required("subscriptions:write")
def delete_subscription(subscription_id: int) -> Response:

    def work(db: Any) -> dict[str, Any]:
        body = subscription_json(subscriptions.get_subscription(db, subscription_id))
        subscriptions.delete_subscription(db, subscription_id)
        return body

    return reply(transact(work))


@bp.get("/subscriptions/<id:subscription_id>/deliveries")
@api_key_required("subscriptions:read")
def subscription_deliveries(subscription_id: int) -> Response:
    rows = subscriptions.deliveries(get_session(), subscription_id)
    return reply({"items": [delivery_json(m) for m in rows]})
