"""A generic SMS gateway: JSON ``{"to", "text", "idempotency_key"}`` posted to its webhook,
HMAC-signed like OrderFlow's webhooks when it has a secret."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from ...jsontext import body_bytes
from ...signing import sign
from .base import ChannelKind, post_json, signing_secret, webhook_url


def send_sms(config: Mapping[str, Any], msg: Mapping[str, Any]) -> dict[str, Any]:
    """One text message to ``msg["phone"]`` through the gateway."""
    body = {"to": msg["phone"], "text": msg["body"], "idempotency_key": msg.get("key")}
    raw = body_bytes(body)
    stamp = int(time.time())
    headers = {"Idempotency-Key": str(msg.get("key") or "")}
    if config.get("secret"):
        headers["X-OrderFlow-Signature"] = sign(config["secret"], stamp, raw)
    reply = post_json(config["webhook_url"], body, headers)
    return {"status": 200, "body": reply}


KIND = ChannelKind(
    name="sms",
    label=_l("SMS gateway"),
    title={"en": "SMS", "zh": "短信"},
    settings=(webhook_url("https://sms.example.com/send"), signing_secret()),
    send=send_sms,
    address={"phone": "phone"},
    personal=True,
    style="short",
)
