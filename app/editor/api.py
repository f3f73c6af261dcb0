"""JSON endpoints the flow editor calls: draft load/save, validation, condition builder,
decision-table analysis, simulation, backtest, diff, publish and test orders."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Blueprint, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _

from flow_engine import flow_context_schema
from rule_dsl import DslError
from rule_dsl.expression import validate_expression
from rule_dsl.rules import validate_ruleset

from ..db import get_session, on_commit, reads_only
from ..errors import ConflictError, PermissionDeniedError, ValidationError
from ..flows import backtest as backtests
from ..flows import backtest_job as jobs
from ..flows import overlap as overlaps
from ..flows import services as flows
from ..jsonbody import parse_json
from ..jsontext import jsonable
from ..models import User
from ..orders import intake
from ..org.directory import directory_cache
from ..security import can, current_user, permission_required
from . import builder, forms, people, services, tables
from .catalog import expression_kind, field_aliases, node_types, order_fields

bp = Blueprint("editor_api", __name__, url_prefix="/flows")
MAX_BACKTEST = 2000


def _body() -> dict[str, Any]:
    data = parse_json(request.get_data(cache=True)) if request.is_json else None
    if not isinstance(data, dict):
        raise ValidationError(_("Send a JSON object."), code="invalid_json")
    return data


def _doc(data: dict[str, Any]) -> dict[str, Any]:
    doc = data.get("doc")
    if not isinstance(doc, dict):
        raise ValidationError(_("The flow document is missing."), code="invalid_flow")
    return doc


def _who(user_id: int | None) -> str:
    user = get_session().get(User, user_id) if user_id else None
    return (user.display_name or user.username) if user else ""


def _draft_meta(flow: Any) -> dict[str, Any]:
    me = current_user()
    return {
        "revision": flow.draft_revision,
        "updated_at": flow.draft_updated_at.isoformat() if flow.draft_updated_at else None,
        "updated_by": _who(flow.draft_updated_by_id),
        "updated_by_me": bool(me and flow.draft_updated_by_id == me.id),
        "published_version": flow.published_version,
    }


def _issues(doc: dict[str, Any]) -> list[dict[str, Any]]:
    # Against the order with its declared custom fields, as runs and the API see it.
    return [jsonable(i.to_dict()) for i in flows.check(get_session(), doc)]


@bp.get("/editor/catalog")
@permission_required("flows.view")
def catalog() -> ResponseReturnValue:
    return jsonify(
        {
            "node_types": list(node_types()),
            "fields": list(order_fields()),
            "aliases": field_aliases(),
        }
    )


@bp.get("/editor/key")
@permission_required("flows.edit")
def check_key() -> ResponseReturnValue:
    """The new-flow dialog's live key check: the key suggested for ``name`` (its pinyin slug)
    and, for ``key``, whether a new flow can take it and why not."""
    db = get_session()
    name = request.args.get("name", "")[:200].strip()
    key = request.args.get("key", "")[:100].strip()
    suggestion = services.suggest_key(db, name) if name else ""
    problem = services.key_problem(db, key or suggestion) if (key or suggestion) else None
    return jsonify({"suggestion": suggestion, "ok": problem is None, "message": problem})


@bp.get("/editor/people")
@permission_required("flows.view")
def people_search() -> ResponseReturnValue:
    """The assignee picker: ``?kind=role&q=caiwu`` (or ``&key=finance`` for one entry), each
    match with how many people it reaches today and who."""
    kind = request.args.get("kind", "role")
    if kind not in people.SECTIONS:
        raise ValidationError(
            _("kind is one of user, role, department or head, e.g. kind=role."),
            code="invalid_request",
            fields={"kind": "invalid"},
        )
    lang = get_locale().language if get_locale() else "zh"
    org = directory_cache.get(get_session())
    query = request.args.get("q", "")[:100]
    items = people.search(org, kind, query, key=request.args.get("key"), lang=lang)
    return jsonify({"kind": kind, "items": items})


@bp.get("/<key>/draft")
@permission_required("flows.view")
def load_draft(key: str) -> ResponseReturnValue:
    flow = flows.get_flow(get_session(), key)
    return jsonify({"doc": flow.draft, **_draft_meta(flow)})


@bp.get("/<key>/draft/revision")
@permission_required("flows.view")
def draft_revision(key: str) -> ResponseReturnValue:
    return jsonify(_draft_meta(flows.get_flow(get_session(), key)))


@bp.put("/<key>/draft")
@permission_required("flows.edit")
def save_draft(key: str) -> ResponseReturnValue:
    db = get_session()
    data = _body()
    flow = flows.get_flow(db, key)
    base = data.get("base_revision")
    if not isinstance(base, int):
        raise ValidationError(_("base_revision is required."), code="invalid_request")
    try:
        flow, issues = flows.save_draft(db, current_user(), flow, _doc(data), base_revision=base)
    except ConflictError as err:
        db.rollback()
        fresh = flows.get_flow(db, key)
        raise ConflictError(err.message, code=err.code, details=_draft_meta(fresh)) from None
    db.commit()
    return jsonify({**_draft_meta(flow), "issues": [jsonable(i.to_dict()) for i in issues]})


@bp.post("/<key>/validate")
@reads_only
@permission_required("flows.view")
def validate(key: str) -> ResponseReturnValue:
    flows.get_flow(get_session(), key)
    return jsonify({"issues": _issues(_doc(_body()))})


def _schema_for(node_type: str) -> dict[str, Any]:
    schema = flow_context_schema()
    if node_type == "route":
        schema["properties"]["candidate"] = {"type": "object", "additionalProperties": True}
    return schema


@bp.post("/editor/expression")
@reads_only
@permission_required("flows.view")
def check_expression() -> ResponseReturnValue:
    """Live validation of one DSL field; the caret error and "did you mean" come back."""
    data = _body()
    source = str(data.get("source") or "")
    node_type = str(data.get("node_type") or "")
    kind = data.get("kind") or expression_kind(node_type, str(data.get("path") or ""))
    schema = _schema_for(node_type)
    if kind == "ruleset":
        errors = validate_ruleset(source, schema)
    else:
        errors = validate_expression(
            source, schema, expect="boolean" if kind == "condition" else None
        )
    out: dict[str, Any] = {"ok": not errors, "errors": [e.to_dict() for e in errors], "kind": kind}
    if kind == "condition" and not errors:
        out["builder"] = builder.from_dsl(source)
    return jsonify(out)


@bp.post("/editor/builder/to-dsl")
@reads_only
@permission_required("flows.view")
def builder_to_dsl() -> ResponseReturnValue:
    tree = _body().get("tree")
    if not isinstance(tree, dict):
        raise ValidationError(_("The condition is missing."), code="invalid_request")
    source = builder.to_dsl(tree)
    errors = validate_expression(source, flow_context_schema(), expect="boolean")
    return jsonify({"source": source, "errors": [e.to_dict() for e in errors]})


@bp.post("/editor/builder/from-dsl")
@reads_only
@permission_required("flows.view")
def builder_from_dsl() -> ResponseReturnValue:
    source = str(_body().get("source") or "")
    try:
        return jsonify(builder.from_dsl(source))
    except DslError as err:
        return jsonify({"tree": None, "reason": "syntax", "errors": [err.to_dict()]})


@bp.post("/editor/table")
@reads_only
@permission_required("flows.view")
def analyze_table() -> ResponseReturnValue:
    data = _body()
    table = data.get("table")
    if not isinstance(table, dict):
        raise ValidationError(_("The decision table is missing."), code="invalid_request")
    last = data.get("last", tables.DEFAULT_ORDERS)
    last = last if isinstance(last, int) else tables.DEFAULT_ORDERS
    window = data.get("window")
    if window is not None and not isinstance(window, str):
        raise ValidationError(
            _("The window is one of 24h, 7d, 30d or all."), fields={"window": "invalid"}
        )
    window = None if window in (None, "all") else window
    report = tables.analyze_table(get_session(), table, last=last, window=window)
    return jsonify(jsonable(report))


@bp.post("/editor/node-form")
@reads_only
@permission_required("flows.view")
def node_form() -> ResponseReturnValue:
    """The configuration form of a node, generated from its type's config schema."""
    raw = request.form.get("node") or "{}"
    node = forms.parse_node(raw)
    lang = get_locale().language if get_locale() else "zh"
    return render_template("editor/_node_form.html", **forms.form_context(node, lang))


@bp.post("/<key>/simulate")
@reads_only
@permission_required("flows.view")
def simulate(key: str) -> ResponseReturnValue:
    db = get_session()
    flow = flows.get_flow(db, key)
    data = _body()
    doc = _doc(data)
    # The simulator compiles and runs the document it is sent: only editors may send their own.
    if not can("flows.edit") and not flows.is_stored_doc(db, flow, doc):
        raise PermissionDeniedError(
            _(
                "Simulating changes needs the permission to edit flows; you can simulate the"
                " saved draft or a published version."
            ),
            code="permission_denied",
        )
    return jsonify(services.simulate_draft(db, doc, data))


@bp.post("/<key>/backtest")
@reads_only
@permission_required("flows.view")
def backtest(key: str) -> ResponseReturnValue:
    db = get_session()
    flow = flows.get_flow(db, key)
    data = _body()
    last = data.get("last", 200)
    if not isinstance(last, int) or not 1 <= last <= MAX_BACKTEST:
        raise ValidationError(
            _("Backtest between 1 and %(n)d orders.", n=MAX_BACKTEST), code="invalid_request"
        )
    report = backtests.backtest(db, flow, _doc(data), last=last)
    return jsonify(jsonable(report.to_dict()))


@bp.post("/<key>/backtests")
@permission_required("flows.view")
def backtest_start(key: str) -> ResponseReturnValue:
    """Start a backtest job: the draft sent (editors) or the saved draft over the last
    ``last`` orders, no cap but the job's; poll ``/flows/backtests/<id>`` for progress."""
    db = get_session()
    flow = flows.get_flow(db, key)
    data = _body()
    doc = data.get("doc")
    if doc is not None and not isinstance(doc, dict):
        raise ValidationError(_("The flow document is missing."), code="invalid_flow")
    if doc is not None and not can("flows.edit") and not flows.is_stored_doc(db, flow, doc):
        raise PermissionDeniedError(
            _("Backtesting changes needs the permission to edit flows; you can backtest the"
              " saved draft."),
            code="permission_denied",
        )  # fmt: skip
    user = current_user()
    job = jobs.start(db, flow, doc, last=data.get("last", 1000), user_id=user.id if user else None)
    on_commit(db, partial(jobs.run_job, job.id))
    db.commit()
    return jsonify(jobs.job_dict(job)), 202


@bp.get("/backtests/<id:job_id>")
@permission_required("flows.view")
def backtest_progress(job_id: int) -> ResponseReturnValue:
    return jsonify(jobs.job_dict(jobs.get_job(get_session(), job_id)))


@bp.get("/backtests/<id:job_id>/changes")
@permission_required("flows.view")
def backtest_changes(job_id: int) -> ResponseReturnValue:
    db = get_session()
    page = request.args.get("page", "1")
    if not page.isdigit():
        raise ValidationError(
            _("The page is a whole number from 1, for example 2."), code="invalid_request"
        )
    return jsonify(jsonable(jobs.changes_page(db, jobs.get_job(db, job_id), int(page))))


@bp.post("/backtests/<id:job_id>/cancel")
@permission_required("flows.view")
def backtest_cancel(job_id: int) -> ResponseReturnValue:
    db = get_session()
    job = jobs.get_job(db, job_id)
    jobs.cancel(db, job)
    db.commit()
    return jsonify(jobs.job_dict(job))


@bp.get("/<key>/overlap")
@permission_required("flows.view")
def overlap_fragment(key: str) -> ResponseReturnValue:
    """The publish dialog's overlap section: other live flows on the saved draft's orders."""
    db = get_session()
    flow = flows.get_flow(db, key)
    report = overlaps.overlap_report(db, flow)
    items = [(pair, overlaps.describe(pair, report.orders)) for pair in report.overlaps]
    return render_template("editor/_overlap.html", report=report, items=items)


@bp.get("/<key>/diff")
@permission_required("flows.view")
def diff(key: str) -> ResponseReturnValue:
    db = get_session()
    flow = flows.get_flow(db, key)
    live = flows.live_version(db, flow)
    out = services.version_diff(live.doc if live else None, flow.draft or {})
    out["live_version"] = live.number if live else None
    return jsonify(out)


@bp.get("/<key>/versions/<id:number>")
@permission_required("flows.view")
def version(key: str, number: int) -> ResponseReturnValue:
    db = get_session()
    v = services.version_of(db, flows.get_flow(db, key), number)
    return jsonify({"doc": v.doc, "number": v.number, "note": v.note})


@bp.post("/<key>/publish")
@permission_required("flows.publish")
def publish(key: str) -> ResponseReturnValue:
    """Publish the saved draft, but only the revision the supervisor reviewed."""
    db = get_session()
    data = _body()
    flow = flows.get_flow(db, key)
    note = str(data.get("note") or "").strip()
    if not note:
        raise ValidationError(_("Say in a note what this version changes."), code="note_required")
    if data.get("revision") != flow.draft_revision:
        raise ConflictError(
            _("The draft changed since you reviewed it. Review the changes again."),
            code="draft_conflict",
            details=_draft_meta(flow),
        )
    version = flows.publish(db, current_user(), flow, note=note[:2000])
    db.commit()
    return jsonify({"version": version.number, **_draft_meta(flow)})


@bp.post("/<key>/test-order")
@permission_required("flows.publish")
def test_order(key: str) -> ResponseReturnValue:
    """Send an order in as if a channel had: it is stored and runs on the live flows."""
    db = get_session()
    flows.get_flow(db, key)
    doc = services._order_from(db, _body())
    received = intake.receive(db, doc)
    db.commit()
    return jsonify(
        {
            "order_id": received.order.id,
            "created": received.created,
            "runs": [{"id": r.id, "status": r.status} for r in received.runs],
        }
    )
