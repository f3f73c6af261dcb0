"""Orders from the API, channel webhooks and pulls, the CLI and template samples: the one
place they are validated (against the effective schema, :mod:`app.order_fields`), then
stored once per idempotency key, per (channel, external id) and, where a channel's rule
says so, per buyer order across channels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import order_fields as schema
from ..errors import ConflictError, ValidationError
from ..models import Order, OrderDedupKey, Run
from . import intake_rules
from . import services as orders


class DedupRaceError(ConflictError):
    """Another request stored the same buyer order from another channel meanwhile."""

    code = "dedup_race"


@dataclass(frozen=True)
class Received:
    order: Order
    created: bool
    runs: list[Run]
    # How the duplicate was recognised: idempotency_key, external_id or dedup_key.
    matched: str | None = None


def _by_dedup(db: Session, key: str) -> Order | None:
    row = db.get(OrderDedupKey, key)
    return db.get(Order, row.order_id) if row is not None else None


def receive(
    db: Session,
    doc: Mapping[str, Any],
    *,
    idempotency_key: str | None = None,
    dedup_key: str | None = None,
    now: datetime | None = None,
) -> Received:
    """Store ``doc`` unless it was seen before, and start its flows. No commit.

    Raises :class:`DedupRaceError` when a concurrent request claimed ``dedup_key`` with
    another order; the caller rolls back and calls again, and then gets that order.
    """
    doc, automatic = intake_rules.prepare(db, doc)
    dedup_key = dedup_key or automatic
    schema.validate(db, doc)
    if dedup_key:
        existing = _by_dedup(db, dedup_key)
        if existing is not None:
            return Received(existing, False, [], "dedup_key")
    order, created, runs = orders.ingest(db, doc, idempotency_key=idempotency_key, now=now)
    if not created:
        return Received(order, False, [], _seen_as(order, doc, idempotency_key))
    if dedup_key:
        _claim(db, dedup_key, order)
    return Received(order, True, runs)


def _seen_as(order: Order, doc: Mapping[str, Any], idempotency_key: str | None) -> str:
    """How stored ``order`` matched ``doc``: by its idempotency key or by its external id.

    ConflictError when the key is the stored order's but ``doc`` is another order.
    """
    by_key = bool(idempotency_key) and order.idempotency_key == idempotency_key
    if by_key and (order.channel, order.external_id) != (doc["channel"], doc["external_id"]):
        raise ConflictError(
            _l(
                "This Idempotency-Key was used for order %(channel)s/%(id)s; use a new key "
                "for another order.",
                channel=order.channel,
                id=order.external_id,
            ),
            code="idempotency_key_reused",
        )
    return "idempotency_key" if by_key else "external_id"


def _claim(db: Session, key: str, order: Order) -> None:
    """Record ``key`` as ``order``'s; DedupRaceError when a concurrent request took it."""
    try:
        with db.begin_nested():
            db.add(OrderDedupKey(key=key, order_id=order.id))
            db.flush()
    except IntegrityError as err:
        raise DedupRaceError("the same buyer order arrived twice at once") from err


def _by_dedup_many(db: Session, keys: set[str]) -> dict[str, Order]:
    """The stored orders of these dedup keys, with one query."""
    if not keys:
        return {}
    rows = db.execute(
        select(OrderDedupKey.key, Order)
        .join(Order, Order.id == OrderDedupKey.order_id)
        .where(OrderDedupKey.key.in_(sorted(keys)))
    )
    return {key: order for key, order in rows}


MAX_BATCH = 500


def receive_many(
    db: Session,
    docs: Sequence[Any],
    *,
    dedup_keys: Sequence[str | None] | None = None,
    idempotency_keys: Sequence[str | None] | None = None,
    now: datetime | None = None,
) -> list[Received]:
    """Store a batch of orders and start their flows in one transaction, all or nothing.

    Every order is checked against the effective schema first; one invalid order refuses the
    batch and the error lists each problem under the order's index (``/orders/3/amount``).
    Orders seen before, also earlier in the same batch, come back with ``created`` false.
    ``dedup_keys`` (one per order, or None) are the buyer-order keys a channel's mapping
    gave; an order without one gets the intake rules' key, as :func:`receive` does.
    ``idempotency_keys`` (one per order, or None) work as :func:`receive`'s: a key used
    before for another order raises ConflictError (``idempotency_key_reused``).
    """
    if not 1 <= len(docs) <= MAX_BATCH:
        raise ValidationError(
            _l("A batch holds 1 to %(n)d orders.", n=MAX_BATCH),
            code="invalid_batch",
            details=[{"path": "/orders", "message": f"1-{MAX_BATCH} orders", "rule": "maxItems"}],
        )
    prepared = [intake_rules.prepare(db, doc) for doc in docs]
    docs = [doc for doc, _ in prepared]
    problems: list[dict[str, Any]] = []
    count = 0
    for i, doc in enumerate(docs):
        n, found = schema.problems(
            db, doc, at=f"/orders/{i}", limit=schema.MAX_PROBLEMS - len(problems)
        )
        count += n
        problems += found
    if count:
        raise ValidationError(
            _l("The batch has %(n)d problems; no order was stored.", n=count),
            code="invalid_order",
            details=problems,
        )
    # The same buyer order seen before, or twice in this batch, is stored once: the first
    # occurrence of a key not seen before is stored, the others answer with its order.
    given = dedup_keys or [None] * len(prepared)
    keys = [key or automatic for key, (_, automatic) in zip(given, prepared, strict=True)]
    known = _by_dedup_many(db, {k for k in keys if k})
    first: dict[str, int] = {}
    fresh = []
    for i, key in enumerate(keys):
        if key and (key in known or key in first):
            continue
        if key:
            first[key] = i
        fresh.append(i)
    given_keys = idempotency_keys or [None] * len(docs)
    stored = (
        orders.ingest_many(
            db, [docs[i] for i in fresh], idempotency_keys=[given_keys[i] for i in fresh], now=now
        )
        if fresh
        else []
    )
    results = dict(zip(fresh, stored, strict=True))
    for key, i in first.items():
        order, created, _ = results[i]
        known[key] = order
        if created:
            _claim(db, key, order)
    out = []
    for i, key in enumerate(keys):
        if i in results:
            order, created, runs = results[i]
            seen = None if created else _seen_as(order, docs[i], given_keys[i])
            out.append(Received(order, created, runs, seen))
        else:
            # A key without a result of its own was known or claimed above.
            out.append(Received(known[key], False, [], "dedup_key"))  # type: ignore[index]
    return out


def find_order(
    db: Session,
    *,
    order_id: int | None = None,
    channel: str | None = None,
    external_id: str | None = None,
    tracking_id: str | None = None,
) -> Order | None:
    """Find an order by id, by (channel, external id) or by tracking id."""
    if order_id is not None:
        return db.get(Order, order_id)
    if tracking_id:
        return db.scalars(select(Order).where(Order.tracking_id == tracking_id)).first()
    if channel and external_id:
        return db.scalars(
            select(Order).where(Order.channel == channel, Order.external_id == external_id)
        ).first()
    return None
