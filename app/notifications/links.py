"""Signed, expiring, single-use links that sign an approver in for one task only: issued
here with each notification, opened and used up by the approval pages (``app.approvals.links``).

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
from sqlalchemy.orm import Session

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


def read_token(app: Flask, token: str) -> tuple[str, str, str]:
    """The nonce, task key and username a link's token names; :class:`LinkError` when the
    token was not signed by this app."""
    try:
        data = _serializer(app).loads(token)
        return str(data["n"]), str(data["t"]), str(data["u"])
    except (BadSignature, KeyError, TypeError) as err:
        raise LinkError(_l("This link is not valid."), code="link_invalid") from err
