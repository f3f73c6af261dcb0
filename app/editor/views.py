"""Supervisor pages: the flows list, the flow editor, the runs list and a run's detail."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from ..db import get_session
from ..errors import AppError, ValidationError
from ..flows import services as flows
from ..i18n import current_language
from ..pages import partial
from ..runs import services as run_services
from ..security import can, current_user, permission_required
from ..status import services as order_status
from ..wording import node_name
from . import runs, services
from .catalog import node_types, order_fields

bp = Blueprint("editor", __name__)


@bp.get("/flows")
@permission_required("flows.view")
def flow_list() -> ResponseReturnValue:
    db = get_session()
    query = request.args.get("q", "")[:100]
    status = request.args.get("status", "")
    rows = services.flow_summaries(db, query=query, status=status)
    template = "editor/_flow_rows.html" if partial() else "editor/flows.html"
    return render_template(template, rows=rows, q=query, status=status, form=FlaskForm())


@bp.post("/flows")
@permission_required("flows.edit")
def flow_create() -> ResponseReturnValue:
    form = FlaskForm()
    if not form.validate_on_submit():
        flash(_("The form has expired. Try again."), "error")
        return redirect(url_for("editor.flow_list"))
    key = request.form.get("key", "").strip().lower()
    name_zh = request.form.get("name_zh", "").strip()[:200]
    name_en = request.form.get("name_en", "").strip()[:200]
    db = get_session()
    if not key and (name_zh or name_en):
        # No key typed: the name's pinyin slug, as the dialog suggests it.
        key = services.suggest_key(db, name_zh or name_en)
    problem = services.key_problem(db, key)
    if problem:
        flash(problem, "error")
        return redirect(url_for("editor.flow_list"))
    try:
        flows.create_flow(db, current_user(), services.new_flow_doc(key, name_zh, name_en))
    except AppError as err:
        db.rollback()
        flash(str(err.message), "error")
        return redirect(url_for("editor.flow_list"))
    db.commit()
    return redirect(url_for("editor.edit", key=key))


@bp.post("/flows/<key>/duplicate")
@permission_required("flows.edit")
def flow_duplicate(key: str) -> ResponseReturnValue:
    if not FlaskForm().validate_on_submit():
        raise ValidationError(_("The form has expired. Try again."))
    db = get_session()
    copy = services.duplicate(db, current_user(), flows.get_flow(db, key))
    db.commit()
    flash(_("Copied to %(key)s.", key=copy.key), "success")
    return redirect(url_for("editor.edit", key=copy.key))


@bp.post("/flows/<key>/archive")
@permission_required("flows.publish")
def flow_archive(key: str) -> ResponseReturnValue:
    if not FlaskForm().validate_on_submit():
        raise ValidationError(_("The form has expired. Try again."))
    db = get_session()
    flow = flows.get_flow(db, key)
    flows.archive(db, current_user(), flow)
    db.commit()
    flash(_("Flow %(key)s archived: new orders no longer start it.", key=key), "success")
    return redirect(url_for("editor.flow_list"))


@bp.get("/flows/<key>")
@permission_required("flows.view")
def edit(key: str) -> ResponseReturnValue:
    db = get_session()
    flow = flows.get_flow(db, key)
    return render_template(
        "editor/editor.html",
        flow=flow,
        live=flows.live_version(db, flow),
        versions=services.flow_versions(db, flow),
        node_types=node_types(),
        fields=order_fields(),
        trigger_events=order_status.trigger_events(),
        recent=services.recent_orders(db),
        can_edit=can("flows.edit"),
        can_publish=can("flows.publish"),
    )


@bp.get("/runs")
@permission_required("runs.view")
def run_list() -> ResponseReturnValue:
    db = get_session()
    filters = runs.RunFilters.from_args(request.args)
    rows, total = runs.list_runs(db, filters)
    template = "editor/_run_rows.html" if partial() else "editor/runs.html"
    return render_template(
        template,
        rows=rows,
        total=total,
        filters=filters,
        page_size=runs.PAGE_SIZE,
        counts=runs.status_counts(db),
        flows=flows.list_flows(db, include_archived=True),
        statuses=runs.STATUSES,
    )


@bp.get("/runs/<id:run_id>")
@permission_required("runs.view")
def run_detail(run_id: int) -> ResponseReturnValue:
    db = get_session()
    row, events = runs.run_detail(db, run_id)
    return render_template(
        "editor/run.html",
        row=row,
        events=events,
        path=runs.path_of(events),
        node_names={n["id"]: node_name(n, current_language()) for n in row.version.doc["nodes"]},
        node_types=node_types(),
        form=FlaskForm(),
        can_retry=can("runs.retry"),
    )


@bp.post("/runs/<id:run_id>/retry")
@permission_required("runs.retry")
def run_retry(run_id: int) -> ResponseReturnValue:
    if not FlaskForm().validate_on_submit():
        raise ValidationError(_("The form has expired. Try again."))
    db = get_session()
    user = current_user()
    outcome = run_services.retry(db, run_id, actor=user.username if user else "web")
    db.commit()
    if outcome.accepted:
        flash(
            _("Run %(id)s retried: it is now %(status)s.", id=run_id, status=outcome.run.status),
            "success",
        )
    else:
        flash(_("The run did not accept the retry: %(why)s", why=outcome.ignored), "error")
    return redirect(url_for("editor.run_detail", run_id=run_id))
