"""Inbound channel webhooks: deliveries signed the platform's way (or OrderFlow's), mapped
to canonical orders and status events."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response, request
from sqlalchemy.orm import Session

from .. import ratelimit
from ..channels import deliveries
from ..channels import services as channels
from ..channels.protocols import PROTOCOLS, GenericHmac, Message, Protocol
from ..db import get_db, release_session
from ..errors import ValidationError
from ..jsonbody import parse_json
from ..models import Channel, ChannelDelivery, table_of, utcnow
from ..orders import intake
from ._http import group_commit, raw_body, reply, transact
from ._schemas import OBJ, ref
from .orders import created_reply, order_json, receive_once_more
from .spec import CHANNEL, api, param

OWN_HEADER = "X-OrderFlow-Signature"


@dataclass(frozen=True)
class _Delivery:
    key: str
    signature: str | None
    body: bytes


def _channel() -> str:
    return f"channel:{(request.view_args or {}).get('key')}"


@api.post(
    "/channels/<key>/webhook",
    scope=None,
    summary="An order or order event from a sales channel, signed the platform's way (Shopify, "
     "WooCommerce, Youzan, Douyin shop, generic HMAC) or OrderFlow's way; no API key",
    params=[CHANNEL, param("X-OrderFlow-Signature", "header", required=False,
                  description="t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<body>'>; "
                              "platform kinds use their own header instead")],
    body=OBJ,
    responses={"201": ref("Order"), "200": ref("Order"), "202": OBJ},
)  # fmt: skip
@ratelimit.limiter.limit(ratelimit.configured("RATELIMIT_WEBHOOK"), key_func=_channel)
def channel_webhook(key: str) -> Response:
    """An order or order event from channel ``key``, authenticated by its signature (no API
    key): the platform's own scheme for a platform kind, ``X-OrderFlow-Signature`` for any.

    Orders arriving while another one's transaction runs share the next transaction (group
    commit); each is still verified, answered and, when refused, refused on its own.
    """
    body = raw_body()
    own = request.headers.get(OWN_HEADER)
    release_session()  # the delivery is stored in transactions of its own
    channel = None if own is not None else _read_channel(key)
    protocol = PROTOCOLS.get(channel.kind) if channel is not None else None
    if channel is None or protocol is None:
        groups = group_commit("channel_deliveries", _store_each, _store_together)
        return created_reply(groups.submit(_Delivery(key, own, body)))
    return _platform_delivery(channel, protocol, body)


def _read_channel(key: str) -> Channel:
    """The channel, read without taking the write lock and usable after its session."""
    with get_db().session() as db:
        channel = channels.get_channel(db, key)
        db.expunge(channel)
    return channel


def _platform_delivery(channel: Channel, protocol: Protocol, body: bytes) -> Response:
    headers = request.headers
    handshake = protocol.handshake(headers, body)
    if handshake is not None:
        return reply(handshake.body, handshake.status)
    now = utcnow()
    settings = channel.settings or {}
    protocol.verify(channel.secret, settings, headers, body, now)
    read = protocol.configured(settings) if isinstance(protocol, GenericHmac) else None
    messages = read(headers, body) if read else protocol.messages(headers, body)
    if len(messages) == 1 and messages[0].topic == "created":
        outcome = _one_order(channel, messages[0])
        outcomes = [outcome]
    else:
        outcomes = transact(lambda db: [deliveries.handle(db, channel, m, now) for m in messages])
    answer = protocol.answer(outcomes)
    if answer is not None:
        return reply(answer.body, answer.status)
    return _reply(outcomes)


def _one_order(channel: Channel, message: Message) -> deliveries.Outcome:
    """A new order through the group commit; one the mapping cannot use is held."""
    try:
        order, dedup_key = deliveries.prepare(channel, message)
        received = group_commit("channel_orders", _order_each, _orders_together).submit(
            _Order(order, dedup_key, channel.id, message)
        )
    except ValidationError as err:
        if err.code not in ("mapping_failed", "invalid_order", "invalid_payload"):
            raise
        problems = list(err.details or []) or [{"path": "/", "message": str(err.message)}]
        reason = "mapping_failed" if err.code == "mapping_failed" else "invalid_order"
        held = transact(
            lambda db: deliveries.hold(db, channel, message, reason, problems, utcnow())
        )
        return deliveries.Outcome(deliveries.HELD, delivery=held)
    effect = "created" if received.created else "duplicate"
    return deliveries.Outcome(effect, order=received.order, received=received)


def _reply(outcomes: list[deliveries.Outcome]) -> Response:
    """OrderFlow's answer to a platform that expects no particular body: the order when one
    message made one, else what became of each message."""
    if len(outcomes) == 1 and outcomes[0].received is not None:
        return created_reply(outcomes[0].received)
    items: list[dict[str, Any]] = []
    for outcome in outcomes:
        item: dict[str, Any] = {"result": outcome.effect}
        if outcome.order is not None:
            item["order"] = order_json(outcome.order)
        if outcome.delivery is not None:
            item["held_delivery"] = outcome.delivery.id
            item["reason"] = outcome.delivery.reason
            item["problems"] = outcome.delivery.problems
        items.append(item)
    status = 202 if any(o.effect == deliveries.HELD for o in outcomes) else 200
    return reply({"results": items}, status)


@dataclass(frozen=True)
class _Order:
    """A platform's new order on its way to the group commit, with its delivery to log."""

    order: dict[str, Any]
    dedup_key: str | None
    channel_id: int
    message: Message


# A Core INSERT of the log rows: well under half the CPU of an ORM insert of the same rows.
_LOG_INSERT = table_of(ChannelDelivery).insert()


def _log(db: Session, items: Sequence[_Order], received: Sequence[intake.Received]) -> None:
    """Keep each delivery in the channel's delivery log with the order it became, in the
    transaction that stores the orders."""
    now = utcnow()
    rows = [
        deliveries.log_row(
            item.channel_id,
            item.message,
            deliveries.CREATED if got.created else deliveries.DUPLICATE,
            got.order,
            now,
        )
        for item, got in zip(items, received, strict=True)
    ]
    db.execute(_LOG_INSERT, rows)  # one statement for the group


def _order_each(item: _Order) -> intake.Received:
    def work(db: Session) -> intake.Received:
        received = intake.receive(db, item.order, dedup_key=item.dedup_key)
        _log(db, [item], [received])
        return received

    return receive_once_more(work)


def _orders_together(items: Sequence[_Order]) -> list[intake.Received]:
    orders, keys = [i.order for i in items], [i.dedup_key for i in items]

    def work(db: Session) -> list[intake.Received]:
        received = intake.receive_many(db, orders, dedup_keys=keys)
        _log(db, items, received)
        return received

    return receive_once_more(work)


def _accept(db: Session, delivery: _Delivery, now: datetime, known: dict[str, Channel]) -> _Order:
    """Verify an OrderFlow-signed ``delivery`` and map it: its canonical order, its
    buyer-order key and the delivery to log.

    The signature's receipt is written in the caller's transaction, with the order: a
    delivery refused later (bad payload) may be sent again once fixed.
    """
    channel = known.get(delivery.key)
    if channel is None:
        channel = known[delivery.key] = channels.get_channel(db, delivery.key)
    channels.verify(db, channel, delivery.signature, delivery.body, now=now)
    message = Message(None, "created", parse_json(delivery.body))
    order, dedup_key = deliveries.prepare(channel, message)
    return _Order(order, dedup_key, channel.id, message)


def _tidy(db: Session, now: datetime, count: int) -> None:
    if random.random() < 0.01 * count:  # noqa: S311 (housekeeping, not security)
        channels.forget_old_receipts(db, now=now)


def _store_each(delivery: _Delivery) -> intake.Received:
    def work(db: Session) -> intake.Received:
        now = utcnow()
        _tidy(db, now, 1)
        item = _accept(db, delivery, now, {})
        received = intake.receive(db, item.order, dedup_key=item.dedup_key, now=now)
        _log(db, [item], [received])
        return received

    return receive_once_more(work)


def _store_together(items: Sequence[_Delivery]) -> list[intake.Received]:
    def work(db: Session) -> list[intake.Received]:
        now = utcnow()
        _tidy(db, now, len(items))
        known: dict[str, Channel] = {}
        accepted = [_accept(db, d, now, known) for d in items]
        orders = [item.order for item in accepted]
        keys = [item.dedup_key for item in accepted]
        received = intake.receive_many(db, orders, dedup_keys=keys, now=now)
        _log(db, accepted, received)
        return received

    return receive_once_more(work)
