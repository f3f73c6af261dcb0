"""Operations on users, roles and API keys. Callers pass the session and the actor."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import LANGUAGES, ROLES
from ..db import release_write_lock
from ..errors import AuthenticationError, ConflictError, NotFoundError, ValidationError
from ..models import ApiKey, Role, User, utcnow
from ..security import (
    API_SCOPES,
    burn_password_check,
    forget_api_keys,
    hash_password,
    new_api_key_material,
    verify_password,
)
from ..urls import MAX_ID

log = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256


def _actor_name(actor: User | None) -> str:
    return actor.username if actor else "system"


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(
            _l("The password must have at least %(n)d characters.", n=MIN_PASSWORD),
            fields={"password": "too_short"},
        )
    if len(password) > MAX_PASSWORD:
        raise ValidationError(
            _l("The password must have at most %(n)d characters.", n=MAX_PASSWORD),
            fields={"password": "too_long"},
        )


def _roles(db: Session, names: Iterable[str]) -> list[Role]:
    wanted = sorted(set(names))
    unknown = [n for n in wanted if n not in ROLES]
    if unknown:
        raise ValidationError(
            _l(
                "Unknown role %(role)s. Roles are: %(roles)s.",
                role=", ".join(unknown),
                roles=", ".join(ROLES),
            ),
            fields={"roles": "unknown"},
        )
    if not wanted:
        raise ValidationError(_l("Choose at least one role."), fields={"roles": "required"})
    found = list(db.scalars(select(Role).where(Role.name.in_(wanted))))
    if len(found) != len(wanted):  # the migration seeds every role; missing means a broken DB
        raise NotFoundError(_l("The roles table is incomplete; run 'orderflow db upgrade'."))
    return found


def get_user(db: Session, username: str) -> User:
    user = db.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        raise NotFoundError(_l("There is no user named %(name)s.", name=username))
    return user


def list_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.username)))


def create_user(
    db: Session,
    actor: User | None,
    *,
    username: str,
    password: str,
    roles: Iterable[str],
    display_name: str = "",
    email: str | None = None,
    locale: str | None = None,
) -> User:
    """Create a user; raises :class:`ValidationError` or :class:`ConflictError`."""
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise ValidationError(
            _l("A username has 2 to 64 letters, digits, dots, dashes or underscores."),
            fields={"username": "invalid"},
        )
    check_password_rules(password)
    if locale is not None and locale not in LANGUAGES:
        raise ValidationError(_l("Unknown language."), fields={"locale": "unknown"})
    if db.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise ConflictError(_l("The username %(name)s is taken.", name=username))
    user = User(
        username=username,
        password_hash=hash_password(password),
        display_name=display_name.strip() or username,
        email=(email or "").strip() or None,
        locale=locale,
        roles=_roles(db, roles),
    )
    db.add(user)
    db.commit()
    log.info("user %s created by %s with roles %s", username, _actor_name(actor), user.role_names)
    return user


def set_roles(db: Session, actor: User | None, user: User, roles: Iterable[str]) -> User:
    user.roles = _roles(db, roles)
    db.commit()
    log.info("roles of %s set to %s by %s", user.username, user.role_names, _actor_name(actor))
    return user


def set_password(db: Session, actor: User | None, user: User, password: str) -> None:
    check_password_rules(password)
    user.password_hash = hash_password(password)
    user.session_version += 1
    user.failed_logins = 0
    user.locked_until = None
    db.commit()
    log.info("password of %s changed by %s", user.username, _actor_name(actor))


def end_sessions(db: Session, actor: User | None, user: User) -> None:
    """Sign ``user`` out on every device: each session cookie issued so far stops working."""
    user.session_version += 1
    db.commit()
    log.info("sessions of %s ended by %s", user.username, _actor_name(actor))


def set_locale(db: Session, user: User, locale: str | None) -> None:
    if locale is not None and locale not in LANGUAGES:
        raise ValidationError(_l("Unknown language."), fields={"locale": "unknown"})
    user.locale = locale
    db.commit()


def authenticate(
    db: Session,
    username: str,
    password: str,
    *,
    max_failures: int,
    lock_seconds: int,
    now: datetime | None = None,
) -> User:
    """Check credentials with a lockout after ``max_failures`` consecutive failures.

    Every refusal (unknown user, wrong password, locked account) has the same message and
    checks one password hash, so neither the answer nor its time tells which accounts
    exist; the message states the lockout rule so that a locked-out person knows to wait.
    """
    now = now or utcnow()
    refused = AuthenticationError(
        _l(
            "Wrong username or password. After %(n)d failed attempts in a row an account "
            "is locked for %(minutes)d minutes.",
            n=max_failures,
            minutes=max(1, -(-lock_seconds // 60)),
        )
    )
    user = db.scalars(select(User).where(User.username == username.strip())).one_or_none()
    # The hash check is slow on purpose: other writers must not wait for it.
    release_write_lock(db)
    locked = user is not None and user.locked_until is not None and user.locked_until > now
    if user is None or not user.is_active or locked:
        burn_password_check(password)
        raise refused
    correct = verify_password(user.password_hash, password)
    db.refresh(user)  # the counters as other attempts left them, read under the write lock
    if not correct:
        user.failed_logins += 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(seconds=lock_seconds)
            user.failed_logins = 0
            log.warning("user %s locked after %d failed logins", user.username, max_failures)
        db.commit()
        raise refused
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    db.commit()
    return user


# -- API keys ---------------------------------------------------------------------------


def list_api_keys(db: Session) -> list[ApiKey]:
    return list(db.scalars(select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())))


def create_api_key(
    db: Session,
    actor: User | None,
    *,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which is never stored or shown again."""
    name = name.strip()
    if not name or len(name) > 128:
        raise ValidationError(
            _l("Give the key a name of 1 to 128 characters."), fields={"name": "invalid"}
        )
    wanted = sorted(set(scopes))
    unknown = [s for s in wanted if s not in API_SCOPES]
    if unknown or not wanted:
        raise ValidationError(
            _l("Choose scopes among: %(scopes)s.", scopes=", ".join(API_SCOPES)),
            fields={"scopes": "invalid"},
        )
    plaintext, prefix, digest = new_api_key_material()
    key = ApiKey(
        name=name,
        prefix=prefix,
        key_hash=digest,
        scopes=wanted,
        created_by_id=actor.id if actor else None,
        expires_at=expires_at,
    )
    db.add(key)
    db.commit()
    log.info("API key %s (%s) created by %s", name, prefix, _actor_name(actor))
    return key, plaintext


def find_api_key(db: Session, ref: str) -> ApiKey:
    """The key whose prefix (the 8 characters after ``of_``) or id is ``ref``."""
    ref = ref.strip()
    key = db.scalars(select(ApiKey).where(ApiKey.prefix == ref)).one_or_none()
    if key is None and ref.isdecimal() and int(ref) <= MAX_ID:
        key = db.get(ApiKey, int(ref))
    if key is None:
        raise NotFoundError(_l("No API key has the prefix or id %(ref)s.", ref=ref))
    return key


def revoke_api_key(db: Session, actor: User | None, key_id: int) -> ApiKey:
    key = db.get(ApiKey, key_id)
    if key is None:
        raise NotFoundError(_l("This API key does not exist."))
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.commit()
        forget_api_keys()
        log.info("API key %s revoked by %s", key.prefix, _actor_name(actor))
    return key
