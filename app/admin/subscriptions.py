"""Administration of outbound order event subscriptions, on the integrations page: create,
edit, pause, delete, and each subscription's delivery log with replay of dead messages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from ..db import get_session
from ..errors import AppError, NotFoundError
from ..models import OutboxMessage, Subscription
from ..runs import outbox
from ..sales_channels import sales_channels
from ..security import current_user, permission_required
from ..subscriptions import EVENTS
from ..subscriptions import services as subscriptions

bp = Blueprint("subscriptions_admin", __name__, url_prefix="/admin/outbox/subscriptions")


def _form_doc(form: MultiDict[str, str], *, with_secret: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": form.get("name", ""),
        "url": form.get("url", "").strip(),
        "events": form.getlist("events"),
        "channel": form.get("channel") or None,
    }
    if with_secret:
        doc["own_secret"] = form.get("own_secret") == "on"
    return doc


def _render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(
        template, events=EVENTS, channels=list(sales_channels()),
        **context,
    ), status  # fmt: skip


@bp.get("/")
@permission_required("channels.manage")
def index() -> tuple[str, int]:
    return _render(
        "admin/subscriptions.html", subscriptions=subscriptions.list_subscriptions(get_session())
    )


@bp.post("/")
@permission_required("channels.manage")
def create() -> tuple[str, int] | Response:
    db = get_session()
    user = current_user()
    doc = _form_doc(request.form, with_secret=True)
    try:
        row = subscriptions.create_subscription(db, user.username if user else None, doc)
    except AppError as err:
        db.rollback()
        return _render("admin/subscriptions.html", 422, error=str(err.message), form=doc,
                       subscriptions=subscriptions.list_subscriptions(db))  # fmt: skip
    db.commit()
    if row.secret:
        return _detail(row, secret=row.secret)
    flash(_("Subscription %(name)s created.", name=row.name), "success")
    return redirect(url_for("subscriptions_admin.detail", subscription_id=row.id))


def _detail(row: Subscription, status: int = 200, **context: Any) -> tuple[str, int]:
    log = subscriptions.deliveries(get_session(), row.id)
    return _render("admin/subscription.html", status, sub=row, deliveries=log, **context)


@bp.get("/<id:subscription_id>")
@permission_required("channels.manage")
def detail(subscription_id: int) -> tuple[str, int]:
    return _detail(subscriptions.get_subscription(get_session(), subscription_id))


@bp.post("/<id:subscription_id>")
@permission_required("channels.manage")
def update(subscription_id: int) -> tuple[str, int] | Response:
    db = get_session()
    try:
        subscriptions.update_subscription(
            db, subscription_id, _form_doc(request.form, with_secret=False)
        )
    except AppError as err:
        db.rollback()
        return _detail(
            subscriptions.get_subscription(db, subscription_id), 422, error=str(err.message)
        )
    db.commit()
    flash(_("Subscription saved."), "success")
    return redirect(url_for("subscriptions_admin.detail", subscription_id=subscription_id))


@bp.post("/<id:subscription_id>/toggle")
@permission_required("channels.manage")
def toggle(subscription_id: int) -> Response:
    db = get_session()
    row = subscriptions.get_subscription(db, subscription_id)
    subscriptions.update_subscription(db, subscription_id, {"active": not row.active})
    db.commit()
    flash(_("Subscription %(name)s: %(state)s.", name=row.name,
            state=_("active") if row.active else _("paused")), "success")  # fmt: skip
    return redirect(url_for("subscriptions_admin.detail", subscription_id=subscription_id))


@bp.post("/<id:subscription_id>/secret")
@permission_required("channels.manage")
def secret(subscription_id: int) -> tuple[str, int] | Response:
    """A new secret of its own (``own`` = 1, shown once), or back to the host's secret."""
    db = get_session()
    own = request.form.get("own") == "1"
    row = subscriptions.update_subscription(db, subscription_id, {"own_secret": own})
    db.commit()
    if own:
        return _detail(row, secret=row.secret)
    flash(_("Events to %(name)s are now signed with the host's secret.", name=row.name), "success")
    return redirect(url_for("subscriptions_admin.detail", subscription_id=subscription_id))


@bp.post("/<id:subscription_id>/delete")
@permission_required("channels.manage")
def delete(subscription_id: int) -> Response:
    db = get_session()
    subscriptions.delete_subscription(db, subscription_id)
    db.commit()
    flash(_("Subscription deleted."), "success")
    return redirect(url_for("subscriptions_admin.index"))


@bp.post("/<id:subscription_id>/replay/<id:message_id>")
@permission_required("channels.manage")
def replay(subscription_id: int, message_id: int) -> Response:
    db = get_session()
    message = db.get(OutboxMessage, message_id)
    if message is None or message.subscription_id != subscription_id:
        raise NotFoundError(_("This subscription has no message %(id)s.", id=message_id))
    try:
        outbox.replay(db, message_id)
    except AppError as err:
        db.rollback()
        flash(str(err.message), "error")
    else:
        db.commit()
        flash(_("Message %(id)s queued again.", id=message_id), "success")
    return redirect(url_for("subscriptions_admin.detail", subscription_id=subscription_id))
