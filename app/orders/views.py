"""Order pages: a live orders board and order detail page, and the custom order fields
admins add to the order schema.

The live pages poll every half second (htmx) and send the version of what they show; while
nothing changed the answer is an empty 204, which htmx leaves alone, so a status event shows
within about half a second and an idle page costs one small query per poll."""

from __future__ import annotations

import hashlib

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from ..db import get_session
from ..errors import AppError, NotFoundError
from ..models import Order, Run, StatusEvent
from ..security import permission_required
from ..status import services as status
from . import schema, services

bp = Blueprint("orders", __name__, url_prefix="/orders")
BOARD_SIZE = 12


def _template(name: str) -> str:
    return f"orders/_{name}.html" if request.headers.get("HX-Request") else f"orders/{name}.html"


def _unchanged(version: str) -> bool:
    """True when an htmx poll already shows ``version`` (it sends it as ``v``)."""
    return bool(request.headers.get("HX-Request")) and request.args.get("v") == version


def _version(*parts: object) -> str:
    """A short, URL-safe fingerprint of what a live page shows."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=8).hexdigest()


@bp.get("/")
@permission_required("orders.view")
def board() -> str | Response:
    """Orders by state: counts and the latest orders of each state."""
    db = get_session()
    # Every new order takes a new id and every state change is a status event.
    version = _version(
        *db.execute(
            select(
                select(func.max(Order.id)).scalar_subquery(),
                select(func.max(StatusEvent.id)).scalar_subquery(),
            )
        ).one()
    )
    if _unchanged(version):
        return Response(status=204)  # nothing new: htmx keeps the page
    counts = dict(db.execute(select(Order.status, func.count()).group_by(Order.status)).all())
    columns = []
    for state in status.states().values():
        latest = list(
            db.scalars(
                select(Order)
                .where(Order.status == state.state)
                .order_by(Order.updated_at.desc(), Order.id.desc())
                .limit(BOARD_SIZE)
            )
        ) if counts.get(state.state) else []  # fmt: skip
        columns.append({"state": state, "count": counts.get(state.state, 0), "orders": latest})
    other = sum(n for s, n in counts.items() if s not in status.states())
    return render_template(_template("board"), columns=columns, other=other, version=version)


@bp.get("/<id:order_id>")
@permission_required("orders.view")
def detail(order_id: int) -> str | Response:
    db = get_session()
    order = db.get(Order, order_id)
    if order is None:
        raise NotFoundError(_l("There is no order %(id)s.", id=order_id))
    last_event = db.scalar(select(func.max(StatusEvent.id)).where(StatusEvent.order_id == order.id))
    runs_changed, run_count = db.execute(
        select(func.max(Run.updated_at), func.count()).where(Run.order_id == order.id)
    ).one()
    version = _version(order.updated_at, order.status, last_event, runs_changed, run_count)
    if _unchanged(version):
        return Response(status=204)  # nothing new: htmx keeps the page
    events = status.history(db, order.id)
    runs = list(db.scalars(select(Run).where(Run.order_id == order.id).order_by(Run.id)))
    return render_template(
        _template("detail"),
        order=order,
        events=events,
        milestones=status.milestones(order, events),
        states=status.states(),
        runs=runs,
        field_history=services.field_history(db, order.id),
        lag=status.lag_seconds,
        version=version,
    )


@bp.route("/fields", methods=["GET", "POST"])
@permission_required("templates.manage")
def fields() -> str | Response:
    """Custom order fields: admins extend the order schema without code."""
    db = get_session()
    if request.method == "POST":
        form = request.form
        try:
            field = schema.add_field(
                db,
                None,
                name=form.get("name", "").strip(),
                type=form.get("type", ""),
                label_en=form.get("label_en", ""),
                label_zh=form.get("label_zh", ""),
                required=form.get("required") == "on",
                options=[o.strip() for o in form.get("options", "").split(",") if o.strip()],
            )
        except AppError as err:
            db.rollback()
            flash(str(err.message), "error")
        else:
            db.commit()
            flash(_("Field custom.%(name)s added.", name=field.name), "success")
            return redirect(url_for("orders.fields"))
    return render_template(
        "orders/fields.html", fields=schema.list_fields(db), types=sorted(schema.FIELD_TYPES)
    )


@bp.post("/fields/<name>/delete")
@permission_required("templates.manage")
def delete_field(name: str) -> Response:
    db = get_session()
    try:
        schema.remove_field(db, None, name)
    except AppError as err:
        db.rollback()
        flash(str(err.message), "error")
    else:
        db.commit()
        flash(_("Field custom.%(name)s removed.", name=name), "success")
    return redirect(url_for("orders.fields"))
