"""Orders: create (idempotent), get, list with filters and cursor pagination, search."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from .. import order_fields as schema
from ..db import get_session, release_session
from ..errors import NotFoundError, ValidationError
from ..models import Order, Run
from ..orders import intake
from ..orders import services as order_services
from ..shipments import services as shipments
from ..status import services as status
from ._http import (
    cursor_id,
    group_commit,
    iso,
    json_body,
    limit_param,
    page,
    reply,
    str_param,
    time_param,
    transact,
)
from ._schemas import OBJ, list_of, ref
from .spec import IDEMPOTENCY_KEY, ORDER_ID, PAGING, api, filter_param, param
from .status import event_json

IDEMPOTENCY_MAX = 128


def order_json(order: Order, *, with_data: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": order.id,
        "channel": order.channel,
        "external_id": order.external_id,
        "tracking_id": order.tracking_id,
        "tracking_url": url_for("tracking.track", tracking_id=order.tracking_id),
        "status": order.status,
        "customer_id": order.customer_id,
        "amount": order.amount,
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
    }
    if with_data:
        body["data"] = order.data
    return body


def run_json(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "order_id": run.order_id,
        "flow_version_id": run.flow_version_id,
        "status": run.status,
        "outcome": run.outcome,
        "current_nodes": list(run.current_nodes or ()),
        "incident": run.incident,
        "started_at": iso(run.started_at),
        "updated_at": iso(run.updated_at),
        "finished_at": iso(run.finished_at),
    }


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    # Printable ASCII: what an HTTP header carries the same way through every proxy.
    if not key or len(key) > IDEMPOTENCY_MAX or not all(" " <= c <= "~" for c in key):
        raise ValidationError(
            _l(
                "Idempotency-Key must be 1 to %(n)d printable ASCII characters, e.g. "
                "order-2026-0001.",
                n=IDEMPOTENCY_MAX,
            ),
            code="invalid_idempotency_key",
            details=[{"path": "Idempotency-Key", "message": "1-128 printable ASCII characters"}],
        )
    return key


T = TypeVar("T")


def receive_once_more(work: Callable[[Any], T]) -> T:
    """Run intake ``work`` in its own transaction; once more after losing a dedup race (the
    second try finds the order the other request stored)."""
    try:
        return transact(work)
    except intake.DedupRaceError:
        return transact(work)


def created_reply(received: intake.Received) -> Response:
    body = order_json(received.order)
    body["runs"] = [r.id for r in received.runs]
    headers = {"Location": url_for("api.get_order", order_id=received.order.id)}
    if not received.created:
        headers["Idempotent-Replayed"] = "true"
        body["duplicate_of"] = received.matched
    return reply(body, 201 if received.created else 200, headers)


@api.post(
    "/orders",
    scope="orders:write",
    summary="Create an order (idempotent)",
    params=[IDEMPOTENCY_KEY],
    body=ref("OrderInput"),
    responses={"201": ref("Order"), "200": ref("Order")},
)  # fmt: skip
def create_order() -> Response:
    """Create an order; a repeat (same Idempotency-Key or channel + external id) returns
    the stored order with 200 instead of 201."""
    key = _idempotency_key()
    doc = json_body()
    release_session()  # the order is stored in transactions of its own
    grouped = group_commit("orders", _store_each, _store_together)
    return created_reply(grouped.submit((doc, key)))


def _store_each(item: tuple[dict[str, Any], str | None]) -> intake.Received:
    """One order (and its Idempotency-Key) in a transaction of its own."""
    doc, key = item
    return receive_once_more(lambda db: intake.receive(db, doc, idempotency_key=key))


def _store_together(items: list[tuple[dict[str, Any], str | None]]) -> list[intake.Received]:
    docs, keys = [doc for doc, _ in items], [key for _, key in items]
    return receive_once_more(lambda db: intake.receive_many(db, docs, idempotency_keys=keys))


@api.post(
    "/orders/batch",
    scope="orders:write",
    summary="Create up to 500 orders in one transaction (all or nothing, idempotent per order)",
    body=ref("OrderBatchInput"),
    responses={"201": ref("OrderBatchResult"), "200": ref("OrderBatchResult")},
)  # fmt: skip
def create_orders() -> Response:
    """Create up to 500 orders in one transaction, all or nothing; orders seen before come
    back with ``created`` false. 201 when at least one order was created, else 200."""
    body = json_body()
    docs = body.get("orders")
    if not isinstance(docs, list):
        raise ValidationError(
            _l('Send the orders as a list under "orders".'),
            code="invalid_body",
            details=[{"path": "/orders", "message": "expected array", "rule": "type"}],
        )
    received = receive_once_more(lambda db: intake.receive_many(db, docs))
    items = []
    for r in received:
        item = order_json(r.order, with_data=False)
        item.update(created=r.created, runs=[run.id for run in r.runs])
        if r.matched:
            item["duplicate_of"] = r.matched
        items.append(item)
    return reply({"items": items}, 201 if any(r.created for r in received) else 200)


@api.get(
    "/orders",
    scope="orders:read",
    summary="List and search orders, newest first",
    params=[*PAGING, filter_param("status"), filter_param("channel"), filter_param("external_id"),
      filter_param("tracking_id"), filter_param("customer", description="customer id"),
      filter_param("q", description="external id, tracking id or customer id"),
      param("created_from", schema={"type": "string", "format": "date-time"}),
      param("created_to", schema={"type": "string", "format": "date-time"})],
    responses={"200": list_of(ref("Order"), paged=True)},
)  # fmt: skip
def list_orders() -> Response:
    db = get_session()
    limit = limit_param()
    query = select(Order).order_by(Order.id.desc()).limit(limit + 1)
    after = cursor_id()
    if after is not None:
        query = query.where(Order.id < after)
    for name, column in (
        ("status", Order.status),
        ("channel", Order.channel),
        ("external_id", Order.external_id),
        ("tracking_id", Order.tracking_id),
        ("customer", Order.customer_id),
    ):
        value = str_param(name)
        if value is not None:
            query = query.where(column == value)
    since, until = time_param("created_from"), time_param("created_to")
    if since is not None:
        query = query.where(Order.created_at >= since)
    if until is not None:
        query = query.where(Order.created_at < until)
    q = str_param("q")
    if q is not None:
        query = query.where(
            or_(Order.external_id == q, Order.tracking_id == q, Order.customer_id == q)
        )
    orders = list(db.scalars(query))
    result = page(orders, limit, lambda o: o.id)
    result["items"] = [order_json(o, with_data=False) for o in result["items"]]
    return reply(result)


def _order(order_id: int) -> Order:
    order = get_session().get(Order, order_id)
    if order is None:
        raise NotFoundError(_l("There is no order %(id)s.", id=order_id))
    return order


@api.get(
    "/orders/<id:order_id>",
    scope="orders:read",
    summary="An order with its milestones",
    params=[ORDER_ID],
    responses={"200": ref("Order")},
)  # fmt: skip
def get_order(order_id: int) -> Response:
    order = _order(order_id)
    body = order_json(order)
    events = status.history(get_session(), order.id)
    body["milestones"] = [
        {"state": m["state"], "at": iso(m["at"])} for m in status.milestones(order, events)
    ]
    body["shipments"] = [
        {**s, "closes_at": iso(s["closes_at"])} for s in shipments.of_order(get_session(), order.id)
    ]
    body["field_history"] = [
        {
            "field": c.field,
            "before": c.before,
            "after": c.after,
            "flow_key": c.flow_key,
            "flow_version": c.flow_version,
            "node_id": c.node_id,
            "node_name": c.node_name,
            "run_id": c.run_id,
            "changed_at": iso(c.changed_at),
        }
        for c in order_services.field_history(get_session(), order.id)
    ]
    return reply(body)


@api.get(
    "/orders/<id:order_id>/status-events",
    scope="orders:read",
    summary="Status events of an order",
    params=[ORDER_ID],
    responses={"200": list_of(ref("StatusEvent"))},
)  # fmt: skip
def order_status_events(order_id: int) -> Response:

    order = _order(order_id)
    return reply({"items": [event_json(e) for e in status.history(get_session(), order.id)]})


@api.get(
    "/orders/<id:order_id>/runs",
    scope="runs:read",
    summary="Runs of an order",
    params=[ORDER_ID],
    responses={"200": list_of(ref("Run"))},
)  # fmt: skip
def order_runs(order_id: int) -> Response:
    order = _order(order_id)
    runs = get_session().scalars(select(Run).where(Run.order_id == order.id).order_by(Run.id))
    return reply({"items": [run_json(r) for r in runs]})


@api.get(
    "/order-schema",
    scope="orders:read",
    summary="The order JSON Schema with custom fields",
    responses={"200": OBJ},
)  # fmt: skip
def order_schema() -> Response:
    """The order JSON Schema payloads are validated against, custom fields included."""
    return reply(schema.effective_schema(get_session()))
