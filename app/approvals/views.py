"""Approver pages: the inbox, one approval, decisions (one or many), delegation, 加签,
退回 and resubmission, 抄送, comments, out of office, and the sign-in links from
notifications."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from .. import clock
from ..db import get_db, get_session, in_transaction
from ..errors import AppError, NotFoundError, PermissionDeniedError, ValidationError
from ..models import ApprovalTask, FlowVersion, Order, Run, User, utcnow
from ..notifications import services as notifications
from ..security import can, current_user, login_required, permission_required
from ..urls import page_arg
from . import links, queries, services
from .device import device_label
from .hooks import install

bp = Blueprint("approvals", __name__, url_prefix="/approvals")
LINK_SESSION_SECONDS = 30 * 60


def _me() -> User:
    """The signed-in user; the view's decorator has made sure there is one."""
    user = current_user()
    if user is None:
        abort(401)
    return user


@bp.record_once
def _install(state: Any) -> None:

    install(state.app)


def _language() -> str:
    locale = get_locale()
    return locale.language if locale else "zh"


def _device() -> str:
    return device_label(request.user_agent.string)


def _viewer(task_key: str) -> tuple[User | None, str]:
    """Who looks at ``task_key``: the signed-in user, or the one a link signed in for it."""
    user = current_user()
    if user is not None:  # without the approver permission: a reader (copied, mentioned)
        return (user, "web") if can("approvals.decide") else (user, "read")
    scope = session.get("approval_link") or {}
    if scope.get("task") == task_key and scope.get("until", 0) > time.time():
        found = get_session().get(User, scope.get("uid"))
        if found is not None and found.is_active:
            return found, "link"
    return None, ""


def _version(*parts: object) -> str:
    """A short fingerprint of what a live page shows (see :func:`queries.stamp`)."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=8).hexdigest()


def _polled() -> bool:
    """An htmx poll of a live page (it sends the version it shows as ``v``)."""
    return bool(request.headers.get("HX-Request")) and "v" in request.args


def _login_redirect() -> Response:
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


@bp.get("/")
@permission_required("approvals.decide")
def inbox() -> str | Response:
    db = get_session()
    user = _me()
    args = request.args
    # The list polls every second; while no task, decision or notification changed, it gets
    # an empty 204 after one statement and htmx keeps what it shows.
    chosen: dict[str, Any] = {
        "show": args.get("show") if args.get("show") in ("done", "cc") else "pending",
        "search": args.get("q", "")[:64],
        "overdue_only": args.get("overdue") == "1",
        "everyone": args.get("all") == "1",
        "page": page_arg(args),
    }
    version = _version("inbox", _language(), chosen, queries.stamp(db, user))
    if _polled() and args.get("v") == version:
        return Response(status=204)
    found = queries.inbox(db, user, language=_language(), page_size=queries.PAGE_SIZE, **chosen)
    template = (
        "approvals/_inbox.html" if request.headers.get("HX-Request") else "approvals/inbox.html"
    )
    return render_template(
        template, rows=found.rows, found=found, args=args, now=utcnow(), version=version
    )


@bp.get("/<task_key>")
def detail(task_key: str) -> str | Response | tuple[str, int]:
    user, via = _viewer(task_key)
    if user is None:
        return _login_redirect()
    db = get_session()
    # The page polls every second: an empty 204 while nothing changed, else its live part.
    version = _version("task", task_key, queries.stamp(db, user))
    polled = _polled()
    if polled and request.args.get("v") == version:
        return Response(status=204)
    task = services.get_task(db, task_key)
    view = queries.detail(db, user, task, language=_language())
    # Admins may read every task (and transfer it); others only theirs, one they acted on,
    # or one they were copied on or mentioned in.
    if (
        via == "web"
        and view.acting_for is None
        and "admin" not in user.role_names
        and not any(a.actor == user.username for a in view.actions)
        and not services.may_read(db, user, task)
    ):
        return render_template("approvals/not_yours.html", task=task), 403
    if not polled:  # a page read takes no write lock; its one write waits in a unit of its own
        in_transaction(get_db(), lambda unit: notifications.mark_task_read(unit, user, task_key))
    return _detail_page(db, view, user, via, version=version, partial=polled)


def _detail_page(
    db: Any,
    view: queries.Detail,
    user: User,
    via: str,
    link: str = "",
    *,
    version: str = "",
    partial: bool = False,
) -> str:
    """The approval page; ``link`` is the notification link it was opened with, unused yet:
    its buttons then post to the link, which is used up by that tap. With a ``version`` the
    page stays live (polls); ``partial`` renders only its live part, for such a poll."""
    users = db.scalars(select(User).where(User.is_active.is_(True)).order_by(User.username))
    colleagues = [u for u in users if u.id != user.id]
    acting = view.task.status == "pending" and view.acting_for is not None
    targets = services.send_back_targets(db, view.task) if acting and not link else {}
    if targets.get("nodes") and view.run is not None:
        names = queries.node_names(db.get(FlowVersion, view.run.flow_version_id), _language())
        targets["nodes"] = [(n, names.get(n, n)) for n, _name in targets["nodes"]]
    return render_template(
        "approvals/_detail.html" if partial else "approvals/detail.html", view=view, viewer=user,
        via=via, colleagues=colleagues, now=utcnow(), link=link, targets=targets,
        info=services.is_info(view.task), version=version,
    )  # fmt: skip


@bp.post("/<task_key>/decide")
def decide(task_key: str) -> Response | tuple[str, int]:
    user, via = _signed_in(task_key)
    if user is None:
        return _login_redirect()
    return _decide(user, via, task_key)


def _decide(user: User, via: str, task_key: str) -> Response | tuple[str, int]:
    decision = request.form.get("decision", "")

    def work(db: Any) -> str:
        services.decide(
            db, user, task_key, decision, comment=request.form.get("comment"), via=via,
            device=_device(),
        )  # fmt: skip
        return _("Approved.") if decision == "approved" else _("Rejected.")

    return _act(task_key, work)


def _act(task_key: str, work: Any) -> Response | tuple[str, int]:
    """Do ``work(db)`` (it returns the message to show), commit, and go back to the task;
    a refusal is shown there, and someone who may not act on the task gets a 403."""
    db = get_session()
    try:
        done = work(db)
    except PermissionDeniedError:
        db.rollback()
        return render_template("approvals/not_yours.html"), 403
    except AppError as err:
        db.rollback()
        if request.form.get("back") == "inbox":  # say which order the refusal is about
            flash(_("%(order)s: %(message)s", order=_order_of(db, task_key), message=err.message),
                  "error")  # fmt: skip
        else:
            flash(str(err.message), "error")
    else:
        db.commit()
        for message, kind in done if isinstance(done, list) else [(done, "success")]:
            flash(message, kind)
    if request.form.get("back") == "inbox":  # decided from the inbox list: back to the list
        return redirect(url_for("approvals.inbox"))
    return redirect(url_for("approvals.detail", task_key=task_key))


def _order_of(db: Any, task_key: str) -> str:
    """The order number a task is about (its key when the task is gone)."""
    found = db.scalar(
        select(Order.external_id)
        .join(Run, Run.order_id == Order.id)
        .join(ApprovalTask, ApprovalTask.run_id == Run.id)
        .where(ApprovalTask.task_key == task_key)
    )
    return str(found or task_key)


def _signed_in(task_key: str) -> tuple[User | None, str]:
    user, via = _viewer(task_key)
    return user, ("web" if via == "read" else via)


@bp.post("/<task_key>/add")
def add_approver(task_key: str) -> Response | tuple[str, int]:
    """加签: add an approver before or after oneself."""
    user, via = _signed_in(task_key)
    if user is None:
        return _login_redirect()
    form = request.form

    def work(db: Any) -> str:
        position = form.get("position", "")
        services.add_approver(
            db, user, task_key, form.get("user", ""), position, comment=form.get("comment"),
            via=via, device=_device(),
        )  # fmt: skip
        name = form.get("user", "").strip()
        if position == "before":
            return _("%(name)s decides first; then it comes back to you.", name=name)
        return _("%(name)s approves after you.", name=name)

    return _act(task_key, work)


@bp.post("/<task_key>/send-back")
def send_back(task_key: str) -> Response | tuple[str, int]:
    """退回: to a person for more information, an earlier step or an earlier approval."""
    user, via = _signed_in(task_key)
    if user is None:
        return _login_redirect()
    form = request.form
    target = form.get("to", "")
    kind, _sep, value = target.partition(":")

    def work(db: Any) -> str:
        person = form.get("to_user", "") if kind == "user" else None
        services.send_back(
            db, user, task_key, comment=form.get("comment"), to_user=person,
            to_step=value if kind == "step" else None, to_node=value if kind == "node" else None,
            via=via, device=_device(),
        )  # fmt: skip
        return _("Sent back.")

    return _act(task_key, work)


@bp.post("/<task_key>/resubmit")
def resubmit(task_key: str) -> Response | tuple[str, int]:
    user, via = _signed_in(task_key)
    if user is None:
        return _login_redirect()

    def work(db: Any) -> str:
        services.resubmit(
            db, user, task_key, comment=request.form.get("comment"), via=via, device=_device()
        )
        return _("Resubmitted: the approvers have it again.")

    return _act(task_key, work)


@bp.post("/<task_key>/cc")
def copy_to(task_key: str) -> Response | tuple[str, int]:
    """抄送: let colleagues read this approval."""
    user, via = _signed_in(task_key)
    if user is None:
        return _login_redirect()

    def work(db: Any) -> str:
        names = services.copy_to(
            db, user, task_key, request.form.getlist("users"),
            comment=request.form.get("comment"), via=via, device=_device(),
        )  # fmt: skip
        return _("Copied to %(names)s.", names=", ".join(names))

    return _act(task_key, work)


@bp.post("/<task_key>/comments")
def comment(task_key: str) -> Response | tuple[str, int]:
    user, via = _signed_in(task_key)
    if user is None:
        return _login_redirect()

    def work(db: Any) -> list[tuple[str, str]]:
        done = services.add_comment(
            db, user, task_key, request.form.get("comment"), via=via, device=_device()
        )
        shown = [(_("Comment added."), "success")]
        if done.mentioned:
            shown.append((_("Told %(names)s.", names=", ".join(done.mentioned)), "success"))
        if done.unknown:
            names = ", ".join("@" + n for n in done.unknown)
            shown.append((_("Nobody is called %(names)s: not told.", names=names), "error"))
        return shown

    return _act(task_key, work)


@bp.post("/<task_key>/delegate")
def delegate(task_key: str) -> Response | tuple[str, int]:
    user, via = _signed_in(task_key)
    if user is None:
        return _login_redirect()
    return _delegate(user, via, task_key)


def _delegate(user: User, via: str, task_key: str) -> Response | tuple[str, int]:
    def work(db: Any) -> str:
        new = services.delegate(
            db, user, task_key, request.form.get("to_user", ""),
            comment=request.form.get("comment"), via=via, device=_device(),
        )  # fmt: skip
        return _("Handed to %(name)s.", name=new.assignee)

    return _act(task_key, work)


@bp.post("/bulk")
@permission_required("approvals.decide")
def bulk() -> Response:
    db = get_session()
    user = _me()
    form = request.form
    try:
        results = services.decide_many(
            db, user, form.getlist("task"), form.get("decision", ""),
            comment=form.get("comment"), device=_device(),
        )  # fmt: skip
    except AppError as err:
        db.rollback()
        flash(str(err.message), "error")
        return redirect(url_for("approvals.inbox"))
    db.commit()
    done = sum(1 for r in results if r.ok)
    flash(_("%(done)d of %(total)d decided.", done=done, total=len(results)), "success")
    for r in results:
        if not r.ok:
            flash(f"{r.task_key}: {r.message}", "error")
    return redirect(url_for("approvals.inbox"))


def _moment(text: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(_("Give a date and time."), fields={field: "invalid"}) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock.zone())
    return moment


@bp.route("/away", methods=["GET", "POST"])
@permission_required("approvals.decide")
def away() -> str | Response:
    db = get_session()
    user = _me()
    if request.method == "POST":
        form = request.form
        try:
            if form.get("action") == "clear":
                services.clear_away(db, user)
            else:
                services.set_away(
                    db, user, start=_moment(form.get("from", ""), "from"),
                    end=_moment(form.get("until", ""), "until"), delegate_to=form.get("delegate", ""),
                )  # fmt: skip
        except AppError as err:
            db.rollback()
            flash(str(err.message), "error")
        else:
            db.commit()
            flash(_("Out-of-office setting saved."), "success")
        return redirect(url_for("approvals.away"))
    users = db.scalars(select(User).where(User.is_active.is_(True)).order_by(User.username))
    colleagues = [u for u in users if u.id != user.id]
    return render_template("approvals/away.html", user=user, colleagues=colleagues, now=utcnow())


@bp.get("/link/<token>")
def open_link(token: str) -> Response | tuple[str, int] | str:
    """A link from a notification: the approval, ready for one tap. Opening it uses nothing
    up; the tap on *Approve*, *Reject* or *Hand over* does. So mail scanners and chat link
    previews that fetch the link cannot spend it before the approver does."""
    db = get_session()
    me = current_user()
    try:
        _, grant = links.inspect(db, current_app, token, signed_in_as=me.username if me else None)
    except links.LinkError as err:
        return _link_refused(token, err)
    if me is not None:  # signed in as the right person already: nothing to use up
        return redirect(url_for("approvals.detail", task_key=grant.task.task_key))
    if grant.user.locale:
        session["lang"] = grant.user.locale
    view = queries.detail(db, grant.user, grant.task, language=_language())
    return _detail_page(db, view, grant.user, "link", link=request.path)


@bp.post("/link/<token>/<action>")
def use_link(token: str, action: str) -> Response | tuple[str, int]:
    if action not in ("decide", "delegate"):
        raise NotFoundError(_("This page does not exist."))
    db = get_session()
    me = current_user()
    try:
        grant = links.redeem(db, current_app, token, signed_in_as=me.username if me else None)
    except links.LinkError as err:
        db.rollback()
        return _link_refused(token, err)
    db.commit()
    if me is None:  # signed in for this one task, for a while, on this device
        session["approval_link"] = {
            "uid": grant.user.id,
            "task": grant.task.task_key,
            "until": time.time() + LINK_SESSION_SECONDS,
        }
    task_key = grant.task.task_key
    if action == "decide":
        return _decide(grant.user, "link", task_key)
    return _delegate(grant.user, "link", task_key)


def _link_refused(token: str, err: links.LinkError) -> Response | tuple[str, int]:
    me = current_user()
    scope = session.get("approval_link") or {}
    task_key = _peek(token)
    if me is None and task_key and scope.get("task") == task_key:
        return redirect(url_for("approvals.detail", task_key=task_key))
    if me is not None and task_key and err.code != "link_wrong_user":
        return redirect(url_for("approvals.detail", task_key=task_key))
    return render_template("approvals/link_error.html", error=err), err.status


def _peek(token: str) -> str | None:
    try:
        return links.read_token(current_app, token)[1]
    except links.LinkError:
        return None


@bp.get("/badges")
@login_required
def badges() -> str | Response:
    """The nav's badges (approvals waiting, unread notifications), polled every second by
    every page: an empty 204 while nothing changed, else both badges (swapped out of band)."""
    db = get_session()
    user = _me()
    version = _version("badges", queries.stamp(db, user))
    if request.args.get("v") == version:
        return Response(status=204)
    return render_template("approvals/_badges.html", version=version)


@bp.app_context_processor
def _counts() -> dict[str, Any]:
    def pending_approvals() -> int:
        user = current_user()
        return queries.pending_count(get_session(), user) if user else 0

    def unread_notifications() -> int:
        user = current_user()
        return notifications.unread_count(get_session(), user) if user else 0

    def badges_version() -> str:
        user = current_user()
        return _version("badges", queries.stamp(get_session(), user)) if user else ""

    return {
        "pending_approvals": pending_approvals,
        "unread_notifications": unread_notifications,
        "badges_version": badges_version,
    }


@bp.app_template_filter("countdown")
def _countdown(due: datetime | None) -> str:
    if due is None:
        return _("no time limit")
    seconds = int((due - utcnow()).total_seconds())
    left = abs(seconds)
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        span = _("%(d)dd %(h)dh", d=days, h=hours)
    elif hours:
        span = _("%(h)dh %(m)dm", h=hours, m=minutes)
    else:
        span = _("%(m)dm", m=minutes)
    return _("%(span)s left", span=span) if seconds >= 0 else _("overdue by %(span)s", span=span)
