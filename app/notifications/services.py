"""In-app notifications and the admin's notification channels."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from flow_engine.outbound import EXAMPLE_URL, url_problem

from ..db import rows_matched
from ..errors import ConflictError, NotFoundError, ValidationError
from ..i18n import in_reader_language
from ..models import AllowedHost, Notification, NotificationChannel, User, utcnow
from ..runs import outbox
from .delivery import address
from .kinds import KINDS, PERSON_FIELDS, ChannelKind, check_destinations
from .messages import EVENTS

log = logging.getLogger(__name__)
SECRET_MASK = "••••••"  # noqa: S105 (the mask shown instead of a secret)


# -- in-app -------------------------------------------------------------------------------


def unread_count(db: Session, user: User) -> int:
    """How many of ``user``'s notifications are unread."""
    query = select(func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    return int(db.scalar(query) or 0)


def recent(db: Session, user: User, *, limit: int = 50) -> list[Notification]:
    """``user``'s latest notifications, newest first."""
    query = (
        select(Notification)
        .where(Notification.user_id == user.id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(db.scalars(query))


def mark_read(
    db: Session, user: User, ids: Iterable[int] | None = None, *, now: datetime | None = None
) -> int:
    """Mark the given (or all) unread notifications of ``user`` read. No commit."""
    query = update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    if ids is not None:
        query = query.where(Notification.id.in_(list(ids)))
    return rows_matched(db, query.values(read_at=now or utcnow()))


def mark_task_read(db: Session, user: User, task_key: str) -> None:
    """Opening an approval reads its notifications. No commit."""
    db.execute(
        update(Notification)
        .where(
            Notification.user_id == user.id,
            Notification.task_key == task_key,
            Notification.read_at.is_(None),
        )
        .values(read_at=utcnow())
    )


# -- channels -----------------------------------------------------------------------------


def list_channels(db: Session) -> list[NotificationChannel]:
    return list(db.scalars(select(NotificationChannel).order_by(NotificationChannel.name)))


def get_channel(db: Session, channel_id: int) -> NotificationChannel:
    channel = db.get(NotificationChannel, channel_id)
    if channel is None:
        raise NotFoundError(_l("There is no such notification channel."))
    return channel


def public_config(channel: NotificationChannel) -> dict[str, Any]:
    """The channel's settings with secrets masked, for pages (all masked when its kind is no
    longer registered: nothing says which are secret)."""
    kind = KINDS.get(channel.kind)
    secret = kind.secrets if kind is not None else set(channel.config)
    return {k: (SECRET_MASK if k in secret and v else v) for k, v in channel.config.items()}


def _allow(db: Session, actor: User | None, url: str) -> None:
    host = (urlsplit(url).hostname or "").lower()
    if host and db.scalars(select(AllowedHost.id).where(AllowedHost.host == host)).first() is None:
        outbox.add_allowed_host(db, actor.username if actor else None, host, "notification channel")


def save_channel(
    db: Session,
    actor: User | None,
    *,
    channel_id: int | None,
    name: str,
    kind: str,
    enabled: bool,
    events: Iterable[str],
    settings: Mapping[str, str],
) -> NotificationChannel:
    """Create or change a channel. A blank secret keeps the stored one. No commit.

    A robot's or gateway's host goes on the outbound allowlist: configuring the channel is
    the admin's decision to send there.
    """
    name = name.strip()
    if not name or len(name) > 64:
        raise ValidationError(_l("Give the channel a name."), fields={"name": "required"})
    spec = KINDS.get(kind)
    if spec is None:
        raise ValidationError(_l("Unknown kind of channel."), fields={"kind": "invalid"})
    chosen = [e for e in events if e in EVENTS]
    channel = get_channel(db, channel_id) if channel_id else None
    clash = db.scalars(select(NotificationChannel).where(NotificationChannel.name == name)).first()
    if clash is not None and clash is not channel:
        raise ConflictError(_l("A channel named %(name)s exists already.", name=name))
    old = dict(channel.config) if channel is not None and channel.kind == kind else {}
    config: dict[str, Any] = {}
    for setting in spec.settings:
        value = (settings.get(setting.name) or "").strip()
        keep = setting.secret and value in ("", SECRET_MASK)
        config[setting.name] = old.get(setting.name, "") if keep else value
    config["personal_links"] = settings.get("personal_links") in ("1", "on", "true")
    _check_settings(spec, config)
    for url in spec.urls:
        _allow(db, actor, str(config[url]))  # a str: _check_settings() accepted it
    if channel is None:
        channel = NotificationChannel(name=name, kind=kind)
        db.add(channel)
    channel.name, channel.kind, channel.enabled = name, kind, enabled
    channel.events, channel.config, channel.updated_at = chosen, config, utcnow()
    db.flush()
    log.info(
        "notification channel %s (%s) saved by %s", name, kind, actor.username if actor else "-"
    )
    return channel


def _check_settings(kind: ChannelKind, config: Mapping[str, Any]) -> None:
    """The first problem with a kind's settings, as a ValidationError naming the field."""
    for setting in kind.settings:
        value = config[setting.name]
        if setting.url and (problem := url_problem(value)) is not None:
            raise ValidationError(
                _l(
                    "The webhook address %(url)s cannot be used: %(reason)s. Give an http:// or "
                    "https:// address with a host, e.g. %(example)s.",
                    url=repr(value),
                    reason=in_reader_language(*problem),
                    example=EXAMPLE_URL,
                ),
                fields={setting.name: "invalid"},
            )
    missing = {s.name: "required" for s in kind.settings if s.required and not config[s.name]}
    if missing:
        hint = kind.required_hint or _l("Fill in every required setting of the channel.")
        raise ValidationError(hint, fields=missing)
    for setting in kind.settings:
        value = config[setting.name]
        choices = [choice for choice, _label in setting.choices]
        if value and choices and value not in choices:
            raise ValidationError(
                _l("Choose one of: %(options)s.", options=", ".join(choices)),
                fields={setting.name: "invalid"},
            )
        if value and setting.check is not None and (problem := setting.check(value)):
            raise ValidationError(problem, fields={setting.name: "invalid"})


def delete_channel(db: Session, channel_id: int) -> None:
    db.delete(get_channel(db, channel_id))
    db.flush()


def send_test(db: Session, channel: NotificationChannel, user: User) -> dict[str, Any]:
    """Send a test message to ``user`` through ``channel`` now; raises on failure."""

    kind = KINDS.get(channel.kind)
    if kind is None:
        raise ValidationError(_l("Unknown kind of channel."), fields={"kind": "invalid"})
    reach = address(kind, user)
    if reach is None:
        raise ValidationError(
            _l("Your account has no address for this channel (email or mobile number).")
        )
    message = {
        "subject": str(_l("OrderFlow test message")),
        "body": str(_l("This channel works: OrderFlow can reach you here.")),
        "key": f"test-{channel.id}-{utcnow().timestamp():.0f}",
        **reach,
    }
    config = dict(channel.config)
    check_destinations(db, kind, config)
    return kind.send(config, message)


# -- where people are reached -------------------------------------------------------------


def list_users_for_admin(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.username)))


def set_contact(db: Session, user: User, values: Mapping[str, str]) -> User:
    """Set where ``user`` is reached (:data:`PERSON_FIELDS`: the mobile number, the WeCom,
    DingTalk and Feishu user ids). No commit."""
    cleaned: dict[str, str | None] = {}
    for name, field in PERSON_FIELDS.items():
        value, problem = field.clean((values.get(name) or "").strip())
        if problem is not None:
            raise ValidationError(problem, fields={name: "invalid"})
        cleaned[name] = value
    for name, value in cleaned.items():
        setattr(user, name, value)
    db.flush()
    return user
