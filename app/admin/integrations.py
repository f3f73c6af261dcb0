"""Administration of integrations: inbound channels (with the deliveries held for a mapping
fix, and their replay), and outbound delivery (dead letters with replay, the host
allowlist)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..bundles import receiver
from ..channels import deliveries, kinds, mapping, pull
from ..channels import services as channels
from ..channels.tasks import pull_now
from ..db import get_session
from ..errors import AppError, NotFoundError, ValidationError
from ..jsonbody import parse_json
from ..jsontext import shown
from ..models import AllowedHost, Channel, Order
from ..runs import outbox
from ..runs.delivery_reasons import reason_text
from ..sales_channels import sales_channels
from ..security import current_user, permission_required

bp = Blueprint("outbox_admin", __name__, url_prefix="/admin/outbox")
bp.add_app_template_filter(reason_text, "delivery_reason")


@bp.get("/")
@permission_required("channels.manage")
def index() -> str:
    return _page(get_session())


def _page(db: Any, **shown_once: Any) -> str:
    """The integrations page; ``created`` (a channel) or ``host_secret`` (a host) carry a
    secret that this answer shows once."""
    hosts = list(db.scalars(select(AllowedHost).order_by(AllowedHost.host)))
    partial = request.headers.get("HX-Request") and not shown_once
    return render_template(
        "admin/_outbox.html" if partial else "admin/outbox.html",
        dead=outbox.dead_letters(db),
        hosts=hosts,
        channels=channels.list_channels(db),
        kinds=[(k, kinds.label(k)) for k in kinds.kinds()],
        held=deliveries.held(db),
        channel_keys={c.id: c.key for c in channels.list_channels(db)},
        order_channels=list(sales_channels()),
        pulls=pull.pulls_by_channel(db),
        pull_kinds=pull.KINDS,
        pull_states=pull.STATE_LABELS,
        pull_errors=pull.ERROR_TEXTS,
        pull_gateways=pull.GATEWAYS,
        created=shown_once.get("created"),
        host_secret=shown_once.get("host_secret"),
        demo_received=receiver.recent() if "demo_receiver" in current_app.blueprints else None,
    )


@bp.post("/channels")
@permission_required("channels.manage")
def add_channel() -> str | Response:
    """Configure an inbound channel; its secret is shown once, on the page answering."""
    db = get_session()
    form = request.form
    try:
        settings_text = form.get("settings", "").strip()
        settings = _parse(settings_text, "/settings") if settings_text else None
        channel = channels.create_channel(
            db, current_user(), key=form.get("key", "").strip(), kind=form.get("kind", ""),
            order_channel=form.get("order_channel", ""), name=form.get("name", "").strip(),
            secret=form.get("secret", "").strip() or None, settings=settings,
        )  # fmt: skip
    except AppError as err:
        db.rollback()
        fields = getattr(err, "fields", None) or {}
        detail = "; ".join(f"{k}: {v}" for k, v in fields.items())
        flash(f"{err.message} {detail}".strip(), "error")
        return redirect(url_for("outbox_admin.index"))
    db.commit()
    return _page(db, created=channel)


@bp.post("/channels/<id:channel_id>/toggle")
@permission_required("channels.manage")
def toggle_channel(channel_id: int) -> Response:
    db = get_session()
    channel = db.get(Channel, channel_id)
    if channel is None:
        raise NotFoundError(_("There is no such channel."))
    channel.active = not channel.active
    db.commit()
    flash(_("Channel %(key)s: %(state)s.", key=channel.key,
            state=_("active") if channel.active else _("paused")), "success")  # fmt: skip
    return redirect(url_for("outbox_admin.index"))


@bp.post("/pulls/<id:channel_id>/credentials")
@permission_required("channels.manage")
def pull_credentials(channel_id: int) -> Response:
    """Save a pull connector's credentials (encrypted); nothing is saved when a field is
    wrong, and the answer names each one with an example."""
    db = get_session()
    channel = _channel(channel_id)
    form = request.form
    try:
        pull.configure(
            db, channel, app_key=form.get("app_key", ""), app_secret=form.get("app_secret", ""),
            session=form.get("session", ""), api_url=form.get("api_url", ""),
            interval=form.get("interval", ""),
        )  # fmt: skip
    except AppError as err:
        db.rollback()
        fields = getattr(err, "fields", None) or {}
        labels = {"app_key": _("App key"), "app_secret": _("App secret"),
                  "session": _("Session (access token)"), "api_url": _("API address"),
                  "interval": _("Poll interval (seconds)")}  # fmt: skip
        detail = "; ".join(f"{labels.get(k, k)}: {v}" for k, v in fields.items())
        flash(f"{err.message} {detail}".strip(), "error")
        return redirect(url_for("outbox_admin.index"))
    db.commit()
    flash(_("Credentials of %(key)s saved; it pulls orders from now on.", key=channel.key),
          "success")  # fmt: skip
    return redirect(url_for("outbox_admin.index"))


@bp.post("/pulls/<id:channel_id>/sync")
@permission_required("channels.manage")
def pull_sync(channel_id: int) -> Response:
    """Sync a pull connector at once, in the background."""

    channel = _channel(channel_id)
    if channel.kind not in pull.KINDS:
        raise NotFoundError(_("There is no such channel."))
    pull_now(channel.id)
    flash(_("Sync of %(key)s started; reload the page to see its result.", key=channel.key),
          "success")  # fmt: skip
    return redirect(url_for("outbox_admin.index"))


def _channel(channel_id: int) -> Channel:
    channel = get_session().get(Channel, channel_id)
    if channel is None:
        raise NotFoundError(_("There is no such channel."))
    return channel


def _pretty(value: Any) -> str:
    return shown(value)


@bp.route("/channels/<id:channel_id>/mapping", methods=["GET", "POST"])
@permission_required("channels.manage")
def channel_mapping(channel_id: int) -> tuple[str, int] | str | Response:
    """A channel's own mapping: edit it, try it on a payload, save it once it maps."""
    db = get_session()
    channel = _channel(channel_id)
    form = request.form
    text = form.get("mapping") if request.method == "POST" else _pretty(channel.mapping or {})
    payload_text = form.get("payload", "")
    problems: list[dict[str, Any]] = []
    message = ""
    result = None
    trials: list[dict[str, Any]] | None = None
    if request.method == "POST":
        try:
            override = _parse(text or "{}", "/mapping")
            if form.get("action") == "try_stored":
                tried = deliveries.try_on_stored(db, channel, override, limit=TRY_LIMIT)
                trials = [_shown(t) for t in tried]
                db.rollback()  # trying saves nothing
            elif form.get("action") == "save":
                channels.set_mapping(db, channel, override)
                db.commit()
                flash(_("Mapping of %(key)s saved.", key=channel.key), "success")
                return redirect(url_for("outbox_admin.channel_mapping", channel_id=channel.id))
            else:
                order, key = channels.try_mapping(
                    db, channel, override, _parse(payload_text, "/payload")
                )
                result = {"order": _pretty(order), "dedup_key": key}
        except AppError as err:
            db.rollback()
            message, problems = str(err.message), list(err.details or [])
    status = 422 if problems or message else 200
    return render_template(
        "admin/channel_mapping.html", channel=channel, text=text, payload=payload_text,
        shipped=_pretty(mapping.shipped(channel.kind)), result=result, message=message,
        problems=problems, trials=trials, outcomes=OUTCOMES, try_limit=TRY_LIMIT,
        held_count=deliveries.held_count(db, channel.id),
    ), status  # fmt: skip


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    """An order's fields without its warnings (shown on their own, in the reader's language)."""
    return {k: v for k, v in data.items() if k != "intake_warnings"}


def _shown(trial: deliveries.Trial) -> dict[str, Any]:
    """A trial as the mapping page shows it (read before the session is rolled back)."""
    order = trial.order or {}
    d = trial.delivery
    return {
        "id": d.id, "status": d.status, "topic": d.platform_topic or d.topic,
        "received_at": d.received_at, "skipped": trial.skipped, "problems": trial.problems,
        "existing": {"id": trial.existing.id, "external_id": trial.existing.external_id}
        if trial.existing is not None else None,
        "order": trial.order is not None, "external_id": order.get("external_id"),
        "amount": order.get("amount"), "currency": order.get("currency"),
        "customer": (order.get("customer") or {}).get("id"),
        "lines": len(order.get("lines") or order.get("items") or []),
        "warnings": order.get("intake_warnings") or [],
        "json": _pretty(_fields(order)) if order else "",
    }  # fmt: skip


# What a delivery became, in the words of the integrations page.
OUTCOMES = {
    deliveries.CREATED: _l("New order"),
    deliveries.DUPLICATE: _l("Order received before (redelivery)"),
    deliveries.STATUS: _l("Status change of an order"),
    deliveries.DUPLICATE_STATUS: _l("Status change received before"),
    deliveries.IGNORED: _l("Not used (a message OrderFlow does not act on)"),
    deliveries.HELD: _l("Held: waiting for a mapping fix"),
    deliveries.REPLAYED: _l("Replayed after a fix"),
    deliveries.DISMISSED: _l("Dismissed"),
}
REASONS = {
    "unknown_order": _l("The order it names has not arrived yet"),
    "mapping_failed": _l("The mapping cannot read it"),
    "invalid_order": _l("Not a valid order"),
}
TRY_LIMIT = 20


@bp.get("/channels/<id:channel_id>/deliveries")
@permission_required("channels.manage")
def channel_deliveries(channel_id: int) -> str:
    """A channel's delivery log: every signed delivery and what it became, newest first."""
    db = get_session()
    channel = _channel(channel_id)
    outcome = request.args.get("outcome") or None
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows, total = deliveries.recent(db, channel.id, outcome=outcome, page=page)
    pages = max((total + deliveries.PAGE - 1) // deliveries.PAGE, 1)
    ids = {r.order_id for r in rows if r.order_id is not None}
    order_names = (
        dict(db.execute(select(Order.id, Order.external_id).where(Order.id.in_(ids))).all())
        if ids
        else {}
    )
    return render_template(
        "admin/channel_deliveries.html", channel=channel, rows=rows, total=total, page=page,
        pages=pages, outcome=outcome if outcome in OUTCOMES else None, outcomes=OUTCOMES,
        order_names=order_names,
        reasons=REASONS, days=current_app.config["CHANNEL_DELIVERY_DAYS"],
        keep=current_app.config["CHANNEL_DELIVERY_KEEP"],
    )  # fmt: skip


@bp.get("/deliveries/<id:delivery_id>")
@permission_required("channels.manage")
def delivery(delivery_id: int) -> str:
    """One delivery: its payload as received beside the order it became, or what held it."""
    db = get_session()
    row = deliveries.get(db, delivery_id)
    channel = _channel(row.channel_id)
    order = db.get(Order, row.order_id) if row.order_id is not None else None
    return render_template(
        "admin/channel_delivery.html", channel=channel, d=row, order=order,
        payload=_pretty(row.payload), order_data=_pretty(_fields(order.data)) if order else "",
        warnings=(order.data.get("intake_warnings") or []) if order else [],
        outcomes=OUTCOMES, reasons=REASONS,
    )  # fmt: skip


@bp.post("/channels/<id:channel_id>/replay-held")
@permission_required("channels.manage")
def replay_held(channel_id: int) -> Response:
    """Replay every held delivery of the channel with its mapping as it is now."""
    db = get_session()
    channel = _channel(channel_id)
    done, failed = deliveries.replay_held(db, channel.id)
    db.commit()
    flash(
        _("%(done)d held deliveries of %(key)s replayed; %(failed)d still fail.",
          done=done, key=channel.key, failed=failed),
        "success" if not failed else "error",
    )  # fmt: skip
    back = request.form.get("next")
    if back == "mapping":
        return redirect(url_for("outbox_admin.channel_mapping", channel_id=channel.id))
    return redirect(url_for("outbox_admin.channel_deliveries", channel_id=channel.id))


def _parse(text: str, where: str) -> Any:
    try:
        return parse_json(text)
    except ValidationError as err:
        err.details = [{**p, "path": where + p["path"].rstrip("/")} for p in err.details]
        raise


@bp.post("/<id:message_id>/replay")
@permission_required("channels.manage")
def replay(message_id: int) -> Response:
    db = get_session()
    try:
        outbox.replay(db, message_id)
    except AppError as err:
        db.rollback()
        flash(str(err.message), "error")
    else:
        db.commit()
        flash(_("Message %(id)s queued again.", id=message_id), "success")
    return redirect(url_for("outbox_admin.index"))


@bp.post("/deliveries/<id:delivery_id>/replay")
@permission_required("channels.manage")
def replay_delivery(delivery_id: int) -> Response:
    """Try a held delivery again with its channel's mapping as it is now."""
    db = get_session()
    try:
        outcome = deliveries.replay(db, delivery_id)
    except AppError as err:
        db.rollback()
        problems = "; ".join(
            f"{p.get('path', '')} {p.get('message', '')}".strip() for p in err.details or []
        )
        flash(f"{err.message} {problems}".strip(), "error")
        return redirect(url_for("outbox_admin.index"))
    db.commit()
    order = outcome.order
    flash(
        _("Delivery %(id)s replayed: order %(order)s.", id=delivery_id,
          order=order.external_id if order is not None else "—"),
        "success",
    )  # fmt: skip
    return redirect(url_for("outbox_admin.index"))


@bp.post("/deliveries/<id:delivery_id>/dismiss")
@permission_required("channels.manage")
def dismiss_delivery(delivery_id: int) -> Response:
    db = get_session()
    deliveries.dismiss(db, delivery_id)
    db.commit()
    flash(_("Delivery %(id)s dismissed.", id=delivery_id), "success")
    return redirect(url_for("outbox_admin.index"))


@bp.post("/hosts")
@permission_required("channels.manage")
def add_host() -> str | Response:
    """Allow a host; with its own signing secret, the answer shows the secret once."""
    db = get_session()
    user = current_user()
    try:
        row = outbox.add_allowed_host(
            db, user.username if user else None, request.form.get("host", ""),
            request.form.get("note", ""), own_secret=request.form.get("own_secret") == "on",
        )  # fmt: skip
    except AppError as err:
        db.rollback()
        flash(str(err.message), "error")
        return redirect(url_for("outbox_admin.index"))
    db.commit()
    flash(_("%(host)s may now receive webhooks.", host=row.host), "success")
    if row.signing_secret:
        return _page(db, host_secret=row)
    return redirect(url_for("outbox_admin.index"))


@bp.post("/hosts/<id:host_id>/secret")
@permission_required("channels.manage")
def host_secret(host_id: int) -> str | Response:
    """A new signing secret for the host (``own`` = 1), or back to the shared one."""
    db = get_session()
    own = request.form.get("own") == "1"
    try:
        row = outbox.set_host_secret(db, host_id, own=own)
    except AppError as err:
        db.rollback()
        flash(str(err.message), "error")
        return redirect(url_for("outbox_admin.index"))
    db.commit()
    if own:
        return _page(db, host_secret=row)
    flash(_("%(host)s now gets webhooks signed with the shared secret.", host=row.host), "success")
    return redirect(url_for("outbox_admin.index"))


@bp.post("/hosts/<id:host_id>/delete")
@permission_required("channels.manage")
def remove_host(host_id: int) -> Response:
    db = get_session()
    try:
        outbox.remove_allowed_host(db, host_id)
    except AppError as err:
        db.rollback()
        flash(str(err.message), "error")
    else:
        db.commit()
        flash(_("Host removed from the allowlist."), "success")
    return redirect(url_for("outbox_admin.index"))
