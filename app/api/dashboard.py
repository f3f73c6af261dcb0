"""Dashboard figures, flow bottlenecks, cost attribution and alert rules for machines.

The figures are the dashboard's (same code, same rollups): ``range`` is one of 24h, 7d, 30d,
90d, or ``from``/``to`` give local dates; ``channel`` filters (comma separated). The
operations are declared here and added to the OpenAPI document with the others.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_babel import lazy_gettext as _l

from ..alerts import services as alerts
from ..clock import zone
from ..costs import heatmap as cost_heatmap
from ..costs import services as costs
from ..dashboard import bottleneck, compare, panels, ranges
from ..db import get_session
from ..errors import NotFoundError, ValidationError
from ..models import AlertRule, Order, utcnow
from ..security import api_key_required
from . import _schemas as schemas
from . import spec
from ._blueprint import bp
from ._http import iso, reply, str_param


def _range() -> ranges.Range:
    for name in ("range", "from", "to"):
        if request.args.get(name) == "":
            # The pages' forms send empty fields; an API caller leaves the parameter out.
            raise ValidationError(
                _l("%(name)s is empty; leave it out or give a value.", name=name),
                code="invalid_parameter",
                details=[{"path": f"?{name}", "message": "empty", "rule": "parameter"}],
            )
    try:
        return ranges.parse(request.args, utcnow(), zone())
    except ValidationError as err:
        name = next(iter(err.fields), "range")
        raise ValidationError(
            err.message,
            code="invalid_parameter",
            details=[{"path": f"?{name}", "message": str(err.message), "rule": "parameter"}],
        ) from None


def _range_json(r: ranges.Range) -> dict[str, Any]:
    return {"start": iso(r.start), "end": iso(r.end), "label": r.label, "hourly": r.hourly,
            "channels": list(r.channels), "zone": str(r.zone)}  # fmt: skip


@bp.get("/dashboard")
@api_key_required("orders:read")
def dashboard_figures() -> Response:
    """Every dashboard panel over the range, and the flow publishes inside it."""
    db, r = get_session(), _range()
    return reply({
        "range": _range_json(r),
        "panels": {key: spec.compute(db, r).as_dict() for key, spec in panels.PANELS.items()},
        "publishes": compare.publishes(db, r.start, r.end),
    })  # fmt: skip


@bp.get("/dashboard/<panel>")
@api_key_required("orders:read")
def dashboard_panel(panel: str) -> Response:
    spec = panels.PANELS.get(panel)
    if spec is None:
        raise NotFoundError(_l("There is no dashboard panel %(key)s.", key=panel[:64]))
    r = _range()
    return reply({"range": _range_json(r), **spec.compute(get_session(), r).as_dict()})


@bp.get("/flows/<flow_key:key>/bottlenecks")
@api_key_required("flows:read")
def flow_bottlenecks(key: str) -> Response:
    """Per node and edge of a flow version: volume, median and p90 time, tokens waiting."""
    db = get_session()
    version = str_param("version", max_length=10)
    s = bottleneck.scope(db, key[:64], version)
    return reply(bottleneck.heatmap(db, s, _range(), utcnow()))


@bp.get("/costs/heatmap")
@api_key_required("orders:read")
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
    r = _range()
    return reply({"range": _range_json(r), **cost_heatmap.heatmap(db, dimension, r.start, r.end)})


@bp.get("/orders/<id:order_id>/cost")
@api_key_required("orders:read")
def order_cost(order_id: int) -> Response:
    """An order's cost per driver and its order types, as last computed."""
    db = get_session()
    if db.get(Order, order_id) is None:
        raise NotFoundError(_l("There is no order %(id)s.", id=order_id))
    return reply({"order_id": order_id, **cost_heatmap.breakdown(db, order_id)})


def rule_json(rule: AlertRule) -> dict[str, Any]:
    return {
        "key": rule.key, "name": {"zh": rule.name_zh, "en": rule.name_en},
        "description": rule.description, "kind": rule.kind, "definition": rule.definition,
        "severity": rule.severity, "recipients": rule.recipients, "channels": rule.channels,
        "cooldown_seconds": rule.cooldown_seconds, "auto_resolve": rule.auto_resolve,
        "enabled": rule.enabled, "every_seconds": rule.every_seconds, "source": rule.source,
        "actions": {"webhook": (rule.actions or {}).get("webhook"),
                    "start_flows": bool((rule.actions or {}).get("start_flows"))},
        "last_evaluated_at": iso(rule.last_evaluated_at), "last_error": rule.last_error,
    }  # fmt: skip


@bp.get("/alert-rules")
@api_key_required("alerts:read")
def list_alert_rules() -> Response:
    return reply({"items": [rule_json(r) for r in alerts.list_rules(get_session())]})


@bp.get("/alert-rules/<key>")
@api_key_required("alerts:read")
def get_alert_rule(key: str) -> Response:
    return reply(rule_json(alerts.get_rule(get_session(), key[:64])))


# -- the OpenAPI description of these operations ---------------------------------------------


def _param(name: str, where: str = "query", schema: dict[str, Any] | None = None, *,
           description: str = "") -> dict[str, Any]:  # fmt: skip
    return {"name": name, "in": where, "required": where == "path",
            "schema": schema or {"type": "string"},
            **({"description": description} if description else {})}  # fmt: skip


_T = {"type": ["string", "null"]}
_OBJ = {"type": "object"}
_ACTIONS = {
    "type": "object",
    "description": "What each opening of an alert does besides notifying.",
    "properties": {
        "webhook": {"type": ["object", "null"], "properties": {"url": {"type": "string"}},
                    "description": "Called once per opening through the outbox (signed, retried)."},
        "start_flows": {"type": "boolean",
                        "description": "Start live flows whose trigger is alert.opened."},
    },
}  # fmt: skip
_RANGE = [
    _param("range", schema={"type": "string", "enum": list(ranges.PRESETS)},
                description="preset ending with the current hour (default 7d)"),
    _param("from", schema={"type": "string", "format": "date"}, description="first local day"),
    _param("to", schema={"type": "string", "format": "date"}, description="last local day"),
    _param("channel", description="sales channels, comma separated"),
]  # fmt: skip
_PANEL = schemas.obj(["key", "unit", "total", "series", "estimated"], key={"type": "string"},
                      unit={"type": "string"}, total=_OBJ,
                      series={"type": "array", "items": _OBJ}, estimated={"type": "boolean"})  # fmt: skip
SCHEMAS = {
    "DashboardPanel": _PANEL,
    "Dashboard": schemas.obj(
        ["range", "panels", "publishes"],
        range=_OBJ,
        panels={"type": "object", "additionalProperties": schemas.ref("DashboardPanel")},
        publishes={"type": "array", "items": _OBJ},
    ),  # fmt: skip
    "Bottlenecks": schemas.obj(
        ["flow", "versions", "nodes", "edges"],
        flow={"type": "string"},
        versions={"type": "array", "items": {"type": "integer"}},
        nodes=_OBJ,
        edges={"type": "array", "items": _OBJ},
        estimated={"type": "boolean"},
        range=_OBJ,
    ),  # fmt: skip
    "CostHeatmap": schemas.obj(
        ["dimension", "types", "drivers", "cells"],
        dimension={"type": "string"},
        types={"type": "array", "items": _OBJ},
        drivers={"type": "array", "items": _OBJ},
        cells={"type": "array", "items": _OBJ},
        orders={"type": "integer"},
        cost={"type": "number"},
        range=_OBJ,
    ),  # fmt: skip
    "OrderCost": schemas.obj(
        ["order_id", "items", "total", "types"],
        order_id={"type": "integer"},
        items={"type": "array", "items": _OBJ},
        total={"type": "number"},
        types={"type": "array", "items": _OBJ},
    ),  # fmt: skip
    "AlertRule": schemas.obj(
        ["key", "kind", "definition", "severity"],
        key={"type": "string"},
        name=_OBJ,
        description={"type": "string"},
        kind={"type": "string"},
        definition=_OBJ,
        severity={"type": "string"},
        recipients={"type": "array", "items": _OBJ},
        channels={"type": "array", "items": {"type": "string"}},
        cooldown_seconds={"type": "integer"},
        auto_resolve={"type": "boolean"},
        enabled={"type": "boolean"},
        every_seconds={"type": "integer"},
        source={"type": "string"},
        actions=_ACTIONS,
        last_evaluated_at=_T,
        last_error=_T,
    ),  # fmt: skip
}
_PANEL_PARAM = _param("panel", "path", {"type": "string", "enum": list(panels.PANELS)})
_ID = _param("order_id", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})
_RULE = _param("key", "path", {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,63}$"})
OPERATIONS = [
    ("get", "/dashboard", "dashboard_figures", "Every dashboard panel over a range", "orders:read",
     _RANGE, None, {"200": schemas.ref("Dashboard")}),
    ("get", "/dashboard/{panel}", "dashboard_panel", "One dashboard panel over a range", "orders:read",
     [_PANEL_PARAM, *_RANGE], None, {"200": schemas.ref("DashboardPanel")}),
    ("get", "/flows/{key}/bottlenecks", "flow_bottlenecks",
     "Per node and edge: volume, median and p90 time, tokens waiting", "flows:read",
     [spec.KEY, _param("version", description="a version number, all, or the live one"), *_RANGE],
     None, {"200": schemas.ref("Bottlenecks")}),
    ("get", "/costs/heatmap", "costs_heatmap", "Cost by order type and cost driver", "orders:read",
     [_param("dimension", description="order type key (default channel)"), *_RANGE], None,
     {"200": schemas.ref("CostHeatmap")}),
    ("get", "/orders/{order_id}/cost", "order_cost", "An order's cost breakdown and types",
     "orders:read", [_ID], None, {"200": schemas.ref("OrderCost")}),
    ("get", "/alert-rules", "list_alert_rules", "Alert rules", "alerts:read", [], None,
     {"200": schemas.list_of(schemas.ref("AlertRule"))}),
    ("get", "/alert-rules/{key}", "get_alert_rule", "An alert rule", "alerts:read", [_RULE], None,
     {"200": schemas.ref("AlertRule")}),
]  # fmt: skip
