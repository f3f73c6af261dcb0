"""Creating, changing and removing event subscriptions, and reading their deliveries."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from flow_engine.outbound import url_problem

from ..errors import NotFoundError, ValidationError
from ..i18n import in_reader_language
from ..models import OutboxMessage, Subscription, utcnow
from ..runs import outbox
from ..runs.events import EVENTS, forget
from ..sales_channels import sales_channels

log = logging.getLogger(__name__)
EXAMPLE_URL = "https://erp.example.com/orderflow/events"
MAX_NAME = 80


def list_subscriptions(db: Session) -> list[Subscription]:
    return list(db.scalars(select(Subscription).order_by(Subscription.id)))


def get_subscription(db: Session, subscription_id: int) -> Subscription:
    """The subscription, or NotFoundError."""
    row = db.get(Subscription, subscription_id)
    if row is None:
        raise NotFoundError(
            _l("There is no event subscription %(id)s.", id=subscription_id),
            code="subscription_not_found",
        )
    return row


def create_subscription(db: Session, actor: str | None, doc: Mapping[str, Any]) -> Subscription:
    """Subscribe an allowed endpoint to order events (``name``, ``url``, ``events`` required;
    ``channel``, ``active``, ``own_secret`` optional). No commit."""
    for name in ("name", "url", "events"):
        if doc.get(name) is None:
            raise _invalid(name, _l("Required."))
    row = Subscription(created_by=(actor or "")[:64] or None, active=True, events=[])
    _apply(db, row, doc)  # checked before the row joins the session (checks query)
    db.add(row)
    db.flush()
    log.info("subscription %s created for %s", row.id, row.url)
    return row


def update_subscription(db: Session, subscription_id: int, doc: Mapping[str, Any]) -> Subscription:
    """Change the fields given (as for creating; ``own_secret`` true draws a new secret,
    false signs with the host's secret again). No commit."""
    row = get_subscription(db, subscription_id)
    _apply(db, row, doc)
    row.updated_at = utcnow()
    db.flush()
    return row


def delete_subscription(db: Session, subscription_id: int) -> None:
    """Remove the subscription; its messages not sent yet are dropped, the log of those sent
    or dead stays (without the subscription). No commit."""
    row = get_subscription(db, subscription_id)
    db.execute(
        delete(OutboxMessage).where(
            OutboxMessage.subscription_id == row.id, OutboxMessage.status == outbox.PENDING
        )
    )
    db.delete(row)
    db.flush()
    forget(db)


def deliveries(db: Session, subscription_id: int, *, limit: int = 50) -> list[OutboxMessage]:
    """The subscription's most recent messages, newest first."""
    get_subscription(db, subscription_id)
    return list(
        db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.subscription_id == subscription_id)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def _apply(db: Session, row: Subscription, doc: Mapping[str, Any]) -> None:
    if "name" in doc:
        name = doc["name"]
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
            raise _invalid("name", _l("A name of 1 to %(n)d characters.", n=MAX_NAME))
        row.name = name.strip()
    if "url" in doc:
        row.url = _checked_url(db, doc["url"])
    if "events" in doc:
        row.events = _checked_events(doc["events"])
    if "channel" in doc:
        row.channel = _checked_channel(doc["channel"])
    if "active" in doc:
        if not isinstance(doc["active"], bool):
            raise _invalid("active", _l("true or false."))
        row.active = doc["active"]
    if "own_secret" in doc:
        if not isinstance(doc["own_secret"], bool):
            raise _invalid("own_secret", _l("true or false."))
        row.secret = f"whsec_{secrets.token_urlsafe(32)}" if doc["own_secret"] else None
    forget(db)


def _checked_url(db: Session, url: Any) -> str:
    problem = url_problem(url)
    if problem is not None:
        raise _invalid(
            "url",
            _l(
                "The address %(url)s cannot be used: %(reason)s. Give an http:// or https:// "
                "address with a host, e.g. %(example)s.",
                url=repr(url),
                reason=in_reader_language(*problem),
                example=EXAMPLE_URL,
            ),
        )
    try:
        outbox.check_destination(db, url)
    except outbox.DeliveryError:
        raise _invalid(
            "url",
            _l(
                "The host of %(url)s is not on the outbound allowlist, so no event can be "
                "sent there. An admin adds the host (e.g. erp.example.com or *.example.com) "
                "under Integrations → Allowed destination hosts first.",
                url=url,
            ),
        ) from None
    return str(url)


def _checked_events(events: Any) -> list[str]:
    if (
        not isinstance(events, list)
        or not events
        or any(not isinstance(e, str) or e not in EVENTS for e in events)
    ):
        raise _invalid(
            "events",
            _l(
                "A list of one or more order events out of %(known)s, e.g. "
                '["order.created", "order.status_changed"].',
                known=", ".join(EVENTS),
            ),
        )
    return [e for e in EVENTS if e in events]  # known order, no repeats


def _checked_channel(channel: Any) -> str | None:
    if channel is None or channel == "":
        return None
    known = list(sales_channels())
    if channel not in known:
        raise _invalid(
            "channel",
            _l(
                "A sales channel out of %(known)s, or null for every channel.",
                known=", ".join(known),
            ),
        )
    return str(channel)


def _invalid(field: str, message: Any) -> ValidationError:
    return ValidationError(
        message,
        code="invalid_subscription",
        details=[{"path": f"/{field}", "message": str(message)}],
    )
