"""Inbound channel webhooks: signed deliveries mapped to canonical orders."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response, request
from sqlalchemy.orm import Session

from .. import ratelimit
from ..channels import mapping as mappings
from ..channels import services as channels
from ..db import release_session
from ..models import Channel, utcnow
from ..orders import intake
from ._blueprint import bp
from ._http import group_commit, parse_json, raw_body
from .orders import created_reply, receive_once_more


@dataclass(frozen=True)
class _Delivery:
    key: str
    signature: str | None
    body: bytes


@bp.post("/channels/<key>/webhook")
def channel_webhook(key: str) -> Response:
    """An order from channel ``key``, authenticated by its HMAC signature (no API key).

    Deliveries arriving while another one's transaction runs share the next transaction
    (group commit); each is still verified, answered and, when refused, refused on its own.
    """
    ratelimit.check("RATELIMIT_WEBHOOK", f"channel:{key}")
    delivery = _Delivery(key, request.headers.get("X-OrderFlow-Signature"), raw_body())
    release_session()  # the delivery is stored in transactions of its own
    groups = group_commit("channel_deliveries", _store_each, _store_together)
    return created_reply(groups.submit(delivery))


def _accept(
    db: Session, delivery: _Delivery, now: datetime, known: dict[str, Channel]
) -> tuple[dict[str, Any], str | None]:
    """Verify ``delivery`` and map it: its canonical order and its buyer-order key.

    The signature's receipt is written in the caller's transaction, with the order: a
    delivery refused later (bad payload) may be sent again once fixed.
    """
    channel = known.get(delivery.key)
    if channel is None:
        channel = known[delivery.key] = channels.get_channel(db, delivery.key)
    channels.verify(db, channel, delivery.signature, delivery.body, now=now)
    payload = parse_json(delivery.body)
    rules = mappings.effective(channel.kind, channel.mapping)
    order = mappings.to_order(rules, payload, channel=channel.order_channel)
    return order, mappings.dedup_key(rules, order)


def _tidy(db: Session, now: datetime, deliveries: int) -> None:
    if random.random() < 0.01 * deliveries:  # noqa: S311 (housekeeping, not security)
        channels.forget_old_receipts(db, now=now)


def _store_each(delivery: _Delivery) -> intake.Received:
    def work(db: Session) -> intake.Received:
        now = utcnow()
        _tidy(db, now, 1)
        order, dedup_key = _accept(db, delivery, now, {})
        return intake.receive(db, order, dedup_key=dedup_key, now=now)

    return receive_once_more(work)


def _store_together(deliveries: Sequence[_Delivery]) -> list[intake.Received]:
    def work(db: Session) -> list[intake.Received]:
        now = utcnow()
        _tidy(db, now, len(deliveries))
        known: dict[str, Channel] = {}
        accepted = [_accept(db, d, now, known) for d in deliveries]
        orders = [order for order, _ in accepted]
        keys = [key for _, key in accepted]
        return intake.receive_many(db, orders, dedup_keys=keys, now=now)

    return receive_once_more(work)
