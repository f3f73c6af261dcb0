"""Rate limits, counted by Flask-Limiter in fixed windows: in Redis (shared by every process)
when ``REDIS_URL`` is set, else in the process's memory.

A limit is written ``"COUNT/SECONDS"`` (``"30/60"``: thirty requests a minute) and set in the
configuration or the environment (``ORDERFLOW_RATELIMIT_API``, ``..._WEBHOOK``,
``..._PUBLIC``, ``..._API_AUTH``, ``..._API_AUTH_ADDRESS``, ``..._LOGIN``); ``"0/1"`` or an
empty value turns a limit off. A limit is read on each request, so a changed setting applies
at once. Without ``REDIS_URL`` every process counts for itself, so with N web processes a
client may get up to N times the limit.

Views declare their limits with ``limiter.limit`` (``limiter.shared_limit`` for a whole
blueprint) and :func:`configured`; a refusal is :class:`RateLimitedError`'s answer (the
caller's language, ``Retry-After``). Failed API key checks are events rather than requests
(a valid key is never refused), so :func:`count_failure` counts them on the same storage.

The limiter is one per process, as Flask-Limiter keeps it: each ``init_app`` gives it that
app's storage, so of several apps built in one process (tests) the last one's storage counts.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter, RateLimitExceeded, RequestLimit
from limits import parse as parse_limit

from .errors import AppError, app_error_response

DEFAULTS = {
    "RATELIMIT_API": "3000/1",
    "RATELIMIT_WEBHOOK": "1000/1",
    "RATELIMIT_PUBLIC": "30/60",
    # Failed API key checks per address and key prefix: a client sending a wrong or revoked
    # key is slowed down without touching the other clients behind the same address.
    "RATELIMIT_API_AUTH": "10/60",
    # Failed API key checks per address over all prefixes: made-up keys cannot buy fresh
    # buckets for ever. A valid key is never refused by either.
    "RATELIMIT_API_AUTH_ADDRESS": "120/60",
    # Failed sign-ins per address over all usernames (each account also locks on its own).
    "RATELIMIT_LOGIN": "30/600",
}


class RateLimitedError(AppError):
    code = "rate_limited"
    status = 429

    def __init__(self, retry_after: int, message: Any = None) -> None:
        super().__init__(message or _l("Too many requests. Please wait a moment and try again."))
        self.retry_after = retry_after


def client_address() -> str:
    """The caller's address (behind a proxy, configure ProxyFix so this is the client's)."""
    return request.remote_addr or "unknown"


# A Redis outage must not take the site down: the limits lapse (logged) instead.
limiter = Limiter(
    client_address, strategy="fixed-window", swallow_errors=True, headers_enabled=False
)


def _parse(spec: str | None) -> tuple[int, int] | None:
    """``"30/60"`` → ``(30, 60)``; ``None`` when the limit is off."""
    if not spec:
        return None
    count, _, seconds = str(spec).partition("/")
    limit, window = int(count), int(seconds or 1)
    if limit <= 0 or window <= 0:
        return None
    return limit, window


def _notation(name: str) -> str:
    """The configured limit ``name`` in Flask-Limiter's notation; empty when it is off."""
    limit = _parse(current_app.config.get(name))
    return f"{limit[0]} per {limit[1]} second" if limit else ""


def configured(name: str) -> Callable[[], str]:
    """The limit set as ``name`` (``"RATELIMIT_PUBLIC"``), for ``limiter.limit``."""
    return lambda: _notation(name)


def _seconds_until(reset_at: float) -> int:
    """Whole seconds, at least one, until a window that ends at ``reset_at`` is over."""
    return max(1, math.ceil(reset_at - time.time()))


def retry_after(limit: RequestLimit | None) -> int:
    """Seconds until ``limit``'s window ends (1 when the storage cannot tell)."""
    try:
        return _seconds_until(limit.window.reset_time) if limit is not None else 1
    except Exception:  # the storage went away after refusing: any short wait will do
        return 1


def refusal() -> RateLimitedError:
    """The error that answers this request, refused by one of the limiter's limits."""
    return RateLimitedError(retry_after(limiter.current_limit))


def count_failure(name: str, who: str) -> int | None:
    """Count one failure of ``who`` against the limit ``name``, refusing nothing; return the
    seconds to wait when ``who`` is now over it."""
    spec = _notation(name)
    if not spec:
        return None
    item, strategy = parse_limit(spec), limiter.limiter
    try:
        if strategy.hit(item, name, who):
            return None
        return _seconds_until(strategy.get_window_stats(item, name, who).reset_time)
    except Exception:  # a Redis outage must not take the API down; the limit lapses
        current_app.logger.warning("rate limit %s not checked: storage unavailable", name)
        return None


def _storage_uri(redis_url: str | None) -> str:
    if not redis_url:
        return "memory://"
    # The ``limits`` library names a Redis socket ``redis+unix://``.
    return "redis+" + redis_url if redis_url.startswith("unix://") else redis_url


def _too_many(err: RateLimitExceeded) -> ResponseReturnValue:
    if err.response is not None:  # a view's own answer (the sign-in form says why)
        return err.response
    return app_error_response(refusal())


def init_app(app: Flask) -> None:
    """Set the default limits, count in Redis or memory, and answer 429 with ``Retry-After``."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, os.environ.get(f"ORDERFLOW_{key}", value))
    app.config["RATELIMIT_STORAGE_URI"] = _storage_uri(app.config.get("REDIS_URL"))
    # The queue name separates deployments (and test runs) sharing one Redis.
    namespace = str(app.config.get("QUEUE_NAME") or "orderflow")
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"key_prefix": f"{namespace}:rl"}
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, _too_many)
