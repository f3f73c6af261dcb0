"""Dashboard pages: KPI panels with filters and a before/after comparison, the flows'
bottleneck heatmaps with the slowest orders, and their JSON for scripts and other views."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from ..clock import zone
from ..db import get_session
from ..editor.catalog import node_types, type_titles
from ..errors import NotFoundError, ValidationError
from ..flows import services as flows
from ..i18n import current_language
from ..jsontext import json_dumps
from ..models import Flow, FlowVersion, utcnow
from ..pages import partial
from ..sales_channels import channel_name, sales_channels
from ..security import permission_required
from ..urls import id_arg
from . import bottleneck, compare, format, kpis, panels, ranges

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@bp.record_once
def _setup(state: Any) -> None:
    format.init_app(state.app)


def _range() -> ranges.Range:
    return ranges.parse(request.args, utcnow(), zone())


def figures(r: ranges.Range, version_id: int | None = None) -> dict[str, Any]:
    """Every panel over ``r``, the publishes inside it and the chosen comparison."""
    db = get_session()
    now = utcnow()
    data: dict[str, Any] = {
        "range": {"start": r.start, "end": r.end, "label": r.label, "hourly": r.hourly,
                  "channels": list(r.channels), "zone": str(r.zone)},
        "panels": {key: spec.compute(db, r).as_dict() for key, spec in panels.PANELS.items()},
        "publishes": compare.publishes(db, r.start, r.end),
    }  # fmt: skip
    if version_id is not None:
        version = db.get(FlowVersion, version_id)
        if version is None:
            raise NotFoundError("no such flow version")
        data["compare"] = compare.before_after(db, r, version, now)
    return data


def _version_arg() -> int | None:
    return id_arg(request.args, "compare")


@bp.get("/")
@permission_required("dashboard.view")
def index() -> ResponseReturnValue:
    problem: str | None = None
    try:
        r = _range()
    except ValidationError as err:
        r = ranges.parse({}, utcnow(), zone())
        problem = str(err.message)
    data = figures(r, _version_arg())
    db = get_session()
    context = {
        "data": data,
        # The page names sales channels in the reader's language (the JSON keeps the keys),
        # and tells the charts' script how to draw each panel.
        "payload": format.script_json(
            {
                **data,
                "channel_names": {c: channel_name(c, current_language()) for c in sales_channels()},
                "charts": {key: spec.chart_json() for key, spec in panels.PANELS.items()},
            }
        ),
        "specs": list(panels.PANELS.values()),
        "change": compare.change,
        "r": r,
        "problem": problem,
        "channels": kpis.channels(db),
        "versions": _recent_versions(),
        "compare_id": _version_arg(),
        "presets": list(ranges.PRESETS),
        "query": _query(r),
    }
    template = "dashboard/_panels.html" if partial() else "dashboard/index.html"
    return render_template(template, **context)


def _query(r: ranges.Range) -> dict[str, Any]:
    """The page's filters as link arguments (only the known ones)."""
    out: dict[str, Any] = {"channel": list(r.channels)} if r.channels else {}
    if r.label == "custom":
        out["from"], out["to"] = r.local_days()
    else:
        out["range"] = r.label
    if _version_arg() is not None:
        out["compare"] = _version_arg()
    return out


def _recent_versions(limit: int = 40) -> list[tuple[FlowVersion, Flow]]:
    db = get_session()
    rows = db.execute(
        select(FlowVersion, Flow)
        .join(Flow, Flow.id == FlowVersion.flow_id)
        .order_by(FlowVersion.published_at.desc())
        .limit(limit)
    ).all()
    return [(v, f) for v, f in rows]


@bp.get("/data.json")
@permission_required("dashboard.view")
def data_json() -> Response:
    return Response(json_dumps(figures(_range(), _version_arg())), mimetype="application/json")


@bp.get("/panels/<key>.json")
@permission_required("dashboard.view")
def panel_json(key: str) -> Response:
    spec = panels.PANELS.get(key)
    if spec is None:
        raise NotFoundError("no such panel")
    panel = spec.compute(get_session(), _range())
    return Response(json_dumps(panel.as_dict()), mimetype="application/json")


# -- bottlenecks ---------------------------------------------------------------------------


@bp.get("/flows")
@permission_required("dashboard.view")
def flow_list() -> ResponseReturnValue:
    db = get_session()
    rows = [(flow, flows.live_version(db, flow)) for flow in flows.list_flows(db)]
    return render_template("dashboard/flows.html", rows=[(f, v) for f, v in rows if v is not None])


@bp.get("/flows/<key>")
@permission_required("dashboard.view")
def flow_view(key: str) -> ResponseReturnValue:
    db = get_session()
    r = _range()
    chosen = request.args.get("version") or None
    s = bottleneck.scope(db, key, chosen)
    heat = bottleneck.heatmap(db, s, r, utcnow())
    versions = list(
        db.scalars(
            select(FlowVersion)
            .where(FlowVersion.flow_id == s.flow.id)
            .order_by(FlowVersion.number.desc())
        )
    )
    return render_template(
        "dashboard/bottleneck.html",
        flow=s.flow,
        scope=s,
        heat=heat,
        payload=format.script_json({"doc": s.doc, "heat": heat, "nodeTypes": node_types()}),
        versions=versions,
        chosen=chosen or "",
        r=r,
        presets=list(ranges.PRESETS),
        rows=_node_rows(s.doc, heat),
        query={k: v for k, v in request.args.items() if k in ("range", "from", "to")},
    )


def _node_rows(doc: dict[str, Any], heat: dict[str, Any]) -> list[dict[str, Any]]:
    names = {n.get("id"): n.get("name") or {} for n in doc.get("nodes") or []}
    titles = type_titles()
    rows = [
        {
            "id": node_id,
            "name": names.get(node_id) or {},
            **stats,
            "type_name": titles.get(stats.get("type") or "") or stats.get("type") or "",
        }
        for node_id, stats in heat["nodes"].items()
    ]
    return sorted(rows, key=lambda x: (-(x["p90"] or 0), -x["waiting"], -x["passes"]))


@bp.get("/flows/<key>/heatmap.json")
@permission_required("dashboard.view")
def flow_heatmap_json(key: str) -> Response:
    """Node and edge figures of a flow, for any view that draws the flow (e.g. the editor)."""
    s = bottleneck.scope(get_session(), key, request.args.get("version") or None)
    return Response(json_dumps(bottleneck.heatmap(get_session(), s, _range(), utcnow())),
                    mimetype="application/json")  # fmt: skip


@bp.get("/flows/<key>/nodes/<node_id>")
@permission_required("dashboard.view")
def slowest(key: str, node_id: str) -> ResponseReturnValue:
    db = get_session()
    s = bottleneck.scope(db, key, request.args.get("version") or None)
    known = {n.get("id") for n in s.doc.get("nodes") or []}
    if node_id not in known:
        raise NotFoundError("no such node")
    found = bottleneck.slowest(db, s, node_id, _range(), utcnow())
    if request.accept_mimetypes.best == "application/json":
        return jsonify(found)
    return render_template("dashboard/_slowest.html", found=found, flow=s.flow, node_id=node_id,
                           node=next(n for n in s.doc["nodes"] if n.get("id") == node_id))  # fmt: skip
