"""Inbound channel webhooks: signature check (HMAC-SHA256, timestamped, replay window),
payload mapping to the canonical order, and ingest.

A channel signs ``"<unix timestamp>.<raw body>"`` with its secret and sends
``X-OrderFlow-Signature: t=<timestamp>,v1=<hex digest>``. A delivery is refused when the
signature does not match, when the timestamp is further than the replay window from now,
or when the same signature was already accepted (a replay).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import order_fields as schema
from ..db import rows_matched
from ..errors import ConflictError, NotFoundError, ValidationError
from ..models import Channel, WebhookReceipt
from ..sales_channels import sales_channels
from ..signing import SIGNATURE_RE, sign
from . import kinds
from . import mapping as mappings
from .protocols import REPLAY_WINDOW, SignatureError, check_hmac_settings

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def verify(
    db: Session, channel: Channel, header: str | None, body: bytes, *, now: datetime
) -> None:
    """Accept a delivery once: right signature, fresh timestamp, not a replay. No commit."""
    match = SIGNATURE_RE.match((header or "").strip())
    if match is None:
        raise SignatureError(
            _l("The X-OrderFlow-Signature header is missing or malformed."),
            code="missing_signature",
        )
    timestamp = int(match.group(1))
    expected = sign(channel.secret, timestamp, body)
    if not hmac.compare_digest(expected, match.group(0)):
        raise SignatureError(_l("The signature does not match the body."))
    if abs(now.timestamp() - timestamp) > REPLAY_WINDOW.total_seconds():
        raise SignatureError(
            _l("The signature timestamp is outside the %(n)d-second window.",
               n=int(REPLAY_WINDOW.total_seconds())),
            code="stale_signature",
        )  # fmt: skip
    digest = hashlib.sha256(match.group(0).encode()).hexdigest()
    try:
        with db.begin_nested():
            db.add(WebhookReceipt(channel_id=channel.id, signature=digest, received_at=now))
            db.flush()
    except IntegrityError:
        raise SignatureError(
            _l("This delivery was already received (replay)."), code="replayed_signature"
        ) from None


def forget_old_receipts(db: Session, *, now: datetime) -> int:
    """Drop receipts older than twice the replay window (they can no longer match)."""
    cutoff = now - 2 * REPLAY_WINDOW
    return rows_matched(db, delete(WebhookReceipt).where(WebhookReceipt.received_at < cutoff))


def check_settings(kind: str, settings: Any) -> dict[str, Any] | None:
    """A channel's signature settings for its kind: the generic HMAC kind's scheme, the app
    key of 有赞 and 抖店 (optional: else the one the delivery names)."""
    if kind == "hmac":
        return check_hmac_settings(settings)
    if settings in (None, {}):
        return None
    if not isinstance(settings, dict) or set(settings) - {"app_key"}:
        raise ValidationError(
            _l("This channel kind takes only an app_key setting."),
            code="invalid_settings",
            fields={"settings": str(_l('For example {"app_key": "3409409348479354011"}.'))},
        )
    key = settings.get("app_key")
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 64):
        raise ValidationError(
            _l("The app key is a text of at most 64 characters."),
            code="invalid_settings",
            fields={"app_key": str(_l("The app key (client id) from the platform's console."))},
        )
    return dict(settings)


def get_channel(db: Session, key: str) -> Channel:
    channel = db.scalars(select(Channel).where(Channel.key == key)).first()
    if channel is None or not channel.active:
        raise NotFoundError(_l("There is no active channel %(key)s.", key=key))
    return channel


def list_channels(db: Session) -> list[Channel]:
    return list(db.scalars(select(Channel).order_by(Channel.key)))


def set_mapping(db: Session, channel: Channel, override: Any) -> Channel:
    """Replace the channel's own mapping (overrides of its kind's shipped one). No commit."""
    channel.mapping = mappings.check_override(override)
    db.flush()
    return channel


def try_mapping(
    db: Session, channel: Channel, override: Any, payload: Any
) -> tuple[dict[str, Any], str | None]:
    """The canonical order ``payload`` would become with ``override``, checked like a real
    delivery (mapping problems and order-schema problems raise ValidationError), and its
    cross-channel dedup key. Nothing is stored."""

    rules = mappings.effective(channel.kind, mappings.check_override(override))
    order = mappings.to_order(rules, payload, channel=channel.order_channel)
    schema.validate(db, order)
    return order, mappings.dedup_key(rules, order)


def create_channel(
    db: Session,
    actor: object,
    *,
    key: str,
    kind: str,
    order_channel: str,
    name: str = "",
    mapping: dict[str, Any] | None = None,
    secret: str | None = None,
    settings: dict[str, Any] | None = None,
) -> Channel:
    """Configure an inbound channel; a secret is generated unless given (a platform's own
    kind takes the secret its admin shows). No commit."""
    problems: dict[str, str] = {}
    try:
        settings = check_settings(kind, settings)
    except ValidationError as err:
        problems.update(err.fields or {"settings": str(err.message)})
    if not KEY_RE.match(key or ""):
        problems["key"] = str(_l("Use lower-case letters, digits, - and _."))
    if kind not in kinds.kinds():
        problems["kind"] = str(_l("Unknown channel kind %(kind)s.", kind=kind))
    order_channel = order_channel or kinds.default_sales_channel(kind) or ""
    if order_channel not in sales_channels():
        problems["order_channel"] = str(
            _l(
                "Choose the sales channel the orders come from, one of: %(known)s.",
                known=", ".join(sales_channels()),
            )
        )
    if secret is not None and len(secret) < 16:
        problems["secret"] = str(_l("A webhook secret has at least 16 characters."))
    if problems:
        raise ValidationError(_l("The channel is not valid."), fields=problems)
    if db.scalars(select(Channel).where(Channel.key == key)).first() is not None:
        raise ConflictError(_l("A channel %(key)s exists already.", key=key))
    channel = Channel(
        key=key,
        name=name or key,
        kind=kind,
        order_channel=order_channel,
        secret=secret or secrets.token_urlsafe(32),
        mapping=mapping or {},
        settings=settings,
        active=True,
    )
    db.add(channel)
    db.flush()
    return channel
