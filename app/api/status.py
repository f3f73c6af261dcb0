"""Status events from ERP, WMS, TMS and carriers, and the mapping they go through."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response
from flask_babel import lazy_gettext as _l

from ..db import get_session, release_session
from ..errors import ValidationError
from ..models import StatusEvent
from ..orders import intake
from ..status import services as status
from ..status import sources as source_tables
from ._http import actor_name, group_commit, iso, json_body, reply, transact
from ._schemas import ref
from .spec import SOURCE, api


def event_json(event: StatusEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "order_id": event.order_id,
        "source": event.source,
        "event_id": event.event_id,
        "code": event.code,
        "state": event.state,
        "effect": event.effect,
        "occurred_at": iso(event.source_time),
        "received_at": iso(event.received_at),
        "lag_seconds": round(status.lag_seconds(event), 3),
        "location": event.location,
        "data": event.data,
    }


def _problem(path: str, message: Any) -> ValidationError:
    return ValidationError(
        _l("The status event is not valid."),
        code="invalid_status_event",
        details=[{"path": path, "message": str(message), "rule": "required"}],
    )


def _text(doc: dict[str, Any], name: str, max_length: int, *, required: bool = True) -> Any:
    value = doc.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise _problem(f"/{name}", _l("A text of 1 to %(n)d characters.", n=max_length))
    return value.strip()


def _time(doc: dict[str, Any]) -> datetime:
    raw = doc.get("occurred_at")
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if not isinstance(raw, str) or moment is None or moment.tzinfo is None:
        raise _problem("/occurred_at", _l("An ISO 8601 time with an offset."))
    return moment


def _order_ref(doc: dict[str, Any]) -> dict[str, Any]:
    ref = doc.get("order")
    if not isinstance(ref, dict):
        raise _problem("/order", _l("Name the order: id, tracking_id or channel + external_id."))
    order_id = ref.get("id")
    if order_id is not None and (
        not isinstance(order_id, int) or isinstance(order_id, bool) or not 0 < order_id < 2**31
    ):
        raise _problem("/order/id", _l("An order id is a whole number."))
    strings = {k: ref.get(k) for k in ("tracking_id", "channel", "external_id")}
    for name, value in strings.items():
        if value is not None and (not isinstance(value, str) or len(value) > 128):
            raise _problem(f"/order/{name}", _l("A text of 1 to %(n)d characters.", n=128))
    if (
        order_id is None
        and not strings["tracking_id"]
        and not (strings["channel"] and strings["external_id"])
    ):
        raise _problem("/order", _l("Name the order: id, tracking_id or channel + external_id."))
    return {"order_id": order_id, **strings}


@api.post(
    "/status-events",
    scope="orders:write",
    summary="Record a status event (idempotent)",
    body=ref("StatusEventInput"),
    responses={"201": ref("StatusEvent"), "200": ref("StatusEvent")},
)  # fmt: skip
def post_status_event() -> Response:
    """Record a source system's status event; a repeat of the same (source, event_id)
    answers 200 and changes nothing."""
    doc = json_body()
    source = _text(doc, "source", 16)
    event_id = _text(doc, "event_id", 128)
    code = _text(doc, "code", 64)
    occurred_at = _time(doc)
    location = _text(doc, "location", 128, required=False)
    data = doc.get("data")
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise _problem("/data", _l("data is a JSON object."))
    item = status.Incoming(
        _order_ref(doc), source, event_id, code, occurred_at, location=location, data=data
    )
    release_session()  # the event is recorded in a transaction of its own
    # Events arriving while another one's transaction runs share the next transaction.
    grouped = group_commit("status_events", _record_each, _record_together)
    recorded: status.Recorded = grouped.submit(item)
    body = event_json(recorded.event)
    body["order_status"] = recorded.order.status
    body["runs_resumed"] = recorded.resumed
    body["runs_started"] = recorded.started
    if recorded.effect == status.DUPLICATE:
        body["duplicate"] = True
        return reply(body, 200, {"Idempotent-Replayed": "true"})
    body["duplicate"] = False
    return reply(body, 201)


def _record_each(item: status.Incoming) -> status.Recorded:
    """One status event in a transaction of its own."""
    return transact(lambda db: status.record_incoming(db, item, intake.find_order))


def _record_together(items: list[status.Incoming]) -> list[status.Recorded]:
    return transact(lambda db: status.record_many(db, items, intake.find_order))


@api.get(
    "/status-mappings",
    scope="orders:read",
    summary="Order states and source code mappings",
    responses={"200": ref("StatusMappings")},
)  # fmt: skip
def status_mappings() -> Response:
    """Order states in progression order and each source system's code mapping."""
    states = [
        {"state": s.state, "rank": s.rank, "label_en": s.en, "label_zh": s.zh}
        for s in status.states().values()
    ]
    return reply({"states": states, "sources": status.sources(get_session())})


def _source_json(db: Any, source: str) -> dict[str, Any]:
    view = source_tables.view(db, source)
    if view is None:  # an added source, deleted
        return {"source": source, "codes": {}, "shipped": False, "customised": False}
    return {"source": source, "codes": view.codes, "shipped": view.shipped,
            "customised": view.stored}  # fmt: skip


@api.put(
    "/status-mappings/<source>",
    scope="reference:write",
    summary="Use these codes as the source system's table (replaces a shipped one, or adds a source)",
    params=[SOURCE],
    body=ref("StatusSourceInput"),
    responses={"200": ref("StatusSource")},
)  # fmt: skip
def put_status_mapping(source: str) -> Response:
    """Use the codes sent as ``source``'s table: replaces a shipped source's table, or adds
    a source system."""
    doc = json_body()
    actor = actor_name()[:64]

    def work(db: Any) -> dict[str, Any]:
        source_tables.save(db, actor, source, doc.get("codes"))
        return _source_json(db, source)

    return reply(transact(work))


@api.delete(
    "/status-mappings/<source>",
    scope="reference:write",
    summary="Drop the saved table: a shipped source gets its shipped codes back, an added one is "
     "gone (no codes)",
    params=[SOURCE],
    responses={"200": ref("StatusSource")},
)  # fmt: skip
def delete_status_mapping(source: str) -> Response:
    """Drop the saved table: a shipped source gets its shipped codes back, an added source
    is gone (answered with no codes)."""

    def work(db: Any) -> dict[str, Any]:
        source_tables.reset(db, source)
        return _source_json(db, source)

    return reply(transact(work))
