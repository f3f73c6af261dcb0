"""Opening and using the sign-in links that notifications carry (``app.notifications.links``
issues them): a link works once, until it expires, for the user it was sent to, while that
user may still decide the task."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..db import rows_matched
from ..models import ApprovalLink, ApprovalTask, User, utcnow
from ..notifications.links import LinkError, LinkGrant, read_token
from .services import acting_for

__all__ = ["LinkError", "LinkGrant", "inspect", "read_token", "redeem"]


def inspect(
    db: Session,
    app: Flask,
    token: str,
    *,
    signed_in_as: str | None = None,
    now: datetime | None = None,
) -> tuple[ApprovalLink, LinkGrant]:
    """Check a link without using it up; raises :class:`LinkError` (tampered, expired, used,
    wrong user). Opening a link (GET) only inspects it, so that mail scanners and chat link
    previews fetching it cannot spend it before the approver taps."""
    now = now or utcnow()
    nonce, task_key, username = read_token(app, token)
    link = db.scalars(select(ApprovalLink).where(ApprovalLink.nonce == nonce)).one_or_none()
    if link is None or link.task_key != task_key or link.username != username:
        raise LinkError(_l("This link is not valid."), code="link_invalid")
    if link.expires_at <= now:
        raise LinkError(
            _l("This link has expired. Sign in to open the approval."), code="link_expired"
        )
    if link.used_at is not None:
        raise LinkError(
            _l("This link was used already. Sign in to open the approval."), code="link_used"
        )
    if signed_in_as is not None and signed_in_as != username:
        raise LinkError(
            _l("This link was sent to %(name)s, but you are signed in as %(me)s.",
               name=username, me=signed_in_as),
            code="link_wrong_user",
        )  # fmt: skip
    user = db.scalars(select(User).where(User.username == username)).one_or_none()
    task = db.scalars(select(ApprovalTask).where(ApprovalTask.task_key == task_key)).one_or_none()
    if user is None or not user.is_active or task is None:
        raise LinkError(_l("This link is not valid."), code="link_invalid")
    if task.status == "pending" and acting_for(db, user, task, now=now) is None:
        raise LinkError(
            _l("This approval is no longer assigned to %(name)s.", name=username),
            code="link_wrong_user",
        )
    return link, LinkGrant(user, task)


def redeem(
    db: Session,
    app: Flask,
    token: str,
    *,
    signed_in_as: str | None = None,
    now: datetime | None = None,
) -> LinkGrant:
    """Check and use up a link (the approver's tap, a POST); raises :class:`LinkError`.
    No commit: the caller commits, and the link counts as used from then on."""
    now = now or utcnow()
    link, grant = inspect(db, app, token, signed_in_as=signed_in_as, now=now)
    used = rows_matched(
        db,
        update(ApprovalLink)
        .where(ApprovalLink.id == link.id, ApprovalLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False),
    )
    if used != 1:  # opened twice at the same moment: only one of them signs in
        raise LinkError(
            _l("This link was used already. Sign in to open the approval."), code="link_used"
        )
    return grant
