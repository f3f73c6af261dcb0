"""Passwords, roles and permissions, the logged-in user, API keys."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, Response, abort, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import lazyload

from . import ratelimit
from .db import get_db, get_session
from .errors import AuthenticationError, PermissionDeniedError
from .models import ApiKey, User, utcnow

F = TypeVar("F", bound=Callable[..., Any])

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"orders.view", "flows.view", "runs.view", "dashboard.view"}),
    "approver": frozenset({"orders.view", "approvals.decide"}),
    "supervisor": frozenset(
        {
            "orders.view",
            "flows.view",
            "runs.view",
            "dashboard.view",
            "flows.edit",
            "flows.publish",
            "runs.retry",
            "alerts.manage",
            "org.view",
            # The inbox shows a person only the tasks assigned to them (by name, business
            # role, department): a supervisor who holds a business role decides its tasks.
            "approvals.decide",
        }
    ),
}
ALL_PERMISSIONS = frozenset().union(*ROLE_PERMISSIONS.values()) | {
    "users.manage",
    "api_keys.manage",
    "templates.manage",
    "channels.manage",
    "org.manage",
}
ROLE_PERMISSIONS["admin"] = ALL_PERMISSIONS

API_SCOPES: tuple[str, ...] = (
    "orders:read",
    "orders:write",
    "flows:read",
    "flows:write",
    "runs:read",
    "approvals:write",
    "reference:write",
    "alerts:read",
    "subscriptions:read",
    "subscriptions:write",
    "org:read",
    "org:write",
)

_hasher = PasswordHasher()
# Verifying against this keeps the time of a login for an unknown user the same as for a
# known one, so response times do not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
API_KEY_PREFIX = "of_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def burn_password_check(password: str) -> None:
    verify_password(_DUMMY_HASH, password)


def permissions_of(user: User | None) -> frozenset[str]:
    if user is None or not user.is_active:
        return frozenset()
    perms: frozenset[str] = frozenset()
    for name in user.role_names:
        perms |= ROLE_PERMISSIONS.get(name, frozenset())
    return perms


def current_user() -> User | None:
    return g.get("user")


def can(permission: str) -> bool:
    return permission in g.get("permissions", frozenset())


def login_user(user: User) -> None:
    session.clear()
    session["uid"] = user.id
    session["sv"] = user.session_version
    session.permanent = True


def logout_user() -> None:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _load_user() -> None:
    g.user = None
    g.permissions = frozenset()
    uid = session.get("uid")
    if uid is None:
        return
    user = get_session().get(User, uid)
    if user is None or not user.is_active or session.get("sv") != user.session_version:
        session.pop("uid", None)
        return
    g.user = user
    g.permissions = permissions_of(user)


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]  # wraps() keeps the signature


def permission_required(permission: str) -> Callable[[F], F]:
    """Require a logged-in user holding ``permission``; others get the 403 page."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user() is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not can(permission):
                abort(403)
            return view(*args, **kwargs)

        return login_required(wrapped)  # type: ignore[return-value]  # wraps() keeps the signature

    return decorator


# -- API keys ---------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key_material() -> tuple[str, str, str]:
    """Return ``(plaintext key, prefix, hash)``; only the hash is ever stored."""
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    plaintext = f"{API_KEY_PREFIX}{prefix}_{secret}"
    return plaintext, prefix, _digest(plaintext)


def _key_from_request() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("X-API-Key") or None


@dataclass(frozen=True)
class ApiPrincipal:
    """Who an API call acts as: the key's public facts, with no database session behind
    them, so that a verified key can be reused by later calls of the same process."""

    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_by_id: int | None
    expires_at: datetime | None

    @property
    def created_by(self) -> User | None:
        """The key's owner, read in the request's session."""
        return get_session().get(User, self.created_by_id) if self.created_by_id else None


# A verified key is trusted for this long in the process that verified it, so that busy
# clients cost no database read per call; revoking a key reaches the other processes within
# this time (and the revoking process at once). Expiry is checked on every call.
API_KEY_RECHECK_SECONDS = 5.0
_API_KEY_CACHE_SIZE = 1024
_verified: dict[str, tuple[Any, float, ApiPrincipal]] = {}
_verified_lock = threading.Lock()


def forget_api_keys() -> None:
    """Check every key against the database on its next use (after a revocation)."""
    with _verified_lock:
        _verified.clear()


def authenticate_api_key(plaintext: str | None) -> ApiPrincipal:
    """Find the active key for ``plaintext`` or raise :class:`AuthenticationError`."""
    if not plaintext:
        raise AuthenticationError("An API key is required (Authorization: Bearer of_...).")
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or f"{parts[0]}_" != API_KEY_PREFIX:
        raise AuthenticationError("The API key is malformed.", code="invalid_api_key")
    digest = _digest(plaintext)
    database = get_db()
    engine = database.engine
    now = utcnow()
    hit = _verified.get(digest)
    if hit is not None and hit[0] is engine and time.monotonic() - hit[1] < API_KEY_RECHECK_SECONDS:
        principal = hit[2]
    else:
        # A session of its own, not the request's: checking a key takes no write lock, so
        # requests arriving during an order's transaction join the next one (group commit).
        with database.session() as db:
            principal = _verify(db, parts[1], digest, now)
        with _verified_lock:
            if len(_verified) >= _API_KEY_CACHE_SIZE:
                _verified.clear()
            _verified[digest] = (engine, time.monotonic(), principal)
    if principal.expires_at is not None and principal.expires_at <= now:
        raise AuthenticationError("The API key has expired.", code="expired_api_key")
    return principal


def _verify(db: Any, prefix: str, digest: str, now: datetime) -> ApiPrincipal:
    key = db.scalars(
        select(ApiKey).where(ApiKey.prefix == prefix).options(lazyload(ApiKey.created_by))
    ).one_or_none()
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        raise AuthenticationError("The API key is not valid.", code="invalid_api_key")
    if key.revoked_at is not None:
        raise AuthenticationError("The API key has been revoked.", code="revoked_api_key")
    principal = ApiPrincipal(key.id, key.name, key.prefix, tuple(key.scopes or ()),
                             key.created_by_id, key.expires_at)  # fmt: skip
    # Record use at most once a minute so that busy clients do not write on every call.
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        key.last_used_at = now
        try:
            db.commit()
        except OperationalError:
            # Best effort: under write load SQLite may refuse at once; the request goes on
            # and the next check records the use.
            db.rollback()
    return principal


def _throttle_failed_key() -> None:
    """Count a failed key check; past a limit, answer 429 instead of 401.

    Only failures are counted and only failures refused, so a valid key is never refused
    because other keys failed from its address (clients behind one NAT). Counted per address
    and key prefix (a wrong or revoked key slows down its own client) and per address over
    all prefixes (made-up keys cannot buy fresh buckets for ever)."""

    address = ratelimit.client_address()
    parts = (_key_from_request() or "").split("_", 2)
    prefix = parts[1][:16] if len(parts) == 3 else "-"
    waits = [
        ratelimit.count_failure("RATELIMIT_API_AUTH", f"ip:{address}:key:{prefix}"),
        ratelimit.count_failure("RATELIMIT_API_AUTH_ADDRESS", f"ip:{address}"),
    ]
    retry_after = max((w for w in waits if w is not None), default=None)
    if retry_after is not None:
        raise ratelimit.RateLimitedError(
            retry_after,
            _l(
                "Too many failed API key checks from %(address)s. Wait %(seconds)d seconds, "
                "then send a valid key (Authorization: Bearer of_...); valid keys from this "
                "address are not refused.",
                address=address,
                seconds=retry_after,
            ),
        )


def api_key_required(scope: str) -> Callable[[F], F]:
    """Require an API key carrying ``scope`` on an API view."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                key = authenticate_api_key(_key_from_request())
            except AuthenticationError:
                _throttle_failed_key()
                raise
            if scope not in key.scopes:
                raise PermissionDeniedError(
                    f"This API key lacks the scope {scope!r}.", code="missing_scope"
                )
            g.api_key = key
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]  # wraps() keeps the signature

    return decorator


# Scripts only from our own files (the vendored libraries under static/): no inline script,
# no eval. Inline styles stay allowed: the pages and the graph library set style attributes,
# and a style cannot run code.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    app.before_request(_load_user)
    app.after_request(_add_security_headers)

    @app.context_processor
    def inject_user() -> dict[str, Any]:
        return {"current_user": current_user(), "can": can}
