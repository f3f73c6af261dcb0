"""The dashboard's figures and a flow's bottlenecks for machines: the same code and rollups
as the pages, over a range (see ``_ranges``)."""

from __future__ import annotations

from flask import Response
from flask_babel import lazy_gettext as _l

from ..dashboard import bottleneck, compare, panels
from ..db import get_session
from ..errors import NotFoundError
from ..models import utcnow
from ._http import reply, str_param
from ._ranges import RANGE_PARAMS, range_arg, range_json
from ._schemas import ref
from .spec import KEY, api, param

PANEL = param("panel", "path", {"type": "string", "enum": list(panels.PANELS)})


@api.get(
    "/dashboard",
    scope="orders:read",
    summary="Every dashboard panel over a range",
    params=RANGE_PARAMS,
    responses={"200": ref("Dashboard")},
)  # fmt: skip
def dashboard_figures() -> Response:
    """Every dashboard panel over the range, and the flow publishes inside it."""
    db, r = get_session(), range_arg()
    return reply({
        "range": range_json(r),
        "panels": {key: spec.compute(db, r).as_dict() for key, spec in panels.PANELS.items()},
        "publishes": compare.publishes(db, r.start, r.end),
    })  # fmt: skip


@api.get(
    "/dashboard/<panel>",
    scope="orders:read",
    summary="One dashboard panel over a range",
    params=[PANEL, *RANGE_PARAMS],
    responses={"200": ref("DashboardPanel")},
)  # fmt: skip
def dashboard_panel(panel: str) -> Response:
    spec = panels.PANELS.get(panel)
    if spec is None:
        raise NotFoundError(_l("There is no dashboard panel %(key)s.", key=panel[:64]))
    r = range_arg()
    return reply({"range": range_json(r), **spec.compute(get_session(), r).as_dict()})


@api.get(
    "/flows/<flow_key:key>/bottlenecks",
    scope="flows:read",
    summary="Per node and edge: volume, median and p90 time, tokens waiting",
    params=[KEY, param("version", description="a version number, all, or the live one"),
            *RANGE_PARAMS],
    responses={"200": ref("Bottlenecks")},
)  # fmt: skip
def flow_bottlenecks(key: str) -> Response:
    """Per node and edge of a flow version: volume, median and p90 time, tokens waiting."""
    db = get_session()
    version = str_param("version", max_length=10)
    s = bottleneck.scope(db, key[:64], version)
    return reply(bottleneck.heatmap(db, s, range_arg(), utcnow()))
