"""Order pages: a live orders board and order detail page, and the custom order fields
admins add to the order schema.

The live pages poll every half second (htmx) and send the version of what they show; while
nothing changed the answer is an empty 204, which htmx leaves alone, so a status event shows
within about half a second and an idle page costs one small query per poll."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from .. import order_fields as schema
from ..db import get_session
from ..errors import AppError, NotFoundError
from ..i18n import current_language
from ..models import ApprovalAction, Order, Run, StatusEvent
from ..security import permission_required
from ..status import services as status
from . import services, standing

bp = Blueprint("orders", __name__, url_prefix="/orders")


@bp.app_template_filter("status_name")
def status_name(code: str | None) -> Markup | str:
    """An order status or external event name in the reader's words; a name the unified
    status model does not know is shown as code."""
    info = status.states().get(code or "")
    if info is None:
        return Markup("<code>%s</code>") % (code or "—")
    return info.zh if current_language() == "zh" else info.en


BOARD_SIZE = 12
PAGE_SIZE = 25  # orders per page of one flow column


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
    """Orders by state and by where they stand in their flows; ``?stand=`` lists one flow
    column page by page (``&page=``)."""
    db = get_session()
    stand = request.args.get("stand", "")
    if stand and stand not in standing.LABELS:
        raise NotFoundError(
            _l(
                "There is no board column %(stand)s; use one of %(known)s.",
                stand=stand,
                known=", ".join(standing.LABELS),
            )
        )
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    # Every new order takes a new id, every state change is a status event, every run step
    # changes its run's updated_at and every delegation is an approval action.
    version = _version(
        stand,
        page,
        *db.execute(
            select(
                select(func.max(Order.id)).scalar_subquery(),
                select(func.max(StatusEvent.id)).scalar_subquery(),
                select(func.max(Run.updated_at)).scalar_subquery(),
                select(func.max(ApprovalAction.id)).scalar_subquery(),
            )
        ).one(),
    )
    if _unchanged(version):
        return Response(status=204)  # nothing new: htmx keeps the page
    counts = standing.counts(db)
    language = current_language()
    if stand:
        orders = standing.orders_in(db, stand, page, PAGE_SIZE)
        return render_template(
            _template("board"),
            stand=stand,
            count=counts[stand],
            orders=orders,
            runs=standing.runs_of(db, [o.id for o in orders], language),
            page=page,
            pages=max((counts[stand] + PAGE_SIZE - 1) // PAGE_SIZE, 1),
            labels=standing.LABELS,
            hints=standing.HINTS,
            version=version,
        )
    flows: list[dict[str, Any]] = []
    for key in standing.LABELS:
        latest = standing.orders_in(db, key, 1, BOARD_SIZE) if counts[key] else []
        flows.append({"stand": key, "count": counts[key], "orders": latest})
    listed = sorted({o.id for col in flows for o in col["orders"]})
    return render_template(
        _template("board"),
        stand="",
        columns=_state_columns(db),
        flows=flows,
        runs=standing.runs_of(db, listed, language),
        labels=standing.LABELS,
        hints=standing.HINTS,
        version=version,
    )


def _state_columns(db: Session) -> list[dict[str, Any]]:
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
    if other:
        columns.append({"state": None, "count": other, "orders": []})
    return columns


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
    runs = standing.runs_of(db, [order.id], current_language()).get(order.id, [])
    return render_template(
        _template("detail"),
        order=order,
        events=events,
        milestones=status.milestones(order, events),
        states=status.states(),
        runs=runs,
        labels=standing.LABELS,
        field_history=services.field_history(db, order.id),
        decided=services.decided_fields(order, current_language()),
        hold_change=services.hold_change,
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
