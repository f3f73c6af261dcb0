"""What a platform's message does once its signature is good: a new order, a status event of
a known order, or a delivery held for an admin to fix and replay.

A real platform retries a refused webhook a few times and then stops, losing the order for
OrderFlow. So a delivery OrderFlow cannot use yet (the mapping failed, the order it names is
unknown) is stored with its payload and answered as received; the integrations page lists
it, the admin fixes the channel's mapping and replays it.

Every accepted message is kept too, in the same transaction as what it became (the
delivery log, ``ChannelDelivery``), pruned by :func:`prune`. Deduplication is not the log's:
an order is stored once per (channel, external id), a status event once per event id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .. import order_fields as schema
from ..db import rows_matched
from ..errors import ConflictError, NotFoundError, ValidationError
from ..models import Channel, ChannelDelivery, Order, utcnow
from ..orders import intake
from ..status import services as status
from . import mapping as mappings
from .protocols import Message

# The status source of platform topics (``app/status/mappings.json``), and its codes.
SOURCE = "channel"
CODES = {
    "paid": "PAID",
    "fulfilled": "FULFILLED",
    "delivered": "DELIVERED",
    "cancelled": "CANCELLED",
    "refunded": "REFUNDED",
}
HELD, REPLAYED, DISMISSED = "held", "replayed", "dismissed"
# What an accepted delivery became, as the delivery log keeps it (``status``): a new order,
# an order seen before, a status event (or one seen before), or a message OrderFlow does not
# use. Held deliveries keep their own lifecycle (held → replayed or dismissed).
CREATED, DUPLICATE, STATUS, DUPLICATE_STATUS, IGNORED = (
    "created",
    "duplicate",
    "status",
    "duplicate_status",
    "ignored",
)
OUTCOMES = (CREATED, DUPLICATE, STATUS, DUPLICATE_STATUS, IGNORED, HELD, REPLAYED, DISMISSED)
_HOLDING = (HELD, REPLAYED, DISMISSED)
_SHIPPED = ("shipped", "customs_cleared", "delivered", "signed", "returned")


@dataclass(frozen=True)
class Outcome:
    """What one message became: ``created`` / ``duplicate`` (an order), ``status`` /
    ``duplicate_status`` (a status event), ``held``, or ``ignored``."""

    effect: str
    order: Order | None = None
    delivery: ChannelDelivery | None = None
    received: intake.Received | None = None


def prepare(channel: Channel, message: Message) -> tuple[dict[str, Any], str | None]:
    """The canonical order a ``created`` message becomes and its buyer-order key."""
    rules = mappings.effective(channel.kind, channel.mapping)
    order = mappings.to_order(rules, message.payload, channel=channel.order_channel)
    return order, mappings.dedup_key(rules, order)


def hold(
    db: Session,
    channel: Channel,
    message: Message,
    reason: str,
    problems: list[dict[str, Any]],
    now: datetime,
) -> ChannelDelivery:
    """Keep ``message`` for an admin (once per delivery id). No commit."""
    if message.delivery_id:
        seen = db.scalars(
            select(ChannelDelivery).where(
                ChannelDelivery.channel_id == channel.id,
                ChannelDelivery.delivery_id == message.delivery_id,
                ChannelDelivery.status.in_(_HOLDING),
            )
        ).first()
        if seen is not None:
            return seen
    row = ChannelDelivery(
        channel_id=channel.id,
        delivery_id=message.delivery_id,
        topic=message.topic,
        platform_topic=message.platform_topic[:64],
        status=HELD,
        reason=reason,
        problems=problems,
        payload=message.payload,
        received_at=now,
    )
    db.add(row)
    db.flush()
    return row


def logged(
    channel_id: int, message: Message, effect: str, order: Order | None, now: datetime
) -> ChannelDelivery:
    """The delivery log's row of an accepted message (not added to any session)."""
    return ChannelDelivery(**log_row(channel_id, message, effect, order, now))


def log_row(
    channel_id: int, message: Message, effect: str, order: Order | None, now: datetime
) -> dict[str, Any]:
    """The delivery log's row of an accepted message, as column values (for one INSERT of
    a group's rows)."""
    return {
        "channel_id": channel_id,
        "delivery_id": message.delivery_id,
        "topic": message.topic,
        "platform_topic": message.platform_topic[:64],
        "status": effect,
        "reason": "",
        "problems": [],
        "payload": message.payload,
        "order_id": order.id if order is not None else None,
        "received_at": now,
    }


def _external_id(channel: Channel, payload: Any) -> str | None:
    rules = mappings.effective(channel.kind, channel.mapping)
    spec = rules["fields"].get("external_id")
    if spec is None:
        return None
    try:
        value = mappings.value_of(spec, payload)
    except mappings.MappingProblemError:
        return None
    return None if value is None else str(value)


def apply_status(db: Session, channel: Channel, message: Message, now: datetime) -> Outcome:
    """A status topic of a known order as a status event (a repeated delivery id changes
    nothing); an unknown order's message is held. No commit."""
    external_id = _external_id(channel, message.payload)
    order = None
    if external_id is not None:
        order = intake.find_order(db, channel=channel.order_channel, external_id=external_id)
    if order is None:
        problem = {
            "path": "/external_id",
            "message": f"no order {external_id or '?'} from channel {channel.key} yet",
            "rule": "unknown_order",
        }
        return Outcome(HELD, delivery=hold(db, channel, message, "unknown_order", [problem], now))
    code = CODES[message.topic]
    if message.topic == "refunded" and order.status not in _SHIPPED:
        code = CODES["cancelled"]  # refunded before it left: the order is cancelled
    event_id = f"{channel.key}:{message.delivery_id or message.platform_topic}:{external_id}"
    recorded = status.record(
        db,
        order,
        source=SOURCE,
        event_id=event_id[:128],
        code=code,
        occurred_at=now,
        data={"channel": channel.key, "topic": message.platform_topic or message.topic},
        now=now,
    )
    effect = "duplicate_status" if recorded.effect == status.DUPLICATE else "status"
    return Outcome(effect, order=recorded.order)


def handle(db: Session, channel: Channel, message: Message, now: datetime) -> Outcome:
    """One message of a verified delivery, in the caller's transaction, kept in the
    delivery log with what it became. No commit."""
    outcome = _handle(db, channel, message, now)
    if outcome.effect != HELD:
        db.add(logged(channel.id, message, outcome.effect, outcome.order, now))
    return outcome


def _handle(db: Session, channel: Channel, message: Message, now: datetime) -> Outcome:
    if message.topic in ("updated", "ignored"):
        return Outcome("ignored")
    if message.topic in CODES:
        return apply_status(db, channel, message, now)
    try:
        order, dedup_key = prepare(channel, message)
        received = intake.receive(db, order, dedup_key=dedup_key, now=now)
    except ValidationError as err:
        problems = list(err.details or []) or [{"path": "/", "message": str(err.message)}]
        reason = "mapping_failed" if err.code == "mapping_failed" else "invalid_order"
        return Outcome(HELD, delivery=hold(db, channel, message, reason, problems, now))
    return Outcome(
        "created" if received.created else "duplicate", order=received.order, received=received
    )


def held(db: Session, channel_id: int | None = None, *, limit: int = 50) -> list[ChannelDelivery]:
    """Held deliveries, newest first (of one channel when given)."""
    query = select(ChannelDelivery).where(ChannelDelivery.status == HELD)
    if channel_id is not None:
        query = query.where(ChannelDelivery.channel_id == channel_id)
    return list(db.scalars(query.order_by(ChannelDelivery.id.desc()).limit(limit)))


PAGE = 50


def recent(
    db: Session, channel_id: int, *, outcome: str | None = None, page: int = 1, per_page: int = PAGE
) -> tuple[list[ChannelDelivery], int]:
    """One page of a channel's delivery log, newest first, and how many rows match."""
    where = [ChannelDelivery.channel_id == channel_id]
    if outcome in OUTCOMES:
        where.append(ChannelDelivery.status == outcome)
    total = db.scalar(select(func.count()).select_from(ChannelDelivery).where(*where)) or 0
    rows = db.scalars(
        select(ChannelDelivery)
        .where(*where)
        .order_by(ChannelDelivery.id.desc())
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    )
    return list(rows), total


def prune(db: Session, *, now: datetime, days: int, keep: int) -> int:
    """Forget logged deliveries older than ``days`` and, per channel, all but the newest
    ``keep``; deliveries still held wait for the admin whatever their age. No commit."""
    cutoff = now - timedelta(days=days)
    gone = rows_matched(
        db,
        delete(ChannelDelivery).where(
            ChannelDelivery.status != HELD, ChannelDelivery.received_at < cutoff
        ),
    )
    for channel_id in db.scalars(select(Channel.id)):
        oldest_kept = db.scalar(
            select(ChannelDelivery.id)
            .where(ChannelDelivery.channel_id == channel_id)
            .order_by(ChannelDelivery.id.desc())
            .offset(keep - 1)
            .limit(1)
        )
        if oldest_kept is None:
            continue
        gone += rows_matched(
            db,
            delete(ChannelDelivery).where(
                ChannelDelivery.channel_id == channel_id,
                ChannelDelivery.id < oldest_kept,
                ChannelDelivery.status != HELD,
            ),
        )
    return gone


def held_count(db: Session, channel_id: int) -> int:
    """How many deliveries of the channel wait for a fix."""
    where = (ChannelDelivery.channel_id == channel_id, ChannelDelivery.status == HELD)
    return db.scalar(select(func.count()).select_from(ChannelDelivery).where(*where)) or 0


def get(db: Session, delivery_id: int) -> ChannelDelivery:
    row = db.get(ChannelDelivery, delivery_id)
    if row is None:
        raise NotFoundError(_l("There is no delivery %(id)s.", id=delivery_id))
    return row


def replay(db: Session, delivery_id: int, *, now: datetime | None = None) -> Outcome:
    """Try a held delivery again with the channel's mapping as it is now. On success it is
    marked replayed with its order; otherwise ValidationError says what still fails and the
    delivery stays held with the new problems. No commit."""
    now = now or utcnow()
    row = get(db, delivery_id)
    if row.status != HELD:
        if row.status == REPLAYED:
            text = _l("This delivery was already replayed.")
        elif row.status == DISMISSED:
            text = _l("This delivery was dismissed.")
        else:
            text = _l("This delivery was not held: it already became an order or an event.")
        raise ConflictError(text, code="not_held")
    channel = db.get_one(Channel, row.channel_id)  # its deliveries go with a deleted channel
    message = Message(row.delivery_id, row.topic, row.payload, row.platform_topic)
    if row.topic in CODES:
        outcome = apply_status(db, channel, message, now)
        if outcome.effect == HELD:
            raise ValidationError(
                _l("The order of this status message is still unknown."), code="unknown_order"
            )
    else:
        order, dedup_key = prepare(channel, message)  # raises with every problem
        received = intake.receive(db, order, dedup_key=dedup_key, now=now)
        outcome = Outcome(
            "created" if received.created else "duplicate", received.order, received=received
        )
    row.status, row.replayed_at = REPLAYED, now
    row.order_id = outcome.order.id if outcome.order is not None else None
    db.flush()
    return outcome


def dismiss(db: Session, delivery_id: int) -> None:
    row = get(db, delivery_id)
    if row.status == HELD:
        row.status = DISMISSED
        db.flush()


@dataclass
class Trial:
    """What one stored delivery would become with a mapping being edited."""

    delivery: ChannelDelivery
    order: dict[str, Any] | None = None
    # The stored order it is (an order created before, or the order a status names).
    existing: Order | None = None
    problems: list[dict[str, Any]] | None = None
    skipped: bool = False


def try_on_stored(db: Session, channel: Channel, override: Any, *, limit: int = 20) -> list[Trial]:
    """Run ``override`` (checked, not saved) over the channel's last ``limit`` stored
    deliveries: per delivery the order it would become or the problems. Nothing is written;
    the caller rolls back."""

    rules = mappings.effective(channel.kind, mappings.check_override(override))
    rows = db.scalars(
        select(ChannelDelivery)
        .where(ChannelDelivery.channel_id == channel.id, ChannelDelivery.status != DISMISSED)
        .order_by(ChannelDelivery.id.desc())
        .limit(max(1, min(limit, 200)))
    )
    trials = []
    for row in rows:
        trial = Trial(row)
        trials.append(trial)
        if row.topic in CODES:
            spec = rules["fields"].get("external_id")
            try:
                value = mappings.value_of(spec, row.payload) if spec else None
            except mappings.MappingProblemError as problem:
                trial.problems = [_problem(problem)]
                continue
            if value is not None:
                trial.existing = intake.find_order(
                    db, channel=channel.order_channel, external_id=str(value)
                )
            if trial.existing is None:
                trial.problems = [
                    {
                        "path": "/external_id",
                        "message": f"no order {value or '?'} from channel {channel.key} yet",
                        "message_zh": f"渠道 {channel.key} 还没有订单 {value or '?'}",
                    }
                ]
            continue
        if row.topic != "created":
            trial.skipped = True
            continue
        try:
            order = mappings.to_order(rules, row.payload, channel=channel.order_channel)
            schema.validate(db, order)
        except ValidationError as err:
            trial.problems = list(err.details or []) or [{"path": "/", "message": str(err.message)}]
            continue
        trial.order = order
        trial.existing = intake.find_order(
            db, channel=channel.order_channel, external_id=str(order.get("external_id"))
        )
    return trials


def _problem(problem: mappings.MappingProblemError) -> dict[str, Any]:
    return {"path": problem.path, "message": problem.message, "message_zh": problem.message_zh}


def replay_held(db: Session, channel_id: int, *, now: datetime | None = None) -> tuple[int, int]:
    """Replay every held delivery of a channel, each on its own (one still failing stays
    held); how many became orders or events, and how many still fail. No commit."""
    done = failed = 0
    ids = list(
        db.scalars(
            select(ChannelDelivery.id)
            .where(ChannelDelivery.channel_id == channel_id, ChannelDelivery.status == HELD)
            .order_by(ChannelDelivery.id)
        )
    )
    for delivery_id in ids:
        try:
            with db.begin_nested():
                replay(db, delivery_id, now=now)
        except (ValidationError, ConflictError, intake.DedupRaceError):
            failed += 1
        else:
            done += 1
    return done, failed
