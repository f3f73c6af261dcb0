"""Cost pages: the heatmap of cost by order type and driver, drivers and order types to
configure, and one order's cost breakdown."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from ..clock import zone
from ..costs import heatmap, services
from ..db import get_session
from ..errors import AppError, NotFoundError, ValidationError
from ..metrics.tasks import rebuild_costs
from ..models import Order, utcnow
from ..security import can, current_user, permission_required
from . import ranges
from .format import script_json

bp = Blueprint("costs", __name__, url_prefix="/costs")


def _checked_form() -> None:
    if not FlaskForm().validate_on_submit():
        raise ValidationError(_("The form has expired. Try again."))


@bp.get("/")
@permission_required("dashboard.view")
def index() -> ResponseReturnValue:
    db = get_session()
    try:
        r = ranges.parse(request.args, utcnow(), zone())
        problem = None
    except ValidationError as err:
        r, problem = ranges.parse({}, utcnow(), zone()), str(err.message)
    dimensions = [d for d in services.list_dimensions(db) if d.active]
    chosen = request.args.get("dimension") or (dimensions[0].key if dimensions else "")
    dimension = next(
        (d for d in dimensions if d.key == chosen), dimensions[0] if dimensions else None
    )
    metric = "amount" if request.args.get("metric") == "amount" else "ratio"
    data = heatmap.heatmap(db, dimension, r.start, r.end) if dimension else None
    return render_template(
        "costs/index.html",
        r=r,
        problem=problem,
        presets=list(ranges.PRESETS),
        dimensions=dimensions,
        dimension=dimension,
        metric=metric,
        data=data,
        payload=script_json(data) if data else None,
        can_manage=can("alerts.manage"),
        form=FlaskForm(),
        hot=_hot(data),
    )


def _hot(data: dict[str, Any] | None) -> set[tuple[str, str]]:
    """Cells whose share of a driver's cost is at least twice their share of orders."""
    if not data:
        return set()
    return {
        (c["type"], c["driver"])
        for c in data["cells"]
        if (c["ratio"] or 0) >= 2 and c["amount"] > 0
    }


@bp.get("/orders/<id:order_id>")
@permission_required("dashboard.view")
def order(order_id: int) -> ResponseReturnValue:
    db = get_session()
    found = db.get(Order, order_id)
    if found is None:
        raise NotFoundError(_("There is no order %(id)s.", id=order_id))
    return render_template(
        "costs/order.html", order=found, breakdown=heatmap.breakdown(db, order_id)
    )


# -- configuration -------------------------------------------------------------------------


@bp.get("/setup")
@permission_required("dashboard.view")
def setup() -> ResponseReturnValue:
    db = get_session()
    return render_template(
        "costs/setup.html",
        drivers=services.list_drivers(db),
        dimensions=services.list_dimensions(db),
        form=FlaskForm(),
        can_manage=can("alerts.manage"),
        errors={},
        values={},
        editing=request.args.get("edit", ""),
    )


def _values() -> dict[str, Any]:
    form = request.form
    return {name: form.get(name, "").strip() for name in (
        "key", "name_zh", "name_en", "description", "formula", "unit", "unit_rate", "expression",
    )} | {"active": form.get("active") == "on"}  # fmt: skip


@bp.post("/setup/<any(drivers, dimensions):what>")
@permission_required("alerts.manage")
def save(what: str) -> ResponseReturnValue:
    _checked_form()
    db = get_session()
    values = _values()
    original = request.form.get("original", "")
    try:
        if what == "drivers":
            driver = services.get_driver(db, original) if original else None
            item: Any = services.save_driver(db, current_user(), values, existing=driver)
        else:
            dimension = services.get_dimension(db, original) if original else None
            item = services.save_dimension(db, current_user(), values, existing=dimension)
    except AppError as err:
        db.rollback()
        fields = getattr(err, "fields", None) or {"key": err.message}
        return render_template(
            "costs/setup.html",
            drivers=services.list_drivers(db),
            dimensions=services.list_dimensions(db),
            form=FlaskForm(),
            can_manage=True,
            errors={what: fields},
            values={what: values},
            editing=original,
        ), err.status
    db.commit()
    flash(_("%(key)s saved. Costs of orders from now on use it; recalculate to apply it to past orders.",
            key=item.key), "success")  # fmt: skip
    return redirect(url_for("costs.setup"))


@bp.post("/setup/<any(drivers, dimensions):what>/<key>/delete")
@permission_required("alerts.manage")
def remove(what: str, key: str) -> ResponseReturnValue:
    _checked_form()
    db = get_session()
    item = services.get_driver(db, key) if what == "drivers" else services.get_dimension(db, key)
    services.delete(db, item)
    db.commit()
    flash(_("%(key)s removed.", key=key), "success")
    return redirect(url_for("costs.setup"))


@bp.post("/setup/defaults")
@permission_required("alerts.manage")
def defaults() -> ResponseReturnValue:
    _checked_form()
    db = get_session()
    added = services.ensure_defaults(db, current_user())
    db.commit()
    flash(_("%(n)d default drivers and order types added.", n=added), "success")
    return redirect(url_for("costs.setup"))


@bp.post("/setup/recalculate")
@permission_required("alerts.manage")
def recalculate() -> ResponseReturnValue:
    _checked_form()

    try:
        days = max(1, min(int(request.form.get("days") or 30), 400))
    except ValueError:
        days = 30
    rebuild_costs(days)
    flash(
        _("Recalculating the cost of the last %(n)d days' orders in the background.", n=days),
        "success",
    )
    return redirect(url_for("costs.setup"))
