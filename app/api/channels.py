"""Inbound channel webhooks: signed deliveries mapped to canonical orders."""

from __future__ import annotations

import random
from typing import Any

from flask import Response, request

from .. import ratelimit
from ..channels import mapping as mappings
from ..channels import services as channels
from ..models import utcnow
from ..orders import intake
from ._blueprint import bp
from ._http import parse_json, raw_body
from .orders import created_reply, receive_once_more


@bp.post("/channels/<key>/webhook")
def channel_webhook(key: str) -> Response:
    """An order from channel ``key``, authenticated by its HMAC signature (no API key)."""
    ratelimit.check("RATELIMIT_WEBHOOK", f"channel:{key}")
    body = raw_body()
    header = request.headers.get("X-OrderFlow-Signature")

    def work(db: Any) -> intake.Received:
        # Signature, receipt and order commit together: a delivery refused later (bad
        # payload) may be sent again once fixed.
        now = utcnow()
        channel = channels.get_channel(db, key)
        channels.verify(db, channel, header, body, now=now)
        payload = parse_json(body)
        if random.random() < 0.01:  # noqa: S311 (housekeeping, not security)
            channels.forget_old_receipts(db, now=now)
        rules = mappings.effective(channel.kind, channel.mapping)
        order = mappings.to_order(rules, payload, channel=channel.order_channel)
        return intake.receive(db, order, dedup_key=mappings.dedup_key(rules, order), now=now)

    return created_reply(receive_once_more(work))
