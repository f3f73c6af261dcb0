"""Signed, expiring, single-use links that sign an approver in for one task only.

The token is signed with the app's secret (so it cannot be forged or altered) and names a
row in ``approval_links`` that holds its expiry and when it was used: a link works once,
until it expires, for the user it was sent to, while that user may still decide the task.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..db import rows_matched
from ..errors import AuthenticationError
from ..models import ApprovalLink, ApprovalTask, User, utcnow

SALT = "orderflow.approval-link"
DEFAULT_HOURS = 72


class LinkError(AuthenticationError):
    """A sign-in link that cannot be used; ``code`` says why."""


@dataclass(frozen=True)
class LinkGrant:
    user: User
    task: ApprovalTask


def base_url(app: Flask) -> str:
    """Where OrderFlow is reachable from phones (``BASE_URL`` / ``ORDERFLOW_BASE_URL``); links
    in notifications start with it."""
    url = app.config.get("BASE_URL") or os.environ.get("ORDERFLOW_BASE_URL")
    return str(url or "http://127.0.0.1:5000").rstrip("/")


def _serializer(app: Flask) -> URLSafeSerializer:
    return URLSafeSerializer(app.config["SECRET_KEY"], salt=SALT)


def issue(
    db: Session,
    app: Flask,
    task_key: str,
    username: str,
    *,
    channel: str | None = None,
    now: datetime | None = None,
) -> str:
    """A new link for ``username`` to open ``task_key``; the full URL. No commit."""
    now = now or utcnow()
    configured = app.config.get("APPROVAL_LINK_HOURS") or os.environ.get(
        "ORDERFLOW_APPROVAL_LINK_HOURS"
    )
    hours = int(configured or DEFAULT_HOURS)
    nonce = secrets.token_urlsafe(18)
    db.add(
        ApprovalLink(
            nonce=nonce,
            task_key=task_key,
            username=username,
            channel=channel,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    token = _serializer(app).dumps({"n": nonce, "t": task_key, "u": username})
    return f"{base_url(app)}/approvals/link/{token}"


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
    from ..approvals.services import acting_for

    now = now or utcnow()
    try:
        data = _serializer(app).loads(token)
        nonce, task_key, username = str(data["n"]), str(data["t"]), str(data["u"])
    except (BadSignature, KeyError, TypeError) as err:
        raise LinkError(_l("This link is not valid."), code="link_invalid") from err
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
