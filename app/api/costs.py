"""Cost attribution for machines: cost by order type and driver over a range, and one
order's breakdown (the cost model's figures, as the cost pages show them)."""

from __future__ import annotations

from flask import Response
from flask_babel import lazy_gettext as _l

from ..costs import heatmap as cost_heatmap
from ..costs import services as costs
from ..db import get_session
from ..errors import NotFoundError, ValidationError
from ..models import Order
from ._http import reply, str_param
from ._ranges import RANGE_PARAMS, range_arg, range_json
from ._schemas import ref
from .spec import ORDER_ID, api, param


@api.get(
    "/costs/heatmap",
    scope="orders:read",
    summary="Cost by order type and cost driver",
    params=[param("dimension", description="order type key (default channel)"), *RANGE_PARAMS],
    responses={"200": ref("CostHeatmap")},
)  # fmt: skip
def costs_heatmap() -> Response:
    """Cost by order type (a dimension's values) and cost driver over the range."""
    db = get_session()
    name = str_param("dimension", max_length=64) or "channel"
    try:
        dimension = costs.get_dimension(db, name)
    except NotFoundError:
        raise ValidationError(
            _l("There is no order type %(key)s.", key=name),
            code="invalid_parameter",
            details=[{"path": "?dimension", "message": "unknown dimension", "rule": "parameter"}],
        ) from None
    r = range_arg()
    return reply({"range": range_json(r), **cost_heatmap.heatmap(db, dimension, r.start, r.end)})


@api.get(
    "/orders/<id:order_id>/cost",
    scope="orders:read",
    summary="An order's cost breakdown and types",
    params=[ORDER_ID],
    responses={"200": ref("OrderCost")},
)  # fmt: skip
def order_cost(order_id: int) -> Response:
    """An order's cost per driver and its order types, as last computed."""
    db = get_session()
    if db.get(Order, order_id) is None:
        raise NotFoundError(_l("There is no order %(id)s.", id=order_id))
    return reply({"order_id": order_id, **cost_heatmap.breakdown(db, order_id)})
