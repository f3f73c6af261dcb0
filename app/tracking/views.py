"""``/track/<tracking id>``: the order's state and milestones for the customer.

Shows no internal data (no amounts, customer details, rules or runs; an order a flow still
works on before it is paid reads "Processing", without saying what it waits for), answers an unknown
tracking id exactly like a malformed one, and is rate-limited per client address.
"""

from __future__ import annotations

import re

from flask import Blueprint, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .. import clock, ratelimit
from ..db import get_session
from ..errors import NotFoundError
from ..models import Order
from ..orders import standing
from ..status import services as status

bp = Blueprint("tracking", __name__)
TRACKING_RE = re.compile(r"^[A-Za-z0-9_-]{8,32}$")


def _order(tracking_id: str) -> Order:
    order = None
    if TRACKING_RE.match(tracking_id):
        order = get_session().scalars(select(Order).where(Order.tracking_id == tracking_id)).first()
    if order is None:
        raise NotFoundError(_l("We cannot find an order with this tracking number."))
    return order


def _view(tracking_id: str) -> dict[str, object]:
    order = _order(tracking_id)
    events = status.history(get_session(), order.id)
    lang = (get_locale().language if get_locale() else "zh") or "zh"
    labels = status.states()

    def label(state: str) -> str:
        info = labels.get(state)
        return (info.zh if lang == "zh" else info.en) if info else state

    milestones = [
        {"label": label(m["state"]), "at": m["at"], "current": m["current"]}
        for m in status.milestones(order, events)
    ]
    state, state_code = label(order.status), order.status
    if order.status == "created" and standing.in_progress(get_session(), order.id):
        # A flow still decides (approval, stock, an incident): the customer sees that it is
        # being worked on, never which check or who.
        state, state_code = str(_l("Processing")), "processing"
    last_place = next((e.location for e in reversed(events) if e.location), None)
    return {
        "tracking_id": order.tracking_id,
        "external_id": order.external_id,
        "state": state,
        "state_code": state_code,
        "milestones": milestones,
        "location": last_place,
        "updated_at": order.updated_at,
        # The company's clock, like every other page; its offset says which one.
        "zone_label": clock.offset_label(),
    }


@bp.get("/track/<tracking_id>")
@ratelimit.limiter.limit(ratelimit.configured("RATELIMIT_PUBLIC"))  # per client address
def track(tracking_id: str) -> str:
    view = _view(tracking_id)
    template = (
        "tracking/_status.html" if request.headers.get("HX-Request") else "tracking/track.html"
    )
    return render_template(template, **view)
