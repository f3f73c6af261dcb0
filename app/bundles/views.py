"""Admin pages for industry templates: gallery, preview, dry run and import, upload, export.

An htmx request gets only its fragment: the gallery cards, the dry run or the summary.
Every import runs in the request's transaction and is rolled back whole on any refusal.
"""

from __future__ import annotations

import io
from typing import Any

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from templates_lib import Bundle

from ..db import get_session, reads_only
from ..errors import AppError, ConflictError, NotFoundError, ValidationError
from ..flows.services import list_flows
from ..i18n import localized
from ..models import ReferenceTable, TemplateImport
from ..pages import partial
from ..security import current_user, permission_required
from . import export, gallery, people, preview, services
from .forms import ExportForm, default_options, import_options, param_values
from .graph import branch_label, flow_svg
from .plan import Plan

bp = Blueprint("bundles", __name__, url_prefix="/admin/templates")
PERMISSION = "templates.manage"


def _lang() -> str:
    locale = get_locale()
    return locale.language if locale else "zh"


@bp.context_processor
def _helpers() -> dict[str, Any]:
    lang = _lang()
    return {
        "local": lambda text: localized(text, lang),
        "flow_svg": lambda doc: flow_svg(doc, lang),
        "branch_label": branch_label,
        "decisions": preview.decisions,
        "choices_for": preview.choices_for,
        "action_labels": preview.ACTION_LABELS,
        "kind_labels": preview.KIND_LABELS,
        "policy_labels": preview.POLICY_LABELS,
        "industry_names": gallery.industries(),
        "lang": lang,
    }


@bp.get("/")
@permission_required(PERMISSION)
def index() -> ResponseReturnValue:
    query = request.args.get("q", "")[:100]
    industry = request.args.get("industry", "")
    if industry not in gallery.industries():
        industry = ""
    found = gallery.search(query, industry or None)
    db = get_session()
    context = {"bundles": found, "q": query, "industry": industry,
               "installed": services.installed(db)}  # fmt: skip
    if partial():
        return render_template("bundles/_cards.html", **context)
    return render_template("bundles/gallery.html", history=services.history(db, limit=10),
                           **context)  # fmt: skip


# -- a shipped bundle: preview, dry run, import -------------------------------------------


def _plan_context(
    db: Session, bundle: Bundle, options: dict[str, Any], source: str = "builtin"
) -> dict[str, Any]:
    """The dry run of ``bundle`` with ``options`` (or why it cannot even be planned), and
    where the import form posts."""
    if source == "upload":
        urls = {"action_url": url_for("bundles.upload_dry_run"),
                "import_url": url_for("bundles.upload_import"), "upload": True}  # fmt: skip
    else:
        urls = {"action_url": url_for("bundles.dry_run", bundle_id=bundle.id),
                "import_url": url_for("bundles.run_import", bundle_id=bundle.id),
                "upload": False}  # fmt: skip
    try:
        plan: Plan | None = services.dry_run(db, bundle, **options)
        error = None
    except AppError as err:
        plan, error = None, preview.error_view(err, _lang())
    return {"plan": plan.to_dict() if plan else None, "error": error, "options": options,
            "params": param_values(options, bundle), "shown": plan.bundle if plan else bundle,
            "people_choices": people.choices(db, _lang()), **urls}  # fmt: skip


@bp.get("/<bundle_id>")
@permission_required(PERMISSION)
def show(bundle_id: str) -> ResponseReturnValue:
    bundle = services.get_builtin(bundle_id)
    db = get_session()
    context = _plan_context(db, bundle, default_options(bundle))
    return render_template(
        "bundles/preview.html",
        bundle=bundle,
        installed=services.installed(db).get(bundle.id),
        **context,
    )


@bp.post("/<bundle_id>/dry-run")
@reads_only
@permission_required(PERMISSION)
def dry_run(bundle_id: str) -> ResponseReturnValue:
    bundle = services.get_builtin(bundle_id)
    context = _plan_context(get_session(), bundle, import_options(request.form, bundle))
    status = 422 if context["error"] else 200
    if partial():
        return render_template("bundles/_plan.html", bundle=bundle, **context), status
    return render_template(
        "bundles/preview.html",
        bundle=bundle,
        installed=services.installed(get_session()).get(bundle.id),
        **context,
    ), status


@bp.post("/<bundle_id>/import")
@permission_required(PERMISSION)
def run_import(bundle_id: str) -> ResponseReturnValue:
    bundle = services.get_builtin(bundle_id)
    return _import(bundle, "builtin")


def _import(bundle: Bundle, source: str) -> ResponseReturnValue:
    db = get_session()
    options = import_options(request.form, bundle)
    try:
        record = services.import_bundle(db, current_user(), bundle, source=source, **options)
    except IntegrityError:  # another import wrote the same keys first: plan again
        db.rollback()
        return _refused(bundle, source, options, ConflictError(
            _("Another import changed the same items meanwhile. Run the dry run again.")))  # fmt: skip
    except AppError as err:
        db.rollback()
        return _refused(bundle, source, options, err)
    record_id = record.id
    db.commit()
    if partial():
        return render_template("bundles/_summary.html", record=record)
    return redirect(url_for("bundles.summary", import_id=record_id))


def _refused(bundle: Bundle, source: str, options: dict[str, Any], err: AppError) -> Any:
    """The refusal with its precise reasons beside a fresh dry run; nothing was changed."""
    db = get_session()
    context = _plan_context(db, bundle, options, source)
    context["error"] = preview.error_view(err, _lang())
    template = "bundles/_plan.html" if partial() else "bundles/refused.html"
    return render_template(template, bundle=bundle, **context), err.status


@bp.get("/imports/<id:import_id>")
@permission_required(PERMISSION)
def summary(import_id: int) -> ResponseReturnValue:
    record = get_session().get(TemplateImport, import_id)
    if record is None:
        raise NotFoundError(_("There is no such import."))
    return render_template("bundles/summary.html", record=record)


# -- an uploaded bundle zip ---------------------------------------------------------------


def _upload_limit() -> int:
    return int(current_app.config.get("MAX_CONTENT_LENGTH") or 2 * 1024 * 1024)


def _uploaded() -> Bundle:
    """The bundle in the request's zip; ValidationError, precisely, when it is unusable."""
    limit = _upload_limit()
    if request.content_length is not None and request.content_length > limit:
        raise ValidationError(
            _("The file is larger than %(mib).1f MiB, the most a bundle upload may be.",
              mib=limit / 2**20),
            code="too_large",
        )  # fmt: skip
    upload = request.files.get("bundle")
    if upload is None or not upload.filename:
        raise ValidationError(_("Choose a bundle zip file to upload."), code="no_file")
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(
            _("The file is larger than %(mib).1f MiB, the most a bundle upload may be.",
              mib=limit / 2**20),
            code="too_large",
        )  # fmt: skip
    return services.read_upload(data, lang=_lang())


@bp.get("/upload")
@permission_required(PERMISSION)
def upload() -> ResponseReturnValue:
    return render_template("bundles/upload.html", limit=_upload_limit(), bundle=None)


@bp.post("/upload")
@reads_only
@permission_required(PERMISSION)
def upload_dry_run() -> ResponseReturnValue:
    """Read the uploaded zip and show its contents and the dry run (the file is not kept:
    the import posts it again)."""
    try:
        bundle = _uploaded()
    except AppError as err:
        return _upload_refused(err)
    context = _plan_context(get_session(), bundle, import_options(request.form, bundle), "upload")
    template = "bundles/_upload_result.html" if partial() else "bundles/upload.html"
    return render_template(template, bundle=bundle, limit=_upload_limit(),
                           **context), (422 if context["error"] else 200)  # fmt: skip


@bp.post("/upload/import")
@permission_required(PERMISSION)
def upload_import() -> ResponseReturnValue:
    try:
        bundle = _uploaded()
    except AppError as err:
        return _upload_refused(err)
    return _import(bundle, "upload")


@bp.errorhandler(413)
def _too_large(err: Exception) -> ResponseReturnValue:
    """A body over the app's limit is refused before the view runs (reading the CSRF token);
    the upload page still says what the limit is."""
    limit = _upload_limit()
    return _upload_refused(
        ValidationError(
            _(
                "The file is larger than %(mib).1f MiB, the most a bundle upload may be.",
                mib=limit / 2**20,
            ),
            code="too_large",
        )  # fmt: skip
    )


def _upload_refused(err: AppError) -> ResponseReturnValue:
    context = {"error": preview.error_view(err, _lang()), "plan": None, "bundle": None}
    template = "bundles/_upload_result.html" if partial() else "bundles/upload.html"
    status = 413 if err.code == "too_large" else err.status
    return render_template(template, limit=_upload_limit(), **context), status


# -- export ------------------------------------------------------------------------------


@bp.route("/export", methods=["GET", "POST"])
@permission_required(PERMISSION)
def export_page() -> ResponseReturnValue:
    db = get_session()
    lang = _lang()
    flows = list_flows(db)
    tables = list(db.scalars(select(ReferenceTable).order_by(ReferenceTable.name)))
    items = [
        i
        for i in export.exportable_items(db)
        if i.kind in ("alert_rule", "notification_text", "status_mapping")
    ]
    form = ExportForm()
    form.set_choices(lang, flows, tables, items)
    error = None
    if form.validate_on_submit():
        try:
            bundle = export.build_bundle(
                db,
                bundle_id=form.bundle_id.data or "",
                name_en=form.name_en.data or "",
                name_zh=form.name_zh.data or "",
                description_en=form.description_en.data or "",
                description_zh=form.description_zh.data or "",
                version=form.version.data or "1.0.0",
                industries=form.industries.data or ["general"],
                flow_keys=form.flows.data or [],
                table_names=form.tables.data or [],
                item_keys=form.items.data or [],
            )
        except AppError as err:
            error = preview.error_view(err, lang)
        else:
            return send_file(
                io.BytesIO(export.export_zip(bundle)),
                mimetype="application/zip",
                as_attachment=True,
                download_name=f"{bundle.id}-{bundle.version}.zip",
            )
    status = 422 if form.errors or error else 200
    return render_template("bundles/export.html", form=form, error=error), status
